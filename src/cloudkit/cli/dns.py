"""``cloudkit dns``: zones and record sets."""

from __future__ import annotations

from typing import TextIO

import click

from cloudkit.cli._common import CloudkitGroup, confirm_destructive, fields, get_cloud, render, render_one, yes_option
from cloudkit.models.dns import RecordSet

#: Names of the first release, kept working (hidden, with a note) for one more release.
ALIASES = {
    "zones": "list-zones",
    "records": "list-records",
    "upsert": "upsert-records",
    "delete": "delete-records",
    "export": "export-zone",
    "import": "import-zone",
}


@click.group(cls=CloudkitGroup, aliases=ALIASES)
def group() -> None:
    """Zones and record sets."""


@group.command("list-zones")
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
@yes_option
def delete_zone(zone: str, force: bool, yes: bool) -> None:
    """Delete ZONE (id or name)."""
    confirm_destructive(f"Delete zone {zone}{' and all its records' if force else ''}?", yes)
    get_cloud().dns.delete_zone(zone, force=force)
    click.echo(f"deleted zone {zone}")


@group.command("list-records")
@click.argument("zone")
@click.option("--name", help="Only this name (relative, or absolute with a trailing dot).")
@click.option("--type", "rtype", help="Only this type.")
def records(zone: str, name: str | None, rtype: str | None) -> None:
    """List ZONE's record sets."""
    render(get_cloud().dns.list_records(zone, name=name, type=rtype), ["name", "type", "ttl", "values"], title=zone)


@group.command("upsert-records")
@fields(type="rtype")
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


@group.command("delete-records")
@fields(type="rtype")
@click.argument("zone")
@click.argument("name")
@click.argument("rtype", metavar="TYPE")
@yes_option
def delete(zone: str, name: str, rtype: str, yes: bool) -> None:
    """Delete the TYPE record set NAME from ZONE."""
    confirm_destructive(f"Delete the {rtype} record set {name} from {zone}?", yes)
    dns = get_cloud().dns
    record = dns.get_record(zone, name, rtype)
    render_one(dns.delete_records(zone, [record]))


@group.command("export-zone")
@click.argument("zone")
def export(zone: str) -> None:
    """Print ZONE as an RFC 1035 zone file."""
    click.echo(get_cloud().dns.export_zone(zone), nl=False)


@group.command("import-zone")
@click.argument("zone")
@click.argument("file", type=click.File("r"))
@click.option("--replace", is_flag=True, help="Also delete record sets the file does not have (asks first).")
@yes_option
def import_cmd(zone: str, file: TextIO, replace: bool, yes: bool) -> None:
    """Upsert the record sets of zone FILE (- for standard input) into ZONE in one batch."""
    if replace:
        confirm_destructive(f"Delete the record sets of {zone} that the file does not have?", yes)
    render_one(get_cloud().dns.import_zone(zone, file.read(), replace=replace))
