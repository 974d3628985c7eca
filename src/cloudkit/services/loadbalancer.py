"""The loadbalancer family: load balancers, listeners, targets, health checks (the ELBv2 model).

Every rule below is checked here, before a driver runs, so that it is the same on every provider:

* names: 1 to 32 letters, digits and inner hyphens, not starting with ``internal-`` (ELB's rule);
* listeners: protocol ``http``, ``https`` or ``tcp``; ``port`` 0 to 65535 (0: a free port, where
  the provider can pick one), ``target_port`` 1 to 65535 (required when ``port`` is 0); one
  listener per port; ``https`` needs a ``certificate``; a load balancer's listeners are all
  ``http``/``https`` (an *application* load balancer) or all ``tcp`` (a *network* one) and it
  keeps that kind for life;
* health checks: see :class:`~cloudkit.HealthCheck` for the bounds; ``path`` starts with ``/``;
* targets: a :class:`~cloudkit.Target` with exactly one of ``address`` (an IP address) and
  ``instance_id``, an :class:`~cloudkit.Instance`, or an instance id; at most 100 per call.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, ClassVar, Union

import attrs

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.models.compute import Instance
from cloudkit.models.loadbalancer import (
    HEALTH_CHECK_PROTOCOLS,
    LISTENER_PROTOCOLS,
    SCHEMES,
    HealthCheck,
    Listener,
    LoadBalancer,
    Target,
    TargetHealth,
)
from cloudkit.refs import InstanceRef, LoadBalancerRef, ref
from cloudkit.services.base import Service, operation

#: What ``register_targets`` / ``deregister_targets`` take per item.
TargetLike = Union[Target, InstanceRef]

_LB_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?$")
MAX_LISTENERS = 50
MAX_TARGETS = 100


def kind_of(protocol: str) -> str:
    """``application`` for ``http``/``https`` listeners, ``network`` for ``tcp``."""
    return "network" if protocol == "tcp" else "application"


def lb_name(value: object, field: str = "name") -> str:
    """A load balancer name: 1 to 32 letters, digits and inner hyphens, not ``internal-...``."""
    value = v.require_str(field, value)
    if not _LB_NAME.fullmatch(value):
        raise InvalidInput(field, "must be 1 to 32 letters, digits or inner '-'")
    if value.lower().startswith("internal-"):
        raise InvalidInput(field, "must not start with 'internal-'")
    return value


def listener(value: object, field: str = "listener") -> Listener:
    """A :class:`Listener` with its rules checked (``target_port`` filled in from ``port``)."""
    if not isinstance(value, Listener):
        raise InvalidInput(field, f"must be a Listener, not {type(value).__name__}")
    proto = v.one_of(f"{field}.protocol", value.protocol, LISTENER_PROTOCOLS)
    port = v.port(value.port, f"{field}.port")
    if value.target_port is None:
        if port == 0:
            raise InvalidInput(f"{field}.target_port", "is required when port is 0 (a free port is picked)")
        target_port = port
    else:
        target_port = v.int_range(f"{field}.target_port", value.target_port, 1, 65535)
    cert = v.optional_text(f"{field}.certificate", value.certificate, max_len=2048)
    if proto == "https" and not cert:
        raise InvalidInput(f"{field}.certificate", "is required for https listeners")
    if proto != "https" and cert is not None:
        raise InvalidInput(f"{field}.certificate", f"is only for https listeners, not {proto}")
    return Listener(protocol=proto, port=port, target_port=target_port, certificate=cert)


def listeners(value: object, field: str = "listeners") -> list[Listener]:
    """At most 50 listeners, one per port, all of one kind (see the module documentation)."""
    items = v.sequence(field, value)
    if len(items) > MAX_LISTENERS:
        raise InvalidInput(field, f"must hold at most {MAX_LISTENERS} listeners")
    out = [listener(item, f"{field}[{i}]") for i, item in enumerate(items)]
    ports = [item.port for item in out if item.port]
    if len(ports) != len(set(ports)):
        raise InvalidInput(field, "must use each port once")
    if len({kind_of(item.protocol) for item in out}) > 1:
        raise InvalidInput(field, "must be all http/https (an application load balancer) or all tcp (a network one)")
    return out


def health_check(value: object, kind: str | None, field: str = "health_check") -> HealthCheck:
    """A :class:`HealthCheck` within ELB's bounds, ``timeout`` resolved; with ``kind`` also ``protocol``.

    ``kind`` ``None`` (the load balancer is not known yet) leaves a ``None`` protocol for the driver
    to resolve with :func:`resolved_health_check`.
    """
    if value is None:
        value = HealthCheck()
    if not isinstance(value, HealthCheck):
        raise InvalidInput(field, f"must be a HealthCheck, not {type(value).__name__}")
    proto = None if value.protocol is None else v.one_of(f"{field}.protocol", value.protocol, HEALTH_CHECK_PROTOCOLS)
    path = v.require_str(f"{field}.path", value.path)
    if not path.startswith("/") or len(path) > 1024 or re.search(r"\s", path):
        raise InvalidInput(f"{field}.path", "must start with '/', hold no white space and be at most 1024 characters")
    v.no_controls(f"{field}.path", path)
    port = None if value.port is None else v.int_range(f"{field}.port", value.port, 1, 65535)
    interval = v.int_range(f"{field}.interval", value.interval, 5, 300)
    if value.timeout is None:
        timeout = min(5, interval - 1)
    else:
        timeout = v.int_range(f"{field}.timeout", value.timeout, 2, 120)
        if timeout >= interval:
            raise InvalidInput(f"{field}.timeout", f"must be below interval ({interval}s)")
    checked = HealthCheck(
        protocol=proto, path=path, port=port, interval=interval, timeout=timeout,
        healthy_threshold=v.int_range(f"{field}.healthy_threshold", value.healthy_threshold, 2, 10),
        unhealthy_threshold=v.int_range(f"{field}.unhealthy_threshold", value.unhealthy_threshold, 2, 10),
    )
    return checked if kind is None else resolved_health_check(checked, kind, field)


def target(value: object, field: str = "targets") -> Target:
    """One target: a :class:`Target`, an :class:`Instance` or an instance id, as a checked :class:`Target`."""
    if isinstance(value, (Instance, str)):
        return Target(instance_id=ref(value, field, Instance))
    if not isinstance(value, Target):
        raise InvalidInput(field, f"must be a Target, an Instance or an instance id, not {type(value).__name__}")
    if (value.address is None) == (value.instance_id is None):
        raise InvalidInput(field, "must name exactly one of address and instance_id")
    port = None if value.port is None else v.int_range(f"{field}.port", value.port, 1, 65535)
    if value.instance_id is not None:
        return Target(instance_id=ref(value.instance_id, f"{field}.instance_id", Instance), port=port)
    address = v.require_str(f"{field}.address", value.address)
    try:
        address = str(ipaddress.ip_address(address))
    except ValueError:
        raise InvalidInput(f"{field}.address", f"must be an IP address such as 127.0.0.1 (got {address!r})") from None
    return Target(address=address, port=port)


def targets(value: object, field: str = "targets") -> list[Target]:
    """1 to 100 targets (see :func:`target`), duplicates removed, order kept."""
    if isinstance(value, (str, Target, Instance)):
        raise InvalidInput(field, "must be a sequence of targets (Target, Instance or instance id), not a single one")
    items = v.sequence(field, value)
    if not items:
        raise InvalidInput(field, "must name at least one target")
    if len(items) > MAX_TARGETS:
        raise InvalidInput(field, f"must name at most {MAX_TARGETS} targets per call")
    out: list[Target] = []
    for i, item in enumerate(items):
        checked = target(item, f"{field}[{i}]")
        if checked not in out:
            out.append(checked)
    return out


class LoadBalancerService(Service):
    """Load balancers spreading connections over targets, with health checks and connection draining.

    A load balancer is created with its listeners and one health check; targets are registered and
    deregistered in batches (a deregistered target stops getting new connections at once and keeps
    its open ones for ``deregistration_delay`` seconds, shown ``draining`` meanwhile).
    :meth:`target_health` reports what the provider's own health checks currently say.
    """

    family: ClassVar[str] = "loadbalancer"

    # ---------------------------------------------------------------- load balancers
    @operation()
    def create_load_balancer(
        self,
        name: str,
        *,
        listeners: Sequence[Listener] = (),
        health_check: HealthCheck | None = None,
        scheme: str | None = None,
        deregistration_delay: int = 300,
        wait: bool = True,
        timeout: float = 600,
    ) -> LoadBalancer:
        """Create a load balancer with ``listeners`` and ``health_check`` (``AlreadyExists`` for a taken name).

        ``scheme`` ``None`` is the provider's default (``internet-facing`` on aws, ``internal`` on
        local). With ``wait`` the call returns once the load balancer is ``active`` (or raises
        ``Timeout``, leaving it as it is).
        """
        checked = _listeners(listeners)
        kind = kind_of(checked[0].protocol) if checked else "application"
        return self._create_load_balancer(
            lb_name(name),
            checked,
            _health_check(health_check, kind),
            None if scheme is None else v.one_of("scheme", scheme, SCHEMES),
            v.int_range("deregistration_delay", deregistration_delay, 0, 3600),
            v.flag("wait", wait),
            v.timeout(timeout),
        )

    @operation()
    def get_load_balancer(self, load_balancer: LoadBalancerRef) -> LoadBalancer:
        """A load balancer by id (or name), or ``NotFound``."""
        return self._get_load_balancer(ref(load_balancer, "load_balancer", LoadBalancer))

    @operation()
    def list_load_balancers(self) -> Iterator[LoadBalancer]:
        """Every load balancer, lazily."""
        return self._list_load_balancers()

    @operation()
    def delete_load_balancer(self, load_balancer: LoadBalancerRef) -> None:
        """Delete a load balancer, its listeners and its target registrations (targets themselves stay)."""
        self._delete_load_balancer(ref(load_balancer, "load_balancer", LoadBalancer))

    # ---------------------------------------------------------------- listeners
    @operation()
    def add_listener(self, load_balancer: LoadBalancerRef, listener: Listener) -> Listener:
        """Add a listener; returns it as bound (a free port picked for port 0, where supported).

        ``Conflict`` when the port is taken on this load balancer or the protocol is of the other
        kind (``tcp`` on an application load balancer, ``http`` on a network one).
        """
        return self._add_listener(ref(load_balancer, "load_balancer", LoadBalancer), _listener(listener))

    @operation()
    def remove_listener(self, load_balancer: LoadBalancerRef, listener: Listener | int) -> None:
        """Remove the listener on a port (the :class:`Listener` a get returned, or its port)."""
        port = listener.port if isinstance(listener, Listener) else listener
        self._remove_listener(ref(load_balancer, "load_balancer", LoadBalancer), v.int_range("listener", port, 1, 65535))

    # ---------------------------------------------------------------- targets
    @operation()
    def register_targets(self, load_balancer: LoadBalancerRef, targets: Sequence[TargetLike]) -> None:
        """Send traffic to ``targets`` too (registering a registered target again changes nothing)."""
        self._register_targets(ref(load_balancer, "load_balancer", LoadBalancer), _targets(targets))

    @operation()
    def deregister_targets(self, load_balancer: LoadBalancerRef, targets: Sequence[TargetLike]) -> None:
        """Stop sending new connections to ``targets``; open ones drain for ``deregistration_delay`` s.

        ``NotFound`` names a target that is not registered (nothing is changed then).
        """
        self._deregister_targets(ref(load_balancer, "load_balancer", LoadBalancer), _targets(targets))

    @operation()
    def target_health(self, load_balancer: LoadBalancerRef) -> list[TargetHealth]:
        """The current health of each registered target, per port checked (draining ones included)."""
        return self._target_health(ref(load_balancer, "load_balancer", LoadBalancer))

    @operation()
    def set_health_check(self, load_balancer: LoadBalancerRef, health_check: HealthCheck) -> LoadBalancer:
        """Replace the load balancer's health check; returns the load balancer as it is now."""
        lb_ref = ref(load_balancer, "load_balancer", LoadBalancer)
        if not isinstance(health_check, HealthCheck):
            raise InvalidInput("health_check", f"must be a HealthCheck, not {type(health_check).__name__}")
        # The driver resolves a None protocol for the load balancer's kind (resolved_health_check).
        return self._set_health_check(lb_ref, _health_check(health_check, None))

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _create_load_balancer(self, name: str, listeners: list[Listener], health_check: HealthCheck,
                                  scheme: str | None, deregistration_delay: int, wait: bool, timeout: float) -> LoadBalancer:
            ...

        def _get_load_balancer(self, load_balancer: str) -> LoadBalancer:
            ...

        def _list_load_balancers(self) -> Iterator[LoadBalancer]:
            ...

        def _delete_load_balancer(self, load_balancer: str) -> None:
            ...

        def _add_listener(self, load_balancer: str, listener: Listener) -> Listener:
            ...

        def _remove_listener(self, load_balancer: str, port: int) -> None:
            ...

        def _register_targets(self, load_balancer: str, targets: list[Target]) -> None:
            ...

        def _deregister_targets(self, load_balancer: str, targets: list[Target]) -> None:
            ...

        def _target_health(self, load_balancer: str) -> list[TargetHealth]:
            ...

        def _set_health_check(self, load_balancer: str, health_check: HealthCheck) -> LoadBalancer:
            ...


# Module-level names the interface calls (kept apart from the methods' parameter names).
_listener = listener
_listeners = listeners
_health_check = health_check
_targets = targets


def resolved_health_check(check: HealthCheck, kind: str, field: str = "health_check") -> HealthCheck:
    """``check`` (validated) for a load balancer of ``kind``: a ``None`` protocol becomes ``http``
    (application) or ``tcp`` (network); ``tcp`` is refused on an application load balancer.
    """
    proto = check.protocol or ("tcp" if kind == "network" else "http")
    if kind == "application" and proto == "tcp":
        raise InvalidInput(f"{field}.protocol", "must be http or https on an application load balancer")
    return attrs.evolve(check, protocol=proto)
