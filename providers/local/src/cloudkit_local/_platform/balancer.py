"""The environment's load balancer: listener options served by the loadbalancer family's local HAProxy.

An environment whose settings name a load-balancer listener (``aws:elb:loadbalancer:LoadBalancerHTTPPort``,
``aws:elb:listener:PORT:*``, ``aws:elbv2:listener:PORT|default:*``, see
:func:`~cloudkit_local._platform.base.listener_ports`) is fronted by a local load balancer named
``eb-<environment id>`` (:mod:`cloudkit_local.loadbalancer`) instead of the environment's own proxy:
an ``http`` listener on each port, the environment's workers as targets (``127.0.0.1:<worker port>``),
its health check on the environment's health-check URL, and the connection-draining delay of
``cloudkit:deploy:DrainSeconds``. Its URL (the first listener) is the environment's URL, as on
Elastic Beanstalk where the environment's URL is its load balancer's.

Every rollout converges the load balancer: new listeners are added, the new workers registered, the
health check updated, then the old workers deregistered (they drain) and listeners no longer wanted
removed, so no request fails. Without listener options the environment keeps (or gets back) its proxy.
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Sequence
from typing import Any

from cloudkit.errors import Conflict, InvalidInput, NotFound, NotSupported
from cloudkit.models.loadbalancer import HealthCheck, Listener, LoadBalancer, Target
from cloudkit.models.platform import EnvironmentSettings
from cloudkit_local import _haproxy, _sandbox
from cloudkit_local._platform.base import (
    DEFAULT_DRAIN,
    DRAIN_OPTION,
    HEALTH_PATH_OPTION,
    PlatformBase,
    _now,
    listener_ports,
)
from cloudkit_local.errors import PROVIDER

HOST = "127.0.0.1"
#: The least time old workers keep running after a switch behind a load balancer: clients' idle
#: connections to the replaced HAProxy worker last 1 s (see :mod:`cloudkit_local._haproxy`).
LB_MIN_DRAIN = 1.5


def lb_name(env_id: str) -> str:
    """The name of an environment's load balancer: ``eb-<environment id>`` (ties it to the environment)."""
    return f"eb-{env_id}"


def lb_health_check(settings: EnvironmentSettings) -> HealthCheck:
    """The load balancer's check: GET on the environment's health-check URL every 5 s, 2 to rise or fall."""
    path = settings.options.get(HEALTH_PATH_OPTION) or "/"
    return HealthCheck(protocol="http", path=path, interval=5, healthy_threshold=2, unhealthy_threshold=2)


def lb_drain(settings: EnvironmentSettings) -> int:
    """The load balancer's deregistration delay: the environment's drain seconds, rounded up."""
    return math.ceil(float(settings.options.get(DRAIN_OPTION, DEFAULT_DRAIN)))


