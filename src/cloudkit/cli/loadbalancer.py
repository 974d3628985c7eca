"""``cloudkit loadbalancer``: load balancers, listeners, targets and their health.

Listeners are written ``PROTOCOL:PORT[:TARGET_PORT[:CERTIFICATE]]`` (``http:80:8000``,
``tcp:0:5432`` for a free port on local, ``https:443:8000:arn:aws:acm:...``); targets are an
instance id (``i-0abc``, optionally ``i-0abc:8080``) or an address and a port (``127.0.0.1:9001``,
``[::1]:9001``).
"""

from __future__ import annotations

import ipaddress

import click

from cloudkit.cli._common import CloudkitGroup, confirm_destructive, get_cloud, render, render_one, yes_option
from cloudkit.errors import InvalidInput
from cloudkit.models.loadbalancer import HealthCheck, Listener, Target

_COLUMNS = ["id", "name", "state", "kind", "scheme", "url"]


def parse_listener(text: str, field: str = "listener") -> Listener:
    """``PROTOCOL:PORT[:TARGET_PORT[:CERTIFICATE]]`` as a :class:`Listener` (checked by the service)."""
    parts = text.split(":", 3)
    if len(parts) < 2:
        raise InvalidInput(field, f"must be PROTOCOL:PORT[:TARGET_PORT[:CERTIFICATE]] (got {text!r})")
    try:
        port = int(parts[1])
        target_port = int(parts[2]) if len(parts) > 2 and parts[2] else None
    except ValueError:
        raise InvalidInput(field, f"ports must be numbers (got {text!r})") from None
    return Listener(protocol=parts[0], port=port, target_port=target_port, certificate=parts[3] if len(parts) > 3 else None)


def parse_target(text: str, field: str = "target") -> Target:
    """An instance id (``i-0abc[:PORT]``) or an address and a port (``127.0.0.1:9001``, ``[::1]:9001``)."""
    host, port_text = text, ""
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest.removeprefix(":")
    elif text.count(":") == 1:
        host, _, port_text = text.partition(":")
    try:
        port = int(port_text) if port_text else None
    except ValueError:
        raise InvalidInput(field, f"the port must be a number (got {text!r})") from None
    try:
        address = str(ipaddress.ip_address(host))
    except ValueError:
        return Target(instance_id=host, port=port)
    return Target(address=address, port=port)


def _health_check(protocol: str | None, path: str, port: int | None, interval: int, timeout: int | None,
                  healthy: int, unhealthy: int) -> HealthCheck:
    return HealthCheck(protocol=protocol, path=path, port=port, interval=interval, timeout=timeout,
                       healthy_threshold=healthy, unhealthy_threshold=unhealthy)


def _health_options(f: click.decorators.FC) -> click.decorators.FC:
    for option in reversed((
        click.option("--health-protocol", type=click.Choice(["http", "https", "tcp"]),
                     help="Default: http on application load balancers, tcp on network ones."),
        click.option("--health-path", default="/", show_default=True),
        click.option("--health-port", type=int, help="Default: the port traffic goes to."),
        click.option("--interval", type=int, default=30, show_default=True, help="Seconds between checks (5-300)."),
        click.option("--timeout", type=int, help="Seconds per check (2-120, below the interval; default 5)."),
        click.option("--healthy", type=int, default=3, show_default=True, help="Checks in a row to become healthy."),
        click.option("--unhealthy", type=int, default=3, show_default=True, help="Checks in a row to become unhealthy."),
    )):
        f = option(f)
    return f


@click.group(cls=CloudkitGroup)
def group() -> None:
    """Load balancers, listeners, targets and their health."""


@group.command("list-load-balancers")
def list_() -> None:
    """List load balancers."""
    render(get_cloud().loadbalancer.list_load_balancers(), _COLUMNS, title="load balancers")


@group.command("get-load-balancer")
@click.argument("load_balancer")
def get(load_balancer: str) -> None:
    """Show LOAD_BALANCER (id or name) with its listeners and health check."""
    render_one(get_cloud().loadbalancer.get_load_balancer(load_balancer))


