"""Models of the loadbalancer family (load balancers, listeners, targets, health checks, target health).

The shape is the Elastic Load Balancing v2 one, reduced to what every provider can mean the same
way: a load balancer has *listeners* (a protocol and a port where clients connect, forwarding to a
port on the targets), one set of *targets* (instances, or an address and a port) and one *health
check* applied to every target. Listener protocols are ``http``/``https`` (an *application* load
balancer) or ``tcp`` (a *network* load balancer); one load balancer holds one kind only.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import datetime_field, extra_field, frozen_tuple

#: Neutral load balancer states (``LoadBalancer.state``): ``provisioning`` while it is being set
#: up, ``active`` once it accepts connections, ``failed`` if it could not be set up (or its process
#: died, on the local provider), ``deleting`` while it is removed.
LOAD_BALANCER_STATES = ("provisioning", "active", "failed", "deleting")

#: Neutral target health states (``TargetHealth.state``): ``initial`` until the health checks have
#: decided, ``healthy``, ``unhealthy``, ``draining`` (deregistered, finishing its connections),
#: ``unused`` (registered, but no listener sends it traffic).
TARGET_HEALTH_STATES = ("initial", "healthy", "unhealthy", "draining", "unused")

#: Listener protocols. ``http``/``https`` make an application load balancer, ``tcp`` a network one.
LISTENER_PROTOCOLS = ("http", "https", "tcp")

#: Health check protocols.
HEALTH_CHECK_PROTOCOLS = ("http", "https", "tcp")

#: Load balancer kinds (``LoadBalancer.kind``), decided by the listeners' protocols.
LOAD_BALANCER_KINDS = ("application", "network")

#: Load balancer schemes (``LoadBalancer.scheme``).
SCHEMES = ("internet-facing", "internal")


@attrs.frozen
class Listener:
    """Where clients connect: ``protocol`` on ``port``, forwarded to ``target_port`` on each target.

    ``target_port`` ``None`` means the same port as ``port``. On the local provider ``port`` 0
    picks a free port, and the listener the provider returns shows the bound one. ``certificate``
    is required for ``https`` (an ACM certificate ARN on aws, a PEM file holding the certificate
    and its key on local) and refused otherwise.
    """

    protocol: str = "http"
    port: int = 80
    target_port: int | None = None
    certificate: str | None = None


@attrs.frozen
class HealthCheck:
    """How targets are checked; the same check applies to every target of the load balancer.

    ``protocol`` ``None`` means ``http`` on an application load balancer and ``tcp`` on a network
    one; ``path`` is used by ``http``/``https`` checks (a 2xx or 3xx answer is healthy). ``port``
    ``None`` checks the port traffic goes to. Bounds (those of ELB): ``interval`` 5 to 300 s,
    ``timeout`` 2 to 120 s and below ``interval`` (``None``: 5 s, or ``interval - 1`` when that is
    smaller), thresholds 2 to 10 checks in a row.
    """

    protocol: str | None = None
    path: str = "/"
    port: int | None = None
    interval: int = 30
    timeout: int | None = None
    healthy_threshold: int = 3
    unhealthy_threshold: int = 3


@attrs.frozen
class Target:
    """Where a load balancer sends traffic: an instance, or an address and a port.

    ``Target("127.0.0.1", 9001)`` is an address target; ``Target(instance_id="i-123")`` (or the
    :class:`~cloudkit.Instance` itself, given to ``register_targets``) an instance target, reached on
    each listener's ``target_port`` unless ``port`` is given. In :class:`TargetHealth` the target is
    shown resolved: ``port`` is the port checked, and ``address`` is the instance's address where
    the provider knows it.
    """

    address: str | None = None
    port: int | None = None
    instance_id: str | None = None


@attrs.frozen
class TargetHealth:
    """The current health of one target (on one port). ``state`` is one of :data:`TARGET_HEALTH_STATES`."""

    target: Target
    state: str
    reason: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class LoadBalancer:
    """A load balancer. ``state`` is one of :data:`LOAD_BALANCER_STATES`.

    ``dns_name`` is the host clients connect to, ``url`` the address of the first listener
    (``http://host:port``, ``https://...`` or ``tcp://host:port``; ``None`` without listeners).
    ``deregistration_delay`` is how long a deregistered target keeps its open connections
    (connection draining), in seconds.
    """

    id: str
    name: str
    state: str
    kind: str
    scheme: str
    dns_name: str | None = None
    url: str | None = None
    listeners: tuple[Listener, ...] = attrs.field(default=(), converter=frozen_tuple)
    health_check: HealthCheck = attrs.field(factory=HealthCheck)
    deregistration_delay: int = 300
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


def listener_url(protocol: str, host: str | None, port: int) -> str | None:
    """Where clients of a listener connect: ``http://host[:port]``, ``https://...``, ``tcp://host:port``."""
    if host is None:
        return None
    shown = f"[{host}]" if ":" in host else host
    if (protocol, port) in (("http", 80), ("https", 443)):
        return f"{protocol}://{shown}"
    return f"{protocol}://{shown}:{port}"
