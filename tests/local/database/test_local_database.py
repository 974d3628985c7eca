"""Local-only database behaviour: data really restored, replicated and promoted; passwords kept private."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from database_helpers import PASSWORD, execute, rows  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import Conflict, InvalidInput, NotSupported, ProviderError
from cloudkit.models.database import DatabaseInstance

# ---------------------------------------------------------------- PostgreSQL: data after restores


def test_snapshot_restore_holds_the_snapshot_data(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    db = pg_cloud.database
    execute(primary, "CREATE TABLE snap_t (v text)")
    execute(primary, "INSERT INTO snap_t VALUES ('before')")
    db.create_snapshot(primary, "snap-data")
    execute(primary, "INSERT INTO snap_t VALUES ('after')")
    restored = db.restore_snapshot("snap-data", "restored-snap")
    assert restored.endpoint is not None and restored.endpoint.port != primary.endpoint.port  # type: ignore[union-attr]
    assert rows(restored, "SELECT v FROM snap_t ORDER BY v") == [("before",)]
    execute(restored, "INSERT INTO snap_t VALUES ('own')")  # a writable, independent server
    assert rows(primary, "SELECT v FROM snap_t ORDER BY v") == [("after",), ("before",)]
    db.delete_instance(restored)


def test_point_in_time_restore_replays_the_archive_up_to_the_time(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    db = pg_cloud.database
    execute(primary, "CREATE TABLE pitr_t (v text)")
    execute(primary, "INSERT INTO pitr_t VALUES ('kept')")
    time.sleep(0.3)
    moment = datetime.now(UTC)
    time.sleep(0.3)
    execute(primary, "INSERT INTO pitr_t VALUES ('too late')")
    at_time = db.restore_to_point_in_time(primary, "pitr-at", time=moment)
    assert rows(at_time, "SELECT v FROM pitr_t") == [("kept",)]
    execute(at_time, "INSERT INTO pitr_t VALUES ('writable')")  # promoted after recovery
    latest = db.restore_to_point_in_time(primary, "pitr-latest")
    assert sorted(rows(latest, "SELECT v FROM pitr_t")) == [("kept",), ("too late",)]
    with pytest.raises(InvalidInput) as err:
        db.restore_to_point_in_time(primary, "pitr-future", time=datetime.now(UTC) + timedelta(hours=1))
    assert err.value.field == "time"
    with pytest.raises(InvalidInput):
        db.restore_to_point_in_time(primary, "pitr-past", time=datetime(2000, 1, 1, tzinfo=UTC))
    db.delete_instance(at_time)
    db.delete_instance(latest)


def test_read_replica_streams_writes_and_can_be_promoted(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance,
                                                         eventually: Callable[..., Any]) -> None:
    import psycopg

    db = pg_cloud.database
    execute(primary, "CREATE TABLE rep_t (v text)")
    replica = db.create_read_replica(primary, "replica-1")
    assert replica.replica_of == primary.id
    execute(primary, "INSERT INTO rep_t VALUES ('streamed')")
    eventually(lambda: rows(replica, "SELECT v FROM rep_t") == [("streamed",)])
    assert rows(replica, "SELECT pg_is_in_recovery()") == [(True,)]
    with pytest.raises(psycopg.errors.ReadOnlySqlTransaction):
        execute(replica, "INSERT INTO rep_t VALUES ('refused')")
    promoted = db.promote_read_replica(replica)
    assert promoted.replica_of is None
    assert rows(promoted, "SELECT pg_is_in_recovery()") == [(False,)]
    execute(promoted, "INSERT INTO rep_t VALUES ('on its own')")
    execute(primary, "INSERT INTO rep_t VALUES ('not replicated any more')")
    assert sorted(rows(promoted, "SELECT v FROM rep_t")) == [("on its own",), ("streamed",)]
    auto_conf = Path(promoted.extra["dir"]) / "data" / "postgresql.auto.conf"
    assert PASSWORD not in auto_conf.read_text()  # the replication password left with the standby role
    db.delete_instance(promoted)


def test_stop_start_reboot_keep_the_data(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    import psycopg

    db = pg_cloud.database
    port = primary.endpoint.port  # type: ignore[union-attr]
    execute(primary, "CREATE TABLE life_t (v int)")
    execute(primary, "INSERT INTO life_t VALUES (1)")
    assert db.stop_instance(primary).status == "stopped"
    with pytest.raises(psycopg.OperationalError):
        rows(primary, "SELECT 1")
    started = db.start_instance(primary)
    assert rows(started, "SELECT v FROM life_t") == [(1,)]
    rebooted = db.reboot_instance(primary)
    assert rows(rebooted, "SELECT v FROM life_t") == [(1,)]
    assert started.endpoint.port == rebooted.endpoint.port == port  # type: ignore[union-attr]  # the endpoint stays
    with pytest.raises(Conflict):
        db.start_instance(primary)  # already running


def test_master_password_change_and_privacy(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    import psycopg

    db = pg_cloud.database
    new_password = "Rotated-Pass-2"
    db.modify_instance(primary, master_password=new_password)
    with pytest.raises(psycopg.OperationalError):
        rows(primary, "SELECT 1", password=PASSWORD)
    assert rows(primary, "SELECT 1", password=new_password) == [(1,)]
    db.modify_instance(primary, master_password=PASSWORD)
    assert rows(primary, "SELECT 1") == [(1,)]
    folder = Path(db.folder)  # type: ignore[attr-defined]
    for secret in (folder / "secrets").iterdir():
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert stat.S_IMODE((folder / "state.db").stat().st_mode) == 0o600
    for path in [folder / "state.db", Path(primary.extra["log"])]:
        data = path.read_bytes()
        assert PASSWORD.encode() not in data and new_password.encode() not in data
    text = repr(db.get_instance(primary)) + repr(list(db.list_snapshots())) + repr(db)
    assert PASSWORD not in text and new_password not in text


def test_servers_run_as_an_unprivileged_user(primary: DatabaseInstance) -> None:
    data = Path(primary.extra["dir"]) / "data"
    pid = int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    owner = os.stat(f"/proc/{pid}").st_uid
    assert owner != 0
    if os.geteuid() != 0:
        assert owner == os.geteuid()
    assert rows(primary, "SELECT current_setting('listen_addresses')") == [("127.0.0.1",)]


def test_automated_backups_honour_the_retention(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    db = pg_cloud.database
    autos = list(db.list_snapshots(primary, kind="automated"))
    assert len(autos) >= 1  # taken when the instance was created
    assert db.run_backups() == []  # type: ignore[attr-defined]  # the newest is less than a day old
    # travel: the existing automated backups are now eight days old (retention is seven)
    old = time.time() - 8 * 86400
    with db.db.transaction() as conn:  # type: ignore[attr-defined]
        conn.execute("UPDATE snapshots SET created_at = ? WHERE instance_id = ? AND kind = 'automated'", (old, primary.id))
    taken = db.run_backups()  # type: ignore[attr-defined]
    assert len(taken) == 1
    assert [s.id for s in db.list_snapshots(primary, kind="automated")] == taken
    assert all(Path(s.extra["path"]).exists() for s in db.list_snapshots(primary))
    for gone in autos:
        assert not Path(gone.extra["path"]).exists()
    with pytest.raises(Conflict):
        db.delete_snapshot(taken[0])  # automated ones go with retention or their instance


# ---------------------------------------------------------------- failures, engines, sqlite

request_cleanup: list[Path] = []


@pytest.fixture(autouse=True)
def _remove_shared_folders() -> Any:
    yield
    while request_cleanup:
        shutil.rmtree(request_cleanup.pop(), ignore_errors=True)


def test_a_failed_create_leaves_nothing_behind(tmp_path: Path, pg_cloud: cloudkit.Cloud) -> None:
    real = Path(pg_cloud.database.engines["postgres"].runner.bindir)  # type: ignore[attr-defined]
    shared = Path(tempfile.mkdtemp(prefix="cloudkit-fake-pg-"))  # reachable by the server user
    request_cleanup.append(shared)
    shared.chmod(0o755)
    fake = shared / "bin"
    fake.mkdir()
    for tool in real.iterdir():
        (fake / tool.name).symlink_to(tool)
    (fake / "initdb").unlink()
    (fake / "initdb").write_text("#!/bin/sh\necho 'initdb: error: the disk is on fire' >&2\nexit 1\n")
    (fake / "initdb").chmod(0o755)
    fake.chmod(0o755)
    data_root = shared / "data"
    data_root.mkdir(mode=0o711)
    data_root.chmod(0o711)
    with cloudkit.connect("local", root=str(tmp_path / "root"), postgres_bin=str(fake), postgres_data_root=str(data_root),
                          backup_check_interval=0) as cloud:
        with pytest.raises(ProviderError) as err:
            cloud.database.create_instance("doomed", engine="postgres", master_username="master", master_password=PASSWORD)
        assert "the disk is on fire" in str(err.value)
        assert PASSWORD not in str(err.value)
        assert err.value.__cause__ is not None
        assert list(cloud.database.list_instances()) == []
        assert not (data_root / "instances" / "doomed").exists()
        assert list((tmp_path / "root" / "database" / "secrets").iterdir()) == []


def test_engines_and_their_limits(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        db = cloud.database
        assert "sqlite" in db.list_engines()
        with pytest.raises(NotSupported, match="oracle"):
            db.create_instance("my", engine="oracle", master_username="master", master_password=PASSWORD)
        with pytest.raises(InvalidInput) as err:
            db.create_instance("odd", engine="cobol-db", master_username="master", master_password=PASSWORD)
        assert err.value.field == "engine"
        with pytest.raises(InvalidInput) as err:
            db.create_instance("old", engine="sqlite", engine_version="2", master_username="master", master_password=PASSWORD)
        assert err.value.field == "engine_version"


def test_sqlite_instances_snapshot_and_restore_real_data(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        db = cloud.database
        inst = db.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD,
                                  database_name="shop")
        path = Path(inst.extra["path"])
        with sqlite3.connect(path) as conn:
            conn.execute("CREATE TABLE items (name TEXT)")
            conn.execute("INSERT INTO items VALUES ('kept')")
        db.create_snapshot(inst, "lite-snap")
        with sqlite3.connect(path) as conn:
            conn.execute("INSERT INTO items VALUES ('later')")
        restored = db.restore_snapshot("lite-snap", "lite-copy")
        with sqlite3.connect(restored.extra["path"]) as conn:
            assert conn.execute("SELECT name FROM items").fetchall() == [("kept",)]
        with pytest.raises(NotSupported):
            db.create_read_replica(inst, "lite-replica")
        db.delete_instance(inst, final_snapshot="lite-final")
        assert not path.exists()
        assert db.get_snapshot("lite-final").kind == "manual"


def test_wait_false_returns_at_once_and_finishes_in_the_background(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        db = cloud.database
        first = db.create_instance("later", engine="sqlite", master_username="master", master_password=PASSWORD,
                                   backup_retention_days=1, wait=False)
        assert first.status == "creating"
        deadline = time.monotonic() + 10
        while db.get_instance("later").status != "available" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert db.get_instance("later").status == "available"
        assert [s.kind for s in db.list_snapshots("later")] == ["automated"]
        assert db.stop_instance("later", wait=False).status in ("stopping", "stopped")
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        assert cloud.database.get_instance("later").status == "stopped"  # close() waited for the stop


def test_postgres_works_as_an_ordinary_user(tmp_path: Path, pg_cloud: cloudkit.Cloud) -> None:
    """As a non-root user the servers run as that user (here: uid 1000 in a user namespace)."""
    import subprocess
    import sys

    if os.geteuid() != 0:
        pytest.skip("already running as an ordinary user: every other test covers it")
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) is missing")
    script = f"""
