"""The loadbalancer family's rules, checked in the core before any driver runs (every provider alike)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import cloudkit
from cloudkit import HealthCheck, Instance, InvalidInput, Listener, LoadBalancer, Target
from cloudkit.services import loadbalancer as lbv


class Recorder(cloudkit.LoadBalancerService):
    """A provider whose drivers record what reached them."""

    def __init__(self) -> None:
        super().__init__("recorder")
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def _create_load_balancer(self, *args: Any) -> LoadBalancer:
        self.calls.append(("create", args))
        return LoadBalancer(id="lb-1", name=args[0], state="active", kind="application", scheme="internal")

    def _register_targets(self, *args: Any) -> None:
        self.calls.append(("register", args))

    def _set_health_check(self, *args: Any) -> LoadBalancer:
        self.calls.append(("health", args))
        return LoadBalancer(id="lb-1", name="web", state="active", kind="application", scheme="internal")

    def _remove_listener(self, *args: Any) -> None:
        self.calls.append(("remove", args))


@pytest.fixture
def svc() -> Iterator[Recorder]:
    yield Recorder()


def field_of(call: Any) -> str:
    with pytest.raises(InvalidInput) as err:
        call()
    return err.value.field


@pytest.mark.parametrize("name", ["a", "web-1", "A" * 32, "x9-y"])
def test_good_names(svc: Recorder, name: str) -> None:
    svc.create_load_balancer(name)
    assert svc.calls[-1][1][0] == name


@pytest.mark.parametrize("name", ["", "-web", "web-", "A" * 33, "web_1", "web.1", "internal-web", "Internal-x", "wéb", 42])
def test_bad_names(svc: Recorder, name: Any) -> None:
    assert field_of(lambda: svc.create_load_balancer(name)) == "name"
    assert svc.calls == []


def test_listeners_are_normalised_and_bounded(svc: Recorder) -> None:
    svc.create_load_balancer("web", listeners=[Listener(protocol="HTTP", port=80)])
    assert svc.calls[-1][1][1] == [Listener(protocol="http", port=80, target_port=80)]
    assert svc.calls[-1][1][2].protocol == "http"  # the health check resolved for an application load balancer
    svc.create_load_balancer("db", listeners=[Listener(protocol="tcp", port=0, target_port=5432)])
    assert svc.calls[-1][1][2].protocol == "tcp"
    many = [Listener(port=p) for p in range(1, 52)]
    assert field_of(lambda: svc.create_load_balancer("web", listeners=many)) == "listeners"
    assert field_of(lambda: svc.create_load_balancer("web", listeners=Listener())) == "listeners"
    assert field_of(lambda: svc.create_load_balancer("web", listeners=["http:80"])) == "listeners[0]"
    assert field_of(lambda: svc.create_load_balancer("web", listeners=[Listener(port=True)])) == "listeners[0].port"
    assert field_of(lambda: svc.create_load_balancer(
        "web", listeners=[Listener(port=80, certificate="arn:aws:acm:x")])) == "listeners[0].certificate"
    assert field_of(lambda: svc.create_load_balancer(
        "web", listeners=[Listener(port=80, target_port=0)])) == "listeners[0].target_port"
    # two port-0 listeners are fine: each gets a port of its own
    svc.create_load_balancer("two", listeners=[Listener(port=0, target_port=1), Listener(port=0, target_port=2)])


@pytest.mark.parametrize(("check", "field"), [
    (HealthCheck(path="/a b"), "health_check.path"),
    (HealthCheck(path="/a\x7fb"), "health_check.path"),
    (HealthCheck(path="/" + "a" * 1024), "health_check.path"),
    (HealthCheck(interval=301), "health_check.interval"),
    (HealthCheck(timeout=1), "health_check.timeout"),
    (HealthCheck(timeout=121, interval=300), "health_check.timeout"),
    (HealthCheck(unhealthy_threshold=11), "health_check.unhealthy_threshold"),
    (HealthCheck(port=0), "health_check.port"),
    (HealthCheck(protocol="udp"), "health_check.protocol"),
])
def test_bad_health_checks(svc: Recorder, check: HealthCheck, field: str) -> None:
    assert field_of(lambda: svc.create_load_balancer("web", health_check=check)) == field
    assert field_of(lambda: svc.set_health_check("web", check)) == field


def test_health_check_defaults(svc: Recorder) -> None:
    svc.create_load_balancer("web", health_check=HealthCheck(interval=5))
    assert svc.calls[-1][1][2] == HealthCheck(protocol="http", interval=5, timeout=4)
    svc.set_health_check("web", HealthCheck(interval=60))
    # by id the kind is unknown: the protocol stays None for the driver to resolve (the same for the model)
    assert svc.calls[-1][1][1] == HealthCheck(protocol=None, interval=60, timeout=5)
    model = LoadBalancer(id="lb-1", name="web", state="active", kind="network", scheme="internal")
    svc.set_health_check(model, HealthCheck(interval=60))
    assert svc.calls[-1][1] == ("lb-1", HealthCheck(protocol=None, interval=60, timeout=5))
    assert field_of(lambda: svc.set_health_check("web", None)) == "health_check"  # type: ignore[arg-type]
    assert lbv.resolved_health_check(HealthCheck(), "network").protocol == "tcp"
    with pytest.raises(InvalidInput):
        lbv.resolved_health_check(HealthCheck(protocol="tcp"), "application")


def test_targets_take_models_ids_and_addresses(svc: Recorder) -> None:
    inst = Instance(id="i-1", name="web-1", state="running")
    svc.register_targets("web", [inst, "i-2", Target("::0001", 80), Target(instance_id="i-3", port=8080), inst])
    assert svc.calls[-1][1][1] == [Target(instance_id="i-1"), Target(instance_id="i-2"), Target("::1", 80),
                                   Target(instance_id="i-3", port=8080)]  # duplicates dropped, IPv6 normalised
    assert field_of(lambda: svc.register_targets("web", [Target("127.0.0.1", 80, instance_id="i-1")])) == "targets[0]"
    assert field_of(lambda: svc.register_targets("web", [Target("localhost", 80)])) == "targets[0].address"
    assert field_of(lambda: svc.register_targets("web", [Target("127.0.0.1", 65536)])) == "targets[0].port"
    assert field_of(lambda: svc.register_targets("web", [Target("127.0.0.1", 1)] * 0)) == "targets"
    assert field_of(lambda: svc.register_targets("web", [Target("127.0.0.1", p) for p in range(1, 102)])) == "targets"
    assert field_of(lambda: svc.register_targets("web", inst)) == "targets"  # type: ignore[arg-type]
    assert field_of(lambda: svc.register_targets("web", [42])) == "targets[0]"  # type: ignore[list-item]
    assert field_of(lambda: svc.register_targets("web", ["i-\n1"])) == "targets[0]"


def test_remove_listener_takes_the_listener_or_its_port(svc: Recorder) -> None:
    svc.remove_listener("web", Listener(port=8080))
    svc.remove_listener("web", 8080)
    assert svc.calls == [("remove", ("web", 8080)), ("remove", ("web", 8080))]
    assert field_of(lambda: svc.remove_listener("web", "8080")) == "listener"  # type: ignore[arg-type]


def test_unimplemented_operations_are_not_supported_after_validation(svc: Recorder) -> None:
    assert svc.capabilities() == {"create_load_balancer", "register_targets", "set_health_check", "remove_listener"}
    with pytest.raises(cloudkit.NotSupported, match=r"loadbalancer\.target_health"):
        svc.target_health("web")
    with pytest.raises(InvalidInput):
        svc.target_health("")


def test_scheme_and_delay(svc: Recorder) -> None:
    svc.create_load_balancer("web", scheme="INTERNAL", deregistration_delay=0)
    assert svc.calls[-1][1][3:5] == ("internal", 0)
    assert field_of(lambda: svc.create_load_balancer("web", deregistration_delay=3601)) == "deregistration_delay"
    assert field_of(lambda: svc.create_load_balancer("web", wait="maybe")) == "wait"
