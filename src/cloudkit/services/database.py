"""The database family: managed database servers, snapshots, restores and replicas (the RDS model)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, ClassVar

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.models.database import PARAMETER_APPLY_METHODS, DatabaseInstance, DatabaseParameterGroup, DatabaseSnapshot
from cloudkit.refs import DatabaseParameterGroupRef, DatabaseRef, DatabaseSnapshotRef, optional_ref, ref
from cloudkit.services.base import Service, operation

InstanceRef = DatabaseRef
SnapshotRef = DatabaseSnapshotRef
ParameterGroupRef = DatabaseParameterGroupRef


class DatabaseService(Service):
    """Managed database instances. Long operations wait by default (``wait=True``, ``timeout``)."""

    family: ClassVar[str] = "database"

    @operation()
    def list_engines(self) -> Iterator[str]:
        """Engines this provider can run here (``postgres``, ``mysql``, ``sqlite``...)."""
        return self._list_engines()

    @operation()
    def create_instance(
        self,
        identifier: str,
        *,
        engine: str,
        master_username: str,
        master_password: str,
        instance_class: str = "db.t3.micro",
        storage_gb: int = 20,
        engine_version: str | None = None,
        database_name: str | None = None,
        iops: int | None = None,
        multi_az: bool = False,
        backup_retention_days: int = 1,
        maintenance_window: str | None = None,
        backup_window: str | None = None,
        parameter_group: ParameterGroupRef | None = None,
        wait: bool = True,
        timeout: float = 1800,
    ) -> DatabaseInstance:
        """Create a database server; with ``wait`` return once it is ``available``.

        ``backup_window`` (``hh:mm-hh:mm`` UTC) is when the daily automated backup is taken
        (``None``: the provider picks one). ``multi_az`` asks for a synchronous standby in another
        zone that takes over on failure, where the provider has one.

        ``parameter_group`` names a parameter group of the engine's family whose settings the
        server starts with (``None``: the engine's defaults).
        """
        ident = v.db_identifier(identifier)
        eng = v.reference("engine", engine, max_len=64).lower()
        v.reference("instance_class", instance_class, max_len=64)
        if engine_version is not None:
            v.reference("engine_version", engine_version, max_len=64)
        if database_name is not None:
            v.db_username(database_name, "database_name")
        if iops is not None:
            v.int_range("iops", iops, 1000, 256000)
        return self._create_instance(
            ident,
            engine=eng,
            master_username=v.db_username(master_username),
            master_password=v.db_password(master_password),
            instance_class=instance_class,
            storage_gb=v.storage_gb(storage_gb),
            engine_version=engine_version,
            database_name=database_name,
            iops=iops,
            multi_az=bool(multi_az),
            backup_retention_days=v.retention_days(backup_retention_days),
            maintenance_window=v.maintenance_window(maintenance_window),
            backup_window=v.backup_window(backup_window),
            parameter_group=optional_ref(parameter_group, "parameter_group", DatabaseParameterGroup),
            wait=wait,
            timeout=v.timeout(timeout),
        )

    @operation()
    def get_instance(self, instance: InstanceRef) -> DatabaseInstance:
        """An instance by identifier, or ``NotFound``."""
        return self._get_instance(ref(instance, "instance", DatabaseInstance))

    @operation()
    def list_instances(self) -> Iterator[DatabaseInstance]:
        """All instances, lazily."""
        return self._list_instances()

    @operation()
    def modify_instance(
        self,
        instance: InstanceRef,
        *,
        instance_class: str | None = None,
        storage_gb: int | None = None,
        backup_retention_days: int | None = None,
        maintenance_window: str | None = None,
        master_password: str | None = None,
        parameter_group: ParameterGroupRef | None = None,
        backup_window: str | None = None,
        engine_version: str | None = None,
        allow_major_version_upgrade: bool = False,
        multi_az: bool | None = None,
        apply_immediately: bool = True,
        wait: bool = True,
        timeout: float = 1800,
    ) -> DatabaseInstance:
        """Change an instance's settings; only the arguments given change.

        A new ``parameter_group`` takes effect at the instance's next reboot (its
        ``parameter_status`` is ``pending-reboot`` until then), as on RDS. ``engine_version``
        upgrades the engine: a minor version always, a major one only with
        ``allow_major_version_upgrade`` and where the provider can do it (else ``NotSupported``
        saying so). ``multi_az`` adds or removes the standby.

        ``apply_immediately=False`` defers, as RDS does, the changes that can wait:
        ``instance_class``, ``storage_gb``, ``engine_version``, ``multi_az`` and turning automated
        backups on or off (``backup_retention_days`` from or to 0). They are listed in the
        instance's ``pending_modifications`` and applied in its next maintenance window (a reboot
        does not apply them). The other settings (``master_password``, ``backup_window``,
        ``maintenance_window``, ``parameter_group``, a retention change between two non-zero values)
        apply at once either way. ``apply_immediately=True`` applies the request and every pending
        change now.
        """
        changes: dict[str, object] = {}
        if instance_class is not None:
            changes["instance_class"] = v.reference("instance_class", instance_class, max_len=64)
        if storage_gb is not None:
            changes["storage_gb"] = v.storage_gb(storage_gb)
        if backup_retention_days is not None:
            changes["backup_retention_days"] = v.retention_days(backup_retention_days)
        if maintenance_window is not None:
            changes["maintenance_window"] = v.maintenance_window(maintenance_window)
        if master_password is not None:
            changes["master_password"] = v.db_password(master_password)
        if parameter_group is not None:
            changes["parameter_group"] = ref(parameter_group, "parameter_group", DatabaseParameterGroup)
        if backup_window is not None:
            changes["backup_window"] = v.backup_window(backup_window)
        if engine_version is not None:
            changes["engine_version"] = v.reference("engine_version", engine_version, max_len=64)
            changes["allow_major_version_upgrade"] = bool(allow_major_version_upgrade)
        if multi_az is not None:
            changes["multi_az"] = bool(multi_az)
        if not changes:
            raise InvalidInput("modify_instance", "give at least one setting to change")
        return self._modify_instance(ref(instance, "instance", DatabaseInstance), changes, apply_immediately, wait, v.timeout(timeout))

    @operation()
    def reboot_instance(
        self, instance: InstanceRef, *, force_failover: bool = False, wait: bool = True, timeout: float = 600
    ) -> DatabaseInstance:
        """Restart the server.

        ``force_failover`` reboots a Multi-AZ instance through a failover, as RDS's
        ``ForceFailover``: the standby is promoted and serves the instance's endpoint, and the old
        primary becomes the new standby. On an instance without Multi-AZ it is refused with
        ``InvalidInput`` (field ``force_failover``), as RDS refuses it.
        """
        if not isinstance(force_failover, bool):
            raise InvalidInput("force_failover", "must be true or false")
        return self._reboot_instance(ref(instance, "instance", DatabaseInstance), force_failover, wait, v.timeout(timeout))

    @operation()
    def stop_instance(self, instance: InstanceRef, *, wait: bool = True, timeout: float = 600) -> DatabaseInstance:
        """Stop the server; its data stays."""
        return self._stop_instance(ref(instance, "instance", DatabaseInstance), wait, v.timeout(timeout))

    @operation()
    def start_instance(self, instance: InstanceRef, *, wait: bool = True, timeout: float = 600) -> DatabaseInstance:
        """Start a stopped server."""
        return self._start_instance(ref(instance, "instance", DatabaseInstance), wait, v.timeout(timeout))

    @operation()
    def delete_instance(
        self, instance: InstanceRef, *, final_snapshot: str | None = None, wait: bool = True, timeout: float = 1800
    ) -> None:
        """Delete an instance, first taking ``final_snapshot`` when named."""
        snap = None if final_snapshot is None else v.db_identifier(final_snapshot, "final_snapshot")
        self._delete_instance(ref(instance, "instance", DatabaseInstance), snap, wait, v.timeout(timeout))

    # ---------------------------------------------------------------- snapshots
    @operation()
    def create_snapshot(self, instance: InstanceRef, snapshot_id: str, *, wait: bool = True, timeout: float = 1800) -> DatabaseSnapshot:
        """Take a manual snapshot."""
        ident = ref(instance, "instance", DatabaseInstance)
        return self._create_snapshot(ident, v.db_identifier(snapshot_id, "snapshot_id"), wait, v.timeout(timeout))

    @operation()
    def get_snapshot(self, snapshot: SnapshotRef) -> DatabaseSnapshot:
        """A snapshot by id, or ``NotFound``."""
        return self._get_snapshot(ref(snapshot, "snapshot", DatabaseSnapshot))

    @operation()
    def list_snapshots(self, instance: InstanceRef | None = None, *, kind: str | None = None) -> Iterator[DatabaseSnapshot]:
        """Snapshots (of one instance; ``kind`` ``manual`` or ``automated``), lazily."""
        k = None if kind is None else v.one_of("kind", kind, ("manual", "automated"))
        return self._list_snapshots(optional_ref(instance, "instance", DatabaseInstance), k)

    @operation()
    def delete_snapshot(self, snapshot: SnapshotRef) -> None:
        """Delete a snapshot."""
        self._delete_snapshot(ref(snapshot, "snapshot", DatabaseSnapshot))

    @operation()
    def copy_snapshot(
        self, snapshot: SnapshotRef, target_id: str, *, destination: object | None = None, wait: bool = True,
        timeout: float = 1800,
    ) -> DatabaseSnapshot:
        """Copy a snapshot to ``target_id`` in ``destination`` (a :class:`cloudkit.Cloud` or its database
        service, of the same provider: another region, profile or local root; ``None``: here).

        Returns the copy as ``destination`` reports it. Copying between providers is ``NotSupported``:
        dump and load the data instead (``cloudkit_contrib.dbdump``).
        """
        target = v.db_identifier(target_id, "target_id")
        dest: DatabaseService | None = None
        if destination is not None:
            found: object = getattr(destination, "database", destination)
            if not isinstance(found, DatabaseService):
                raise InvalidInput("destination", "must be a cloudkit.Cloud or its database service (or None)")
            dest = found
        return self._copy_snapshot(ref(snapshot, "snapshot", DatabaseSnapshot), target, dest, wait, v.timeout(timeout))

    @operation()
    def restore_snapshot(
        self,
        snapshot: SnapshotRef,
        identifier: str,
        *,
        instance_class: str | None = None,
        parameter_group: ParameterGroupRef | None = None,
        wait: bool = True,
        timeout: float = 1800,
    ) -> DatabaseInstance:
        """Create a new instance holding the snapshot's data.

        ``parameter_group`` names the group the new instance uses; ``None`` gives it the engine's
        defaults (as RDS does: the snapshot's instance's group is not carried over).
        """
        cls = None if instance_class is None else v.reference("instance_class", instance_class, max_len=64)
        group = optional_ref(parameter_group, "parameter_group", DatabaseParameterGroup)
        return self._restore_snapshot(ref(snapshot, "snapshot", DatabaseSnapshot), v.db_identifier(identifier), cls, wait,
                                      v.timeout(timeout), parameter_group=group)

    @operation()
    def restore_to_point_in_time(
        self,
        source: InstanceRef,
        identifier: str,
        *,
        time: datetime | None = None,
        parameter_group: ParameterGroupRef | None = None,
        wait: bool = True,
        timeout: float = 1800,
    ) -> DatabaseInstance:
        """Create a new instance holding ``source``'s data as of ``time`` (``None``: latest restorable).

        ``parameter_group`` names the group the new instance uses; ``None`` gives it the engine's
        defaults (as RDS does: ``source``'s group is not carried over).
        """
        when = None if time is None else v.aware_datetime("time", time)
        group = optional_ref(parameter_group, "parameter_group", DatabaseParameterGroup)
        return self._restore_to_point_in_time(ref(source, "source", DatabaseInstance), v.db_identifier(identifier), when, wait,
                                              v.timeout(timeout), parameter_group=group)

    @operation()
    def create_read_replica(
        self, source: InstanceRef, identifier: str, *, instance_class: str | None = None, wait: bool = True, timeout: float = 1800
    ) -> DatabaseInstance:
        """Create a read replica that streams ``source``'s writes.

        The replica uses ``source``'s parameter group, as an RDS replica in the source's region
        does (RDS takes no other group for such a replica of MySQL or PostgreSQL).
        """
        cls = None if instance_class is None else v.reference("instance_class", instance_class, max_len=64)
        return self._create_read_replica(ref(source, "source", DatabaseInstance), v.db_identifier(identifier), cls, wait, v.timeout(timeout))

    @operation()
    def promote_read_replica(self, replica: InstanceRef, *, wait: bool = True, timeout: float = 1800) -> DatabaseInstance:
        """Turn a replica into a standalone, writable instance."""
        return self._promote_read_replica(ref(replica, "replica", DatabaseInstance), wait, v.timeout(timeout))

    # ---------------------------------------------------------------- parameter groups
    @operation()
    def create_parameter_group(self, name: str, *, family: str, description: str = "") -> DatabaseParameterGroup:
        """Create an empty parameter group for the engine ``family`` (``mysql10.11``, ``postgres15``...)."""
        if not isinstance(description, str) or len(description) > 255 or not description.isprintable():
            raise InvalidInput("description", "must be text of at most 255 printable characters")
        return self._create_parameter_group(v.db_parameter_group_name(name, "name"), v.db_family(family), description)

    @operation()
    def get_parameter_group(self, group: ParameterGroupRef) -> DatabaseParameterGroup:
        """A parameter group by name, or ``NotFound``."""
        return self._get_parameter_group(ref(group, "group", DatabaseParameterGroup))

    @operation()
    def list_parameter_groups(self) -> Iterator[DatabaseParameterGroup]:
        """Every parameter group this account made, lazily (the provider's built-in defaults are not listed)."""
        return self._list_parameter_groups()

    @operation()
    def modify_parameter_group(
        self, group: ParameterGroupRef, parameters: Mapping[str, str | int | float | bool], *, apply_method: str = "immediate"
    ) -> DatabaseParameterGroup:
        """Set ``parameters`` in the group; instances using it get them as ``apply_method`` says.

        ``immediate`` applies a dynamic parameter to running instances at once (a static one is
        refused with ``InvalidInput``); ``pending-reboot`` applies at each instance's next reboot.
        """
        method = v.one_of("apply_method", apply_method, PARAMETER_APPLY_METHODS)
        return self._modify_parameter_group(ref(group, "group", DatabaseParameterGroup), v.db_parameters(parameters), method)

    @operation()
    def reset_parameter_group(
        self, group: ParameterGroupRef, *, parameters: Iterable[str] | None = None, apply_method: str = "immediate"
    ) -> DatabaseParameterGroup:
        """Return ``parameters`` (``None``: all of them) to the engine's defaults, applied as ``apply_method`` says."""
        method = v.one_of("apply_method", apply_method, PARAMETER_APPLY_METHODS)
        names = None if parameters is None else v.db_parameter_names(parameters)
        return self._reset_parameter_group(ref(group, "group", DatabaseParameterGroup), names, method)

    @operation()
    def delete_parameter_group(self, group: ParameterGroupRef) -> None:
        """Delete a parameter group no instance uses (else ``Conflict``)."""
        self._delete_parameter_group(ref(group, "group", DatabaseParameterGroup))

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _list_engines(self) -> Iterator[str]:
            ...

        def _create_instance(self, identifier: str, **kw: object) -> DatabaseInstance:
            """Keyword arguments as :meth:`create_instance` passes them, already validated."""
            ...

        def _get_instance(self, identifier: str) -> DatabaseInstance:
            ...

        def _list_instances(self) -> Iterator[DatabaseInstance]:
            ...

        def _modify_instance(
            self, identifier: str, changes: dict[str, object], apply_immediately: bool, wait: bool, timeout: float
        ) -> DatabaseInstance:
            ...

        def _reboot_instance(self, identifier: str, force_failover: bool, wait: bool, timeout: float) -> DatabaseInstance:
            """``force_failover``: reboot a Multi-AZ instance through a failover (``InvalidInput`` without Multi-AZ)."""
            ...

        def _stop_instance(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
            ...

        def _start_instance(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
            ...

        def _delete_instance(self, identifier: str, final_snapshot: str | None, wait: bool, timeout: float) -> None:
            ...

        def _create_snapshot(self, identifier: str, snapshot_id: str, wait: bool, timeout: float) -> DatabaseSnapshot:
            ...

        def _get_snapshot(self, snapshot_id: str) -> DatabaseSnapshot:
            ...

        def _list_snapshots(self, identifier: str | None, kind: str | None) -> Iterator[DatabaseSnapshot]:
            ...

        def _delete_snapshot(self, snapshot_id: str) -> None:
            ...

        def _copy_snapshot(self, snapshot_id: str, target_id: str, destination: DatabaseService | None, wait: bool,
                           timeout: float) -> DatabaseSnapshot:
            """``destination``: the destination's database service (``None``: this one)."""
            ...

        def _restore_snapshot(self, snapshot_id: str, identifier: str, instance_class: str | None, wait: bool, timeout: float,
                              *, parameter_group: str | None) -> DatabaseInstance:
            """``parameter_group``: the new instance's group (``None``: the engine's defaults)."""
            ...

        def _restore_to_point_in_time(self, source: str, identifier: str, time: datetime | None, wait: bool, timeout: float,
                                      *, parameter_group: str | None) -> DatabaseInstance:
            """``parameter_group``: the new instance's group (``None``: the engine's defaults)."""
            ...

        def _create_read_replica(self, source: str, identifier: str, instance_class: str | None, wait: bool, timeout: float) -> DatabaseInstance:
            ...

        def _promote_read_replica(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
            ...

        def _create_parameter_group(self, name: str, family: str, description: str) -> DatabaseParameterGroup:
            ...

        def _get_parameter_group(self, name: str) -> DatabaseParameterGroup:
            ...

        def _list_parameter_groups(self) -> Iterator[DatabaseParameterGroup]:
            ...

        def _modify_parameter_group(self, name: str, parameters: dict[str, str], apply_method: str) -> DatabaseParameterGroup:
            """``parameters`` validated (names in lower case, values as text)."""
            ...

        def _reset_parameter_group(self, name: str, parameters: list[str] | None, apply_method: str) -> DatabaseParameterGroup:
            ...

        def _delete_parameter_group(self, name: str) -> None:
            ...

