import os, cloudkit, psycopg
assert os.geteuid() == 1000
with cloudkit.connect("local", root={str(tmp_path / "root")!r}, backup_check_interval=0, durable_backups=False) as cloud:
    db = cloud.database
    inst = db.create_instance("plain", engine="postgres", master_username="master", master_password={PASSWORD!r})
    def sql(i, q):
        with psycopg.connect(host="127.0.0.1", port=i.endpoint.port, user="master", password={PASSWORD!r},
                             dbname="postgres", autocommit=True) as conn:
            cur = conn.execute(q)
            return cur.fetchall() if cur.description else None
    sql(inst, "CREATE TABLE t AS SELECT 'as a user' AS v")
    db.create_snapshot(inst, "plain-snap")
    copy = db.restore_snapshot("plain-snap", "plain-copy")
    print(sql(copy, "SELECT v FROM t")[0][0], os.stat(copy.extra["dir"]).st_uid)
    db.delete_instance(copy)
    db.delete_instance(inst)
    db.delete_snapshot("plain-snap")
"""
    done = subprocess.run(["unshare", "--user", "--map-user=1000", "--map-group=1000", sys.executable, "-c", script],
                          capture_output=True, text=True, timeout=300)
    if done.returncode != 0 and "unshare failed" in done.stderr:
        pytest.skip(f"user namespaces are not available: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["as", "a", "user", "1000"]


def test_a_create_cut_short_by_a_crash_is_undone_by_the_next_service(tmp_path: Path) -> None:
    import subprocess
    import sys

    root = tmp_path / "root"
    script = f"""
