"""Models of the database family (the RDS model). Passwords are never part of a model."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import datetime_field, extra_field, frozen_map

#: Neutral database instance states (``DatabaseInstance.status``); the provider's native status
#: goes to ``extra``.
DATABASE_STATES = (
    "creating", "available", "modifying", "rebooting", "stopping", "stopped", "starting", "deleting",
    "backing-up", "failed",
)

#: How a parameter group change reaches running instances (``apply_method``): at once where the
#: parameter is dynamic, or at the instance's next reboot.
PARAMETER_APPLY_METHODS = ("immediate", "pending-reboot")

#: Neutral database snapshot states (``DatabaseSnapshot.status``).
DATABASE_SNAPSHOT_STATES = ("creating", "available", "deleting", "failed")


@attrs.frozen
class Endpoint:
    """Where a database server listens."""

    host: str
    port: int


@attrs.frozen
class DatabaseInstance:
    """A managed database server.

    ``status`` is one of :data:`DATABASE_STATES`: ``creating``, ``available``, ``modifying``,
    ``rebooting``, ``stopping``, ``stopped``, ``starting``, ``deleting``, ``backing-up``, ``failed``.
    """

    id: str
    engine: str
    status: str
    instance_class: str | None = None
    engine_version: str | None = None
    storage_gb: int | None = None
    endpoint: Endpoint | None = None
    master_username: str | None = None
    database_name: str | None = None
    multi_az: bool = False
    iops: int | None = None
    backup_retention_days: int = 0
    maintenance_window: str | None = None
    replica_of: str | None = None
    #: the daily window (``hh:mm-hh:mm`` UTC) in which automated backups are taken
    backup_window: str | None = None
    created_at: datetime | None = datetime_field()
    latest_restorable_time: datetime | None = datetime_field()
    #: the name of the instance's parameter group (``None``: the engine's defaults)
    parameter_group: str | None = None
    #: ``in-sync``, or ``pending-reboot`` while a parameter change waits for a reboot (``None``: no group)
    parameter_status: str | None = None
    #: changes asked for with ``apply_immediately=False`` that wait for the next maintenance window,
    #: by the names :meth:`cloudkit.DatabaseService.modify_instance` takes (``instance_class``,
    #: ``storage_gb``, ``engine_version``, ``backup_retention_days``, ``multi_az``...); empty: none
    pending_modifications: Mapping[str, object] = attrs.field(factory=dict, converter=frozen_map)
    #: the zone of a Multi-AZ instance's standby (``None``: no standby, or the provider does not say)
    secondary_zone: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class DatabaseSnapshot:
    """A snapshot of a database instance (manual or automated).

    ``status`` is one of :data:`DATABASE_SNAPSHOT_STATES`; ``kind`` is ``manual`` or ``automated``.
    """

    id: str
    instance_id: str
    engine: str
    status: str
    kind: str = "manual"
    storage_gb: int | None = None
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class DatabaseParameterGroup:
    """Named engine settings that instances of one ``family`` (``mysql10.11``, ``postgres15``) use.

    ``parameters`` holds the values the group sets (name to value, as text); a parameter the group
    does not set keeps the engine's default.
    """

    name: str
    family: str
    description: str = ""
    parameters: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    extra: Mapping[str, object] = extra_field()
