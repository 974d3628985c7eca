"""The local mysql engine on real MariaDB servers, checked with a real client (PyMySQL)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from database_helpers import MY_PASSWORD, my_rows  # type: ignore[import-not-found]

import cloudkit
from cloudkit.models.database import DatabaseInstance

pymysql = pytest.importorskip("pymysql")


def _table(instance: DatabaseInstance, name: str) -> None:
    my_rows(instance, f"CREATE TABLE {name} (n INT PRIMARY KEY, note VARCHAR(40))")


def test_create_gives_a_master_user_a_database_and_mariadb(my_cloud: cloudkit.Cloud, my_primary: DatabaseInstance) -> None:
    assert my_primary.engine == "mysql" and my_primary.status == "available"
    assert my_primary.endpoint is not None and my_primary.endpoint.host == "127.0.0.1"
    assert my_primary.extra["server"] == "MariaDB"
    assert my_rows(my_primary, "SELECT DATABASE(), CURRENT_USER()") == [("app", "master@%")]
    version = my_rows(my_primary, "SELECT VERSION()")[0][0]
    assert version.startswith(str(my_primary.engine_version)) and "MariaDB" in version
    # the master user has every privilege but SUPER (as on RDS): it cannot bypass read_only
    grants = " ".join(r[0] for r in my_rows(my_primary, "SHOW GRANTS"))
    assert "SUPER" not in grants and "READ_ONLY ADMIN" not in grants and "GRANT OPTION" in grants
    with pytest.raises(pymysql.err.OperationalError):
        my_rows(my_primary, "SELECT 1", password="Wrong-Pass-123")
    assert "mysql" in my_cloud.database.list_engines()


def test_the_server_binds_loopback_only_and_runs_unprivileged(my_primary: DatabaseInstance) -> None:
    assert my_rows(my_primary, "SELECT @@bind_address, @@skip_networking") == [("127.0.0.1", 0)]
    pid = int((Path(str(my_primary.extra["dir"])) / "mysqld.pid").read_text())
    uid = os.stat(f"/proc/{pid}").st_uid
    assert uid == (os.geteuid() if os.geteuid() else __import__("pwd").getpwnam("mysql").pw_uid)
    assert uid != 0 or os.geteuid() != 0
    argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode()
    cnf = (Path(str(my_primary.extra["dir"])) / "my.cnf").read_text()
    for text in (argv, cnf):
        assert MY_PASSWORD not in text


def test_snapshot_restore_holds_the_snapshot_data(my_cloud: cloudkit.Cloud, my_primary: DatabaseInstance) -> None:
    db = my_cloud.database
    _table(my_primary, "snap_t")
    my_rows(my_primary, "INSERT INTO snap_t VALUES (1, 'before')")
    snap = db.create_snapshot(my_primary, "my-snap-1")
    assert snap.status == "available" and snap.extra["method"] == "mariabackup"
    my_rows(my_primary, "INSERT INTO snap_t VALUES (2, 'after')")
    restored = db.restore_snapshot(snap, "my-restored")
    assert restored.engine == "mysql" and restored.endpoint != my_primary.endpoint
    assert my_rows(restored, "SELECT n, note FROM snap_t ORDER BY n") == [(1, "before")]
    my_rows(restored, "INSERT INTO snap_t VALUES (3, 'only here')")  # a writable, independent server
    assert my_rows(my_primary, "SELECT n FROM snap_t ORDER BY n") == [(1,), (2,)]
    db.delete_instance(restored)
    assert not Path(str(restored.extra["dir"])).exists()


def test_point_in_time_restore_replays_the_binary_log_up_to_the_time(my_cloud: cloudkit.Cloud,
                                                                      my_primary: DatabaseInstance) -> None:
    db = my_cloud.database
    _table(my_primary, "pitr_t")
    my_rows(my_primary, "INSERT INTO pitr_t VALUES (1, 'kept')")
    time.sleep(1.1)  # the binary log keeps whole seconds
    target = datetime.now(UTC)
    time.sleep(1.1)
    my_rows(my_primary, "INSERT INTO pitr_t VALUES (2, 'too late')")
    at_time = db.restore_to_point_in_time(my_primary, "my-pitr", time=target)
    assert my_rows(at_time, "SELECT n FROM pitr_t ORDER BY n") == [(1,)]
    latest = db.restore_to_point_in_time(my_primary, "my-latest")
    assert my_rows(latest, "SELECT n FROM pitr_t ORDER BY n") == [(1,), (2,)]
    for inst in (at_time, latest):
        db.delete_instance(inst)


def test_read_replica_replicates_refuses_writes_and_is_promoted(my_cloud: cloudkit.Cloud, my_primary: DatabaseInstance,
                                                               eventually: Callable[..., Any]) -> None:
    db = my_cloud.database
    _table(my_primary, "rep_t")
    my_rows(my_primary, "INSERT INTO rep_t VALUES (1, 'seeded')")
    replica = db.create_read_replica(my_primary, "my-replica")
    assert replica.replica_of == "my-primary" and replica.backup_retention_days == 0
    my_rows(my_primary, "INSERT INTO rep_t VALUES (2, 'streamed')")
    eventually(lambda: my_rows(replica, "SELECT COUNT(*) FROM rep_t") == [(2,)])
    with pytest.raises(pymysql.err.OperationalError, match="read-only"):
        my_rows(replica, "INSERT INTO rep_t VALUES (3, 'refused')")
    promoted = db.promote_read_replica(replica)
    assert promoted.replica_of is None and promoted.status == "available"
    my_rows(promoted, "INSERT INTO rep_t VALUES (3, 'writable now')")
    my_rows(my_primary, "INSERT INTO rep_t VALUES (4, 'not streamed any more')")
    time.sleep(0.5)
    assert my_rows(promoted, "SELECT n FROM rep_t ORDER BY n") == [(1,), (2,), (3,)]
    assert [s.kind for s in db.list_snapshots(promoted)] == ["automated"]
    db.reboot_instance(promoted)  # read_only stays off after a restart
    my_rows(promoted, "INSERT INTO rep_t VALUES (5, 'after reboot')")
    db.delete_instance(promoted)


def test_stop_start_reboot_and_password_change_keep_the_data(my_cloud: cloudkit.Cloud, my_primary: DatabaseInstance) -> None:
    db = my_cloud.database
    _table(my_primary, "life_t")
    my_rows(my_primary, "INSERT INTO life_t VALUES (1, 'durable')")
    assert db.stop_instance(my_primary).status == "stopped"
    with pytest.raises(pymysql.err.OperationalError):
        my_rows(my_primary, "SELECT 1")
    cold = db.create_snapshot(my_primary, "my-cold")  # a stopped server is copied cold
    assert cold.extra["method"] == "cold copy"
    assert db.start_instance(my_primary).status == "available"
    assert db.reboot_instance(my_primary).status == "available"
    assert my_rows(my_primary, "SELECT note FROM life_t") == [("durable",)]
    new = "Other\\Pass-2"
    db.modify_instance(my_primary, master_password=new)
    try:
        assert my_rows(my_primary, "SELECT 1", password=new) == [(1,)]
        with pytest.raises(pymysql.err.OperationalError):
            my_rows(my_primary, "SELECT 1")
    finally:
        db.modify_instance(my_primary, master_password=MY_PASSWORD)
    restored = db.restore_snapshot(cold, "my-from-cold")
    assert my_rows(restored, "SELECT note FROM life_t") == [("durable",)]
    db.delete_instance(restored)
    for path in Path(str(my_primary.extra["dir"])).rglob("*"):
        if path.is_file() and path.suffix in (".cnf", ".log", ".json"):
            assert MY_PASSWORD.encode() not in path.read_bytes() and new.encode() not in path.read_bytes()


def test_a_server_killed_behind_our_back_reads_stopped_and_starts_again(my_cloud: cloudkit.Cloud) -> None:
    db = my_cloud.database
    inst = db.create_instance("my-killed", engine="mariadb", master_username="master", master_password=MY_PASSWORD,
                              database_name="app", backup_retention_days=0)
    assert inst.engine == "mysql"  # the alias
    pid = int((Path(str(inst.extra["dir"])) / "mysqld.pid").read_text())
    os.kill(pid, 9)
    deadline = time.monotonic() + 30
    while db.get_instance(inst).status != "stopped" and time.monotonic() < deadline:
        time.sleep(0.05)
    assert db.get_instance(inst).status == "stopped"
    db.start_instance(inst)
    assert my_rows(db.get_instance(inst), "SELECT 1") == [(1,)]
    db.delete_instance(inst)
    done = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert str(inst.extra["dir"]) not in done.stdout  # the server is gone with the instance


def test_parameter_groups_change_the_server_as_the_apply_method_says(my_cloud: cloudkit.Cloud) -> None:
    db = my_cloud.database
    family = db.engines["mysql"].family()  # type: ignore[attr-defined]
    group = db.create_parameter_group("my-tuned", family=family, description="shop servers")
    inst = db.create_instance("my-params", engine="mysql", master_username="master", master_password=MY_PASSWORD,
                              database_name="app", backup_retention_days=0, parameter_group=group)
    assert (inst.parameter_group, inst.parameter_status) == ("my-tuned", "in-sync")

    def var(name: str) -> str:
        return str(my_rows(inst, "SHOW GLOBAL VARIABLES LIKE %s", params=(name,))[0][1])

    # immediate: a dynamic parameter changes in the running server
    db.modify_parameter_group(group, {"max_connections": 55, "wait_timeout": "600"})
    assert (var("max_connections"), var("wait_timeout")) == ("55", "600")
    # a static one is refused unless it waits for a reboot
    with pytest.raises(cloudkit.InvalidInput) as err:
        db.modify_parameter_group(group, {"back_log": 77})
    assert err.value.field == "apply_method" and "back_log" in str(err.value)
    db.modify_parameter_group(group, {"back_log": 77}, apply_method="pending-reboot")
    assert db.get_instance(inst).parameter_status == "pending-reboot" and var("back_log") != "77"
    assert db.reboot_instance(inst).parameter_status == "in-sync"
    assert (var("back_log"), var("max_connections")) == ("77", "55")
    # reset: back to cloudkit's default for its servers, at once and after a restart alike
    got = db.reset_parameter_group(group, parameters=["max_connections"])
    assert dict(got.parameters) == {"back_log": "77", "wait_timeout": "600"}
    assert var("max_connections") == "40"
    db.reboot_instance(inst)
    assert (var("max_connections"), var("back_log")) == ("40", "77")
    # what cannot be a parameter, and a group in use
    for bad in ({"port": 1}, {"no_such_setting": 1}):
        with pytest.raises(cloudkit.InvalidInput) as err:
            db.modify_parameter_group(group, bad)
        assert err.value.field == "parameters"
    with pytest.raises(cloudkit.Conflict):
        db.delete_parameter_group(group)
    pg_engine = db.engines["postgres"]  # type: ignore[attr-defined]
    if pg_engine.available:
        other = db.create_parameter_group("pg-shaped", family=pg_engine.family())
        with pytest.raises(cloudkit.InvalidInput, match="mysql"):
            db.modify_instance(inst, parameter_group=other)
        db.delete_parameter_group(other)
    db.delete_instance(inst)
    db.delete_parameter_group(group)
    with pytest.raises(cloudkit.NotFound):
        db.get_parameter_group("my-tuned")


def test_copy_snapshot_to_another_root_restores_there(my_cloud: cloudkit.Cloud, my_primary: DatabaseInstance,
                                                      tmp_path: Path) -> None:
    db = my_cloud.database
    _table(my_primary, "copy_t")
    my_rows(my_primary, "INSERT INTO copy_t VALUES (1, 'travels')")
    db.create_snapshot(my_primary, "my-to-copy")
    data = Path(tempfile.mkdtemp(prefix="cloudkit-my-copy-"))  # reachable by the server user
    data.chmod(0o711)
    with cloudkit.connect("local", root=str(tmp_path / "other"), mysql_data_root=str(data), backup_check_interval=0) as other:
        copy = db.copy_snapshot("my-to-copy", "my-copied", destination=other)
        assert (copy.id, copy.kind, copy.status, copy.engine) == ("my-copied", "manual", "available", "mysql")
        assert other.database.get_snapshot("my-copied").instance_id == "my-primary"
        with pytest.raises(cloudkit.NotFound):
            db.get_snapshot("my-copied")  # it lives in the other root only
        with pytest.raises(cloudkit.AlreadyExists):
            db.copy_snapshot("my-to-copy", "my-copied", destination=other.database)
        restored = other.database.restore_snapshot("my-copied", "my-elsewhere")
        assert my_rows(restored, "SELECT note FROM copy_t") == [("travels",)]
        other.database.delete_instance(restored)
        other.database.delete_snapshot("my-copied")
    db.delete_snapshot("my-to-copy")
    shutil.rmtree(data, ignore_errors=True)


def test_engine_version_minor_upgrade_restarts_and_a_major_one_says_it_cannot(my_cloud: cloudkit.Cloud) -> None:
    db = my_cloud.database
    inst = db.create_instance("my-upgrade", engine="mysql", master_username="master", master_password=MY_PASSWORD,
                              database_name="app", backup_retention_days=0)
    installed = str(inst.engine_version)
    major = ".".join(installed.split(".")[:2])
    # as if the instance was made before the system's MariaDB package got its latest minor update
    rec = db._load("my-upgrade")  # type: ignore[attr-defined]
    rec["engine_version"] = major + ".0"
    db._save(rec)  # type: ignore[attr-defined]
    pid = (Path(str(inst.extra["dir"])) / "mysqld.pid").read_text()
    done = db.modify_instance(inst, engine_version=installed)
    assert done.engine_version == installed and done.status == "available"
    assert (Path(str(inst.extra["dir"])) / "mysqld.pid").read_text() != pid  # restarted on the new binaries
    assert my_rows(done, "SELECT 1") == [(1,)]
    with pytest.raises(cloudkit.NotSupported, match="major version upgrade"):
        db.modify_instance(inst, engine_version="99.1", allow_major_version_upgrade=True)
    with pytest.raises(cloudkit.InvalidInput) as err:
        db.modify_instance(inst, engine_version=major + ".9999")
    assert err.value.field == "engine_version"
    db.delete_instance(inst)
