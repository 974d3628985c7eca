"""The database family on Amazon RDS.

Every long operation waits with boto3's RDS waiters (``db_instance_available``,
``db_instance_deleted``, ``db_snapshot_available``) or, where boto3 has none (stop), with a waiter
built from the same botocore waiter model format; ``timeout`` becomes the waiter's attempt count
(see :meth:`AwsSession.waiter_config`), and a waiter giving up raises ``Timeout``. The master
password goes to RDS and nowhere else: it is never part of a model, a log line or an error.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from cloudkit.errors import NotFound, NotSupported
from cloudkit.models.database import DatabaseInstance, DatabaseParameterGroup, DatabaseSnapshot, Endpoint
from cloudkit.services.database import DatabaseService
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors, mapped

#: botocore waiter model for "stopped", which boto3 does not ship (same format as its own).
_STOPPED_WAITER: dict[str, Any] = {
    "version": 2,
    "waiters": {
        "DBInstanceStopped": {
            "delay": 30,
            "operation": "DescribeDBInstances",
            "maxAttempts": 60,
            "acceptors": [
                {"expected": "stopped", "matcher": "pathAll", "state": "success", "argument": "DBInstances[].DBInstanceStatus"},
                {"expected": "deleted", "matcher": "pathAny", "state": "failure", "argument": "DBInstances[].DBInstanceStatus"},
                {"expected": "deleting", "matcher": "pathAny", "state": "failure", "argument": "DBInstances[].DBInstanceStatus"},
                {"expected": "failed", "matcher": "pathAny", "state": "failure", "argument": "DBInstances[].DBInstanceStatus"},
            ],
        }
    },
}

_STATUS = {
    "backing-up": "backing-up",
    "configuring-enhanced-monitoring": "modifying",
    "configuring-log-exports": "modifying",
    "converting-to-vpc": "modifying",
    "moving-to-vpc": "modifying",
    "renaming": "modifying",
    "resetting-master-credentials": "modifying",
    "storage-optimization": "available",
    "upgrading": "modifying",
    "maintenance": "modifying",
    "incompatible-restore": "failed",
    "incompatible-parameters": "failed",
    "incompatible-network": "failed",
    "incompatible-option-group": "failed",
    "restore-error": "failed",
    "storage-full": "failed",
}


#: RDS ``PendingModifiedValues`` keys by the names ``modify_instance`` takes (others keep RDS's name)
_PENDING = {
    "DBInstanceClass": "instance_class",
    "AllocatedStorage": "storage_gb",
    "BackupRetentionPeriod": "backup_retention_days",
    "EngineVersion": "engine_version",
    "MultiAZ": "multi_az",
    "Iops": "iops",
    "MasterUserPassword": "master_password",
}


def _pending(values: Mapping[str, Any] | None) -> dict[str, object]:
    """``PendingModifiedValues`` in neutral names; a pending password shows as ``True``, never its text."""
    out: dict[str, object] = {}
    for key, value in (values or {}).items():
        name = _PENDING.get(key, key)
        out[name] = True if name == "master_password" else value
    return out


def make_service(settings: Mapping[str, Any]) -> AwsDatabase:
    """The aws provider's database service (the plugin calls this)."""
    return AwsDatabase(settings)