import os, cloudkit
from cloudkit_local.db.sqlite import SqliteEngine
SqliteEngine.create = lambda self, rec, password, timeout: os._exit(3)  # the process dies mid-create
with cloudkit.connect("local", root={str(root)!r}, backup_check_interval=0) as cloud:
    cloud.database.create_instance("half", engine="sqlite", master_username="master", master_password={PASSWORD!r})
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    with sqlite3.connect(root / "database" / "state.db") as conn:
        assert conn.execute("SELECT id, status FROM instances").fetchall() == [("half", "creating")]
    with cloudkit.connect("local", root=str(root), backup_check_interval=0) as cloud:
        assert list(cloud.database.list_instances()) == []
    assert list((root / "database" / "secrets").iterdir()) == []


def test_postgres_parameter_group_attached_by_modify_applies_at_reboot_and_reloads(pg_cloud: cloudkit.Cloud) -> None:
    db = pg_cloud.database
    inst = db.create_instance("pg-params", engine="postgres", master_username="master", master_password=PASSWORD,
                              database_name="app", backup_retention_days=0)
    group = db.create_parameter_group("pg-tuned", family=db.engines["postgres"].family())  # type: ignore[attr-defined]
    db.modify_parameter_group(group, {"work_mem": "8MB"})
    assert db.modify_instance(inst, parameter_group=group).parameter_status == "pending-reboot"
    assert rows(inst, "SHOW work_mem") == [("4MB",)]
    assert db.reboot_instance(inst).parameter_status == "in-sync"
    assert rows(inst, "SHOW work_mem") == [("8MB",)]
    db.modify_parameter_group(group, {"work_mem": "16MB"})  # a reload applies it
    assert rows(inst, "SHOW work_mem") == [("16MB",)]
    with pytest.raises(InvalidInput, match="max_connections"):
        db.modify_parameter_group(group, {"max_connections": 33})
    db.reset_parameter_group(group)
    assert rows(inst, "SHOW work_mem") == [("4MB",)]
    with pytest.raises(InvalidInput) as err:
        db.create_parameter_group("not-here", family="oracle19")
    assert err.value.field == "family"
    db.delete_instance(inst)
    db.delete_parameter_group(group)


