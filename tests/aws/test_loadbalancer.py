"""ELBv2 through cloudkit's aws provider, replayed from cassettes recorded against moto (CLOUDKIT_RECORD=1 re-records)."""

from __future__ import annotations

from typing import Any

import _harness as h
import pytest

import cloudkit
from cloudkit import HealthCheck, Listener, Target


def _instances(cloud: cloudkit.Cloud, count: int) -> list[cloudkit.Instance]:
    image = next(iter(cloud.compute.list_images()))
    return [cloud.compute.create_instance(f"web-{i}", image=image, instance_type="t3.micro", wait=False)
            for i in range(count)]


def test_an_application_load_balancer_end_to_end(aws_cloud: cloudkit.Cloud) -> None:
    lbs = aws_cloud.loadbalancer
    a, b = _instances(aws_cloud, 2)
    lb = lbs.create_load_balancer(
        "web", listeners=[Listener(protocol="http", port=80, target_port=8000)],
        health_check=HealthCheck(path="/health", interval=5, healthy_threshold=2, unhealthy_threshold=2),
        deregistration_delay=30)
    assert (lb.state, lb.kind, lb.scheme) == ("active", "application", "internet-facing")
    assert lb.id.startswith("arn:aws:elasticloadbalancing:") and lb.dns_name
    assert lb.url == f"http://{lb.dns_name}"
    assert lb.health_check == HealthCheck(protocol="http", path="/health", interval=5, timeout=4, healthy_threshold=2,
                                          unhealthy_threshold=2)
    assert lb.deregistration_delay == 30
    lbs.register_targets(lb, [a, b])  # instances, as models
    # a second listener on the same target port shares its target group; one on another port gets its own,
    # which starts with every registration
    lbs.add_listener(lb, Listener(protocol="http", port=8080, target_port=8000))
    lbs.add_listener(lb, Listener(protocol="http", port=9090, target_port=9000))
    native = lbs.native
    groups = native.describe_target_groups(LoadBalancerArn=lb.id)["TargetGroups"]
    assert sorted(g["Port"] for g in groups) == [8000, 9000]
    health = lbs.target_health(lb.name)
    assert sorted((h.target.instance_id, h.target.port) for h in health) == sorted(
        (i.id, p) for i in (a, b) for p in (8000, 9000))
    assert all(h.state in cloudkit.TARGET_HEALTH_STATES for h in health)
    lbs.deregister_targets(lb, [a.id])
    left = {(h.target.instance_id, h.state) for h in lbs.target_health(lb)}
    assert {i for i, _ in left} <= {a.id, b.id} and (b.id, "draining") not in left
    lbs.remove_listener(lb, 9090)
    assert sorted(g["Port"] for g in native.describe_target_groups(LoadBalancerArn=lb.id)["TargetGroups"]) == [8000]
    lbs.delete_load_balancer(lb)
    names = [g["TargetGroupName"] for g in native.describe_target_groups()["TargetGroups"]]
    assert names == []  # every group cloudkit made went with it
    with pytest.raises(cloudkit.NotFound):
        lbs.get_load_balancer(lb.id)


def test_targets_before_any_listener_are_unused(aws_cloud: cloudkit.Cloud) -> None:
    lbs = aws_cloud.loadbalancer
    [inst] = _instances(aws_cloud, 1)
    lb = lbs.create_load_balancer("bare")
    lbs.register_targets(lb, [Target(instance_id=inst.id)])
    assert [(h.target.instance_id, h.target.port, h.state) for h in lbs.target_health(lb)] == [(inst.id, None, "unused")]
    listener = lbs.add_listener(lb, Listener(protocol="http", port=80, target_port=8000))
    assert listener.port == 80
    assert [(h.target.instance_id, h.target.port) for h in lbs.target_health(lb)] == [(inst.id, 8000)]
    lbs.delete_load_balancer(lb)


def test_what_elb_cannot_do_is_refused_before_any_request(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    lbs = aws_cloud.loadbalancer
    with pytest.raises(cloudkit.InvalidInput, match="ELB cannot pick a free port") as err:
        lbs.create_load_balancer("web", listeners=[Listener(port=0, target_port=80)])
    assert err.value.field == "listeners[0].port"
    with pytest.raises(cloudkit.NotSupported, match="register instances"):
        lbs.register_targets("web", [Target("10.0.0.5", 80)])
    assert h.recorded_requests(aws_cassette) == 0


def test_a_failed_create_leaves_no_load_balancer(aws_cloud: cloudkit.Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    lbs = aws_cloud.loadbalancer
    real = lbs._call  # type: ignore[attr-defined]

    def failing(method: str, operation: str, **params: Any) -> Any:
        if method == "create_listener":
            raise cloudkit.QuotaExceeded("TooManyListeners (injected)")
        return real(method, operation, **params)

    monkeypatch.setattr(lbs, "_call", failing)
    with pytest.raises(cloudkit.QuotaExceeded):
        lbs.create_load_balancer("half", listeners=[Listener(protocol="http", port=80, target_port=8000)])
    monkeypatch.undo()
    assert list(lbs.list_load_balancers()) == []
    assert lbs.native.describe_target_groups()["TargetGroups"] == []
