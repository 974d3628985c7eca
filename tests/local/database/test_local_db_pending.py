"""Local database: changes deferred to the maintenance window, parameter groups of restores and
replicas, snapshots copied to another root, and restores cut short by their timeout."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from database_helpers import PASSWORD, cleanup_cloud, execute, rows  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import InvalidInput, NotSupported, Timeout
from cloudkit.models.database import DatabaseInstance

#: a Wednesday
WED = datetime(2030, 5, 1, tzinfo=UTC)


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        yield cloud


def _sqlite(cloud: cloudkit.Cloud, ident: str, **kw: object) -> DatabaseInstance:
    return cloud.database.create_instance(ident, engine="sqlite", master_username="master", master_password=PASSWORD, **kw)  # type: ignore[arg-type]


def test_changes_not_applied_immediately_wait_for_the_maintenance_window(lite: cloudkit.Cloud) -> None:
    db = lite.database
    inst = _sqlite(lite, "later", backup_retention_days=0, maintenance_window="wed:02:00-wed:02:30")
    assert inst.pending_modifications == {}
    got = db.modify_instance(inst, instance_class="db.t3.large", storage_gb=40, backup_retention_days=3,
                             backup_window="04:00-04:30", apply_immediately=False)
    # what can wait, waits (turning backups on included); the backup window applies at once
    assert dict(got.pending_modifications) == {"instance_class": "db.t3.large", "storage_gb": 40, "backup_retention_days": 3}
    assert (got.instance_class, got.storage_gb, got.backup_retention_days, got.backup_window) == (
        "db.t3.micro", 20, 0, "04:00-04:30")
    assert list(db.list_snapshots(inst, kind="automated")) == []
    # a reboot does not apply them (only pending parameter changes)
    assert db.reboot_instance(inst).pending_modifications == got.pending_modifications
    # refusals come with the request, not in the window; the pending changes stay as they were
    with pytest.raises(NotSupported, match="standby"):
        db.modify_instance(inst, multi_az=True, apply_immediately=False)
    with pytest.raises(InvalidInput) as err:
        db.modify_instance(inst, engine_version="3.0", apply_immediately=False)
    assert err.value.field == "engine_version"
    assert db.get_instance(inst.id).pending_modifications == got.pending_modifications
    # outside the window nothing happens; inside it everything pending applies
    assert db.run_maintenance(now=WED + timedelta(hours=1, minutes=59)) == []  # type: ignore[attr-defined]
    assert db.run_maintenance(now=WED - timedelta(days=1, hours=-2, minutes=-10)) == []  # type: ignore[attr-defined]  # a Tuesday
    assert db.get_instance(inst.id).storage_gb == 20
    assert db.run_maintenance(now=WED + timedelta(hours=2, minutes=10)) == ["later"]  # type: ignore[attr-defined]
    done = db.get_instance(inst.id)
    assert (done.instance_class, done.storage_gb, done.backup_retention_days, done.pending_modifications) == (
        "db.t3.large", 40, 3, {})
    assert len(list(db.list_snapshots(inst, kind="automated"))) == 1  # backups turned on: the first one taken
    assert db.run_maintenance(now=WED + timedelta(hours=2, minutes=11)) == []  # type: ignore[attr-defined]  # nothing left


def test_apply_immediately_takes_the_pending_changes_along(lite: cloudkit.Cloud) -> None:
    db = lite.database
    inst = _sqlite(lite, "now", backup_retention_days=1)
    assert dict(db.modify_instance(inst, storage_gb=50, apply_immediately=False).pending_modifications) == {"storage_gb": 50}
    # between two non-zero values the retention applies at once, as on RDS
    kept = db.modify_instance(inst, backup_retention_days=2, apply_immediately=False)
    assert (kept.backup_retention_days, dict(kept.pending_modifications)) == (2, {"storage_gb": 50})
    # turning backups off waits; a later change of the same setting replaces the pending value
    assert db.modify_instance(inst, backup_retention_days=0, apply_immediately=False).pending_modifications["backup_retention_days"] == 0
    assert db.modify_instance(inst, storage_gb=60, apply_immediately=False).pending_modifications["storage_gb"] == 60
    assert len(list(db.list_snapshots(inst, kind="automated"))) == 1
    done = db.modify_instance(inst, instance_class="db.t3.small")  # apply_immediately=True: everything pending too
    assert (done.instance_class, done.storage_gb, done.backup_retention_days, done.pending_modifications) == (
        "db.t3.small", 60, 0, {})
    assert list(db.list_snapshots(inst, kind="automated")) == []  # backups off: automated ones removed


def test_maintenance_windows_across_the_week_end_and_the_timer(lite: cloudkit.Cloud) -> None:
    db = lite.database
    inst = _sqlite(lite, "weekend", maintenance_window="sun:23:45-mon:00:15")
    monday = WED - timedelta(days=2)
    assert db._until_next_maintenance(monday.timestamp()) == 7 * 86400  # type: ignore[attr-defined]  # nothing pending
    db.modify_instance(inst, instance_class="db.t3.medium", apply_immediately=False)
    sunday_evening = monday + timedelta(days=6, hours=23)
    assert db._until_next_maintenance(sunday_evening.timestamp()) == 45 * 60  # type: ignore[attr-defined]
    assert db.run_maintenance(now=monday + timedelta(minutes=15)) == []  # type: ignore[attr-defined]  # closed at 00:15
    assert db.run_maintenance(now=monday + timedelta(minutes=5)) == ["weekend"]  # type: ignore[attr-defined]
    assert db.get_instance(inst.id).instance_class == "db.t3.medium"


def test_pending_changes_are_stored_and_applied_by_another_service(lite: cloudkit.Cloud, tmp_path: Path) -> None:
    db = lite.database
    inst = _sqlite(lite, "stays", maintenance_window="wed:02:00-wed:02:30")
    db.modify_instance(inst, storage_gb=25, apply_immediately=False)
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as again:  # another process's view
        assert dict(again.database.get_instance("stays").pending_modifications) == {"storage_gb": 25}
        assert again.database.run_maintenance(now=WED + timedelta(hours=2)) == ["stays"]  # type: ignore[attr-defined]
    assert db.get_instance(inst.id).storage_gb == 25


# ---------------------------------------------------------------- PostgreSQL


def test_restores_take_the_given_group_and_replicas_the_source_group(pg_cloud: cloudkit.Cloud) -> None:
    db = pg_cloud.database
    group = db.create_parameter_group("pg-carried", family=db.engines["postgres"].family())  # type: ignore[attr-defined]
    db.modify_parameter_group(group, {"work_mem": "8MB"})
    src = db.create_instance("pg-grouped", engine="postgres", master_username="master", master_password=PASSWORD,
                             database_name="app", backup_retention_days=1, parameter_group=group)
    try:
        assert rows(src, "SHOW work_mem") == [("8MB",)]
        replica = db.create_read_replica(src, "pg-grouped-r")
        assert (replica.parameter_group, replica.parameter_status) == ("pg-carried", "in-sync")
        assert rows(replica, "SHOW work_mem") == [("8MB",)]
        db.create_snapshot(src, "pg-grouped-s")
        plain = db.restore_snapshot("pg-grouped-s", "pg-grouped-plain")  # as RDS: the engine's defaults
        assert plain.parameter_group is None and rows(plain, "SHOW work_mem") == [("4MB",)]
        tuned = db.restore_snapshot("pg-grouped-s", "pg-grouped-tuned", parameter_group="pg-carried")
        assert (tuned.parameter_group, tuned.parameter_status) == ("pg-carried", "in-sync")
        assert rows(tuned, "SHOW work_mem") == [("8MB",)]
        pitr = db.restore_to_point_in_time(src, "pg-grouped-pitr", parameter_group=group)
        assert pitr.parameter_group == "pg-carried" and rows(pitr, "SHOW work_mem") == [("8MB",)]
        assert db.restore_to_point_in_time(src, "pg-grouped-pitr2").parameter_group is None
        with pytest.raises(InvalidInput) as err:
            db.restore_snapshot("pg-grouped-s", "pg-grouped-bad", parameter_group="bad--name")
        assert err.value.field == "parameter_group"
        with pytest.raises(cloudkit.NotFound):
            db.restore_snapshot("pg-grouped-s", "pg-grouped-bad", parameter_group="no-such-group")
        assert "pg-grouped-bad" not in {i.id for i in db.list_instances()}
    finally:
        for ident in ("pg-grouped-r", "pg-grouped-plain", "pg-grouped-tuned", "pg-grouped-pitr", "pg-grouped-pitr2", "pg-grouped"):
            try:
                db.delete_instance(ident)
            except cloudkit.NotFound:
                pass
        db.delete_snapshot("pg-grouped-s")
        db.delete_parameter_group(group)


@pytest.fixture
def other_pg(tmp_path: Path, pg_cloud: cloudkit.Cloud) -> Iterator[cloudkit.Cloud]:
    """A second local root able to run PostgreSQL."""
    data_root = Path(tempfile.mkdtemp(prefix="cloudkit-pg-other-"))
    os.chmod(data_root, 0o711)
    cloud = cloudkit.connect("local", root=str(tmp_path / "other"), postgres_data_root=str(data_root), backup_check_interval=0,
                             durable_backups=False)
    try:
        yield cloud
    finally:
        cleanup_cloud(cloud)
        cloud.close()
        shutil.rmtree(data_root, ignore_errors=True)


def test_postgres_snapshot_copied_to_another_root_restores_there(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance,
                                                                 other_pg: cloudkit.Cloud) -> None:
    db = pg_cloud.database
    execute(primary, "CREATE TABLE IF NOT EXISTS travel (v text)")
    execute(primary, "INSERT INTO travel VALUES ('crossed')")
    db.create_snapshot(primary, "pg-travel")
    try:
        copy = db.copy_snapshot("pg-travel", "pg-arrived", destination=other_pg)
        assert (copy.id, copy.status, copy.engine) == ("pg-arrived", "available", "postgres")
        restored = other_pg.database.restore_snapshot("pg-arrived", "pg-there")
        assert rows(restored, "SELECT v FROM travel") == [("crossed",)]  # the source's master password came along
        assert "pg-there" not in {i.id for i in db.list_instances()}
    finally:
        db.delete_snapshot("pg-travel")


def test_a_restore_cut_short_by_its_timeout_is_left_failed(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    db = pg_cloud.database
    db.create_snapshot(primary, "pg-hurry")
    try:
        with pytest.raises(Timeout) as err:
            db.restore_snapshot("pg-hurry", "pg-hurried", timeout=0.001)
        assert "left in place" in str(err.value)
        # the documented state: the instance stays, failed, until delete_instance removes it
        assert db.get_instance("pg-hurried").status == "failed"
        db.delete_instance("pg-hurried")
        with pytest.raises(Timeout):
            db.restore_to_point_in_time(primary, "pg-hurried-pitr", timeout=0.001)
        # cut short while the source's log was being archived nothing is made yet; later, the instance stays failed
        left = {i.id: i.status for i in db.list_instances()}
        if "pg-hurried-pitr" in left:
            assert left["pg-hurried-pitr"] == "failed"
            db.delete_instance("pg-hurried-pitr")
    finally:
        db.delete_snapshot("pg-hurry")


def test_a_restore_and_its_first_backup_share_the_callers_timeout(lite: cloudkit.Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    db = lite.database
    inst = _sqlite(lite, "budget", backup_retention_days=1)
    db.create_snapshot(inst, "budget-snap")
    given: list[float] = []
    backup = db._backup  # type: ignore[attr-defined]

    def spy(rec: object, snap_id: str, kind: str, timeout: float, at: float | None = None) -> object:
        given.append(timeout)
        return backup(rec, snap_id, kind, timeout, at)

    monkeypatch.setattr(db, "_backup", spy)
    db.restore_snapshot("budget-snap", "budget-2", timeout=600)
    assert len(given) == 1 and 0 < given[0] < 600  # what the restore left of the 600 s, not 600 s again


def test_one_instance_whose_pending_changes_are_refused_does_not_stop_the_others(lite: cloudkit.Cloud) -> None:
    db = lite.database
    for ident in ("aa-refused", "bb-fine"):
        _sqlite(lite, ident, maintenance_window="wed:02:00-wed:02:30")
        db.modify_instance(ident, storage_gb=30, apply_immediately=False)
    # the installed engine changed meanwhile, say: the pending upgrade is refused in the window
    with db.db.transaction() as conn:  # type: ignore[attr-defined]
        row = conn.execute("SELECT record FROM instances WHERE id = 'aa-refused'").fetchone()
        rec = json.loads(row[0])
        rec["pending_modifications"]["engine_version"] = "1.0"
        conn.execute("UPDATE instances SET record = ? WHERE id = 'aa-refused'", (json.dumps(rec),))
    assert db.run_maintenance(now=WED + timedelta(hours=2)) == ["bb-fine"]  # type: ignore[attr-defined]
    assert db.get_instance("bb-fine").storage_gb == 30
    refused = db.get_instance("aa-refused")
    assert (refused.status, refused.storage_gb, refused.pending_modifications["storage_gb"]) == ("available", 20, 30)
