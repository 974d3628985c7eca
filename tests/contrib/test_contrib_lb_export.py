"""contrib lb_export: a load balancer's configuration exported to a bucket and re-created on another local profile."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_contrib import lb_export
from cloudkit_local import _haproxy
from cloudkit_local._root import free_port

import cloudkit
from cloudkit import HealthCheck, Listener, Target

needs_haproxy = pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING)


@pytest.fixture
def other(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    """A second local cloud (another profile), with its own root."""
    with cloudkit.connect("local", root=str(tmp_path / "other")) as c:
        try:
            yield c
        finally:  # local instances outlive the program that made them, as on a cloud: end them here
            for inst in c.compute.list_instances():
                if inst.state != "terminated":
                    c.compute.terminate_instance(inst, wait=True)


def _web_instance(cloud: cloudkit.Cloud, name: str, tags: dict[str, str]) -> tuple[cloudkit.Instance, int]:
    port = free_port()
    group = cloud.compute.create_security_group(f"{name}-sg", rules=[cloudkit.SecurityRule("tcp", port)])
    inst = cloud.compute.create_instance(
        name, image="local:debian-host", instance_type="local.nano", security_groups=[group], tags=tags,
        user_data=f"#!/bin/sh\ncd /tmp && exec python3 -m http.server {port} --bind 127.0.0.1\n")
    return inst, port


@needs_haproxy
def test_export_then_recreate_on_another_profile_selecting_targets_by_tag(cloud: cloudkit.Cloud,
                                                                           other: cloudkit.Cloud) -> None:
    check = HealthCheck(path="/", interval=5, timeout=2, healthy_threshold=2, unhealthy_threshold=2)
    lb = cloud.loadbalancer.create_load_balancer("web", listeners=[Listener(port=0, target_port=8000)],
                                                 health_check=check, deregistration_delay=7)
    cloud.loadbalancer.register_targets(lb, [Target("127.0.0.1", 9001)])
    try:
        exported = lb_export.export_load_balancer(cloud, lb, cloud, "vault", target_tags={"role": "web"},
                                                  include_addresses=False)
        assert exported.key == "cloudkit-loadbalancers/web.json"
        with cloud.storage.get_object("vault", exported.key) as reader:
            doc = json.loads(reader.read())
        assert doc["format"] == lb_export.FORMAT and doc["targets"] == {"instance_tags": {"role": "web"}, "addresses": []}
        assert lb_export.read_export(cloud, "vault", exported.key).health_check == lb.health_check

        # the other profile runs a tagged web instance (and an untagged one that must not be picked)
        inst, port = _web_instance(other, "web-1", {"role": "web"})
        _web_instance(other, "web-2", {"role": "db"})
        made = lb_export.recreate_load_balancer(cloud, "vault", exported.key, other, any_port=True)
        try:
            new = made.load_balancer
            assert [t.instance_id for t in made.targets] == [inst.id]
            assert (new.name, new.health_check, new.deregistration_delay) == ("web", lb.health_check, 7)
            assert [(item.protocol, item.target_port) for item in new.listeners] == [("http", 8000)]
            assert new.listeners[0].port != lb.listeners[0].port  # any_port: a free port of its own
            # an instance target is reached on the listener's target port (8000 here); point a listener at the
            # port the instance serves on to see traffic flow end to end
            other.loadbalancer.remove_listener(new, new.listeners[0])
            bound = other.loadbalancer.add_listener(new, Listener(port=0, target_port=port))
            deadline = time.monotonic() + 30
            while {h.target.port: h.state for h in other.loadbalancer.target_health(new)}.get(port) != "healthy":
                assert time.monotonic() < deadline, "the tagged instance did not become healthy"
                time.sleep(0.2)
            health = other.loadbalancer.target_health(new)
            assert [(h.target.instance_id, h.target.address) for h in health] == [(inst.id, "127.0.0.1")]
            with urllib.request.urlopen(f"http://127.0.0.1:{bound.port}/", timeout=10) as resp:
                assert resp.status == 200
        finally:
            other.loadbalancer.delete_load_balancer(made.load_balancer)
    finally:
        cloud.loadbalancer.delete_load_balancer(lb)


@needs_haproxy
def test_address_targets_travel_and_a_failed_recreate_leaves_nothing(cloud: cloudkit.Cloud, other: cloudkit.Cloud) -> None:
    lb = cloud.loadbalancer.create_load_balancer("api", listeners=[Listener(protocol="tcp", port=0, target_port=5432)])
    cloud.loadbalancer.register_targets(lb, [Target("127.0.0.1", 6001), Target("127.0.0.1")])
    try:
        exported = lb_export.export_load_balancer(cloud, lb.name, cloud, "vault", key="exports/api.json")
        assert set(exported.address_targets) == {Target("127.0.0.1", 6001), Target("127.0.0.1", 5432)}
        made = lb_export.recreate_load_balancer(cloud, "vault", "exports/api.json", other, any_port=True)
        try:
            assert made.load_balancer.kind == "network"
            got = {(h.target.address, h.target.port) for h in other.loadbalancer.target_health(made.load_balancer)}
            assert got == {("127.0.0.1", 6001), ("127.0.0.1", 5432)}
        finally:
            other.loadbalancer.delete_load_balancer(made.load_balancer)
        # the recorded port is still held by the original: refused, and nothing is left behind
        with pytest.raises(cloudkit.Conflict, match="in use"):
            lb_export.recreate_load_balancer(cloud, "vault", "exports/api.json", other)
        assert list(other.loadbalancer.list_load_balancers()) == []
    finally:
        cloud.loadbalancer.delete_load_balancer(lb)


def test_bad_arguments_and_documents_are_refused(cloud: cloudkit.Cloud) -> None:
    with pytest.raises(cloudkit.InvalidInput) as err:
        lb_export.export_load_balancer(cloud, "web", cloud, "Not A Bucket")
    assert err.value.field == "bucket"
    with pytest.raises(cloudkit.InvalidInput) as err:
        lb_export.export_load_balancer("not a cloud", "web", cloud, "vault")  # type: ignore[arg-type]
    assert err.value.field == "loadbalancer"
    cloud.storage.put_object("vault", "junk.json", b'{"format": "something-else"}')
    with pytest.raises(cloudkit.InvalidInput, match="not a cloudkit-loadbalancer-export/1"):
        lb_export.read_export(cloud, "vault", "junk.json")
    cloud.storage.put_object("vault", "broken.json", json.dumps({"format": lb_export.FORMAT}).encode())
    with pytest.raises(cloudkit.InvalidInput, match="damaged"):
        lb_export.read_export(cloud, "vault", "broken.json")
