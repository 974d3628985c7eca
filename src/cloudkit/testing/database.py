"""The database conformance suite: what every provider's managed database instances must do.

Subclass :class:`DatabaseConformance` in a provider's tests (with a ``cloudkit_cloud`` fixture),
or run ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. The suite checks what the
API reports (states, snapshots, restores, replicas); reading rows back needs a client of the
engine and belongs in a provider's own tests. An operation the provider's capabilities exclude,
or one it reports ``NotSupported`` for the engine in use, is skipped with that reason.

Class attributes a provider may set:

``engine``
    The engine to create instances with (default: ``postgres`` when listed, else the first engine).
``master_password``
    The master password the suite uses (never printed).
``parameter_group_family``
    The parameter group family of ``engine`` on this provider (``postgres16``, ``mysql10.11``);
    the parameter group tests skip without it. A provider may override the fixture of that name.
``parameter_group_parameter``
    A dynamic parameter of that family and a valid value (default ``("max_connections", "50")``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import AlreadyExists, CloudkitError, InvalidInput, NotFound, NotSupported
from cloudkit.models.database import DatabaseInstance
from cloudkit.services.database import DatabaseService
from cloudkit.testing.helpers import Conformance, requires, unique_name

T = TypeVar("T")


def _attempt(call: Callable[[], T]) -> T:
    """Run ``call``; a ``NotSupported`` for the engine in use skips the test with its reason."""
    try:
        return call()
    except NotSupported as exc:
        pytest.skip(str(exc))


class DatabaseConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.DatabaseService`."""

    engine: ClassVar[str | None] = None
    master_password: ClassVar[str] = "Conformance-Pass-1"
    parameter_group_family: ClassVar[str | None] = None
    parameter_group_parameter: ClassVar[tuple[str, str]] = ("max_connections", "50")

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def database(self, cloudkit_cloud: Cloud) -> DatabaseService:
        """The database service under test."""
        return cloudkit_cloud.database

    @pytest.fixture
    def engine_name(self, cloudkit_cloud: Cloud, database: DatabaseService) -> str:
        """The engine instances are created with."""
        if self.engine is not None:
            return self.engine
        requires(cloudkit_cloud, "database", "list_engines")
        engines = list(database.list_engines())
        return "postgres" if "postgres" in engines else engines[0]

    @pytest.fixture
    def cleanup(self, database: DatabaseService) -> Iterator[dict[str, list[str]]]:
        """Names of instances and snapshots a test made, removed afterwards (instances first)."""
        made: dict[str, list[str]] = {"instances": [], "snapshots": []}
        yield made
        for ident in reversed(made["instances"]):
            try:
                database.delete_instance(ident)
            except CloudkitError:
                pass
        for snap in made["snapshots"]:
            try:
                database.delete_snapshot(snap)
            except CloudkitError:
                pass

    @pytest.fixture
    def instance(self, cloudkit_cloud: Cloud, database: DatabaseService, engine_name: str,
                 cleanup: dict[str, list[str]]) -> DatabaseInstance:
        """A fresh available instance (automated backups off, which keeps it quick to make)."""
        requires(cloudkit_cloud, "database", "create_instance", "delete_instance")
        ident = unique_name("ck")
        cleanup["instances"].append(ident)
        return self._create(database, ident, engine_name)

    @pytest.fixture
    def backed_up_instance(self, cloudkit_cloud: Cloud, database: DatabaseService, engine_name: str,
                           cleanup: dict[str, list[str]]) -> DatabaseInstance:
        """A fresh available instance with automated backups kept for a day."""
        requires(cloudkit_cloud, "database", "create_instance", "delete_instance")
        ident = unique_name("ck")
        cleanup["instances"].append(ident)
        return self._create(database, ident, engine_name, backup_retention_days=1)

    def _create(self, database: DatabaseService, ident: str, engine: str, **kw: Any) -> DatabaseInstance:
        return database.create_instance(ident, engine=engine, master_username="master", master_password=self.master_password,
                                        storage_gb=20, backup_retention_days=kw.pop("backup_retention_days", 0), **kw)

    # ------------------------------------------------------------ capabilities and input
    def test_capabilities_are_known_operations(self, database: DatabaseService) -> None:
        caps = database.capabilities()
        assert caps <= set(DatabaseService.OPERATIONS)
        for op in DatabaseService.OPERATIONS:
            assert database.supports(op) == (op in caps)

    def test_engines_are_listed(self, cloudkit_cloud: Cloud, database: DatabaseService) -> None:
        requires(cloudkit_cloud, "database", "list_engines")
        engines = list(database.list_engines())
        assert engines
        assert all(isinstance(e, str) and e == e.lower() for e in engines)

    def test_bad_input_is_rejected_before_any_call(self, database: DatabaseService) -> None:
        good: dict[str, Any] = {"engine": "postgres", "master_username": "master", "master_password": self.master_password}
        cases: list[tuple[str, dict[str, Any]]] = [
            ("identifier", {"identifier": "1starts-with-digit"}),
            ("identifier", {"identifier": "two--hyphens"}),
            ("master_password", {"master_password": "short"}),
            ("master_password", {"master_password": "has/slash-in-it"}),
            ("master_username", {"master_username": "9lives"}),
            ("storage_gb", {"storage_gb": 0}),
            ("backup_retention_days", {"backup_retention_days": 36}),
            ("maintenance_window", {"maintenance_window": "someday"}),
        ]
        for field, change in cases:
            args = {"identifier": "ck-valid", **good, **change}
            with pytest.raises(InvalidInput) as err:
                database.create_instance(args.pop("identifier"), **args)
            assert err.value.field == field
            assert self.master_password not in str(err.value)
        with pytest.raises(InvalidInput):
            database.modify_instance("ck-valid")  # nothing to change
        with pytest.raises(InvalidInput):
            database.list_snapshots(kind="weekly")

    # ------------------------------------------------------------ instances
    def test_instance_lifecycle(self, cloudkit_cloud: Cloud, database: DatabaseService, instance: DatabaseInstance,
                                engine_name: str) -> None:
        requires(cloudkit_cloud, "database", "get_instance", "list_instances")
        assert instance.status == "available"
        assert instance.engine == engine_name
        assert instance.master_username == "master"
        assert instance.backup_retention_days == 0
        assert self.master_password not in repr(instance)
        got = database.get_instance(instance.id)
        assert got.id == instance.id
        assert got.storage_gb == 20
        assert instance.id in {i.id for i in database.list_instances()}
        with pytest.raises(AlreadyExists):
            self._create(database, instance.id, engine_name)

    def test_modify_changes_only_what_is_given(self, cloudkit_cloud: Cloud, database: DatabaseService,
                                               instance: DatabaseInstance) -> None:
        requires(cloudkit_cloud, "database", "modify_instance")
        changed = database.modify_instance(instance, storage_gb=30,
                                           maintenance_window="mon:03:00-mon:03:30", instance_class="db.t3.small")
        assert changed.status == "available"
        got = database.get_instance(instance.id)
        assert (got.storage_gb, got.backup_retention_days, got.maintenance_window, got.instance_class) == (
            30, 0, "mon:03:00-mon:03:30", "db.t3.small")
        assert got.master_username == instance.master_username

    def test_modify_not_applied_immediately(self, cloudkit_cloud: Cloud, database: DatabaseService,
                                            instance: DatabaseInstance) -> None:
        requires(cloudkit_cloud, "database", "modify_instance", "get_instance")
        assert dict(instance.pending_modifications) == {}
        database.modify_instance(instance, storage_gb=30, maintenance_window="tue:04:00-tue:04:30", apply_immediately=False)
        got = database.get_instance(instance.id)
        assert isinstance(got.pending_modifications, Mapping)
        assert got.maintenance_window == "tue:04:00-tue:04:30"  # never deferred
        # deferred to the maintenance window (listed as pending), or applied at once where the provider does
        if "storage_gb" in got.pending_modifications:
            assert (got.pending_modifications["storage_gb"], got.storage_gb) == (30, 20)
        else:
            assert got.storage_gb == 30
        # applying immediately takes every pending change along
        done = database.modify_instance(instance, instance_class="db.t3.small")
        assert (done.storage_gb, done.instance_class) == (30, "db.t3.small")
        assert "storage_gb" not in done.pending_modifications

    def test_reboot_stop_start(self, cloudkit_cloud: Cloud, database: DatabaseService, instance: DatabaseInstance) -> None:
        requires(cloudkit_cloud, "database", "reboot_instance", "stop_instance", "start_instance")
        assert database.reboot_instance(instance).status == "available"
        assert database.stop_instance(instance).status == "stopped"
        assert database.get_instance(instance.id).status == "stopped"
        assert database.start_instance(instance).status == "available"

    def test_reboot_with_force_failover_needs_multi_az(self, cloudkit_cloud: Cloud, database: DatabaseService,
                                                       instance: DatabaseInstance) -> None:
        requires(cloudkit_cloud, "database", "reboot_instance")
        with pytest.raises(InvalidInput) as err:
            database.reboot_instance(instance, force_failover=True)
        assert err.value.field == "force_failover" or "failover" in str(err.value).lower()
        assert database.get_instance(instance.id).status == "available"

    def test_multi_az_failover(self, cloudkit_cloud: Cloud, database: DatabaseService, engine_name: str,
                               cleanup: dict[str, list[str]]) -> None:
        """Where the provider keeps a standby for the engine: create Multi-AZ, fail over, drop the standby."""
        requires(cloudkit_cloud, "database", "create_instance", "reboot_instance", "modify_instance", "delete_instance")
        ident = unique_name("ckmaz")
        cleanup["instances"].append(ident)
        made = _attempt(lambda: self._create(database, ident, engine_name, multi_az=True))
        assert made.multi_az and made.status == "available"
        assert made.secondary_zone is None or isinstance(made.secondary_zone, str)
        moved = database.reboot_instance(made, force_failover=True)
        assert (moved.status, moved.multi_az, moved.endpoint) == ("available", True, made.endpoint)
        single = database.modify_instance(moved, multi_az=False)
        assert not single.multi_az and single.secondary_zone is None
        with pytest.raises(InvalidInput):
            database.reboot_instance(single, force_failover=True)

    def test_delete_with_final_snapshot(self, cloudkit_cloud: Cloud, database: DatabaseService, engine_name: str,
                                        cleanup: dict[str, list[str]]) -> None:
        requires(cloudkit_cloud, "database", "create_instance", "delete_instance", "get_snapshot", "delete_snapshot")
        ident, final = unique_name("ck"), unique_name("ckfinal")
        cleanup["instances"].append(ident)
        cleanup["snapshots"].append(final)
        self._create(database, ident, engine_name, backup_retention_days=0)
        database.delete_instance(ident, final_snapshot=final)
        with pytest.raises(NotFound):
            database.get_instance(ident)
        snap = database.get_snapshot(final)
        assert snap.instance_id == ident
        assert snap.kind == "manual"
        assert snap.status == "available"

    def test_missing_resources_raise_not_found(self, cloudkit_cloud: Cloud, database: DatabaseService) -> None:
        requires(cloudkit_cloud, "database", "get_instance", "get_snapshot")
        with pytest.raises(NotFound):
            database.get_instance(unique_name("ck-missing"))
        with pytest.raises(NotFound):
            database.get_snapshot(unique_name("ck-missing"))

    # ------------------------------------------------------------ snapshots and restores
    def test_snapshot_and_restore(self, cloudkit_cloud: Cloud, database: DatabaseService, instance: DatabaseInstance,
                                  cleanup: dict[str, list[str]]) -> None:
        requires(cloudkit_cloud, "database", "create_snapshot", "list_snapshots", "restore_snapshot", "delete_snapshot")
        snap_id, restored_id = unique_name("cksnap"), unique_name("ckrestored")
        cleanup["snapshots"].append(snap_id)
        cleanup["instances"].append(restored_id)
        snap = database.create_snapshot(instance, snap_id)
        assert (snap.id, snap.instance_id, snap.kind, snap.status) == (snap_id, instance.id, "manual", "available")
        assert snap_id in {s.id for s in database.list_snapshots(instance, kind="manual")}
        with pytest.raises(AlreadyExists):
            database.create_snapshot(instance, snap_id)
        restored = database.restore_snapshot(snap, restored_id)
        assert restored.id == restored_id
        assert restored.engine == instance.engine
        assert restored.status == "available"
        assert restored.master_username == instance.master_username
        database.delete_snapshot(snap)
        assert snap_id not in {s.id for s in database.list_snapshots()}

    def test_point_in_time_restore(self, cloudkit_cloud: Cloud, database: DatabaseService,
                                   backed_up_instance: DatabaseInstance, cleanup: dict[str, list[str]]) -> None:
        requires(cloudkit_cloud, "database", "restore_to_point_in_time")
        instance = backed_up_instance
        ident = unique_name("ckpitr")
        cleanup["instances"].append(ident)
        restored = _attempt(lambda: database.restore_to_point_in_time(instance, ident))
        assert restored.id == ident
        assert restored.status == "available"
        assert restored.engine == instance.engine

    def test_read_replica_and_promotion(self, cloudkit_cloud: Cloud, database: DatabaseService, instance: DatabaseInstance,
                                        cleanup: dict[str, list[str]]) -> None:
        requires(cloudkit_cloud, "database", "create_read_replica", "promote_read_replica")
        ident = unique_name("ckreplica")
        cleanup["instances"].append(ident)
        replica = _attempt(lambda: database.create_read_replica(instance, ident))
        assert replica.replica_of == instance.id
        assert replica.status == "available"
        promoted = database.promote_read_replica(replica)
        assert promoted.replica_of is None
        assert database.get_instance(ident).replica_of is None

    # ------------------------------------------------------------ parameter groups
    @pytest.fixture
    def parameter_family(self) -> str:
        """The family parameter groups are made with (skips when the provider names none)."""
        if self.parameter_group_family is None:
            pytest.skip("parameter_group_family is not set for this provider")
        return self.parameter_group_family

    @pytest.fixture
    def groups(self, database: DatabaseService) -> Iterator[list[str]]:
        """Names of parameter groups a test made, removed afterwards."""
        made: list[str] = []
        yield made
        for name in made:
            try:
                database.delete_parameter_group(name)
            except CloudkitError:
                pass

    def test_parameter_group_lifecycle(self, cloudkit_cloud: Cloud, database: DatabaseService, parameter_family: str,
                                       groups: list[str]) -> None:
        requires(cloudkit_cloud, "database", "create_parameter_group", "get_parameter_group", "list_parameter_groups",
                 "modify_parameter_group", "reset_parameter_group", "delete_parameter_group")
        name = unique_name("ckpg")
        groups.append(name)
        group = database.create_parameter_group(name, family=parameter_family, description="conformance")
        assert (group.name, group.family, group.description, dict(group.parameters)) == (name, parameter_family, "conformance", {})
        assert database.get_parameter_group(name).name == name
        assert name in {g.name for g in database.list_parameter_groups()}
        with pytest.raises(AlreadyExists):
            database.create_parameter_group(name, family=parameter_family)
        key, value = self.parameter_group_parameter
        changed = database.modify_parameter_group(group, {key: value})
        assert dict(changed.parameters) == {key: value}
        assert dict(database.get_parameter_group(name).parameters) == {key: value}
        assert dict(database.reset_parameter_group(name, parameters=[key]).parameters) == {}
        database.modify_parameter_group(name, {key: value}, apply_method="pending-reboot")
        assert dict(database.reset_parameter_group(name).parameters) == {}
        database.delete_parameter_group(group)
        with pytest.raises(NotFound):
            database.get_parameter_group(name)
        with pytest.raises(InvalidInput) as err:
            database.modify_parameter_group(name, {key: value}, apply_method="later")
        assert err.value.field == "apply_method"
        with pytest.raises(InvalidInput) as err:
            database.modify_parameter_group(name, {"bad name!": "1"})
        assert err.value.field == "parameters"

    def test_parameter_group_attached_at_create(self, cloudkit_cloud: Cloud, database: DatabaseService, engine_name: str,
                                                parameter_family: str, groups: list[str],
                                                cleanup: dict[str, list[str]]) -> None:
        requires(cloudkit_cloud, "database", "create_parameter_group", "create_instance", "delete_instance")
        name = unique_name("ckpg")
        groups.append(name)
        group = database.create_parameter_group(name, family=parameter_family)
        ident = unique_name("ck")
        cleanup["instances"].append(ident)
        made = _attempt(lambda: self._create(database, ident, engine_name, parameter_group=group))
        assert made.parameter_group == name
        assert database.get_instance(ident).parameter_group == name

    def test_restore_takes_the_given_parameter_group(self, cloudkit_cloud: Cloud, database: DatabaseService,
                                                     instance: DatabaseInstance, parameter_family: str, groups: list[str],
                                                     cleanup: dict[str, list[str]]) -> None:
        requires(cloudkit_cloud, "database", "create_parameter_group", "create_snapshot", "restore_snapshot")
        name = unique_name("ckpg")
        groups.append(name)
        database.create_parameter_group(name, family=parameter_family)
        snap_id, plain_id, tuned_id = unique_name("cksnap"), unique_name("ckplain"), unique_name("cktuned")
        cleanup["snapshots"].append(snap_id)
        cleanup["instances"] += [plain_id, tuned_id]
        database.create_snapshot(instance, snap_id)
        tuned = database.restore_snapshot(snap_id, tuned_id, parameter_group=name)
        assert tuned.parameter_group == name
        assert database.get_instance(tuned_id).parameter_group == name
        assert database.restore_snapshot(snap_id, plain_id).parameter_group is None  # the engine's defaults
        with pytest.raises(InvalidInput) as err:
            database.restore_snapshot(snap_id, unique_name("ckbad"), parameter_group="bad--name")
        assert err.value.field == "parameter_group"