def test_copy_snapshot_between_roots_and_refusals(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "a"), backup_check_interval=0) as here, \
            cloudkit.connect("local", root=str(tmp_path / "b"), backup_check_interval=0) as there:
        inst = here.database.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD,
                                             backup_retention_days=0)
        with sqlite3.connect(inst.extra["path"]) as conn:
            conn.execute("CREATE TABLE t (v TEXT)")
            conn.execute("INSERT INTO t VALUES ('copied')")
        here.database.create_snapshot(inst, "lite-snap")
        same = here.database.copy_snapshot("lite-snap", "lite-snap-2")  # within one root too
        assert same.kind == "manual" and here.database.get_snapshot("lite-snap-2").status == "available"
        copy = here.database.copy_snapshot("lite-snap", "lite-away", destination=there)
        assert copy.status == "available"
        restored = there.database.restore_snapshot("lite-away", "lite-there")
        with sqlite3.connect(restored.extra["path"]) as conn:
            assert conn.execute("SELECT v FROM t").fetchall() == [("copied",)]
        with pytest.raises(InvalidInput) as err:
            here.database.copy_snapshot("lite-snap", "x1", destination="elsewhere")
        assert err.value.field == "destination"
        with pytest.raises(InvalidInput) as err:
            here.database.copy_snapshot("lite-snap", "bad--name")
        assert err.value.field == "target_id"
        with pytest.raises(cloudkit.NotFound):
            here.database.copy_snapshot("no-such-snap", "x2")
        assert [s.id for s in there.database.list_snapshots(kind="manual")] == ["lite-away"]  # the failures left nothing


