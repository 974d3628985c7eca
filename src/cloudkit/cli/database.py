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


#: Names of the first release, kept working (hidden, with a note) for one more release.
ALIASES = {
    "engines": "list-engines",
    "instances": "list-instances",
    "show": "get-instance",
    "create": "create-instance",
    "modify": "modify-instance",
    "reboot": "reboot-instance",
    "stop": "stop-instance",
    "start": "start-instance",
    "delete": "delete-instance",
    "snapshots": "list-snapshots",
    "snapshot": "create-snapshot",
    "restore": "restore-snapshot",
    "restore-to-time": "restore-to-point-in-time",
    "create-replica": "create-read-replica",
    "promote": "promote-read-replica",
}


@click.group(cls=CloudkitGroup, aliases=ALIASES)
def group() -> None:
    """Database instances, snapshots, restores and read replicas."""


@group.command("list-engines")
def engines() -> None:
    """Engines the provider can run."""
    render(({"engine": e} for e in get_cloud().database.list_engines()), ["engine"], title="engines")


@group.command("list-instances")
def instances() -> None:
    """List database instances."""
    render(get_cloud().database.list_instances(), _INSTANCE_COLUMNS, title="instances")


@group.command("get-instance")
@click.argument("instance")
def show(instance: str) -> None:
    """Show INSTANCE."""
    render_one(get_cloud().database.get_instance(instance))


@group.command("create-instance")
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
@click.option("--backup-window", help="hh:mm-hh:mm in UTC: when the daily automated backup is taken.")
@click.option("--parameter-group", help="A parameter group of the engine's family.")
@click.option("--multi-az", is_flag=True)
@click.option("--no-wait", is_flag=True, help="Return at once instead of when the instance is available.")
def create(identifier: str, engine: str, master_username: str, master_password: str, instance_class: str, storage_gb: int,
           engine_version: str | None, database_name: str | None, backup_retention_days: int,
           maintenance_window: str | None, backup_window: str | None, parameter_group: str | None, multi_az: bool,
           no_wait: bool) -> None:
    """Create database instance IDENTIFIER."""
    render_one(get_cloud().database.create_instance(
        identifier, engine=engine, master_username=master_username, master_password=master_password,
        instance_class=instance_class, storage_gb=storage_gb, engine_version=engine_version, database_name=database_name,
        backup_retention_days=backup_retention_days, maintenance_window=maintenance_window, backup_window=backup_window,
        parameter_group=parameter_group, multi_az=multi_az, wait=not no_wait))


@group.command("modify-instance")
@click.argument("instance")
@click.option("--class", "instance_class")
@click.option("--storage", "storage_gb", type=int, help="GiB.")
@click.option("--retention", "backup_retention_days", type=int, help="Days automated backups are kept.")
@click.option("--maintenance-window", help="ddd:hh:mm-ddd:hh:mm in UTC.")
@click.option("--master-password", is_flag=False, flag_value="", default=None,
              help="Set a new master password (given alone, it is asked for without echo).")
@click.option("--backup-window", help="hh:mm-hh:mm in UTC.")
@click.option("--parameter-group", help="Use this parameter group (applies at the next reboot).")
@click.option("--engine-version", help="Upgrade the engine to this version.")
@click.option("--allow-major-version-upgrade", is_flag=True)
@click.option("--multi-az/--single-az", "multi_az", default=None, help="Add or remove the standby.")
@click.option("--apply-immediately/--no-apply-immediately", "apply_immediately", default=True,
              help="Apply now (default, with every pending change), or leave what can wait for the maintenance window.")
def modify(instance: str, instance_class: str | None, storage_gb: int | None, backup_retention_days: int | None,
           maintenance_window: str | None, master_password: str | None, backup_window: str | None,
           parameter_group: str | None, engine_version: str | None, allow_major_version_upgrade: bool,
           multi_az: bool | None, apply_immediately: bool) -> None:
    """Change INSTANCE's settings; only the options given change."""
    if master_password == "":
        master_password = click.prompt("New master password", hide_input=True, confirmation_prompt=True)
    render_one(get_cloud().database.modify_instance(
        instance, instance_class=instance_class, storage_gb=storage_gb, backup_retention_days=backup_retention_days,
        maintenance_window=maintenance_window, master_password=master_password, backup_window=backup_window,
        parameter_group=parameter_group, engine_version=engine_version,
        allow_major_version_upgrade=allow_major_version_upgrade, multi_az=multi_az, apply_immediately=apply_immediately))


@group.command("reboot-instance")
@click.argument("instance")
@click.option("--force-failover", is_flag=True, help="Reboot a Multi-AZ instance through a failover to its standby.")
def reboot(instance: str, force_failover: bool) -> None:
    """Restart INSTANCE's server (with --force-failover: promote its Multi-AZ standby)."""
    render_one(get_cloud().database.reboot_instance(instance, force_failover=force_failover))


@group.command("stop-instance")
@click.argument("instance")
def stop(instance: str) -> None:
    """Stop INSTANCE (its data stays)."""
    render_one(get_cloud().database.stop_instance(instance))


@group.command("start-instance")
@click.argument("instance")
def start(instance: str) -> None:
    """Start a stopped INSTANCE."""
    render_one(get_cloud().database.start_instance(instance))