def _instance(d: Mapping[str, Any]) -> DatabaseInstance:
    ep = d.get("Endpoint") or {}
    status = str(d.get("DBInstanceStatus", "unknown"))
    groups = d.get("DBParameterGroups") or [{}]
    if str(groups[0].get("DBParameterGroupName", "")).startswith("default."):
        groups = [{}]  # RDS's built-in default group: the engine's defaults, None as on every provider
    return DatabaseInstance(
        id=d["DBInstanceIdentifier"],
        engine=d.get("Engine", ""),
        status=_STATUS.get(status, status),
        instance_class=d.get("DBInstanceClass"),
        engine_version=d.get("EngineVersion"),
        storage_gb=d.get("AllocatedStorage"),
        endpoint=Endpoint(host=ep["Address"], port=int(ep["Port"])) if ep.get("Address") and ep.get("Port") else None,
        master_username=d.get("MasterUsername"),
        database_name=d.get("DBName"),
        multi_az=bool(d.get("MultiAZ", False)),
        iops=d.get("Iops"),
        backup_retention_days=int(d.get("BackupRetentionPeriod") or 0),
        maintenance_window=d.get("PreferredMaintenanceWindow"),
        backup_window=d.get("PreferredBackupWindow"),
        replica_of=d.get("ReadReplicaSourceDBInstanceIdentifier"),
        created_at=d.get("InstanceCreateTime"),
        latest_restorable_time=d.get("LatestRestorableTime"),
        parameter_group=groups[0].get("DBParameterGroupName"),
        parameter_status=groups[0].get("ParameterApplyStatus"),
        pending_modifications=_pending(d.get("PendingModifiedValues")),
        secondary_zone=d.get("SecondaryAvailabilityZone") if d.get("MultiAZ") else None,
        extra=d,
    )


def _snapshot(d: Mapping[str, Any]) -> DatabaseSnapshot:
    return DatabaseSnapshot(
        id=d["DBSnapshotIdentifier"],
        instance_id=d.get("DBInstanceIdentifier", ""),
        engine=d.get("Engine", ""),
        status=d.get("Status", "unknown"),
        kind=d.get("SnapshotType", "manual"),
        storage_gb=d.get("AllocatedStorage"),
        created_at=d.get("SnapshotCreateTime"),
        extra=d,
    )


