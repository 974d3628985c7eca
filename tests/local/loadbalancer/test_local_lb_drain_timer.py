"""Draining finishes on its own: a deregistered target leaves HAProxy's configuration after the delay
without any further call, and the drainer process goes away with the load balancer."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_local import _haproxy
from lb_helpers import Backend, wait_for

import cloudkit
from cloudkit import HealthCheck, Listener, Target

pytestmark = pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING)

FAST = HealthCheck(path="/", interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)


@pytest.fixture
def backends() -> Iterator[list[Backend]]:
    made = [Backend(), Backend()]
    yield made
    for b in made:
        b.stop()


def _servers(folder: Path) -> str:
    return "\n".join(line for line in (folder / "haproxy.cfg").read_text().splitlines() if "server " in line)


def test_a_drained_target_leaves_the_configuration_without_another_call(tmp_path: Path,
                                                                         backends: list[Backend]) -> None:
    first, second = backends
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:
        lbs = cloud.loadbalancer
        lb = lbs.create_load_balancer("timer", listeners=[Listener(port=0, target_port=1)], health_check=FAST,
                                      deregistration_delay=2)
        folder = Path(str(lb.extra["folder"]))
        try:
            lbs.register_targets(lb, [Target("127.0.0.1", first.port), Target("127.0.0.1", second.port)])
            lbs.deregister_targets(lb, [Target("127.0.0.1", first.port)])
            assert f":{first.port} check weight 0" in _servers(folder)  # draining: kept, no new connections
            drainer: subprocess.Popen[bytes] = lbs._drainers[-1]  # type: ignore[attr-defined]
            # No call to the service from here on: the drainer alone must finish the job.
            wait_for(lambda: f":{first.port} " not in _servers(folder), 30, "the drained target removed by itself")
            assert f":{second.port} check" in _servers(folder)
            assert drainer.wait(timeout=30) == 0  # and the drainer exits once nothing drains
        finally:
            lbs.delete_load_balancer(lb)


def test_the_drainer_exits_when_the_load_balancer_is_deleted(tmp_path: Path, backends: list[Backend]) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:
        lbs = cloud.loadbalancer
        lb = lbs.create_load_balancer("gone", listeners=[Listener(port=0, target_port=1)], health_check=FAST,
                                      deregistration_delay=600)
        lbs.register_targets(lb, [Target("127.0.0.1", backends[0].port)])
        lbs.deregister_targets(lb, [Target("127.0.0.1", backends[0].port)])
        drainer: subprocess.Popen[bytes] = lbs._drainers[-1]  # type: ignore[attr-defined]
        assert drainer.poll() is None  # waiting out the 600 s delay
        lbs.delete_load_balancer(lb)
        drainer.wait(timeout=30)  # does not hang: it notices the deletion
