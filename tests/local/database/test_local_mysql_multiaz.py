"""Multi-AZ on the local mysql engine: a semi-synchronous MariaDB standby, promoted by a forced failover."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from database_helpers import MY_PASSWORD, my_rows  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import ProviderError
from cloudkit.models.database import DatabaseInstance

pymysql = pytest.importorskip("pymysql")


class _Standby:
    """The standby server of an instance: what ``my_rows`` needs (its endpoint)."""

    def __init__(self, instance: DatabaseInstance) -> None:
        import attrs

        node: Any = instance.extra["standby"]
        assert instance.endpoint is not None
        self.endpoint = attrs.evolve(instance.endpoint, port=int(str(node["endpoint"]).rsplit(":", 1)[1]))


def _standby(instance: DatabaseInstance) -> Any:
    """The standby of ``instance``, to read from it with the same client."""
    return _Standby(instance)


def _servers(*dirs: str) -> list[str]:
    """Those of ``dirs`` whose ``mariadbd`` runs."""
    from cloudkit_local.db.mysql import MysqlEngine

    alive = MysqlEngine._pid
    return [d for d in dirs if alive(None, {"dir": d}) is not None]  # type: ignore[arg-type]


def _tick() -> datetime:
    """A time between two writes (the binary log keeps whole seconds)."""
    time.sleep(1.1)
    moment = datetime.now(UTC)
    time.sleep(1.1)
    return moment


@pytest.fixture
def my_maz(my_cloud: cloudkit.Cloud) -> Iterator[DatabaseInstance]:
    inst = my_cloud.database.create_instance("my-maz", engine="mysql", master_username="master", master_password=MY_PASSWORD,
                                             database_name="app", backup_retention_days=7, multi_az=True)
    yield inst
    try:
        my_cloud.database.delete_instance("my-maz")
    except cloudkit.errors.NotFound:
        pass


def test_failover_keeps_rows_endpoint_and_the_point_in_time_archive(my_cloud: cloudkit.Cloud, my_maz: DatabaseInstance,
                                                                    eventually: Callable[..., Any]) -> None:
    db = my_cloud.database
    assert my_maz.multi_az and my_maz.secondary_zone == "local-1a" and my_maz.extra["standby"]["running"]  # type: ignore[index]
    # semi-synchronous, after sync, with a long timeout: a commit returns once the standby has it
    assert my_rows(my_maz, "SELECT @@rpl_semi_sync_master_enabled, @@rpl_semi_sync_master_wait_point, "
                           "@@rpl_semi_sync_master_timeout, @@gtid_strict_mode") == [(1, "AFTER_SYNC", 300000, 1)]
    my_rows(my_maz, "CREATE TABLE orders (n INT PRIMARY KEY, v VARCHAR(20))")
    my_rows(my_maz, "INSERT INTO orders VALUES (1, 'before')")
    status = dict(my_rows(my_maz, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_%'"))
    assert status["Rpl_semi_sync_master_status"] == "ON" and int(status["Rpl_semi_sync_master_yes_tx"]) >= 2
    assert int(status["Rpl_semi_sync_master_no_tx"]) == 0  # no commit went without the standby's acknowledgement
    standby = _standby(my_maz)
    eventually(lambda: my_rows(standby, "SELECT v FROM orders") == [("before",)])
    with pytest.raises(pymysql.err.OperationalError, match="read-only"):
        my_rows(standby, "INSERT INTO orders VALUES (9, 'refused')")
    old_dir, old_standby = str(my_maz.extra["dir"]), str(my_maz.extra["standby"]["dir"])  # type: ignore[index]
    before = _tick()

    moved = db.reboot_instance(my_maz, force_failover=True, timeout=120)
    assert moved.status == "available" and moved.endpoint == my_maz.endpoint  # the same address, the promoted server
    assert (moved.extra["dir"], moved.extra["standby"]["dir"]) == (old_standby, old_dir)  # type: ignore[index]
    assert my_rows(moved, "SELECT v FROM orders") == [("before",)]
    my_rows(moved, "INSERT INTO orders VALUES (2, 'after')")  # writable
    assert my_rows(moved, "SELECT @@read_only, @@rpl_semi_sync_master_enabled") == [(0, 1)]
    assert my_rows(moved, "SHOW SLAVE STATUS") == []  # promoted: it replicates from nothing any more
    eventually(lambda: my_rows(_standby(moved), "SELECT n FROM orders ORDER BY n") == [(1,), (2,)])
    after = _tick()
    my_rows(moved, "INSERT INTO orders VALUES (3, 'late')")

    # the promoted server continues the archive: point-in-time restore works on both sides of the failover
    earlier = db.restore_to_point_in_time(moved, "my-maz-early", time=before)
    later = db.restore_to_point_in_time(moved, "my-maz-later", time=after)
    try:
        assert my_rows(earlier, "SELECT n, v FROM orders ORDER BY n") == [(1, "before")]
        assert my_rows(later, "SELECT n, v FROM orders ORDER BY n") == [(1, "before"), (2, "after")]
    finally:
        db.delete_instance(earlier)
        db.delete_instance(later)

    db.delete_instance(moved)
    assert _servers(old_dir, old_standby) == []
    assert not any(Path(d).exists() for d in (old_dir, old_standby))


def test_modify_stop_start_and_a_failover_cut_short(my_cloud: cloudkit.Cloud, my_maz: DatabaseInstance,
                                                  monkeypatch: pytest.MonkeyPatch, eventually: Callable[..., Any]) -> None:
    from cloudkit_local.db.mysql import MysqlEngine

    db = my_cloud.database
    secret = Path(db.secrets) / "replication-my-maz.json"  # type: ignore[attr-defined]
    assert secret.exists()
    single = db.modify_instance(my_maz, multi_az=False)
    assert (single.multi_az, single.secondary_zone, "standby" in single.extra) == (False, None, False)
    assert not Path(str(my_maz.extra["standby"]["dir"])).exists() and not secret.exists()  # type: ignore[index]
    my_rows(single, "CREATE TABLE t (n INT PRIMARY KEY)")
    my_rows(single, "INSERT INTO t VALUES (1)")  # no wait for a standby that is gone
    double = db.modify_instance(my_maz, multi_az=True)
    eventually(lambda: my_rows(_standby(double), "SELECT n FROM t") == [(1,)])
    both = (str(double.extra["dir"]), str(double.extra["standby"]["dir"]))  # type: ignore[index]
    assert db.stop_instance(my_maz).status == "stopped" and _servers(*both) == []
    started = db.start_instance(my_maz)
    assert started.status == "available" and _servers(*both) == list(both)
    eventually(lambda: dict(my_rows(started, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'")) ==
               {"Rpl_semi_sync_master_clients": "1"})

    def broken(*args: Any, **kw: Any) -> None:
        raise ProviderError("the copy broke", provider="local")

    # promoted, then the rebuild of the old primary fails: one primary runs, the promoted one
    monkeypatch.setattr(MysqlEngine, "_seed_standby", broken)
    with pytest.raises(ProviderError):
        db.reboot_instance(my_maz, force_failover=True, timeout=120)
    failed = db.get_instance(my_maz)
    assert failed.status == "failed" and failed.endpoint == my_maz.endpoint
    assert _servers(*both) == [both[1]]
    assert my_rows(failed, "SELECT n, @@read_only FROM t") == [(1, 0)]
    monkeypatch.undo()
    resumed = db.reboot_instance(my_maz, force_failover=True, timeout=120)  # resumes the failover begun
    assert resumed.status == "available" and resumed.extra["dir"] == both[1] and _servers(*both) == list(both)
    eventually(lambda: my_rows(_standby(resumed), "SELECT n FROM t") == [(1,)])


def test_parameters_reach_the_standby_and_a_dead_primary_fails_over(my_cloud: cloudkit.Cloud, my_maz: DatabaseInstance,
                                                                   eventually: Callable[..., Any]) -> None:
    import os
    import signal

    db = my_cloud.database
    db.create_parameter_group("my-maz-params", family=str(db.engines["mysql"].family()))  # type: ignore[attr-defined]
    try:
        db.modify_instance(my_maz, parameter_group="my-maz-params")
        db.modify_parameter_group("my-maz-params", {"max_connections": "60"})  # dynamic: both servers at once
        assert my_rows(my_maz, "SELECT @@max_connections") == [(60,)]
        assert my_rows(_standby(my_maz), "SELECT @@max_connections") == [(60,)]
        my_rows(my_maz, "CREATE TABLE t (n INT PRIMARY KEY)")
        my_rows(my_maz, "INSERT INTO t VALUES (1)")
        # the primary dies: the failover starts it read-only so that the standby gets all it logged
        os.kill(int((Path(str(my_maz.extra["dir"])) / "mysqld.pid").read_text()), signal.SIGKILL)
        eventually(lambda: not _servers(str(my_maz.extra["dir"])))
        moved = db.reboot_instance(my_maz, force_failover=True, timeout=120)
        assert moved.endpoint == my_maz.endpoint and moved.extra["dir"] == my_maz.extra["standby"]["dir"]  # type: ignore[index]
        assert my_rows(moved, "SELECT n, @@max_connections FROM t") == [(1, 60)]
        my_rows(moved, "INSERT INTO t VALUES (2)")
        eventually(lambda: my_rows(_standby(moved), "SELECT COUNT(*), @@max_connections FROM t") == [(2, 60)])
        db.delete_instance(moved)
    finally:
        db.delete_parameter_group("my-maz-params")
