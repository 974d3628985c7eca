"""RDS through cloudkit's aws provider, replayed from cassettes (re-record: CLOUDKIT_RECORD=1).

moto makes instances available at once, so every ``wait=True`` here runs boto3's waiter for one
poll; the waiter-timeout test uses a state moto never leaves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import _harness as h
import attrs
import moto_rds
import pytest

import cloudkit
from cloudkit import errors

h.MotoServer.setup_hooks.append(moto_rds.install)

PASSWORD = "Pw-for-cassette-scan-7"


def _create(d: Any, ident: str, **kw: Any) -> Any:
    args: dict[str, Any] = {"engine": "postgres", "master_username": "master", "master_password": PASSWORD}
    args.update(kw)
    return d.create_instance(ident, **args)


def test_create_with_every_setting_then_modify_reboot_stop_start(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    d = aws_cloud.database
    db = _create(
        d, "ck-orders", instance_class="db.m5.large", storage_gb=100, engine_version="16.3", database_name="orders",
        iops=3000, multi_az=True, backup_retention_days=7, maintenance_window="sun:05:00-sun:06:00",
    )
    assert (db.id, db.engine, db.status, db.instance_class, db.engine_version) == (
        "ck-orders", "postgres", "available", "db.m5.large", "16.3")
    assert (db.storage_gb, db.iops, db.multi_az, db.backup_retention_days) == (100, 3000, True, 7)
    assert (db.maintenance_window, db.master_username, db.database_name) == ("sun:05:00-sun:06:00", "master", "orders")
    assert db.endpoint is not None and db.endpoint.port == 5432 and db.endpoint.host.startswith("ck-orders.")
    assert db.extra["StorageType"] == "io1"
    assert PASSWORD not in repr(db) and PASSWORD not in str(dict(db.extra))
    assert h.recorded_requests(aws_cassette, action="CreateDBInstance") == 1

    got = d.get_instance("ck-orders")
    # Everything but the latest restorable time (which moves on) is as created.
    assert attrs.evolve(got, latest_restorable_time=None) == attrs.evolve(db, latest_restorable_time=None)
    assert [i.id for i in d.list_instances()] == ["ck-orders"]

    changed = d.modify_instance(db, instance_class="db.m5.xlarge", storage_gb=200, backup_retention_days=14,
                                master_password="An0ther-Passw0rd")
    assert (changed.instance_class, changed.storage_gb, changed.backup_retention_days) == ("db.m5.xlarge", 200, 14)
    assert d.reboot_instance(db).status == "available"
    assert d.stop_instance(db).status == "stopped"
    assert d.get_instance(db).status == "stopped"
    assert d.start_instance(db).status == "available"


def test_delete_with_final_snapshot_and_snapshot_restore(aws_cloud: cloudkit.Cloud) -> None:
    d = aws_cloud.database
    db = _create(d, "ck-shop", storage_gb=20, backup_retention_days=3)
    snap = d.create_snapshot(db, "ck-shop-before")
    assert (snap.id, snap.instance_id, snap.engine, snap.status, snap.kind) == (
        "ck-shop-before", "ck-shop", "postgres", "available", "manual")
    assert d.get_snapshot("ck-shop-before") == snap
    assert [s.id for s in d.list_snapshots(db, kind="manual")] == ["ck-shop-before"]
    assert {s.kind for s in d.list_snapshots(db)} == {"manual", "automated"}  # RDS's automated backup too

    restored = d.restore_snapshot(snap, "ck-shop-copy", instance_class="db.t3.small")
    assert (restored.id, restored.status, restored.engine, restored.instance_class) == (
        "ck-shop-copy", "available", "postgres", "db.t3.small")

    d.delete_instance(restored, final_snapshot="ck-shop-copy-final")
    with pytest.raises(errors.NotFound):
        d.get_instance("ck-shop-copy")
    final = d.get_snapshot("ck-shop-copy-final")
    assert (final.instance_id, final.kind, final.status) == ("ck-shop-copy", "manual", "available")

    d.delete_snapshot(snap)
    with pytest.raises(errors.NotFound):
        d.get_snapshot("ck-shop-before")
    with pytest.raises(errors.NotFound):
        d.delete_snapshot("ck-shop-before")
    d.delete_instance(db)
    assert list(d.list_instances()) == []


def test_point_in_time_restore_and_read_replicas(aws_cloud: cloudkit.Cloud) -> None:
    d = aws_cloud.database
    db = _create(d, "ck-ledger", backup_retention_days=7)
    assert db.latest_restorable_time is not None

    latest = d.restore_to_point_in_time(db, "ck-ledger-latest")
    assert (latest.id, latest.status, latest.engine) == ("ck-ledger-latest", "available", "postgres")
    earlier = d.restore_to_point_in_time(db, "ck-ledger-earlier", time=db.latest_restorable_time - timedelta(seconds=1))
    assert earlier.status == "available"

    replica = d.create_read_replica(db, "ck-ledger-replica", instance_class="db.t3.small")
    assert (replica.id, replica.replica_of, replica.instance_class) == ("ck-ledger-replica", "ck-ledger", "db.t3.small")
    assert d.get_instance(db).extra["ReadReplicaDBInstanceIdentifiers"] == ["ck-ledger-replica"]
    promoted = d.promote_read_replica(replica)
    assert (promoted.id, promoted.replica_of, promoted.status) == ("ck-ledger-replica", None, "available")
    assert d.get_instance(db).extra["ReadReplicaDBInstanceIdentifiers"] == []


def test_parameter_groups_and_attaching_one(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    d = aws_cloud.database
    group = d.create_parameter_group("ck-mysql-tuned", family="mysql8.0", description="SimCo production")
    assert (group.name, group.family, group.description, dict(group.parameters)) == (
        "ck-mysql-tuned", "mysql8.0", "SimCo production", {})
    changed = d.modify_parameter_group(group, {"max_connections": 500, "wait_timeout": "600"})
    assert dict(changed.parameters) == {"max_connections": "500", "wait_timeout": "600"}
    sent = h.recorded_requests(aws_cassette, action="ModifyDBParameterGroup")
    assert sent == 1
    d.modify_parameter_group(group, {"innodb_log_buffer_size": "8388608"}, apply_method="pending-reboot")
    assert d.get_parameter_group("ck-mysql-tuned").parameters["innodb_log_buffer_size"] == "8388608"
    assert [g.name for g in d.list_parameter_groups()] == ["ck-mysql-tuned"]

    db = _create(d, "ck-simco", engine="mysql", parameter_group=group)
    assert db.parameter_group == "ck-mysql-tuned"
    d.create_parameter_group("ck-mysql-other", family="mysql8.0")
    moved = d.modify_instance(db, parameter_group="ck-mysql-other")
    assert moved.parameter_group == "ck-mysql-other"

    reset = d.reset_parameter_group(group, parameters=["max_connections"])
    assert "max_connections" not in reset.parameters and reset.parameters["wait_timeout"] == "600"
    assert dict(d.reset_parameter_group(group).parameters) == {}
    d.delete_instance(db)
    d.delete_parameter_group(group)
    with pytest.raises(errors.NotFound) as missing:
        d.get_parameter_group("ck-mysql-tuned")
    assert missing.value.code.startswith("DBParameterGroupNotFound")
    with pytest.raises(errors.InvalidInput) as bad:
        d.modify_parameter_group("ck-mysql-other", {"max_connections": "5'; DROP"})
    assert bad.value.field == "parameters"
    with pytest.raises(errors.InvalidInput) as bad:
        d.create_parameter_group("ck-x", family="not a family")
    assert bad.value.field == "family"


def test_copy_snapshot_to_another_region(aws_cloud: cloudkit.Cloud, aws_settings: dict[str, Any], aws_cassette: Any) -> None:
    d = aws_cloud.database
    db = _create(d, "ck-simco-copy", engine="mysql", backup_retention_days=1)
    d.create_snapshot(db, "ck-simco-snap")
    same = d.copy_snapshot("ck-simco-snap", "ck-simco-snap-2")
    assert (same.id, same.status) == ("ck-simco-snap-2", "available")
    with cloudkit.connect("aws", **dict(aws_settings, region="us-west-2")) as west:
        copy = d.copy_snapshot("ck-simco-snap", "ck-simco-west", destination=west)
        assert (copy.id, copy.status, copy.engine) == ("ck-simco-west", "available", "mysql")
        assert [s.id for s in west.database.list_snapshots(kind="manual")] == ["ck-simco-west"]
        restored = west.database.restore_snapshot(copy, "ck-simco-dr")
        assert restored.status == "available" and ".us-west-2." in restored.endpoint.host  # type: ignore[union-attr]
    sent = [r for r in aws_cassette.requests if b"Action=CopyDBSnapshot" in (r.body or b"")]
    assert len(sent) == 2
    assert b"arn%3Aaws%3Ards%3Aus-east-1" in (sent[1].body or b"")


def test_backup_window_engine_version_and_multi_az(aws_cloud: cloudkit.Cloud) -> None:
    d = aws_cloud.database
    db = _create(d, "ck-simco-win", engine="mysql", engine_version="8.0.35", backup_window="03:00-03:30")
    assert (db.backup_window, db.engine_version, db.multi_az) == ("03:00-03:30", "8.0.35", False)
    changed = d.modify_instance(db, backup_window="22:00-22:45", engine_version="8.0.36", multi_az=True)
    assert (changed.backup_window, changed.engine_version, changed.multi_az) == ("22:00-22:45", "8.0.36", True)
    with pytest.raises(errors.InvalidInput) as bad:
        d.modify_instance(db, backup_window="22:00-22:10")
    assert bad.value.field == "backup_window"


def test_engines_come_from_the_api(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    engines = list(aws_cloud.database.list_engines())
    assert {"mysql", "postgres"} <= set(engines) and engines == sorted(engines)
    assert h.recorded_requests(aws_cassette, action="DescribeDBEngineVersions") == 1


def test_errors_map_to_cloudkit_errors(aws_cloud: cloudkit.Cloud) -> None:
    d = aws_cloud.database
    with pytest.raises(errors.NotFound) as missing:
        d.get_instance("ck-nothing")
    assert missing.value.code == "DBInstanceNotFound" and missing.value.provider == "aws"
    assert type(missing.value.__cause__).__module__.startswith("botocore")
    with pytest.raises(errors.NotFound):
        d.create_snapshot("ck-nothing", "ck-nothing-snap")
    with pytest.raises(errors.NotFound):
        d.restore_snapshot("ck-no-snap", "ck-new")
    _create(d, "ck-dup")
    with pytest.raises(errors.AlreadyExists) as dup:
        _create(d, "ck-dup")
    assert PASSWORD not in str(dup.value)
    d.create_snapshot("ck-dup", "ck-dup-snap")
    with pytest.raises(errors.AlreadyExists):
        d.create_snapshot("ck-dup", "ck-dup-snap")


def test_a_waiter_that_never_sees_its_state_raises_timeout(aws_env: Any, aws_cassette: Any) -> None:
    # Explicit delay and timeout make the number of polls the same when recording and replaying.
    settings = dict(h.settings_for(aws_env.endpoint, aws_env.replaying), waiter_delay=0.5)
    with cloudkit.connect("aws", **settings) as cloud:
        d = cloud.database
        _create(d, "ck-sleepy")
        d.stop_instance("ck-sleepy")
        # A stopped instance never becomes "available" by itself: the waiter gives up.
        with pytest.raises(errors.Timeout):
            d.modify_instance("ck-sleepy", backup_retention_days=2, timeout=1)
    assert h.recorded_requests(aws_cassette, action="DescribeDBInstances") >= 2


def test_bad_input_is_rejected_before_any_request(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    d = aws_cloud.database
    cases = [
        (lambda: _create(d, "1-starts-with-digit"), "identifier"),
        (lambda: _create(d, "double--hyphen"), "identifier"),
        (lambda: _create(d, "ck-ok", master_password="short"), "master_password"),
        (lambda: _create(d, "ck-ok", master_password="has space in it"), "master_password"),
        (lambda: _create(d, "ck-ok", master_username="postgres"), "master_username"),
        (lambda: _create(d, "ck-ok", storage_gb=0), "storage_gb"),
        (lambda: _create(d, "ck-ok", iops=10), "iops"),
        (lambda: _create(d, "ck-ok", backup_retention_days=36), "backup_retention_days"),
        (lambda: _create(d, "ck-ok", maintenance_window="sunday 5am"), "maintenance_window"),
        (lambda: d.modify_instance("ck-ok"), "modify_instance"),
        (lambda: d.create_snapshot("ck-ok", "bad_snapshot_id"), "snapshot_id"),
        (lambda: list(d.list_snapshots(kind="weekly")), "kind"),
        (lambda: d.delete_instance("ck-ok", final_snapshot="-bad"), "final_snapshot"),
    ]
    for call, field in cases:
        with pytest.raises(errors.InvalidInput) as bad:
            call()
        assert bad.value.field == field
        assert "short" not in str(bad.value) and "has space in it" not in str(bad.value)
    assert h.recorded_requests(aws_cassette) == 0


def test_cassettes_hold_no_password() -> None:
    from cloudkit.testing.database import DatabaseConformance

    secrets = (PASSWORD, "An0ther-Passw0rd", DatabaseConformance.master_password)
    found = sorted((h.CASSETTES / "database").glob("*.yaml")) + sorted((h.CASSETTES / "database_conformance").glob("*.yaml"))
    assert len({p.parent.name for p in found}) == 2, "the database cassettes are missing"
    for path in found:
        text = path.read_text()
        assert not any(secret in text for secret in secrets), path.name
    create = (h.CASSETTES / "database" / "test_create_with_every_setting_then_modify_reboot_stop_start.yaml").read_text()
    assert "MasterUserPassword=REDACTED" in create


def test_deferred_modify_and_restores_with_a_parameter_group(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    d = aws_cloud.database
    db = _create(d, "ck-later", backup_retention_days=1)
    d.modify_instance(db, storage_gb=40, apply_immediately=False)  # ApplyImmediately=false (the cassette holds the body)
    # moto applies every change at once and reports no PendingModifiedValues; RDS lists them until the window
    assert d.get_instance(db).pending_modifications == {}
    d.create_parameter_group("ck-restored", family="postgres16")
    d.create_snapshot(db, "ck-later-snap")
    assert d.restore_snapshot("ck-later-snap", "ck-later-r1", parameter_group="ck-restored").parameter_group == "ck-restored"
    assert d.restore_to_point_in_time(db, "ck-later-r2", parameter_group="ck-restored").parameter_group == "ck-restored"
    assert d.restore_snapshot("ck-later-snap", "ck-later-r3").parameter_group is None  # RDS's default group
    assert h.recorded_requests(aws_cassette, action="RestoreDBInstanceToPointInTime") == 1


def test_pending_modified_values_in_neutral_names() -> None:
    from cloudkit_aws.database import _instance

    inst = _instance({"DBInstanceIdentifier": "ck-p", "Engine": "postgres", "DBInstanceStatus": "available",
                      "PendingModifiedValues": {"DBInstanceClass": "db.m5.large", "AllocatedStorage": 50,
                                                "BackupRetentionPeriod": 0, "EngineVersion": "16.4", "MultiAZ": True,
                                                "MasterUserPassword": "****", "CACertificateIdentifier": "rds-ca-rsa2048-g1"}})
    assert dict(inst.pending_modifications) == {
        "instance_class": "db.m5.large", "storage_gb": 50, "backup_retention_days": 0, "engine_version": "16.4",
        "multi_az": True, "master_password": True, "CACertificateIdentifier": "rds-ca-rsa2048-g1"}
    assert _instance({"DBInstanceIdentifier": "ck-q", "Engine": "postgres"}).pending_modifications == {}


def test_reboot_with_force_failover(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    """ForceFailover reaches RDS on a Multi-AZ instance (the zones swap) and is refused without Multi-AZ."""
    d = aws_cloud.database
    db = _create(d, "ck-failover", multi_az=True)
    assert db.multi_az and db.secondary_zone is not None and db.secondary_zone != db.extra["AvailabilityZone"]
    before = (db.extra["AvailabilityZone"], db.secondary_zone)
    after = d.reboot_instance(db, force_failover=True)
    assert after.status == "available"
    assert (after.extra["AvailabilityZone"], after.secondary_zone) == (before[1], before[0])
    assert h.recorded_requests(aws_cassette, action="RebootDBInstance") == 1
    single = _create(d, "ck-single")
    assert single.secondary_zone is None
    with pytest.raises(errors.InvalidInput):
        d.reboot_instance(single, force_failover=True)
    assert d.reboot_instance(single).status == "available"
    with pytest.raises(errors.InvalidInput, match="force_failover"):
        d.reboot_instance(single, force_failover="yes")  # type: ignore[arg-type]
