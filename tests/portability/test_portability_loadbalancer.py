"""One load balancer scenario runs unchanged on local (HAProxy) and aws (ELBv2 on moto, replayed): equal neutral results."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from typing import Any

import pytest
from cloudkit_local import _haproxy

import cloudkit
from cloudkit import HealthCheck, Listener, SecurityRule
from cloudkit.testing.helpers import unique_name
from cloudkit.testing.portability import assert_portable

pytestmark = [
    pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING),
    pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap (Debian package 'bubblewrap') is missing"),
]

#: Fields a provider decides by itself, each with the reason.
PROVIDER_DECIDES = {
    "loadbalancer.*.dns_name": "the provider's addressing (127.0.0.1 on local, an ELB host name on aws)",
    "loadbalancer.*.url": "built from dns_name and the listener port",
    "loadbalancer.*.listeners.*.port": "the listener port is configuration: a free port on local, a fixed one on aws",
    "loadbalancer.added": "as the listener ports above",
    "loadbalancer.*.scheme": "asked for neither: each provider's default (internal on local, internet-facing on aws)",
    "loadbalancer.health.*.state": "moto runs no health checks; HAProxy's find nothing listening in the instances",
    "loadbalancer.health.*.reason": "as the states",
    "loadbalancer.health.*.target.address": "the provider's addressing (local instances share 127.0.0.1)",
    "loadbalancer.after_deregister.*.target.address": "as above",
    "loadbalancer.after_deregister.*.state": "as above",
    "loadbalancer.after_deregister.*.reason": "as above",
}


def lb_job(cloud: cloudkit.Cloud, port: int) -> dict[str, Any]:
    """Two instances behind a load balancer: register, check, change, deregister, clean up."""
    compute, lbs = cloud.compute, cloud.loadbalancer
    image = next(iter(compute.list_images()))
    size = min(compute.list_instance_types(), key=lambda t: (t.memory_mb or 0, t.name))
    group = compute.create_security_group(unique_name("lbweb"), rules=[SecurityRule("tcp", 8000)])
    instances = [compute.create_instance(unique_name("lbweb"), image=image, instance_type=size.name,
                                         security_groups=[group]) for _ in range(2)]
    lb = lbs.create_load_balancer("ckweb", listeners=[Listener(protocol="http", port=port, target_port=8000)],
                                  health_check=HealthCheck(path="/health", interval=10, unhealthy_threshold=2),
                                  deregistration_delay=0)
    try:
        lbs.register_targets(lb, instances)
        order = {inst.id: i for i, inst in enumerate(instances)}
        health = sorted(lbs.target_health(lb), key=lambda h: order.get(h.target.instance_id or "", 9))
        lbs.deregister_targets(lb, [instances[0]])
        after = [h for h in lbs.target_health(lb) if h.state != "draining"]
        checked = lbs.set_health_check(lb, HealthCheck(path="/ready", interval=15, timeout=3))
        added = lbs.add_listener(lb, Listener(protocol="http", port=port + 1, target_port=9000))
        lbs.remove_listener(lb, added)
        final = lbs.get_load_balancer(lb)
        results = {"created": lb, "health": health, "after_deregister": after, "checked": checked, "added": added,
                   "final": final, "targets_of": [order.get(h.target.instance_id or "") for h in health],
                   "left": [order.get(h.target.instance_id or "") for h in after]}
    finally:
        lbs.delete_load_balancer(lb)
        for inst in instances:
            compute.terminate_instance(inst)
    results["listed_after_delete"] = [item.name for item in lbs.list_load_balancers()]
    return {"loadbalancer": results}


def test_the_load_balancer_scenario_is_portable(local_cloud: cloudkit.Cloud,
                                                run_on_aws: Callable[[Callable[[cloudkit.Cloud], Any]], Any]) -> None:
    from cloudkit_local._root import free_port

    local = lb_job(local_cloud, free_port())
    aws = run_on_aws(lambda cloud: lb_job(cloud, 8080))
    for results in (local, aws):
        got = results["loadbalancer"]
        assert got["targets_of"] == [0, 1] and got["left"] == [1]
        assert got["final"].health_check.path == "/ready" and len(got["final"].listeners) == 1
        assert got["listed_after_delete"] == []
    assert_portable(local, aws, PROVIDER_DECIDES, names=("local", "aws"))
