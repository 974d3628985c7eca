"""``cloudkit loadbalancer`` end to end on the local provider (HAProxy)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cloudkit_local import _haproxy
from lb_helpers import Backend, get, wait_for

from cloudkit import Listener, Target
from cloudkit.cli import main
from cloudkit.cli.loadbalancer import parse_listener, parse_target

Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Cli]:
    root = tmp_path / "root"

    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["--provider", "local", "--set", f"root={root}", *args])

    yield run
    run("loadbalancer", "delete-load-balancer", "--yes", "web")  # stops HAProxy when a test failed half-way


def test_parsing_listeners_and_targets() -> None:
    assert parse_listener("http:80:8000") == Listener(protocol="http", port=80, target_port=8000)
    listener = parse_listener("https:443:8000:arn:aws:acm:us-east-1:1:certificate/x")
    assert (listener.protocol, listener.port, listener.target_port, listener.certificate) == (
        "https", 443, 8000, "arn:aws:acm:us-east-1:1:certificate/x")
    assert parse_listener("tcp:0:5432").target_port == 5432
    assert parse_target("127.0.0.1:9001") == Target("127.0.0.1", 9001)
    assert parse_target("[::1]:9001") == Target("::1", 9001)
    assert parse_target("i-0abc") == Target(instance_id="i-0abc")
    assert parse_target("i-0abc:8080") == Target(instance_id="i-0abc", port=8080)


@pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING)
def test_create_register_health_and_delete(cli: Cli) -> None:
    backend = Backend()
    try:
        r = cli("-o", "json", "loadbalancer", "create-load-balancer", "web", "--listener", "http:0:1", "--health-path", "/health",
                "--interval", "5", "--healthy", "2", "--unhealthy", "2")
        assert r.exit_code == 0, r.output
        lb = json.loads(r.output)
        assert (lb["name"], lb["state"], lb["health_check"]["path"]) == ("web", "active", "/health")
        assert cli("loadbalancer", "register-targets", "web", f"127.0.0.1:{backend.port}").exit_code == 0

        def healthy() -> bool:
            r = cli("-o", "json", "loadbalancer", "target-health", "web")
            return [row["state"] for row in json.loads(r.output)] == ["healthy"]

        wait_for(healthy, 30, "the target healthy")
        assert get(lb["url"] + "/") == str(backend.port)
        r = cli("-o", "json", "loadbalancer", "add-listener", "web", "http:0:1")
        assert r.exit_code == 0, r.output
        extra = json.loads(r.output)["port"]
        assert get(f"http://127.0.0.1:{extra}/") == str(backend.port)
        assert cli("loadbalancer", "remove-listener", "web", str(extra)).exit_code == 0
        r = cli("-o", "json", "loadbalancer", "set-health-check", "web", "--health-path", "/ready", "--interval", "10")
        assert json.loads(r.output)["health_check"]["path"] == "/ready"
        r = cli("-o", "json", "loadbalancer", "list-load-balancers")
        assert [row["name"] for row in json.loads(r.output)] == ["web"]
        assert cli("loadbalancer", "deregister-targets", "web", f"127.0.0.1:{backend.port}").exit_code == 0
        r = cli("-o", "json", "loadbalancer", "target-health", "web")
        assert [row["state"] for row in json.loads(r.output)] == ["draining"]
        assert cli("loadbalancer", "get-load-balancer", "web").exit_code == 0
        assert cli("loadbalancer", "delete-load-balancer", "--yes", "web").exit_code == 0
        r = cli("loadbalancer", "get-load-balancer", "web")
        assert r.exit_code == 1 and "NotFound" in r.output
    finally:
        backend.stop()


def test_bad_input_is_a_usage_error(cli: Cli) -> None:
    r = cli("loadbalancer", "create-load-balancer", "web", "--listener", "http")
    assert r.exit_code == 2 and "PROTOCOL:PORT" in r.output
    r = cli("loadbalancer", "create-load-balancer", "web", "--listener", "http:80", "--interval", "1")
    assert r.exit_code == 2 and "'--interval'" in r.output and "create-load-balancer [OPTIONS] NAME" in r.output