@group.command("delete-instance")
@click.argument("instance")
@click.option("--final-snapshot", help="Take this snapshot first.")
@yes_option
def delete(instance: str, final_snapshot: str | None, yes: bool) -> None:
    """Delete INSTANCE (and its automated backups)."""
    confirm_destructive(f"Delete database instance {instance}?", yes)
    get_cloud().database.delete_instance(instance, final_snapshot=final_snapshot)
    click.echo(f"deleted instance {instance}" + (f" (final snapshot {final_snapshot})" if final_snapshot else ""))


@group.command("list-snapshots")
@click.argument("instance", required=False)
@click.option("--kind", type=click.Choice(["manual", "automated"]))
def snapshots(instance: str | None, kind: str | None) -> None:
    """List snapshots (of INSTANCE)."""
    render(get_cloud().database.list_snapshots(instance, kind=kind), _SNAPSHOT_COLUMNS, title="snapshots")


@group.command("create-snapshot")
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


@group.command("restore-snapshot")
@click.argument("snapshot_id")
@click.argument("identifier")
@click.option("--class", "instance_class")
@click.option("--parameter-group", help="The new instance's parameter group (default: the engine's defaults).")
def restore(snapshot_id: str, identifier: str, instance_class: str | None, parameter_group: str | None) -> None:
    """Create instance IDENTIFIER holding SNAPSHOT_ID's data."""
    render_one(get_cloud().database.restore_snapshot(snapshot_id, identifier, instance_class=instance_class,
                                                     parameter_group=parameter_group))


@group.command("restore-to-point-in-time")
@click.argument("source")
@click.argument("identifier")
@click.option("--time", "when", help="ISO 8601 time (UTC if no offset); default: the latest restorable time.")
@click.option("--parameter-group", help="The new instance's parameter group (default: the engine's defaults).")
def restore_to_time(source: str, identifier: str, when: str | None, parameter_group: str | None) -> None:
    """Create instance IDENTIFIER holding SOURCE's data as of --time."""
    render_one(get_cloud().database.restore_to_point_in_time(source, identifier, time=_when(when),
                                                             parameter_group=parameter_group))


@group.command("create-read-replica")
@click.argument("source")
@click.argument("identifier")
@click.option("--class", "instance_class")
def create_replica(source: str, identifier: str, instance_class: str | None) -> None:
    """Create read replica IDENTIFIER streaming SOURCE's writes."""
    render_one(get_cloud().database.create_read_replica(source, identifier, instance_class=instance_class))


@group.command("promote-read-replica")
@click.argument("replica")
def promote(replica: str) -> None:
    """Turn read replica REPLICA into a standalone, writable instance."""
    render_one(get_cloud().database.promote_read_replica(replica))


@group.command("copy-snapshot")
@click.argument("snapshot_id")
@click.argument("target_id")
@click.option("--to-profile", help="Copy into this profile of cloudkit.toml (another region, account or local root).")
def copy_snapshot(snapshot_id: str, target_id: str, to_profile: str | None) -> None:
    """Copy SNAPSHOT_ID to TARGET_ID, here or in another profile."""
    from cloudkit.cloud import connect

    if to_profile is None:
        render_one(get_cloud().database.copy_snapshot(snapshot_id, target_id))
        return
    with connect(profile=to_profile) as other:
        render_one(get_cloud().database.copy_snapshot(snapshot_id, target_id, destination=other))


_GROUP_COLUMNS = ["name", "family", "description", "parameters"]


@group.command("list-parameter-groups")
def parameter_groups() -> None:
    """List parameter groups."""
    render(get_cloud().database.list_parameter_groups(), _GROUP_COLUMNS, title="parameter groups")


@group.command("create-parameter-group")
@click.argument("name")
@click.option("--family", required=True, help="Engine and major version, such as mysql10.11 or postgres15.")
@click.option("--description", default="")
def parameter_group_create(name: str, family: str, description: str) -> None:
    """Create parameter group NAME."""
    render_one(get_cloud().database.create_parameter_group(name, family=family, description=description))


def _pairs(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidInput("parameters", f"give NAME=VALUE pairs (got {item!r})")
        out[key] = value
    return out


@group.command("modify-parameter-group")
@click.argument("name")
@click.argument("parameters", nargs=-1, required=True)
@click.option("--apply", "apply_method", type=click.Choice(["immediate", "pending-reboot"]), default="immediate",
              show_default=True)
def parameter_group_set(name: str, parameters: tuple[str, ...], apply_method: str) -> None:
    """Set NAME=VALUE PARAMETERS in parameter group NAME."""
    render_one(get_cloud().database.modify_parameter_group(name, _pairs(parameters), apply_method=apply_method))


@group.command("reset-parameter-group")
@click.argument("name")
@click.argument("parameters", nargs=-1)
@click.option("--apply", "apply_method", type=click.Choice(["immediate", "pending-reboot"]), default="immediate",
              show_default=True)
def parameter_group_reset(name: str, parameters: tuple[str, ...], apply_method: str) -> None:
    """Return PARAMETERS (default: all) of parameter group NAME to the engine's defaults."""
    render_one(get_cloud().database.reset_parameter_group(name, parameters=list(parameters) or None,
                                                          apply_method=apply_method))


@group.command("delete-parameter-group")
@click.argument("name")
@yes_option
def parameter_group_delete(name: str, yes: bool) -> None:
    """Delete parameter group NAME (no instance may use it)."""
    confirm_destructive(f"Delete parameter group {name}?", yes)
    get_cloud().database.delete_parameter_group(name)
    click.echo(f"deleted parameter group {name}")
