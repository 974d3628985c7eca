"""``cloudkit dns``: zones and record sets."""

from __future__ import annotations

from typing import TextIO

import click

from cloudkit.cli._common import CloudkitGroup, get_cloud, render, render_one
from cloudkit.models.dns import RecordSet


@click.group(cls=CloudkitGroup)
def group() -> None:
    """Zones and record sets."""


@group.command("zones")
def zones() -> None:
    """List hosted zones."""
    render(get_cloud().dns.list_zones(), ["id", "name", "record_count", "comment"], title="zones")


@group.command("create-zone")
@click.argument("name")
@click.option("--comment", help="A note kept with the zone.")
def create_zone(name: str, comment: str | None) -> None:
    """Create zone NAME (with its SOA and NS records)."""
    render_one(get_cloud().dns.create_zone(name, comment=comment))


@group.command("delete-zone")
@click.argument("zone")
@click.option("--force", is_flag=True, help="Delete the zone's records first.")
def delete_zone(zone: str, force: bool) -> None:
    """Delete ZONE (id or name)."""
    get_cloud().dns.delete_zone(zone, force=force)
    click.echo(f"deleted zone {zone}")


@group.command("records")
@click.argument("zone")
@click.option("--name", help="Only this name (relative, or absolute with a trailing dot).")
@click.option("--type", "rtype", help="Only this type.")
def records(zone: str, name: str | None, rtype: str | None) -> None:
    """List ZONE's record sets."""
    render(get_cloud().dns.list_records(zone, name=name, type=rtype), ["name", "type", "ttl", "values"], title=zone)


@group.command("upsert")
@click.argument("zone")
@click.argument("name")
@click.argument("rtype", metavar="TYPE")
@click.argument("values", nargs=-1, required=True)
@click.option("--ttl", type=int, default=300, show_default=True)
@click.option("--wait", is_flag=True, help="Wait until the change is in sync.")
def upsert(zone: str, name: str, rtype: str, values: tuple[str, ...], ttl: int, wait: bool) -> None:
    """Create or replace the TYPE record set NAME in ZONE with VALUES."""
    change = get_cloud().dns.upsert_records(zone, [RecordSet(name=name, type=rtype, ttl=ttl, values=values)], wait=wait)
    render_one(change)


@group.command("delete")
@click.argument("zone")
@click.argument("name")
@click.argument("rtype", metavar="TYPE")
def delete(zone: str, name: str, rtype: str) -> None:
    """Delete the TYPE record set NAME from ZONE."""
    dns = get_cloud().dns
    record = dns.get_record(zone, name, rtype)
    render_one(dns.delete_records(zone, [record]))


@group.command("export")
@click.argument("zone")
def export(zone: str) -> None:
    """Print ZONE as an RFC 1035 zone file."""
    click.echo(get_cloud().dns.export_zone(zone), nl=False)


@group.command("import")
@click.argument("zone")
@click.argument("file", type=click.File("r"))
@click.option("--replace", is_flag=True, help="Also delete record sets the file does not have.")
def import_cmd(zone: str, file: TextIO, replace: bool) -> None:
    """Upsert the record sets of zone FILE (- for standard input) into ZONE in one batch."""
    render_one(get_cloud().dns.import_zone(zone, file.read(), replace=replace))
