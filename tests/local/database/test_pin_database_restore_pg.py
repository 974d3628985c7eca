"""Pins a snapshot restore on the PostgreSQL engine of the local database (public calls only).

The sqlite pins (``test_pin_database_restore.py``) cover the record a restore builds; this one
covers what only PostgreSQL does: the base copied into a new data folder with its own archive,
the server started on its own port, reachable with the snapshot's password, writable (no recovery
or standby signal left), and an automated backup taken once it is available. Skipped with the
reason when PostgreSQL is not installed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from database_helpers import PASSWORD, execute, rows  # type: ignore[import-not-found]

import cloudkit
from cloudkit.models.database import DatabaseInstance


def _summary(db: DatabaseInstance) -> tuple[object, ...]:
    return (db.engine, db.status, db.engine_version, db.instance_class, db.storage_gb, db.master_username, db.database_name,
            db.multi_az, db.backup_retention_days, db.replica_of)


def test_a_restored_postgres_instance(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    db = pg_cloud.database
    execute(primary, "CREATE TABLE IF NOT EXISTS pin_restore_t (v text)")
    execute(primary, "INSERT INTO pin_restore_t VALUES ('in the snapshot')")
    db.create_snapshot(primary, "pin-pg-snap")
    execute(primary, "INSERT INTO pin_restore_t VALUES ('after it')")
    restored = db.restore_snapshot("pin-pg-snap", "pin-pg-restored", instance_class="db.t3.small")
    try:
        assert _summary(restored) == ("postgres", "available", primary.engine_version, "db.t3.small", primary.storage_gb,
                                      "master", "app", False, 1, None)
        assert restored.endpoint is not None and primary.endpoint is not None
        assert restored.endpoint.host == "127.0.0.1"
        assert restored.endpoint.port not in (None, 0, primary.endpoint.port)
        # the snapshot's data and password, on a server of its own
        assert rows(restored, "SELECT v FROM pin_restore_t ORDER BY v") == [("in the snapshot",)]
        import psycopg

        with pytest.raises(psycopg.OperationalError):
            rows(restored, "SELECT 1", password=PASSWORD + "-wrong")
        execute(restored, "INSERT INTO pin_restore_t VALUES ('restored writes')")  # not in recovery
        assert rows(primary, "SELECT count(*) FROM pin_restore_t WHERE v = 'restored writes'") == [(0,)]
        folder = Path(restored.extra["dir"])
        assert folder != Path(primary.extra["dir"])
        data = folder / "data"
        assert not (data / "standby.signal").exists() and not (data / "recovery.signal").exists()
        assert restored.extra["archive"] == str(folder / "archive") and (folder / "archive").is_dir()
        port_conf = (data / "postgresql.auto.conf").read_text() + "".join(p.read_text() for p in data.glob("*.conf"))
        assert f"port = {restored.endpoint.port}" in port_conf or f"port={restored.endpoint.port}" in port_conf
        assert [s.kind for s in db.list_snapshots(restored)] == ["automated"]  # retention 1: one backup once available
        assert db.get_instance("pin-pg-restored").status == "available"
    finally:
        db.delete_instance(restored)
        db.delete_snapshot("pin-pg-snap")


def test_a_restore_keeps_the_class_of_the_snapshot_by_default(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    db = pg_cloud.database
    db.create_snapshot(primary, "pin-pg-snap-2")
    restored = db.restore_snapshot("pin-pg-snap-2", "pin-pg-restored-2")
    try:
        assert (restored.instance_class, restored.status) == (primary.instance_class, "available")
        assert rows(restored, "SELECT current_database()") == [("app",)]
    finally:
        db.delete_instance(restored)
        db.delete_snapshot("pin-pg-snap-2")


def test_a_point_in_time_restore_keeps_the_source_retention(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    """A snapshot has no retention of its own (its restore gets 1 day); an instance restored to a point
    in time takes its source's (the primary keeps 7 days)."""
    db = pg_cloud.database
    restored = db.restore_to_point_in_time(primary, "pin-pg-pitr")
    try:
        assert (restored.backup_retention_days, restored.instance_class, restored.status) == (7, primary.instance_class, "available")
    finally:
        db.delete_instance(restored)


def test_a_restore_takes_the_parameter_group_it_is_given(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    """``parameter_group=`` on a restore: the new server starts with the group's values, in sync."""
    db = pg_cloud.database
    family = "postgres" + str(primary.engine_version).split(".")[0]
    db.create_parameter_group("pin-pg-restore-group", family=family)
    db.modify_parameter_group("pin-pg-restore-group", {"work_mem": "12MB"})
    db.create_snapshot(primary, "pin-pg-snap-3")
    restored = db.restore_snapshot("pin-pg-snap-3", "pin-pg-restored-3", parameter_group="pin-pg-restore-group")
    try:
        assert (restored.parameter_group, restored.parameter_status, restored.status) == (
            "pin-pg-restore-group", "in-sync", "available")
        assert rows(restored, "SHOW work_mem") == [("12MB",)]
        assert rows(primary, "SHOW work_mem") != [("12MB",)]
    finally:
        db.delete_instance(restored)
        db.delete_snapshot("pin-pg-snap-3")
        db.delete_parameter_group("pin-pg-restore-group")


def test_a_new_record_keeps_multi_az(pg_cloud: cloudkit.Cloud) -> None:
    """``multi_az=True`` at create is recorded (and a standby kept); the default is single-AZ."""
    db = pg_cloud.database
    inst = db.create_instance("pin-pg-maz", engine="postgres", master_username="master", master_password=PASSWORD,
                              multi_az=True, backup_retention_days=0)
    try:
        assert (inst.multi_az, db.get_instance(inst.id).multi_az) == (True, True)
        assert inst.secondary_zone is not None
    finally:
        db.delete_instance(inst)
