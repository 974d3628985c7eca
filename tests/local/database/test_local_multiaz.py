"""Multi-AZ on the local provider: a synchronous PostgreSQL standby, promoted by a forced failover."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from database_helpers import PASSWORD, execute, rows  # type: ignore[import-not-found]

import cloudkit
from cloudkit.cli import main
from cloudkit.errors import InvalidInput, NotSupported, ProviderError
from cloudkit.models.database import DatabaseInstance


def _standby_port(instance: DatabaseInstance) -> int:
    node: Any = instance.extra["standby"]
    return int(str(node["endpoint"]).rsplit(":", 1)[1])


def _on_standby(instance: DatabaseInstance, sql: str) -> list[tuple[Any, ...]]:
    """Run ``sql`` on the standby server of ``instance`` (read-only, hot standby)."""
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=_standby_port(instance), user="master", password=PASSWORD, dbname="app",
                         autocommit=True, connect_timeout=10) as conn:
        return list(conn.execute(sql).fetchall())


def _postmasters(*dirs: str) -> list[int]:
    """The postmaster pids of the data folders under ``dirs`` that run."""
    from cloudkit_local import _postgres as pg

    return [pid for d in dirs if (pid := pg.running_pid(Path(d) / "data")) is not None]


@pytest.fixture
def maz(pg_cloud: cloudkit.Cloud) -> Any:
    inst = pg_cloud.database.create_instance("maz", engine="postgres", master_username="master", master_password=PASSWORD,
                                             database_name="app", backup_retention_days=0, multi_az=True)
    yield inst
    try:
        pg_cloud.database.delete_instance("maz")
    except cloudkit.errors.NotFound:
        pass


def test_failover_keeps_committed_rows_and_the_endpoint(pg_cloud: cloudkit.Cloud, maz: DatabaseInstance) -> None:
    db = pg_cloud.database
    assert maz.multi_az and maz.secondary_zone == "local-1a" and maz.extra["standby"]["running"]  # type: ignore[index]
    # synchronous: the standby confirmed (applied) every commit before the commit returned
    assert rows(maz, "SELECT application_name, sync_state FROM pg_stat_replication") == [("ck_standby", "sync")]
    assert rows(maz, "SHOW synchronous_commit") == [("remote_apply",)]
    execute(maz, "CREATE TABLE orders (v text)")
    execute(maz, "INSERT INTO orders VALUES ('before')")
    assert _on_standby(maz, "SELECT v FROM orders") == [("before",)]  # at once, no waiting
    old_dir, old_standby = str(maz.extra["dir"]), maz.extra["standby"]["dir"]  # type: ignore[index]

    moved = db.reboot_instance(maz, force_failover=True, timeout=120)
    assert moved.status == "available" and moved.endpoint == maz.endpoint  # the same address, now the promoted server
    assert (moved.extra["dir"], moved.extra["standby"]["dir"]) == (old_standby, old_dir)  # type: ignore[index]
    assert rows(moved, "SELECT v FROM orders") == [("before",)]
    assert rows(moved, "SELECT pg_is_in_recovery()") == [(False,)]
    execute(moved, "INSERT INTO orders VALUES ('after')")  # writable
    # the old primary is the new standby, in sync again
    assert rows(moved, "SELECT application_name, sync_state FROM pg_stat_replication") == [("ck_standby", "sync")]
    assert sorted(_on_standby(moved, "SELECT v FROM orders")) == [("after",), ("before",)]
    assert _on_standby(moved, "SELECT pg_is_in_recovery()") == [(True,)]

    # the state is the service's, not the process's: a new cloud object sees the same instance
    again = cloudkit.connect("local", **dict(pg_cloud.database.settings))
    try:
        seen = again.database.get_instance("maz")
        assert (seen.endpoint, seen.extra["dir"], seen.multi_az) == (moved.endpoint, moved.extra["dir"], True)
        back = again.database.reboot_instance("maz", force_failover=True)  # and back again
        assert back.extra["dir"] == old_dir
        assert sorted(rows(back, "SELECT v FROM orders")) == [("after",), ("before",)]
    finally:
        again.close()


def test_force_failover_needs_multi_az(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance) -> None:
    with pytest.raises(InvalidInput) as err:
        pg_cloud.database.reboot_instance(primary, force_failover=True)
    assert err.value.field == "force_failover"
    assert pg_cloud.database.get_instance(primary).status == "available"


def test_modify_stop_start_snapshot_delete_handle_the_standby(pg_cloud: cloudkit.Cloud, maz: DatabaseInstance) -> None:
    db = pg_cloud.database
    secret = Path(pg_cloud.database.secrets) / "replication-maz.json"  # type: ignore[attr-defined]
    assert secret.exists()
    standby_dir = str(maz.extra["standby"]["dir"])  # type: ignore[index]
    single = db.modify_instance(maz, multi_az=False)
    assert (single.multi_az, single.secondary_zone, "standby" in single.extra) == (False, None, False)
    assert not Path(standby_dir).exists() and not secret.exists()
    execute(single, "CREATE TABLE t (v int)")
    execute(single, "INSERT INTO t VALUES (1)")  # commits do not wait for a standby that is gone
    double = db.modify_instance(maz, multi_az=True)
    assert double.multi_az and _on_standby(double, "SELECT v FROM t") == [(1,)]
    both = (str(double.extra["dir"]), str(double.extra["standby"]["dir"]))  # type: ignore[index]

    assert db.stop_instance(maz).status == "stopped"
    assert _postmasters(*both) == []
    started = db.start_instance(maz)
    assert started.status == "available" and len(_postmasters(*both)) == 2
    assert rows(started, "SELECT application_name, sync_state FROM pg_stat_replication") == [("ck_standby", "sync")]
    db.create_snapshot(maz, "maz-snap")
    restored = db.restore_snapshot("maz-snap", "maz-restored")
    assert not restored.multi_az and rows(restored, "SELECT v FROM t") == [(1,)]
    execute(restored, "INSERT INTO t VALUES (2)")  # a restore has no standby to wait for
    db.delete_instance(restored)
    db.delete_snapshot("maz-snap")

    db.delete_instance(maz)
    assert _postmasters(*both) == []
    assert not any(Path(d).exists() for d in both)
    assert not secret.exists()


def test_a_failover_cut_short_is_finished_never_two_primaries(pg_cloud: cloudkit.Cloud, maz: DatabaseInstance,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit_local.db.postgres import PostgresEngine

    db = pg_cloud.database
    execute(maz, "CREATE TABLE t (v text)")
    execute(maz, "INSERT INTO t VALUES ('kept')")
    old_dir, new_dir = str(maz.extra["dir"]), str(maz.extra["standby"]["dir"])  # type: ignore[index]

    def broken(*args: Any, **kw: Any) -> None:
        raise ProviderError("the copy broke", provider="local")

    # promoted, then the rebuild of the old primary fails: the worst moment (two primaries' data on disk)
    monkeypatch.setattr(PostgresEngine, "_base_copy", broken)
    with pytest.raises(ProviderError):
        db.reboot_instance(maz, force_failover=True, timeout=120)
    failed = db.get_instance(maz)
    assert failed.status == "failed" and failed.endpoint == maz.endpoint
    assert _postmasters(old_dir) == [] and len(_postmasters(new_dir)) == 1  # one primary: the promoted one
    assert rows(failed, "SELECT v, pg_is_in_recovery() FROM t") == [("kept", False)]
    monkeypatch.undo()
    resumed = db.reboot_instance(maz, force_failover=True)  # resumes the failover begun
    assert resumed.status == "available" and resumed.extra["dir"] == new_dir
    assert _on_standby(resumed, "SELECT v FROM t") == [("kept",)]

    # a process that dies in the middle: the next service of that root finishes the failover
    service: Any = db
    monkeypatch.setattr(PostgresEngine, "_base_copy", broken)
    with pytest.raises(ProviderError):
        db.reboot_instance(maz, force_failover=True, timeout=120)
    monkeypatch.undo()
    rec = service._load("maz")
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    rec["status"] = "rebooting"
    service._save(rec)
    with service.db.transaction() as conn:  # as the dead process left it: busy, with its pid
        body = json.loads(conn.execute("SELECT record FROM instances WHERE id = 'maz'").fetchone()[0])
        body["busy_pid"] = int(dead.stdout)
        conn.execute("UPDATE instances SET record = ? WHERE id = 'maz'", (json.dumps(body),))
    again = cloudkit.connect("local", **dict(pg_cloud.database.settings))
    try:
        recovered = again.database.get_instance("maz")
        assert recovered.status == "available" and recovered.extra["dir"] == old_dir
        assert rows(recovered, "SELECT v, pg_is_in_recovery() FROM t") == [("kept", False)]
        assert _on_standby(recovered, "SELECT pg_is_in_recovery()") == [(True,)]
    finally:
        again.close()


def test_engines_without_a_standby_say_so(tmp_path: Path) -> None:
    cloud = cloudkit.connect("local", root=str(tmp_path), backup_check_interval=0)
    try:
        db = cloud.database
        with pytest.raises(NotSupported, match="no standby server"):
            db.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD, multi_az=True)
        lite = db.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD)
        with pytest.raises(NotSupported, match="no standby server"):
            db.modify_instance(lite, multi_az=True)
        with pytest.raises(InvalidInput, match="force_failover"):
            db.reboot_instance(lite, force_failover=True)
        assert db.engines["mysql"].multi_az  # type: ignore[attr-defined]  # (tests/local/database/test_local_mysql_multiaz.py)
        r = CliRunner().invoke(main, ["--provider", "local", "--set", f"root={tmp_path}", "--set", "backup_check_interval=0",
                                      "database", "reboot-instance", "lite", "--force-failover"])
        assert r.exit_code != 0 and "--force-failover" in r.output and "needs a Multi-AZ instance" in r.output
        r = CliRunner().invoke(main, ["--provider", "local", "--set", f"root={tmp_path}", "--set", "backup_check_interval=0",
                                      "database", "reboot-instance", "lite"])
        assert r.exit_code == 0, r.output
    finally:
        cloud.close()



def test_parameters_reach_the_standby(pg_cloud: cloudkit.Cloud, maz: DatabaseInstance) -> None:
    """A parameter group's settings apply on both servers (a hot standby needs max_connections >= the primary's)."""
    db = pg_cloud.database
    db.create_parameter_group("maz-params", family=str(db.engines["postgres"].family()))  # type: ignore[attr-defined]
    try:
        db.modify_instance(maz, parameter_group="maz-params")
        db.modify_parameter_group("maz-params", {"max_connections": "60"}, apply_method="pending-reboot")
        db.reboot_instance(maz)
        db.modify_parameter_group("maz-params", {"work_mem": "8MB"})
        assert rows(maz, "SHOW max_connections") == [("60",)] and _on_standby(maz, "SHOW max_connections") == [("60",)]
        assert _on_standby(maz, "SHOW work_mem") == [("8MB",)]
        assert rows(maz, "SELECT application_name, sync_state FROM pg_stat_replication") == [("ck_standby", "sync")]
        moved = db.reboot_instance(maz, force_failover=True, timeout=120)
        assert rows(moved, "SHOW max_connections") == [("60",)] and rows(moved, "SHOW work_mem") == [("8MB",)]
        db.delete_instance(maz)
    finally:
        db.delete_parameter_group("maz-params")


def test_a_failed_or_cut_short_standby_add_leaves_no_standby(pg_cloud: cloudkit.Cloud, primary: DatabaseInstance,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit_local.db.postgres import PostgresEngine

    db = pg_cloud.database
    service: Any = db

    def broken(*args: Any, **kw: Any) -> None:
        raise ProviderError("the standby never caught up", provider="local")

    monkeypatch.setattr(PostgresEngine, "_set_sync", broken)
    with pytest.raises(ProviderError):
        db.modify_instance(primary, multi_az=True)
    monkeypatch.undo()
    rec = service._load(primary.id)
    assert rec.get("standby") is None and not rec.get("multi_az")
    assert not list((service.engines["postgres"].place() / "standbys").glob(f"{primary.id}-*"))
    assert rows(primary, "SHOW synchronous_standby_names") == [("",)]  # commits wait for nobody
    execute(primary, "SELECT txid_current()")
    rec["status"] = "available"
    service._save(rec)

    # a process that died while adding one: the record has a standby, multi_az is still off
    node = {"dir": str(service.engines["postgres"].place() / "standbys" / f"{primary.id}-dead"), "port": 1}
    Path(node["dir"]).mkdir(parents=True)
    rec.update(standby=node, status="modifying")
    service._save(rec)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    with service.db.transaction() as conn:
        body = json.loads(conn.execute("SELECT record FROM instances WHERE id = ?", (primary.id,)).fetchone()[0])
        body["busy_pid"] = int(dead.stdout)
        conn.execute("UPDATE instances SET record = ? WHERE id = ?", (json.dumps(body), primary.id))
    again = cloudkit.connect("local", **dict(pg_cloud.database.settings))
    try:
        seen = again.database.get_instance(primary.id)
        assert seen.status == "available" and not seen.multi_az and "standby" not in seen.extra
        assert not Path(node["dir"]).exists()
    finally:
        again.close()
