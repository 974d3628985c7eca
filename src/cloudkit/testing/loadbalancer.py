"""The loadbalancer conformance suite: what every provider's load balancers must do.

Subclass :class:`LoadBalancerConformance` in a provider's tests (with a ``cloudkit_cloud``
fixture), or run ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. Operations the
provider's capabilities exclude are skipped with that reason. Every returned model is checked
against its declaration (types, states, aware UTC datetimes) by the kit's model checker.

Class attributes a provider may set:

``listener_port``
    The port of the listeners the suite creates (default 0: a free port, where the provider picks
    one; a provider that cannot sets a real port such as 80).
``target_address``
    The address of the address targets the suite registers (default ``127.0.0.1``); traffic is
    never sent to them, only their registration and health are read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models.loadbalancer import TARGET_HEALTH_STATES, HealthCheck, Listener, LoadBalancer, Target
from cloudkit.services.loadbalancer import LoadBalancerService
from cloudkit.testing.helpers import Conformance, requires, unique_name


class LoadBalancerConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.LoadBalancerService`."""

    listener_port: ClassVar[int] = 0
    target_address: ClassVar[str] = "127.0.0.1"

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def loadbalancer(self, cloudkit_cloud: Cloud) -> LoadBalancerService:
        """The loadbalancer service under test."""
        return cloudkit_cloud.loadbalancer

    def _listener(self, protocol: str = "http", target_port: int = 8000, offset: int = 0) -> Listener:
        port = self.listener_port + offset if self.listener_port else 0
        return Listener(protocol=protocol, port=port, target_port=target_port)

    @pytest.fixture
    def lb(self, cloudkit_cloud: Cloud, loadbalancer: LoadBalancerService) -> Iterator[LoadBalancer]:
        """A fresh application load balancer with one http listener, deleted after the test."""
        requires(cloudkit_cloud, "loadbalancer", "create_load_balancer", "delete_load_balancer")
        created = loadbalancer.create_load_balancer(
            unique_name("cklb"), listeners=[self._listener()],
            health_check=HealthCheck(path="/health", interval=5, healthy_threshold=2, unhealthy_threshold=2),
            deregistration_delay=0,
        )
        yield created
        try:
            loadbalancer.delete_load_balancer(created)
        except CloudkitError:
            pass

    def make_targets(self, cloud: Cloud) -> list[Target]:
        """Three targets with ports 9001-9003 for the registration tests (addresses by default).

        A provider that takes only instances overrides this to launch three and return
        ``Target(instance_id=..., port=...)`` for them.
        """
        return [Target(self.target_address, port) for port in (9001, 9002, 9003)]

    # ------------------------------------------------------------ capabilities and input
    def test_capabilities_are_known_operations(self, loadbalancer: LoadBalancerService) -> None:
        caps = loadbalancer.capabilities()
        assert caps <= set(LoadBalancerService.OPERATIONS)
        for op in LoadBalancerService.OPERATIONS:
            assert loadbalancer.supports(op) == (op in caps)

    def test_bad_input_is_rejected_before_any_call(self, loadbalancer: LoadBalancerService) -> None:
        def field_of(call: object) -> str:
            assert callable(call)
            with pytest.raises(InvalidInput) as err:
                call()
            return err.value.field

        create = loadbalancer.create_load_balancer
        http = Listener(protocol="http", port=80, target_port=8000)
        assert field_of(lambda: create("no spaces")) == "name"
        assert field_of(lambda: create("x" * 33)) == "name"
        assert field_of(lambda: create("internal-web")) == "name"
        assert field_of(lambda: create("web", listeners=[Listener(protocol="udp", port=53)])) == "listeners[0].protocol"
        assert field_of(lambda: create("web", listeners=[Listener(port=65536)])) == "listeners[0].port"
        assert field_of(lambda: create("web", listeners=[Listener(port=0)])) == "listeners[0].target_port"
        assert field_of(lambda: create("web", listeners=[Listener(protocol="https", port=443)])) == "listeners[0].certificate"
        assert field_of(lambda: create("web", listeners=[http, Listener(protocol="tcp", port=81)])) == "listeners"
        assert field_of(lambda: create("web", listeners=[http, http])) == "listeners"
        assert field_of(lambda: create("web", listeners=[http], health_check=HealthCheck(interval=4))) == "health_check.interval"
        assert field_of(lambda: create("web", listeners=[http],
                                       health_check=HealthCheck(interval=5, timeout=5))) == "health_check.timeout"
        assert field_of(lambda: create("web", listeners=[http],
                                       health_check=HealthCheck(healthy_threshold=1))) == "health_check.healthy_threshold"
        assert field_of(lambda: create("web", listeners=[http], health_check=HealthCheck(path="health"))) == "health_check.path"
        assert field_of(lambda: create("web", listeners=[http], health_check=HealthCheck(protocol="tcp"))) == "health_check.protocol"
        assert field_of(lambda: create("web", listeners=[http], scheme="public")) == "scheme"
        assert field_of(lambda: loadbalancer.register_targets("web", [])) == "targets"
        assert field_of(lambda: loadbalancer.register_targets("web", [Target("not-an-ip", 80)])) == "targets[0].address"
        assert field_of(lambda: loadbalancer.register_targets("web", [Target("127.0.0.1", 0)])) == "targets[0].port"
        assert field_of(lambda: loadbalancer.register_targets("web", [Target()])) == "targets[0]"
        assert field_of(lambda: loadbalancer.register_targets("web", Target("127.0.0.1", 80))) == "targets"  # type: ignore[arg-type]
        assert field_of(lambda: loadbalancer.remove_listener("web", 0)) == "listener"
        assert field_of(lambda: loadbalancer.get_load_balancer(42)) == "load_balancer"  # type: ignore[arg-type]

    # ------------------------------------------------------------ load balancers
    def test_load_balancer_lifecycle(self, cloudkit_cloud: Cloud, loadbalancer: LoadBalancerService) -> None:
        requires(cloudkit_cloud, "loadbalancer", "create_load_balancer", "get_load_balancer", "list_load_balancers",
                 "delete_load_balancer")
        name = unique_name("cklb")
        lb = loadbalancer.create_load_balancer(name, listeners=[self._listener()],
                                               health_check=HealthCheck(path="/health", interval=10))
        try:
            assert (lb.name, lb.state, lb.kind) == (name, "active", "application")
            assert lb.scheme in ("internal", "internet-facing")
            assert len(lb.listeners) == 1
            listener = lb.listeners[0]
            assert (listener.protocol, listener.target_port) == ("http", 8000)
            assert listener.port > 0  # the bound port, also where port 0 asked for a free one
            assert lb.dns_name
            assert lb.url is not None and lb.url.startswith("http://")
            # the health check reads back resolved: the protocol of the kind, the default timeout below the interval
            assert lb.health_check == HealthCheck(protocol="http", path="/health", interval=10, timeout=5,
                                                  healthy_threshold=3, unhealthy_threshold=3)
            assert loadbalancer.get_load_balancer(lb.id) == lb
            assert loadbalancer.get_load_balancer(name).id == lb.id
            assert lb.id in {item.id for item in loadbalancer.list_load_balancers()}
            with pytest.raises(AlreadyExists):
                loadbalancer.create_load_balancer(name, listeners=[self._listener(offset=1)])
        finally:
            loadbalancer.delete_load_balancer(lb)
        assert lb.id not in {item.id for item in loadbalancer.list_load_balancers()}
        with pytest.raises(NotFound):
            loadbalancer.get_load_balancer(lb.id)

    def test_network_load_balancer_checks_tcp_by_default(self, cloudkit_cloud: Cloud,
                                                        loadbalancer: LoadBalancerService) -> None:
        requires(cloudkit_cloud, "loadbalancer", "create_load_balancer", "delete_load_balancer")
        lb = loadbalancer.create_load_balancer(unique_name("cklb"), listeners=[self._listener("tcp", 5432)])
        try:
            assert lb.kind == "network"
            assert lb.health_check.protocol == "tcp"
            assert lb.url is not None and lb.url.startswith("tcp://")
        finally:
            loadbalancer.delete_load_balancer(lb)

    # ------------------------------------------------------------ listeners
    def test_listeners_are_added_and_removed(self, cloudkit_cloud: Cloud, loadbalancer: LoadBalancerService,
                                             lb: LoadBalancer) -> None:
        requires(cloudkit_cloud, "loadbalancer", "add_listener", "remove_listener", "get_load_balancer")
        added = loadbalancer.add_listener(lb, self._listener(target_port=9000, offset=1))
        assert added.port > 0 and added.target_port == 9000
        assert {item.port for item in loadbalancer.get_load_balancer(lb).listeners} == {lb.listeners[0].port, added.port}
        with pytest.raises(Conflict):
            loadbalancer.add_listener(lb, Listener(protocol="http", port=added.port, target_port=1))
        with pytest.raises(Conflict):
            loadbalancer.add_listener(lb, self._listener("tcp", offset=2))
        loadbalancer.remove_listener(lb, added)
        assert [item.port for item in loadbalancer.get_load_balancer(lb).listeners] == [lb.listeners[0].port]
        with pytest.raises(NotFound):
            loadbalancer.remove_listener(lb, added.port)

    # ------------------------------------------------------------ targets and health
    def test_targets_register_report_health_and_deregister(self, cloudkit_cloud: Cloud,
                                                           loadbalancer: LoadBalancerService, lb: LoadBalancer) -> None:
        requires(cloudkit_cloud, "loadbalancer", "register_targets", "deregister_targets", "target_health")
        a, b, c = self.make_targets(cloudkit_cloud)

        def key(t: Target) -> tuple[str | None, int | None]:
            return (t.instance_id or t.address, t.port)

        loadbalancer.register_targets(lb, [a, b])
        loadbalancer.register_targets(lb, [a])  # again: nothing changes
        health = loadbalancer.target_health(lb)
        assert {key(h.target) for h in health} == {key(a), key(b)}
        assert all(h.state in TARGET_HEALTH_STATES for h in health)
        loadbalancer.deregister_targets(lb, [a])
        left = {key(h.target): h.state for h in loadbalancer.target_health(lb)}
        assert key(b) in left
        assert left.get(key(a), "draining") == "draining"  # gone, or draining
        with pytest.raises(NotFound):
            loadbalancer.deregister_targets(lb, [c])

    def test_health_check_can_be_replaced(self, cloudkit_cloud: Cloud, loadbalancer: LoadBalancerService,
                                          lb: LoadBalancer) -> None:
        requires(cloudkit_cloud, "loadbalancer", "set_health_check", "get_load_balancer")
        changed = loadbalancer.set_health_check(lb.id, HealthCheck(path="/ready", interval=15, timeout=3,
                                                                   healthy_threshold=4, unhealthy_threshold=5))
        want = HealthCheck(protocol="http", path="/ready", interval=15, timeout=3, healthy_threshold=4, unhealthy_threshold=5)
        assert changed.health_check == want
        assert loadbalancer.get_load_balancer(lb).health_check == want

    def test_missing_resources_raise_not_found(self, cloudkit_cloud: Cloud, loadbalancer: LoadBalancerService) -> None:
        requires(cloudkit_cloud, "loadbalancer", "get_load_balancer", "delete_load_balancer", "target_health")
        missing = unique_name("cklb-missing")
        with pytest.raises(NotFound):
            loadbalancer.get_load_balancer(missing)
        with pytest.raises(NotFound):
            loadbalancer.delete_load_balancer(missing)
        with pytest.raises(NotFound):
            loadbalancer.target_health(missing)