@group.command("create-load-balancer")
@click.argument("name")
@click.option("--listener", "listeners", multiple=True, metavar="PROTO:PORT[:TARGET_PORT[:CERT]]",
              help="A listener (repeatable); port 0 picks a free port where the provider can.")
@_health_options
@click.option("--scheme", type=click.Choice(["internet-facing", "internal"]), help="Default: the provider's.")
@click.option("--deregistration-delay", type=int, default=300, show_default=True,
              help="Seconds a deregistered target keeps its open connections.")
@click.option("--no-wait", is_flag=True, help="Return at once instead of when the load balancer is active.")
def create(name: str, listeners: tuple[str, ...], health_protocol: str | None, health_path: str, health_port: int | None,
           interval: int, timeout: int | None, healthy: int, unhealthy: int, scheme: str | None,
           deregistration_delay: int, no_wait: bool) -> None:
    """Create load balancer NAME."""
    render_one(get_cloud().loadbalancer.create_load_balancer(
        name, listeners=[parse_listener(item, f"listener[{i}]") for i, item in enumerate(listeners)],
        health_check=_health_check(health_protocol, health_path, health_port, interval, timeout, healthy, unhealthy),
        scheme=scheme, deregistration_delay=deregistration_delay, wait=not no_wait))


@group.command("delete-load-balancer")
@click.argument("load_balancer")
@yes_option
def delete(load_balancer: str, yes: bool) -> None:
    """Delete LOAD_BALANCER (its targets stay)."""
    confirm_destructive(f"Delete load balancer {load_balancer}?", yes)
    get_cloud().loadbalancer.delete_load_balancer(load_balancer)
    click.echo(f"deleted load balancer {load_balancer}")


@group.command("add-listener")
@click.argument("load_balancer")
@click.argument("listener", metavar="PROTO:PORT[:TARGET_PORT[:CERT]]")
def add_listener(load_balancer: str, listener: str) -> None:
    """Add a listener to LOAD_BALANCER; prints it as bound."""
    render_one(get_cloud().loadbalancer.add_listener(load_balancer, parse_listener(listener)))


@group.command("remove-listener")
@click.argument("load_balancer")
@click.argument("port", type=int)
def remove_listener(load_balancer: str, port: int) -> None:
    """Remove the listener of LOAD_BALANCER on PORT."""
    get_cloud().loadbalancer.remove_listener(load_balancer, port)
    click.echo(f"removed the listener on port {port}")


@group.command("register-targets")
@click.argument("load_balancer")
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
def register(load_balancer: str, targets: tuple[str, ...]) -> None:
    """Register TARGETs (instance ids, or ADDRESS:PORT) with LOAD_BALANCER."""
    get_cloud().loadbalancer.register_targets(load_balancer, [parse_target(t) for t in targets])
    click.echo(f"registered {len(targets)} target(s)")


@group.command("deregister-targets")
@click.argument("load_balancer")
@click.argument("targets", nargs=-1, required=True, metavar="TARGET...")
def deregister(load_balancer: str, targets: tuple[str, ...]) -> None:
    """Deregister TARGETs from LOAD_BALANCER (open connections drain)."""
    get_cloud().loadbalancer.deregister_targets(load_balancer, [parse_target(t) for t in targets])
    click.echo(f"deregistered {len(targets)} target(s)")


@group.command("target-health")
@click.argument("load_balancer")
def health(load_balancer: str) -> None:
    """The health of each target of LOAD_BALANCER."""
    rows = [
        {"instance_id": h.target.instance_id, "address": h.target.address, "port": h.target.port, "state": h.state,
         "reason": h.reason}
        for h in get_cloud().loadbalancer.target_health(load_balancer)
    ]
    render(rows, ["instance_id", "address", "port", "state", "reason"], title="target health")


@group.command("set-health-check")
@click.argument("load_balancer")
@_health_options
def set_health_check(load_balancer: str, health_protocol: str | None, health_path: str, health_port: int | None,
                     interval: int, timeout: int | None, healthy: int, unhealthy: int) -> None:
    """Replace the health check of LOAD_BALANCER."""
    render_one(get_cloud().loadbalancer.set_health_check(
        load_balancer, _health_check(health_protocol, health_path, health_port, interval, timeout, healthy, unhealthy)))