def test_automated_backups_are_taken_inside_the_backup_window(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        db = cloud.database
        inst = db.create_instance("windowed", engine="sqlite", master_username="master", master_password=PASSWORD,
                                  backup_retention_days=2, backup_window="23:30-00:15")  # across midnight
        assert inst.backup_window == "23:30-00:15"
        first = [s.id for s in db.list_snapshots(inst, kind="automated")]
        day = datetime(2030, 5, 1, tzinfo=UTC)
        # pretend the first backup was taken at noon that day
        with db.db.transaction() as conn:  # type: ignore[attr-defined]
            conn.execute("UPDATE snapshots SET created_at = ? WHERE id = ?", ((day + timedelta(hours=12)).timestamp(), first[0]))
        assert db.run_backups(now=day + timedelta(hours=23)) == []  # type: ignore[attr-defined]  # before the window
        taken = db.run_backups(now=day + timedelta(hours=23, minutes=40))  # type: ignore[attr-defined]
        assert len(taken) == 1  # inside the window, no backup since it opened
        assert db.run_backups(now=day + timedelta(days=1, minutes=10)) == []  # type: ignore[attr-defined]  # same window
        # the next night's window: another one; retention (2 days) prunes the noon backup 3 days on
        nxt = db.run_backups(now=day + timedelta(days=1, hours=23, minutes=31))  # type: ignore[attr-defined]
        assert len(nxt) == 1
        db.run_backups(now=day + timedelta(days=2, hours=13))  # type: ignore[attr-defined]
        left = {s.id for s in db.list_snapshots(inst, kind="automated")}
        assert first[0] not in left and set(taken + nxt) <= left
        assert db.modify_instance(inst, backup_window="04:00-04:30").backup_window == "04:00-04:30"
        with pytest.raises(InvalidInput) as err:
            db.modify_instance(inst, backup_window="04:00-04:10")
        assert err.value.field == "backup_window" and "30 minutes" in str(err.value)


def test_multi_az_is_refused_with_the_reason(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root"), backup_check_interval=0) as cloud:
        with pytest.raises(NotSupported, match="standby") as err:
            cloud.database.create_instance("maz", engine="sqlite", master_username="master", master_password=PASSWORD,
                                           multi_az=True)
        assert "sqlite engine is one file with no server" in str(err.value)  # (postgres keeps one: test_local_multiaz)
        assert list(cloud.database.list_instances()) == []
        inst = cloud.database.create_instance("single", engine="sqlite", master_username="master", master_password=PASSWORD)
        with pytest.raises(NotSupported, match="standby"):
            cloud.database.modify_instance(inst, multi_az=True)
        assert cloud.database.modify_instance(inst, multi_az=False).multi_az is False


def test_removing_a_folder_tolerates_a_file_that_vanished_meanwhile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit_local.db.sqlite import SqliteEngine

    folder = tmp_path / "inst"
    folder.mkdir()
    (folder / "shop.sqlite").write_text("db")
    (folder / "shop.sqlite-wal").write_text("wal")  # SQLite removes it when the last connection closes
    real = os.unlink

    def vanishing(path: Any, *args: Any, **kwargs: Any) -> None:
        real(path, *args, **kwargs)
        if str(path).endswith("-wal"):
            raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(os, "unlink", vanishing)
    SqliteEngine(None).remove_tree(folder)  # type: ignore[arg-type]
    assert not folder.exists()
