"""Pins the local database's defaults, restore arguments and snapshot status checks (sqlite engine).

These need no PostgreSQL: the sqlite engine goes through the same record, restore and snapshot
code. Pinned: the defaults of a new instance, what a restored instance takes from its snapshot
(and what it does not: its retention is 1 day, its maintenance window the default), and the
refusals of a snapshot that is not available or is automated.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

import cloudkit
from cloudkit.errors import AlreadyExists, Conflict, NotFound

PASSWORD = "Sup3r-secret-pw"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def cloud(root: Path) -> Iterator[cloudkit.Cloud]:
    c = cloudkit.connect("local", root=str(root), backup_check_interval=0)
    yield c
    c.close()


def _summary(db: object) -> tuple[object, ...]:
    return tuple(
        getattr(db, name)
        for name in (
            "id", "engine", "status", "engine_version", "instance_class", "storage_gb", "master_username", "database_name", "multi_az", "iops",
            "backup_retention_days", "maintenance_window", "replica_of", "endpoint",
        )
    )  # fmt: skip


def test_defaults_of_a_new_instance(cloud: cloudkit.Cloud) -> None:
    db = cloud.database.create_instance("plain", engine="sqlite", master_username="admin", master_password=PASSWORD, wait=True)
    assert _summary(db) == (
        "plain", "sqlite", "available", sqlite3.sqlite_version, "db.t3.micro", 20, "admin", None, False, None, 1, "sun:05:00-sun:05:30", None, None,
    )  # fmt: skip
    assert db.extra["path"].endswith("/database/sqlite/instances/plain/main.sqlite")
    assert [s.kind for s in cloud.database.list_snapshots("plain")] == ["automated"]  # one backup at creation
    none = cloud.database.create_instance(
        "nobackup", engine="sqlite", master_username="admin", master_password=PASSWORD, backup_retention_days=0, wait=True
    )
    assert none.backup_retention_days == 0
    assert [s.kind for s in cloud.database.list_snapshots("nobackup")] == []  # no retention: no automated backup


def test_given_settings_are_kept(cloud: cloudkit.Cloud) -> None:
    db = cloud.database.create_instance(
        "shop", engine="sqlite", master_username="admin", master_password=PASSWORD, instance_class="db.m5.large", storage_gb=30,
        database_name="app", backup_retention_days=3, maintenance_window="mon:01:00-mon:01:30", iops=1000,
        backup_window="22:00-22:45", wait=True,
    )  # fmt: skip
    assert _summary(db) == (
        "shop", "sqlite", "available", sqlite3.sqlite_version, "db.m5.large", 30, "admin", "app", False, 1000, 3, "mon:01:00-mon:01:30", None, None,
    )  # fmt: skip
    assert db.backup_window == "22:00-22:45"
    assert cloud.database.create_instance("plain", engine="sqlite", master_username="admin", master_password=PASSWORD,
                                          backup_retention_days=0).backup_window == "03:00-03:30"
    assert db.extra["path"].endswith("/database/sqlite/instances/shop/app.sqlite")
    assert [s.kind for s in cloud.database.list_snapshots("shop")] == ["automated"]


@pytest.fixture
def snapshot(cloud: cloudkit.Cloud) -> str:
    cloud.database.create_instance(
        "src", engine="sqlite", master_username="admin", master_password=PASSWORD, instance_class="db.m5.large", storage_gb=30,
        database_name="app", backup_retention_days=3, maintenance_window="mon:01:00-mon:01:30", wait=True,
    )  # fmt: skip
    cloud.database.create_snapshot("src", "snap1", wait=True)
    return "snap1"


def test_a_restore_takes_class_storage_user_and_database_from_the_snapshot(cloud: cloudkit.Cloud, snapshot: str) -> None:
    db = cloud.database.restore_snapshot(snapshot, "copy", wait=True)
    assert _summary(db) == (
        "copy", "sqlite", "available", sqlite3.sqlite_version, "db.m5.large", 30, "admin", "app", False, None, 1, "sun:05:00-sun:05:30", None, None,
    )  # fmt: skip
    assert db.extra["path"].endswith("/database/sqlite/instances/copy/app.sqlite")
    assert sorted(s.kind for s in cloud.database.list_snapshots("copy")) == ["automated"]  # retention 1: one automated backup


def test_a_restore_can_choose_its_instance_class(cloud: cloudkit.Cloud, snapshot: str) -> None:
    db = cloud.database.restore_snapshot(snapshot, "small", instance_class="db.t3.small", wait=True)
    assert (db.instance_class, db.storage_gb, db.backup_retention_days) == ("db.t3.small", 30, 1)


def test_a_restore_onto_an_existing_name_is_refused(cloud: cloudkit.Cloud, snapshot: str) -> None:
    with pytest.raises(AlreadyExists) as info:
        cloud.database.restore_snapshot(snapshot, "src", wait=True)
    assert (info.value.message, info.value.code, info.value.provider) == (
        "database instance 'src' already exists", "DBInstanceAlreadyExists", "local",
    )  # fmt: skip


@pytest.mark.parametrize("status", ["creating", "failed"])
def test_a_snapshot_that_is_not_available_cannot_be_restored(cloud: cloudkit.Cloud, root: Path, snapshot: str, status: str) -> None:
    conn = sqlite3.connect(root / "database" / "state.db")
    try:
        with conn:
            conn.execute("UPDATE snapshots SET status = ? WHERE id = ?", (status, snapshot))
    finally:
        conn.close()
    with pytest.raises(Conflict) as info:
        cloud.database.restore_snapshot(snapshot, "copy", wait=True)
    assert (info.value.message, info.value.code, info.value.provider) == (
        f"snapshot 'snap1' is {status}", "InvalidDBSnapshotState", "local",
    )  # fmt: skip
    assert [d.id for d in cloud.database.list_instances()] == ["src"]


def test_an_automated_snapshot_cannot_be_deleted_by_hand(cloud: cloudkit.Cloud, snapshot: str) -> None:
    (auto,) = [s.id for s in cloud.database.list_snapshots("src") if s.kind == "automated"]
    with pytest.raises(Conflict) as info:
        cloud.database.delete_snapshot(auto)
    assert (info.value.message, info.value.code, info.value.provider) == (
        "automated snapshots are removed by the retention period or with their instance", "InvalidDBSnapshotState", "local",
    )  # fmt: skip
    cloud.database.delete_snapshot(snapshot)
    assert [s.kind for s in cloud.database.list_snapshots("src")] == ["automated"]


def test_a_restore_copies_the_data_and_names_its_backup_after_the_first_40_characters(cloud: cloudkit.Cloud, root: Path) -> None:
    src = cloud.database.create_instance("data", engine="sqlite", master_username="admin", master_password=PASSWORD, wait=True)
    conn = sqlite3.connect(src.extra["path"])
    try:
        with conn:
            conn.execute("CREATE TABLE t (v TEXT)")
            conn.execute("INSERT INTO t VALUES ('kept')")
    finally:
        conn.close()
    cloud.database.create_snapshot("data", "with-data", wait=True)
    name = "r" * 45
    copy = cloud.database.restore_snapshot("with-data", name, wait=True)
    conn = sqlite3.connect(copy.extra["path"])
    try:
        assert conn.execute("SELECT v FROM t").fetchall() == [("kept",)]
    finally:
        conn.close()
    (auto,) = [s.id for s in cloud.database.list_snapshots(name)]
    assert auto.startswith("r" * 40 + "-auto-")


def test_a_snapshot_whose_file_is_gone_is_not_restored_as_an_empty_database(cloud: cloudkit.Cloud, root: Path, snapshot: str) -> None:
    (root / "database" / "sqlite" / "snapshots" / snapshot / "db.sqlite").unlink()
    with pytest.raises(NotFound) as info:
        cloud.database.restore_snapshot(snapshot, "copy", wait=True)
    assert (info.value.message, info.value.provider) == ("copy a SQLite database: the SQLite database db.sqlite is missing", "local")
    assert [d.id for d in cloud.database.list_instances()] == ["src"]  # the failed restore was undone
    assert not (root / "database" / "sqlite" / "instances" / "copy").exists()
