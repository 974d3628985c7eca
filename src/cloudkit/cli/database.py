"""``cloudkit database``: database instances, snapshots, restores and read replicas.

Master passwords are read from a hidden prompt or ``CLOUDKIT_DB_PASSWORD``, never echoed or printed.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from cloudkit.cli._common import CloudkitGroup, confirm_destructive, get_cloud, render, render_one, yes_option
from cloudkit.errors import InvalidInput

_INSTANCE_COLUMNS = ["id", "engine", "status", "endpoint", "instance_class", "storage_gb", "replica_of"]
_SNAPSHOT_COLUMNS = ["id", "instance_id", "engine", "kind", "status", "created_at"]


def _when(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput("time", f"must be an ISO 8601 time such as 2026-11-26T14:00:00Z (got {value!r})") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


@click.group(cls=CloudkitGroup)
def group() -> None:
    """Database instances, snapshots, restores and read replicas."""


@group.command("engines")
def engines() -> None:
    """Engines the provider can run."""
    render(({"engine": e} for e in get_cloud().database.list_engines()), ["engine"], title="engines")


@group.command("instances")
def instances() -> None:
    """List database instances."""
    render(get_cloud().database.list_instances(), _INSTANCE_COLUMNS, title="instances")


@group.command("show")
@click.argument("instance")
def show(instance: str) -> None:
    """Show INSTANCE."""
    render_one(get_cloud().database.get_instance(instance))


@group.command("create")
@click.argument("identifier")
@click.option("--engine", required=True, help="postgres, sqlite, mysql... (see `cloudkit database engines`).")
@click.option("--master-username", default="master", show_default=True)
@click.option("--master-password", prompt=True, hide_input=True, confirmation_prompt=True, envvar="CLOUDKIT_DB_PASSWORD",
              help="Read from a hidden prompt or CLOUDKIT_DB_PASSWORD; never printed.")
@click.option("--class", "instance_class", default="db.t3.micro", show_default=True)
@click.option("--storage", "storage_gb", type=int, default=20, show_default=True, help="GiB.")
@click.option("--engine-version")
@click.option("--database-name", help="A database to create in the instance.")
@click.option("--retention", "backup_retention_days", type=int, default=1, show_default=True,
              help="Days automated backups are kept (0 turns them off).")
@click.option("--maintenance-window", help="ddd:hh:mm-ddd:hh:mm in UTC.")
@click.option("--multi-az", is_flag=True)
@click.option("--no-wait", is_flag=True, help="Return at once instead of when the instance is available.")
def create(identifier: str, engine: str, master_username: str, master_password: str, instance_class: str, storage_gb: int,
           engine_version: str | None, database_name: str | None, backup_retention_days: int,
           maintenance_window: str | None, multi_az: bool, no_wait: bool) -> None:
    """Create database instance IDENTIFIER."""
    render_one(get_cloud().database.create_instance(
        identifier, engine=engine, master_username=master_username, master_password=master_password,
        instance_class=instance_class, storage_gb=storage_gb, engine_version=engine_version, database_name=database_name,
        backup_retention_days=backup_retention_days, maintenance_window=maintenance_window, multi_az=multi_az,
        wait=not no_wait))


@group.command("modify")
@click.argument("instance")
@click.option("--class", "instance_class")
@click.option("--storage", "storage_gb", type=int, help="GiB.")
@click.option("--retention", "backup_retention_days", type=int, help="Days automated backups are kept.")
@click.option("--maintenance-window", help="ddd:hh:mm-ddd:hh:mm in UTC.")
@click.option("--master-password", is_flag=False, flag_value="", default=None,
              help="Set a new master password (given alone, it is asked for without echo).")
def modify(instance: str, instance_class: str | None, storage_gb: int | None, backup_retention_days: int | None,
           maintenance_window: str | None, master_password: str | None) -> None:
    """Change INSTANCE's settings; only the options given change."""
    if master_password == "":
        master_password = click.prompt("New master password", hide_input=True, confirmation_prompt=True)
    render_one(get_cloud().database.modify_instance(
        instance, instance_class=instance_class, storage_gb=storage_gb, backup_retention_days=backup_retention_days,
        maintenance_window=maintenance_window, master_password=master_password))