class AwsDatabase(AwsErrors, DatabaseService):
    """RDS DB instances, snapshots, point-in-time restores and read replicas."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self._aws = AwsSession(self.settings)

    @property
    def native(self) -> Any:
        """The boto3 RDS client."""
        return self._aws.client("rds")

    @property
    def rds(self) -> Any:
        """The boto3 RDS client."""
        return self._aws.client("rds")

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._aws.close()

    # ------------------------------------------------------------------ helpers
    def _wait(self, name: str, operation: str, timeout: float, **kwargs: Any) -> None:
        if name == "db_instance_stopped":
            from botocore.waiter import WaiterModel, create_waiter_with_client

            waiter = create_waiter_with_client("DBInstanceStopped", WaiterModel(_STOPPED_WAITER), self.rds)
        else:
            waiter = self.rds.get_waiter(name)
        with mapped(operation):
            waiter.wait(WaiterConfig=self._aws.waiter_config(waiter, timeout), **kwargs)

    def _describe(self, identifier: str, operation: str) -> DatabaseInstance:
        with mapped(operation):
            found = self.rds.describe_db_instances(DBInstanceIdentifier=identifier)["DBInstances"]
        return _instance(found[0])

    def _settle(self, identifier: str, result: Mapping[str, Any], wait: bool, timeout: float, operation: str) -> DatabaseInstance:
        if not wait:
            return _instance(result)
        self._wait("db_instance_available", operation, timeout, DBInstanceIdentifier=identifier)
        return self._describe(identifier, operation)

    # ------------------------------------------------------------------ engines and instances
    def _list_engines(self) -> Iterator[str]:
        engines: set[str] = set()
        for page in self._aws.pages("rds", "describe_db_engine_versions", "database.list_engines"):
            engines.update(v["Engine"] for v in page.get("DBEngineVersions", []))
        return iter(sorted(engines))

    def _create_instance(self, identifier: str, **kw: Any) -> DatabaseInstance:
        op = "database.create_instance"
        args: dict[str, Any] = {
            "DBInstanceIdentifier": identifier,
            "Engine": kw["engine"],
            "DBInstanceClass": kw["instance_class"],
            "AllocatedStorage": kw["storage_gb"],
            "MasterUsername": kw["master_username"],
            "MasterUserPassword": kw["master_password"],
            "MultiAZ": kw["multi_az"],
            "BackupRetentionPeriod": kw["backup_retention_days"],
        }
        if kw.get("engine_version"):
            args["EngineVersion"] = kw["engine_version"]
        if kw.get("database_name"):
            args["DBName"] = kw["database_name"]
        if kw.get("iops") is not None:
            args["Iops"] = kw["iops"]
            args["StorageType"] = "io1"
        if kw.get("maintenance_window"):
            args["PreferredMaintenanceWindow"] = kw["maintenance_window"]
        if kw.get("parameter_group"):
            args["DBParameterGroupName"] = kw["parameter_group"]
        if kw.get("backup_window"):
            args["PreferredBackupWindow"] = kw["backup_window"]
        made = self.rds.create_db_instance(**args)["DBInstance"]
        return self._settle(identifier, made, bool(kw["wait"]), float(kw["timeout"]), op)

    def _get_instance(self, identifier: str) -> DatabaseInstance:
        return self._describe(identifier, "database.get_instance")

    def _list_instances(self) -> Iterator[DatabaseInstance]:
        for page in self._aws.pages("rds", "describe_db_instances", "database.list_instances"):
            for d in page.get("DBInstances", []):
                yield _instance(d)

    def _modify_instance(self, identifier: str, changes: dict[str, object], apply_immediately: bool, wait: bool, timeout: float) -> DatabaseInstance:
        op = "database.modify_instance"
        names = {
            "instance_class": "DBInstanceClass",
            "storage_gb": "AllocatedStorage",
            "backup_retention_days": "BackupRetentionPeriod",
            "maintenance_window": "PreferredMaintenanceWindow",
            "master_password": "MasterUserPassword",
            "parameter_group": "DBParameterGroupName",
            "backup_window": "PreferredBackupWindow",
            "engine_version": "EngineVersion",
            "allow_major_version_upgrade": "AllowMajorVersionUpgrade",
            "multi_az": "MultiAZ",
        }
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier, "ApplyImmediately": apply_immediately}
        for key, value in changes.items():
            args[names[key]] = value
        result = self.rds.modify_db_instance(**args)["DBInstance"]
        return self._settle(identifier, result, wait, timeout, op)

    def _reboot_instance(self, identifier: str, force_failover: bool, wait: bool, timeout: float) -> DatabaseInstance:
        op = "database.reboot_instance"
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier}
        if force_failover:
            args["ForceFailover"] = True
        result = self.rds.reboot_db_instance(**args)["DBInstance"]
        return self._settle(identifier, result, wait, timeout, op)

    def _stop_instance(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
        op = "database.stop_instance"
        result = self.rds.stop_db_instance(DBInstanceIdentifier=identifier)["DBInstance"]
        if not wait:
            return _instance(result)
        self._wait("db_instance_stopped", op, timeout, DBInstanceIdentifier=identifier)
        return self._describe(identifier, op)

    def _start_instance(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
        op = "database.start_instance"
        result = self.rds.start_db_instance(DBInstanceIdentifier=identifier)["DBInstance"]
        return self._settle(identifier, result, wait, timeout, op)

    def _delete_instance(self, identifier: str, final_snapshot: str | None, wait: bool, timeout: float) -> None:
        op = "database.delete_instance"
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier}
        if final_snapshot:
            args["FinalDBSnapshotIdentifier"] = final_snapshot
            args["SkipFinalSnapshot"] = False
        else:
            args["SkipFinalSnapshot"] = True
        self.rds.delete_db_instance(**args)
        if wait:
            self._wait("db_instance_deleted", op, timeout, DBInstanceIdentifier=identifier)
            if final_snapshot:
                self._wait("db_snapshot_available", op, timeout, DBSnapshotIdentifier=final_snapshot)

    # ------------------------------------------------------------------ snapshots
    def _create_snapshot(self, identifier: str, snapshot_id: str, wait: bool, timeout: float) -> DatabaseSnapshot:
        op = "database.create_snapshot"
        made = self.rds.create_db_snapshot(DBSnapshotIdentifier=snapshot_id, DBInstanceIdentifier=identifier)["DBSnapshot"]
        if not wait:
            return _snapshot(made)
        self._wait("db_snapshot_available", op, timeout, DBSnapshotIdentifier=snapshot_id)
        return self._describe_snapshot(snapshot_id, op)

    def _describe_snapshot(self, snapshot_id: str, operation: str) -> DatabaseSnapshot:
        with mapped(operation):
            found = self.rds.describe_db_snapshots(DBSnapshotIdentifier=snapshot_id)["DBSnapshots"]
        return _snapshot(found[0])

    def _get_snapshot(self, snapshot_id: str) -> DatabaseSnapshot:
        return self._describe_snapshot(snapshot_id, "database.get_snapshot")

    def _list_snapshots(self, identifier: str | None, kind: str | None) -> Iterator[DatabaseSnapshot]:
        args: dict[str, Any] = {}
        if identifier:
            args["DBInstanceIdentifier"] = identifier
        if kind:
            args["SnapshotType"] = kind
        for page in self._aws.pages("rds", "describe_db_snapshots", "database.list_snapshots", **args):
            for d in page.get("DBSnapshots", []):
                yield _snapshot(d)

    def _delete_snapshot(self, snapshot_id: str) -> None:
        self.rds.delete_db_snapshot(DBSnapshotIdentifier=snapshot_id)

    def _copy_snapshot(self, snapshot_id: str, target_id: str, destination: DatabaseService | None, wait: bool,
                       timeout: float) -> DatabaseSnapshot:
        op = "database.copy_snapshot"
        dest = self if destination is None else destination
        if not isinstance(dest, AwsDatabase):
            raise NotSupported(PROVIDER, op, "RDS copies snapshots only to RDS (another region or profile of the same "
                                              "account); between providers dump and load the data (cloudkit_contrib.dbdump)")
        args: dict[str, Any] = {"TargetDBSnapshotIdentifier": target_id, "SourceDBSnapshotIdentifier": snapshot_id}
        if dest is not self:
            # CopyDBSnapshot runs in the destination and names the source by ARN (an unencrypted
            # snapshot needs no presigned URL; encrypted cross-region copies are not supported)
            args["SourceDBSnapshotIdentifier"] = self._describe_snapshot(snapshot_id, op).extra["DBSnapshotArn"]
        made = dest.rds.copy_db_snapshot(**args)["DBSnapshot"]
        if not wait:
            return _snapshot(made)
        dest._wait("db_snapshot_available", op, timeout, DBSnapshotIdentifier=target_id)
        return dest._describe_snapshot(target_id, op)

    def _restore_snapshot(self, snapshot_id: str, identifier: str, instance_class: str | None, wait: bool, timeout: float,
                          *, parameter_group: str | None = None) -> DatabaseInstance:
        op = "database.restore_snapshot"
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier, "DBSnapshotIdentifier": snapshot_id}
        if instance_class:
            args["DBInstanceClass"] = instance_class
        if parameter_group:
            args["DBParameterGroupName"] = parameter_group
        made = self.rds.restore_db_instance_from_db_snapshot(**args)["DBInstance"]
        return self._settle(identifier, made, wait, timeout, op)

    def _restore_to_point_in_time(self, source: str, identifier: str, time: datetime | None, wait: bool, timeout: float,
                                  *, parameter_group: str | None = None) -> DatabaseInstance:
        op = "database.restore_to_point_in_time"
        args: dict[str, Any] = {"SourceDBInstanceIdentifier": source, "TargetDBInstanceIdentifier": identifier}
        if parameter_group:
            args["DBParameterGroupName"] = parameter_group
        if time is None:
            args["UseLatestRestorableTime"] = True
        else:
            args["RestoreTime"] = time
        made = self.rds.restore_db_instance_to_point_in_time(**args)["DBInstance"]
        return self._settle(identifier, made, wait, timeout, op)

    def _create_read_replica(self, source: str, identifier: str, instance_class: str | None, wait: bool, timeout: float) -> DatabaseInstance:
        op = "database.create_read_replica"
        args: dict[str, Any] = {"DBInstanceIdentifier": identifier, "SourceDBInstanceIdentifier": source}
        if instance_class:
            args["DBInstanceClass"] = instance_class
        made = self.rds.create_db_instance_read_replica(**args)["DBInstance"]
        return self._settle(identifier, made, wait, timeout, op)

    def _promote_read_replica(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
        op = "database.promote_read_replica"
        result = self.rds.promote_read_replica(DBInstanceIdentifier=identifier)["DBInstance"]
        return self._settle(identifier, result, wait, timeout, op)

    # ------------------------------------------------------------------ parameter groups
    def _group(self, d: Mapping[str, Any], operation: str) -> DatabaseParameterGroup:
        """A group with the parameters it sets (``Source=user``: the engine defaults are not listed)."""
        name = d["DBParameterGroupName"]
        params: dict[str, str] = {}
        for page in self._aws.pages("rds", "describe_db_parameters", operation, DBParameterGroupName=name, Source="user"):
            for p in page.get("Parameters", []):
                if p.get("ParameterValue") is not None:
                    params[p["ParameterName"]] = str(p["ParameterValue"])
        return DatabaseParameterGroup(name=name, family=d.get("DBParameterGroupFamily", ""), description=d.get("Description", ""),
                                      parameters=params, extra=d)

    def _create_parameter_group(self, name: str, family: str, description: str) -> DatabaseParameterGroup:
        made = self.rds.create_db_parameter_group(DBParameterGroupName=name, DBParameterGroupFamily=family,
                                                  Description=description or name)["DBParameterGroup"]
        return DatabaseParameterGroup(name=made["DBParameterGroupName"], family=made.get("DBParameterGroupFamily", family),
                                      description=description, parameters={}, extra=made)

    def _describe_group(self, name: str, operation: str) -> DatabaseParameterGroup:
        with mapped(operation):
            found = self.rds.describe_db_parameter_groups(DBParameterGroupName=name)["DBParameterGroups"]
        if not found:  # RDS answers DBParameterGroupNotFound; an empty answer means the same
            raise NotFound(f"database parameter group {name!r} does not exist", provider=PROVIDER,
                           code="DBParameterGroupNotFound")
        return self._group(found[0], operation)

    def _get_parameter_group(self, name: str) -> DatabaseParameterGroup:
        return self._describe_group(name, "database.get_parameter_group")

    def _list_parameter_groups(self) -> Iterator[DatabaseParameterGroup]:
        op = "database.list_parameter_groups"
        for page in self._aws.pages("rds", "describe_db_parameter_groups", op):
            for d in page.get("DBParameterGroups", []):
                if not str(d["DBParameterGroupName"]).startswith("default."):  # RDS's built-in groups
                    yield self._group(d, op)

    def _modify_parameter_group(self, name: str, parameters: dict[str, str], apply_method: str) -> DatabaseParameterGroup:
        items = [{"ParameterName": k, "ParameterValue": v, "ApplyMethod": apply_method} for k, v in sorted(parameters.items())]
        for start in range(0, len(items), 20):  # RDS takes at most 20 parameters a call
            self.rds.modify_db_parameter_group(DBParameterGroupName=name, Parameters=items[start:start + 20])
        return self._describe_group(name, "database.modify_parameter_group")

    def _reset_parameter_group(self, name: str, parameters: list[str] | None, apply_method: str) -> DatabaseParameterGroup:
        if parameters is None:
            self.rds.reset_db_parameter_group(DBParameterGroupName=name, ResetAllParameters=True)
        else:
            items = [{"ParameterName": k, "ApplyMethod": apply_method} for k in sorted(parameters)]
            for start in range(0, len(items), 20):
                self.rds.reset_db_parameter_group(DBParameterGroupName=name, ResetAllParameters=False,
                                                  Parameters=items[start:start + 20])
        return self._describe_group(name, "database.reset_parameter_group")

    def _delete_parameter_group(self, name: str) -> None:
        self.rds.delete_db_parameter_group(DBParameterGroupName=name)