class Balancer(PlatformBase):
    """Creates, converges, repairs and deletes environments' load balancers."""

    _lb_service: Any = None

    def _lbs(self) -> Any:
        """The local loadbalancer service on the same root and settings."""
        with self._lock:
            if self._lb_service is None:
                from cloudkit_local.loadbalancer import LocalLoadBalancer

                self._lb_service = LocalLoadBalancer(self.settings)
            return self._lb_service

    def _close_lbs(self) -> None:
        if self._lb_service is not None:
            self._lb_service.close()
            self._lb_service = None

    def _wanted_ports(self, settings: EnvironmentSettings, operation: str, current: sqlite3.Row | None) -> list[int] | None:
        """The listener ports ``settings`` ask for, checked before anything changes (``None``: no load balancer).

        ``InvalidInput`` when every listener named is disabled, ``NotSupported`` naming the Debian package
        when HAProxy is missing, ``Conflict`` when a new port is in use.
        """
        ports = listener_ports(settings.options)
        if ports is None:
            return None
        if not ports:
            raise InvalidInput("settings.options", "disable every load-balancer listener; keep one enabled, or clear the "
                                                   "listener options (empty values) to go back to the environment's own proxy")
        if _haproxy.find(self.settings.get("haproxy_bin")) is None:
            raise NotSupported(PROVIDER, operation, "load-balancer listener options need HAProxy, which is not installed: "
                                                    "install the Debian package haproxy (apt-get install haproxy)")
        from cloudkit_local.loadbalancer import _port_free

        have: set[int] = set()
        lb = self._lb_of(current) if current is not None else None
        if lb is not None:
            have = {item.port for item in lb.listeners}
        for port in ports:
            if port not in have and not _port_free(port):
                raise Conflict(f"settings.options: listener port {port} is in use on {HOST} (by another load balancer, "
                               "environment or program)", provider=PROVIDER)
        return ports

    def _lb_of(self, row: sqlite3.Row) -> LoadBalancer | None:
        """The environment's load balancer, ``None`` when its record is gone (or HAProxy is missing)."""
        if self._lbs().binary is None:
            return None
        try:
            lb: LoadBalancer = self._lbs().get_load_balancer(lb_name(row["id"]))
        except NotFound:
            return None
        return lb

    def _create_lb(self, env_id: str, env_name: str, ports: Sequence[int], settings: EnvironmentSettings) -> LoadBalancer:
        """A new load balancer for the environment, owned by it (no targets yet)."""
        lbs = self._lbs()
        lb: LoadBalancer = lbs.create_load_balancer(
            lb_name(env_id), listeners=[Listener(protocol="http", port=p) for p in ports],
            health_check=lb_health_check(settings), deregistration_delay=lb_drain(settings))
        lbs.set_owner(lb.id, env_id, env_name)
        return lb

    def _converge_lb(self, row: sqlite3.Row, ports: Sequence[int], settings: EnvironmentSettings,
                     worker_ports: Sequence[int]) -> LoadBalancer:
        """Make the environment's load balancer listen on ``ports`` and send to exactly ``worker_ports``.

        Order (no request fails): listeners added, new workers registered, health check and drain delay
        updated, old workers deregistered (draining), listeners no longer wanted removed. A missing load
        balancer is created; a stopped one is started again by the first change (or explicitly).
        """
        lbs = self._lbs()
        lb = self._lb_of(row)
        if lb is None:
            lb = self._create_lb(row["id"], row["name"], ports, settings)
        have = [item.port for item in lb.listeners]
        for port in ports:
            if port not in have:
                lbs.add_listener(lb.id, Listener(protocol="http", port=port))
        registered = set(lbs.registered_ports(lb.id))
        new = [Target(HOST, p) for p in worker_ports if p not in registered]
        if new:
            lbs.register_targets(lb.id, new)
        check = lb_health_check(settings)
        if lb.health_check.path != check.path:
            lbs.set_health_check(lb.id, check)
        lbs.set_deregistration_delay(lb.id, lb_drain(settings))
        old = [Target(HOST, p) for p in registered if p not in worker_ports]
        if old:
            lbs.deregister_targets(lb.id, old)
        for port in have:
            if port not in ports:
                lbs.remove_listener(lb.id, port)
        lbs.ensure_running(lb.id)
        lb = self._lb_of(row) or lb
        url_port = lb.listeners[0].port
        with self._tx() as conn:
            conn.execute("UPDATE environments SET lb_id = ?, proxy_port = ?, proxy_pid = NULL, proxy_start = NULL, "
                         "updated_at = ? WHERE id = ?", (lb.id, url_port, _now(), row["id"]))
        return lb

    def _switch_to_lb(self, row: sqlite3.Row, ports: Sequence[int], settings: EnvironmentSettings,
                      worker_ports: Sequence[int]) -> None:
        """Traffic to ``worker_ports`` through the load balancer; the proxy (if any) stops; events say where."""
        before = row["proxy_port"]
        had_proxy = row["proxy_pid"] and not row["lb_id"]
        lb = self._converge_lb(row, ports, settings, worker_ports)
        if had_proxy:
            _sandbox.kill(row["proxy_pid"], row["proxy_start"], grace=3)
        after = lb.listeners[0].port
        if had_proxy or before != after:
            self._event(f"The load balancer {lb.name} now fronts the environment; its URL is http://{HOST}:{after}/",
                        application=row["application"], environment=row["name"], version=row["version"])

    def _drop_lb(self, row: sqlite3.Row) -> None:
        """Delete the environment's load balancer (its HAProxy stops; nothing stays behind)."""
        lb = self._lb_of(row)
        if lb is not None:
            self._lbs().delete_owned(lb.id, row["id"])
        with self._tx() as conn:
            conn.execute("UPDATE environments SET lb_id = NULL WHERE id = ?", (row["id"],))

    def _front_alive(self, row: sqlite3.Row) -> bool:
        """Whether the environment's load balancer exists and its HAProxy runs (else its proxy runs)."""
        if not row["lb_id"]:
            return super()._front_alive(row)
        lb = self._lb_of(row)
        return lb is not None and lb.state == "active"