@group.command("reboot")
@click.argument("instance")
def reboot(instance: str) -> None:
    """Restart INSTANCE's server."""
    render_one(get_cloud().database.reboot_instance(instance))


@group.command("stop")
@click.argument("instance")
def stop(instance: str) -> None:
    """Stop INSTANCE (its data stays)."""
    render_one(get_cloud().database.stop_instance(instance))


@group.command("start")
@click.argument("instance")
def start(instance: str) -> None:
    """Start a stopped INSTANCE."""
    render_one(get_cloud().database.start_instance(instance))


@group.command("delete")
@click.argument("instance")
@click.option("--final-snapshot", help="Take this snapshot first.")
@yes_option
def delete(instance: str, final_snapshot: str | None, yes: bool) -> None:
    """Delete INSTANCE (and its automated backups)."""
    confirm_destructive(f"Delete database instance {instance}?", yes)
    get_cloud().database.delete_instance(instance, final_snapshot=final_snapshot)
    click.echo(f"deleted instance {instance}" + (f" (final snapshot {final_snapshot})" if final_snapshot else ""))


@group.command("snapshots")
@click.argument("instance", required=False)
@click.option("--kind", type=click.Choice(["manual", "automated"]))
def snapshots(instance: str | None, kind: str | None) -> None:
    """List snapshots (of INSTANCE)."""
    render(get_cloud().database.list_snapshots(instance, kind=kind), _SNAPSHOT_COLUMNS, title="snapshots")


@group.command("snapshot")
@click.argument("instance")
@click.argument("snapshot_id")
def snapshot(instance: str, snapshot_id: str) -> None:
    """Take manual snapshot SNAPSHOT_ID of INSTANCE."""
    render_one(get_cloud().database.create_snapshot(instance, snapshot_id))


@group.command("delete-snapshot")
@click.argument("snapshot_id")
@yes_option
def delete_snapshot(snapshot_id: str, yes: bool) -> None:
    """Delete a manual snapshot."""
    confirm_destructive(f"Delete snapshot {snapshot_id}?", yes)
    get_cloud().database.delete_snapshot(snapshot_id)
    click.echo(f"deleted snapshot {snapshot_id}")


@group.command("restore")
@click.argument("snapshot_id")
@click.argument("identifier")
@click.option("--class", "instance_class")
def restore(snapshot_id: str, identifier: str, instance_class: str | None) -> None:
    """Create instance IDENTIFIER holding SNAPSHOT_ID's data."""
    render_one(get_cloud().database.restore_snapshot(snapshot_id, identifier, instance_class=instance_class))


@group.command("restore-to-time")
@click.argument("source")
@click.argument("identifier")
@click.option("--time", "when", help="ISO 8601 time (UTC if no offset); default: the latest restorable time.")
def restore_to_time(source: str, identifier: str, when: str | None) -> None:
    """Create instance IDENTIFIER holding SOURCE's data as of --time."""
    render_one(get_cloud().database.restore_to_point_in_time(source, identifier, time=_when(when)))


@group.command("create-replica")
@click.argument("source")
@click.argument("identifier")
@click.option("--class", "instance_class")
def create_replica(source: str, identifier: str, instance_class: str | None) -> None:
    """Create read replica IDENTIFIER streaming SOURCE's writes."""
    render_one(get_cloud().database.create_read_replica(source, identifier, instance_class=instance_class))


@group.command("promote")
@click.argument("replica")
def promote(replica: str) -> None:
    """Turn read replica REPLICA into a standalone, writable instance."""
    render_one(get_cloud().database.promote_read_replica(replica))
