"""Two RDS gaps of moto's server, closed for the test harness only.

* ``DescribeDBEngineVersions`` is not implemented: it is added on moto's ``RDSResponse`` class,
  answering from moto's own table of engines and their default versions (the engines moto can
  create), serialised by moto from botocore's service model like every other reply.
* ``PromoteReadReplica`` leaves the promoted instance pointing at its former source
  (``ReadReplicaSourceDBInstanceIdentifier``) and listed among the source's replicas; RDS clears
  both. The backend method is wrapped to do the same.
* ``RebootDBInstance`` ignores ``ForceFailover`` and no instance reports a
  ``SecondaryAvailabilityZone``: a Multi-AZ instance reports the region's other zone as its
  secondary, a forced failover swaps the two zones, and ``ForceFailover`` on an instance without
  Multi-AZ is refused with ``InvalidParameterCombination``, as RDS does.
* ``ResetDBParameterGroup`` is not implemented: it is added, removing the named parameters (or all
  of them with ``ResetAllParameters``) from the group's user-set values, as RDS reports them after.

Call :func:`install` before the server starts (idempotent).
"""

from __future__ import annotations

from typing import Any

from moto.core.responses import ActionResult
from moto.rds.models import DBInstance, RDSBackend
from moto.rds.responses import RDSResponse

_installed = False

#: Parameter group family per engine, as RDS reports it for these versions.
_FAMILY = {"mysql": "mysql5.6", "postgres": "postgres9.3", "neptune": "neptune1.3"}


def describe_db_engine_versions(self: RDSResponse) -> ActionResult:
    """DescribeDBEngineVersions over the engines moto creates, with the Engine/EngineVersion filters."""
    engine = self._get_param("Engine")
    version = self._get_param("EngineVersion")
    items: list[dict[str, Any]] = []
    for name, default in sorted(DBInstance.default_engine_versions.items()):
        if name != name.lower():  # moto lists "MySQL" as an alias of "mysql"
            continue
        if engine and engine != name:
            continue
        if version and version != default:
            continue
        family = _FAMILY.get(name, f"{name}-{default.split('.')[0]}")
        items.append({
            "Engine": name,
            "EngineVersion": default,
            "DBParameterGroupFamily": family,
            "DBEngineDescription": name,
            "DBEngineVersionDescription": f"{name} {default}",
            "Status": "available",
        })
    return ActionResult({"DBEngineVersions": items})


def reset_db_parameter_group(self: RDSResponse) -> ActionResult:
    """ResetDBParameterGroup: forget the named (or every) user-set parameter of the group."""
    from moto.rds.exceptions import DBParameterGroupNotFoundError

    name = self._get_param("DBParameterGroupName")
    groups = self.backend.db_parameter_groups
    if name not in groups:
        raise DBParameterGroupNotFoundError(name)
    group = groups[name]
    if str(self._get_param("ResetAllParameters")).lower() == "true":
        group.parameters.clear()
    else:
        for param in self.params.get("Parameters", []):
            group.parameters.pop(param.original_dict()["ParameterName"], None)
    return ActionResult({"DBParameterGroupName": name})


def _promote(original: Any) -> Any:
    def promote_read_replica(self: RDSBackend, db_kwargs: dict[str, Any]) -> DBInstance:
        database = self.databases.get(db_kwargs.get("db_instance_identifier", ""))
        source = getattr(database, "source_db_instance_identifier", None) if database is not None else None
        result = original(self, db_kwargs)
        if source:
            try:
                primary = self.find_db_from_id(source)
                primary.remove_replica(result)
            except Exception:  # the source may be gone already
                pass
            result.source_db_instance_identifier = None
        return result

    promote_read_replica.__wrapped__ = original  # type: ignore[attr-defined]
    return promote_read_replica


def _secondary_zone(self: DBInstance) -> str | None:
    """The standby's zone of a Multi-AZ instance: the one failed over from, else the region's other zone."""
    if not self.multi_az:
        return None
    swapped: str | None = getattr(self, "_cloudkit_secondary", None)
    if swapped:
        return swapped
    zone = str(self.availability_zone)
    return zone[:-1] + ("b" if zone.endswith("a") else "a")


def reboot_db_instance(self: RDSResponse) -> ActionResult:
    """RebootDBInstance honouring ``ForceFailover`` (the zones swap; refused without Multi-AZ)."""
    from moto.rds.exceptions import InvalidParameterCombination

    database = self.backend.reboot_db_instance(self.params.get("DBInstanceIdentifier"))
    if str(self.params.get("ForceFailover", "")).lower() == "true":
        if not database.multi_az:
            raise InvalidParameterCombination("Cannot force a failover on an instance that is not Multi-AZ")
        primary, secondary = database.availability_zone, _secondary_zone(database)
        database.availability_zone, database._cloudkit_secondary = secondary, primary
    return ActionResult({"DBInstance": database})


def install() -> None:
    """Patch moto's RDS (idempotent)."""
    global _installed
    if _installed:
        return
    RDSResponse.describe_db_engine_versions = describe_db_engine_versions  # type: ignore[attr-defined]
    RDSResponse.reset_db_parameter_group = reset_db_parameter_group  # type: ignore[attr-defined]
    RDSResponse.reboot_db_instance = reboot_db_instance  # type: ignore[method-assign]
    DBInstance.secondary_availability_zone = property(_secondary_zone)  # type: ignore[attr-defined]
    RDSBackend.promote_read_replica = _promote(RDSBackend.promote_read_replica)  # type: ignore[method-assign]
    _installed = True
