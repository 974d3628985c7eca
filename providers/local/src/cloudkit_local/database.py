"""The local provider's database family: real database servers on this machine (the RDS model).

Engines, one module each behind one interface (:class:`cloudkit_local.db.base.Engine`); this
module keeps the family's logic and never branches on the engine:

- ``sqlite`` always (:mod:`cloudkit_local.db.sqlite`): one SQLite file, no server.
- ``postgres`` when PostgreSQL's server binaries are installed (:mod:`cloudkit_local.db.postgres`).
- ``mysql`` (alias ``mariadb``) when MariaDB's server is installed (:mod:`cloudkit_local.db.mysql`).

Automated backups: one when the instance is created (with ``backup_retention_days`` > 0) and then
one a day (:meth:`LocalDatabase.run_backups`, run by a timer every ``backup_check_interval``
seconds, 3600 by default, 0 to turn it off); automated snapshots older than the retention period
are removed, and archived log older than the oldest kept backup.

Maintenance window: changes made with ``modify_instance(..., apply_immediately=False)`` wait in
the instance's ``pending_modifications`` and are applied inside its weekly ``maintenance_window``
(:meth:`LocalDatabase.run_maintenance`, run by the same timer, which also wakes when a window
with pending changes opens).

State lives in ``<root>/database/state.db`` (mode 0600); master passwords only in
``<root>/database/secrets/*.json`` (mode 0600), never in a model, a log or an error.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound, NotSupported, Timeout
from cloudkit.models.database import DatabaseInstance, DatabaseParameterGroup, DatabaseSnapshot, Endpoint
from cloudkit.paging import paginate
from cloudkit.services.database import DatabaseService
from cloudkit_local._root import Database, root_from, write_atomic
from cloudkit_local.db import ENGINE_CLASSES, standby
from cloudkit_local.db.base import Engine
from cloudkit_local.errors import LocalErrors, mapped

PAGE = 100
UNSUPPORTED_ENGINES = ("aurora", "aurora-mysql", "aurora-postgresql", "oracle", "sqlserver")
DAY = 86400.0
WEEK = 7 * DAY
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: what ``modify_instance(apply_immediately=False)`` defers to the maintenance window, as RDS does
#: (``backup_retention_days`` too when it turns backups on or off)
DEFERRABLE = ("instance_class", "storage_gb", "engine_version", "allow_major_version_upgrade", "multi_az")
TRANSITIONAL = ("creating", "modifying", "rebooting", "stopping", "starting", "deleting")

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY, engine TEXT NOT NULL, status TEXT NOT NULL, record TEXT NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS snapshots (
    id TEXT PRIMARY KEY, instance_id TEXT NOT NULL, engine TEXT NOT NULL, kind TEXT NOT NULL, status TEXT NOT NULL,
    record TEXT NOT NULL, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS snapshots_instance ON snapshots (instance_id, created_at);
CREATE TABLE IF NOT EXISTS parameter_groups (
    name TEXT PRIMARY KEY, family TEXT NOT NULL, description TEXT NOT NULL, parameters TEXT NOT NULL, created_at REAL NOT NULL);
"""


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _not_found(kind: str, ident: str) -> NotFound:
    code = "DBInstanceNotFound" if kind == "instance" else "DBSnapshotNotFound"
    return NotFound(f"database {kind} {ident!r} does not exist", provider="local", code=code)


class LocalDatabase(LocalErrors, DatabaseService):
    """Database instances served by real servers under the local root."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__("local", settings)
        self.root = root_from(self.settings)
        self.folder = self.root / "database"
        self.secrets = self.folder / "secrets"
        with mapped("create database folder"):
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.secrets.mkdir(exist_ok=True, mode=0o700)
            os.chmod(self.secrets, 0o700)
        state = self.folder / "state.db"
        with mapped("create database state"):
            if not state.exists():
                os.close(os.open(state, os.O_WRONLY | os.O_CREAT, 0o600))
            os.chmod(state, 0o600)
        self.db = Database(state, SCHEMA)
        self.engines: dict[str, Engine] = {cls.name: cls(self) for cls in ENGINE_CLASSES}
        self.aliases = {alias: e.name for e in self.engines.values() for alias in e.aliases}
        #: why PostgreSQL cannot run here ("" when it can)
        self.postgres_reason = self.engines["postgres"].reason
        for op, capable in (("restore_to_point_in_time", "point_in_time"), ("create_read_replica", "replicas"),
                            ("promote_read_replica", "replicas")):
            able = [e for e in self.engines.values() if getattr(e, capable)]
            if able and not any(e.available for e in able):
                self.unsupported[op] = "; ".join(e.reason for e in able)
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        self._recover()
        interval = float(self.settings.get("backup_check_interval", 3600))
        if interval > 0:
            self._timer = threading.Thread(target=self._backup_loop, args=(interval,), name="cloudkit-db-backups", daemon=True)
            self._timer.start()

    def __repr__(self) -> str:
        return f"<LocalDatabase root={str(self.root)!r}>"

    # ------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Wait for background operations and stop the backup timer; servers keep running."""
        self._stop.set()
        for thread in list(self._threads):
            thread.join()
        if self._timer is not None:
            self._timer.join(timeout=30)
        self.db.close()

    def _recover(self) -> None:
        """Finish or undo what a process that died left half done (instances and snapshots)."""
        for row in self.db.query("SELECT id FROM instances ORDER BY id"):
            rec = self._load(row["id"])
            pid = rec.get("busy_pid")
            if rec["status"] not in TRANSITIONAL or not pid or _alive(int(pid)):
                continue
            if rec["status"] in ("creating", "deleting"):
                self._discard(rec)  # a half-made instance, or one that was being removed: remove it
                continue
            if standby.resumable(rec):  # a failover cut short: finish it (or say failed), never two primaries
                self._set_status(rec, standby.recover(self._engine(rec), rec))
                continue
            try:
                standby.tidy(self._engine(rec), rec)  # a standby half added or half removed goes
            except CloudkitError:
                pass  # (stays recorded: the next recovery, a delete or modify_instance(multi_az=...) removes it)
            running = self._engine(rec).running(rec)
            self._set_status(rec, "available" if running else "stopped")
        for row in self.db.query("SELECT * FROM snapshots WHERE status = 'creating'"):
            snap = self._snap_rec(row)
            if snap.get("busy_pid") and not _alive(int(snap["busy_pid"])):
                self._remove_snapshot(snap)

    def _backup_loop(self, interval: float) -> None:
        delay = min(interval, 60.0)
        while not self._stop.wait(delay):
            try:
                self.run_backups()
            except CloudkitError:
                pass
            try:
                self.run_maintenance()
            except CloudkitError:
                pass
            # wake at the next backup or maintenance window's opening when that comes before the next check
            now = time.time()
            delay = min(interval, self._until_next_window(now) + 1.0, self._until_next_maintenance(now) + 1.0)

    def _until_next_maintenance(self, moment: float) -> float:
        """Seconds until the earliest maintenance window of an instance with pending changes opens next."""
        return self._until_next_opening(moment, "maintenance_window", "pending_modifications", _maintenance_start, WEEK)

    def _until_next_window(self, moment: float) -> float:
        """Seconds until the earliest backup window of an instance with backups opens next."""
        return self._until_next_opening(moment, "backup_window", "backup_retention_days", _window_start, DAY)

    def _until_next_opening(self, moment: float, window: str, work: str, start_of: Callable[[str, float], float],
                            period: float) -> float:
        """Seconds until the earliest ``window`` of an instance with ``work`` to do opens (at most ``period``)."""
        best = period
        for row in self.db.query("SELECT record FROM instances"):
            rec = json.loads(row["record"])
            if rec.get(work) and rec.get(window):
                start = start_of(str(rec[window]), moment)
                best = min(best, (start + period - moment) % period or period)
        return best

    def _engine(self, rec: Mapping[str, Any] | str) -> Engine:
        """The engine of an instance or snapshot record (or by name)."""
        name = rec if isinstance(rec, str) else str(rec["engine"])
        return self.engines[name]

    # ------------------------------------------------------------ state
    def _load(self, ident: str) -> dict[str, Any]:
        rows = self.db.query("SELECT * FROM instances WHERE id = ?", (ident,))
        if not rows:
            raise _not_found("instance", ident)
        rec: dict[str, Any] = json.loads(rows[0]["record"])
        rec.update(id=rows[0]["id"], engine=rows[0]["engine"], status=rows[0]["status"], created_at=rows[0]["created_at"])
        return rec

    def _save(self, rec: Mapping[str, Any]) -> None:
        body = {k: v for k, v in rec.items() if k not in ("id", "engine", "status", "created_at")}
        # who is in the middle of changing it: a service that finds the process gone finishes or undoes it
        body["busy_pid"] = os.getpid() if rec["status"] in TRANSITIONAL else None
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO instances (id, engine, status, record, created_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record",
                (rec["id"], rec["engine"], rec["status"], json.dumps(body), rec["created_at"]),
            )

    def _set_status(self, rec: dict[str, Any], status: str) -> None:
        rec["status"] = status
        self._save(rec)

    def _load_snapshot(self, snap_id: str) -> dict[str, Any]:
        rows = self.db.query("SELECT * FROM snapshots WHERE id = ?", (snap_id,))
        if not rows:
            raise _not_found("snapshot", snap_id)
        return self._snap_rec(rows[0])

    @staticmethod
    def _snap_rec(row: Any) -> dict[str, Any]:
        rec: dict[str, Any] = json.loads(row["record"])
        rec.update(id=row["id"], instance_id=row["instance_id"], engine=row["engine"], kind=row["kind"],
                   status=row["status"], created_at=row["created_at"])
        return rec

    def _save_snapshot(self, rec: Mapping[str, Any]) -> None:
        keys = ("id", "instance_id", "engine", "kind", "status", "created_at")
        body = {k: v for k, v in rec.items() if k not in keys}
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO snapshots (id, instance_id, engine, kind, status, record, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET status = excluded.status, record = excluded.record,"
                " created_at = excluded.created_at",
                (rec["id"], rec["instance_id"], rec["engine"], rec["kind"], rec["status"], json.dumps(body), rec["created_at"]),
            )

    def _secret_path(self, kind: str, ident: str) -> Path:
        return self.secrets / f"{kind}-{ident}.json"

    def _write_secret(self, kind: str, ident: str, password: str) -> None:
        path = self._secret_path(kind, ident)
        with mapped("store the master password"):
            write_atomic(path, json.dumps({"master_password": password}))

    def _read_secret(self, kind: str, ident: str) -> str:
        with mapped("read the master password"):
            return str(json.loads(self._secret_path(kind, ident).read_text())["master_password"])

    def _drop_secret(self, kind: str, ident: str) -> None:
        with mapped("remove a stored password"):
            self._secret_path(kind, ident).unlink(missing_ok=True)

    # ------------------------------------------------------------ models
    def _live_status(self, rec: Mapping[str, Any]) -> str:
        status = str(rec["status"])
        if status == "available" and not self._engine(rec).running(rec):
            return "stopped"  # the server went away (machine restarted, process killed): start_instance restarts it
        return status

    def _latest_restorable(self, rec: Mapping[str, Any]) -> float | None:
        engine = self._engine(rec)
        if not engine.point_in_time or not rec.get("backup_retention_days"):
            return None
        return engine.latest_restorable(rec, self._snapshots_of(rec, "any"))

    def _model(self, rec: Mapping[str, Any]) -> DatabaseInstance:
        endpoint = Endpoint("127.0.0.1", int(rec["port"])) if rec.get("port") else None
        extra: dict[str, Any] = {"dir": rec.get("dir"), **self._engine(rec).model_extra(rec)}
        pending = {k: v for k, v in (rec.get("pending_modifications") or {}).items() if k != "allow_major_version_upgrade"}
        return DatabaseInstance(
            id=rec["id"], engine=rec["engine"], status=self._live_status(rec), instance_class=rec.get("instance_class"),
            engine_version=rec.get("engine_version"), storage_gb=rec.get("storage_gb"), endpoint=endpoint,
            master_username=rec.get("master_username"), database_name=rec.get("database_name"),
            multi_az=bool(rec.get("multi_az")), iops=rec.get("iops"), backup_retention_days=int(rec.get("backup_retention_days") or 0),
            maintenance_window=rec.get("maintenance_window"), replica_of=rec.get("replica_of"),
            backup_window=rec.get("backup_window"), created_at=_dt(rec["created_at"]),
            latest_restorable_time=_dt(self._latest_restorable(rec)), parameter_group=rec.get("parameter_group"),
            parameter_status=rec.get("parameter_status"), pending_modifications=pending,
            **standby.model_fields(rec), extra=extra,
        )

    @staticmethod
    def _snap_model(rec: Mapping[str, Any]) -> DatabaseSnapshot:
        return DatabaseSnapshot(
            id=rec["id"], instance_id=rec["instance_id"], engine=rec["engine"], status=rec["status"], kind=rec["kind"],
            storage_gb=rec.get("storage_gb"), created_at=_dt(rec["created_at"]),
            extra={"path": rec.get("path"), "engine_version": rec.get("engine_version"), "method": rec.get("method")},
        )

    def _snapshots_of(self, rec: Mapping[str, Any], kind: str) -> list[dict[str, Any]]:
        rows = self.db.query("SELECT * FROM snapshots WHERE instance_id = ? AND status = 'available' ORDER BY created_at",
                             (rec["id"],))
        out = []
        for row in rows:
            snap = self._snap_rec(row)
            if snap.get("instance_uid") != rec.get("uid") or (kind != "any" and snap["kind"] != kind):
                continue
            snap["record_backup_time"] = snap.get("backup_time", snap["created_at"])
            out.append(snap)
        return out

    # ------------------------------------------------------------ running operations
    def _run(self, rec: dict[str, Any], work: Callable[[], None], wait: bool, *, undo: Callable[[], None] | None = None,
             after: str = "available") -> DatabaseInstance:
        """Run ``work`` now (``wait``) or on a background thread; record ``after`` or ``failed``."""

        def go() -> None:
            with self._lock:
                try:
                    work()
                except Timeout as exc:
                    # The wait rule (cloudkit.provider): a timeout deletes and undoes nothing. The
                    # instance stays, marked failed so that it can be inspected and deleted.
                    self._set_status(rec, "failed" if self._engine(rec).server else "available")
                    raise Timeout(f"database instance {rec['id']!r}: {exc}; it is left in place, now "
                                  f"{self._live_status(rec)} (delete_instance removes it)", provider="local") from exc
                except BaseException:
                    if undo is not None:
                        undo()
                    else:
                        self._set_status(rec, "failed" if self._engine(rec).server else "available")
                    raise
                if after:
                    self._set_status(rec, after)

        if wait:
            go()
            return self._model(self._load(rec["id"]) if after else rec)

        def background() -> None:
            try:
                go()
            except CloudkitError:
                pass  # recorded in the instance's status

        thread = threading.Thread(target=background, name=f"cloudkit-db-{rec['id']}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return self._model(rec)

    # ------------------------------------------------------------ engines
    def _list_engines(self) -> Iterator[str]:
        return iter(sorted(name for name, engine in self.engines.items() if engine.available))

    def _check_engine(self, engine: str, version: str | None) -> tuple[str, str]:
        engine = self.aliases.get(engine, engine)
        if engine in UNSUPPORTED_ENGINES:
            raise NotSupported("local", "database.create_instance",
                               f"engine {engine!r} is not available on the local provider; use one of {', '.join(self.engines)}")
        if engine not in self.engines:
            raise InvalidInput("engine", f"must be one of {', '.join(self.engines)} on the local provider (got {engine!r})")
        self.engines[engine].require(f"database.{engine}")
        installed = self.engines[engine].version
        if version is not None and not (installed == version or installed.startswith(str(version) + ".")):
            raise InvalidInput("engine_version", f"must be the installed {engine} version {installed} (or a prefix of it)")
        return engine, installed

    # ------------------------------------------------------------ instances
    def _create_instance(self, identifier: str, **kw: Any) -> DatabaseInstance:
        engine, version = self._check_engine(str(kw["engine"]), kw.get("engine_version"))
        if kw.get("multi_az"):
            standby.check(self.engines[engine], "create_instance")
        with self._lock:
            if self.db.query("SELECT 1 FROM instances WHERE id = ?", (identifier,)):
                raise AlreadyExists(f"database instance {identifier!r} already exists", provider="local",
                                    code="DBInstanceAlreadyExists")
            rec = self._new_record(identifier, engine, version, kw)
            if kw.get("parameter_group"):
                self._attach(rec, str(kw["parameter_group"]), "in-sync")
            self._write_secret("instance", identifier, str(kw["master_password"]))
            self._save(rec)
        password = str(kw["master_password"])

        def work() -> None:
            self.engines[engine].create(rec, password, float(kw["timeout"]))
            if rec["multi_az"]:
                self.engines[engine].add_standby(rec, float(kw["timeout"]))
            self._set_status(rec, "available")
            if rec["backup_retention_days"]:
                self._backup(rec, f"{identifier[:40]}-auto-{_stamp()}", "automated", float(kw["timeout"]))

        return self._run(rec, work, bool(kw["wait"]), undo=lambda: self._discard(rec))

    def _new_record(self, identifier: str, engine: str, version: str, kw: Mapping[str, Any]) -> dict[str, Any]:
        idir = self.engines[engine].place() / "instances" / identifier
        rec: dict[str, Any] = {
            "id": identifier, "engine": engine, "status": "creating", "created_at": time.time(), "uid": uuid.uuid4().hex,
            "instance_class": kw.get("instance_class") or "db.t3.micro", "engine_version": version,
            "storage_gb": kw.get("storage_gb"), "master_username": kw.get("master_username"),
            "database_name": kw.get("database_name"), "multi_az": bool(kw.get("multi_az")), "iops": kw.get("iops"),
            "backup_retention_days": int(kw.get("backup_retention_days") or 0),
            "maintenance_window": kw.get("maintenance_window") or "sun:05:00-sun:05:30",
            "backup_window": kw.get("backup_window") or "03:00-03:30",
            "replica_of": None, "dir": str(idir), "port": None, "archive": str(idir / "archive"),
        }
        self.engines[engine].new_record(rec, kw)
        return rec

    def _discard(self, rec: Mapping[str, Any]) -> None:
        """Undo a failed create/restore: stop what started, remove its files, state and password."""
        self._engine(rec).destroy(rec)
        for snap in self.db.query("SELECT * FROM snapshots WHERE instance_id = ? AND kind = 'automated'", (rec["id"],)):
            self._remove_snapshot(self._snap_rec(snap))
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM instances WHERE id = ?", (rec["id"],))
        self._drop_secret("instance", rec["id"])
        self._drop_secret("replication", rec["id"])
        self._tidy()

    def _tidy(self) -> None:
        """Tell each engine how many of its instances and snapshots are left (to remove empty folders)."""
        for name, engine in self.engines.items():
            left = self.db.query("SELECT (SELECT COUNT(*) FROM instances WHERE engine = ?)"
                                 " + (SELECT COUNT(*) FROM snapshots WHERE engine = ?)", (name, name))[0][0]
            engine.tidy(int(left))

    def _get_instance(self, identifier: str) -> DatabaseInstance:
        return self._model(self._load(identifier))

    def _list_instances(self) -> Iterator[DatabaseInstance]:
        def fetch(after: str | None) -> tuple[list[DatabaseInstance], str | None]:
            rows = self.db.query("SELECT id FROM instances WHERE id > ? ORDER BY id LIMIT ?", (after or "", PAGE))
            out = []
            for row in rows:
                try:
                    out.append(self._model(self._load(row["id"])))
                except NotFound:
                    continue  # deleted meanwhile
            return out, (rows[-1]["id"] if len(rows) == PAGE else None)

        return paginate(fetch)

    def _require(self, rec: Mapping[str, Any], *states: str) -> None:
        status = self._live_status(rec)
        if status not in states:
            raise Conflict(f"database instance {rec['id']!r} is {status}; this needs it {' or '.join(states)}",
                           provider="local", code="InvalidDBInstanceState")

    def _modify_instance(self, identifier: str, changes: dict[str, object], apply_immediately: bool, wait: bool,
                         timeout: float) -> DatabaseInstance:
        with self._lock:
            rec = self._load(identifier)
            self._require(rec, "available", "stopped")
            changes = self._defer(rec, changes, apply_immediately)
            password = changes.pop("master_password", None)
            if password is not None and self._engine(rec).password_needs_server():
                self._require(rec, "available")
            old_retention = int(rec.get("backup_retention_days") or 0)
            multi_az = standby.wanted_change(self._engine(rec), rec, changes.pop("multi_az", None), self._live_status(rec))
            upgrade = self._version_change(rec, changes.pop("engine_version", None), bool(changes.pop("allow_major_version_upgrade", False)))
            group = changes.pop("parameter_group", None)
            if group is not None and group != rec.get("parameter_group"):
                # as on RDS, a new group applies at the next reboot (a stopped server gets it when it starts)
                self._attach(rec, str(group), "pending-reboot" if self._live_status(rec) == "available" else "in-sync")
            rec.update(changes)
            self._set_status(rec, "modifying" if self._live_status(rec) == "available" else rec["status"])
            final = "available" if rec["status"] == "modifying" else rec["status"]

        def work() -> None:
            if multi_az is not None:
                standby.apply_change(self._engine(rec), rec, multi_az, timeout)
            if upgrade is not None:
                self._engine(rec).upgrade(rec, timeout, running=final == "available")
                rec["engine_version"] = upgrade
            if password is not None:
                self._engine(rec).set_password(rec, str(password))
                self._write_secret("instance", rec["id"], str(password))
            retention = int(rec.get("backup_retention_days") or 0)
            if retention == 0 and old_retention:
                for snap in self._snapshots_of(rec, "automated"):
                    self._remove_snapshot(snap)
            elif retention and not old_retention and final == "available":
                self._set_status(rec, "available")
                self._backup(rec, f"{rec['id'][:40]}-auto-{_stamp()}", "automated", timeout)

        return self._run(rec, work, wait, after=final)

    def _defer(self, rec: dict[str, Any], changes: dict[str, object], apply_immediately: bool) -> dict[str, object]:
        """Split ``changes`` as RDS does: what applies now is returned, what waits goes to ``rec``'s
        ``pending_modifications``; applying immediately takes every pending change along."""
        pending: dict[str, object] = dict(rec.get("pending_modifications") or {})
        if apply_immediately:
            rec["pending_modifications"] = {}
            if pending.get("engine_version") is not None and "engine_version" in changes:
                pending.pop("allow_major_version_upgrade", None)  # the request's own upgrade replaces the pending one
            return {**pending, **changes}
        now = dict(changes)
        deferred = {k: now.pop(k) for k in DEFERRABLE if k in now}
        retention = now.get("backup_retention_days")
        if retention is not None and (int(str(retention)) == 0) != (not rec.get("backup_retention_days")):
            deferred["backup_retention_days"] = now.pop("backup_retention_days")  # backups on or off: in the window
        # refusals come now, not in the window
        if "multi_az" in deferred and standby.wanted_change(self._engine(rec), rec, deferred["multi_az"], "available") is None:
            deferred.pop("multi_az")  # already so: nothing waits (an engine without a standby is refused now)
        if "engine_version" in deferred and self._version_change(
                rec, deferred["engine_version"], bool(deferred.get("allow_major_version_upgrade"))) is None:
            deferred.pop("engine_version")  # already at that version: nothing waits
            deferred.pop("allow_major_version_upgrade", None)
        rec["pending_modifications"] = {**pending, **deferred}
        return now

    def run_maintenance(self, now: datetime | None = None) -> list[str]:
        """Apply the pending modifications of instances whose maintenance window is open; their ids.

        ``now`` is the time the run acts as. An instance that is not available or stopped keeps its
        pending changes for its next window; one whose changes fail does not stop the others (a
        refusal leaves its changes pending, a failure while applying them marks it ``failed``).
        """
        moment = (now or datetime.now(UTC)).timestamp()
        done: list[str] = []
        with self._lock:
            for row in self.db.query("SELECT id FROM instances ORDER BY id"):
                rec = self._load(row["id"])
                window = str(rec.get("maintenance_window") or "")
                if not rec.get("pending_modifications") or not window or self._live_status(rec) not in ("available", "stopped"):
                    continue
                if moment - _maintenance_start(window, moment) >= _maintenance_length(window):
                    continue
                try:
                    self._modify_instance(rec["id"], {}, True, True, 1800)
                except CloudkitError:
                    continue  # refused: the changes stay pending; failed while applied: the status says so
                done.append(rec["id"])
        return done

    def _version_change(self, rec: Mapping[str, Any], wanted: object, allow_major: bool) -> str | None:
        """The installed version ``rec`` moves to (``None``: no change); refusals name the reason."""
        if wanted is None:
            return None
        engine = self._engine(rec)
        installed, current = engine.version, str(rec.get("engine_version") or "")
        if not (installed == wanted or installed.startswith(str(wanted) + ".")):
            if engine.major(str(wanted)) != engine.major(current):
                raise NotSupported("local", "database.modify_instance",
                                   f"a major version upgrade of {rec['engine']} from {current} to {wanted} cannot be done on the "
                                   f"local provider (only {installed} is installed): dump and load into a new instance "
                                   "(cloudkit_contrib.dbdump)")
            raise InvalidInput("engine_version", f"must be the installed {rec['engine']} version {installed} (or a prefix of it)")
        if installed == current:
            return None
        if engine.major(installed) != engine.major(current) and not allow_major:
            raise InvalidInput("allow_major_version_upgrade", f"must be true to upgrade from {current} to {installed}")
        if engine.major(installed) != engine.major(current):
            raise NotSupported("local", "database.modify_instance",
                               f"a major version upgrade of {rec['engine']} from {current} to {installed} cannot be done in place "
                               "on the local provider: dump and load into a new instance (cloudkit_contrib.dbdump)")
        return installed

    def _reboot_instance(self, identifier: str, force_failover: bool, wait: bool, timeout: float) -> DatabaseInstance:
        with self._lock:
            rec = self._load(identifier)
            if force_failover:
                standby.check_failover(rec)
            if force_failover and standby.resumable(rec) and rec["status"] == "failed":
                pass  # a failed failover is resumed by another forced failover
            elif force_failover and rec["status"] == "available":
                pass  # (also when the primary's server died: that is what the standby is for)
            else:
                self._require(rec, "available")
            self._set_status(rec, "rebooting")

        def work() -> None:
            if force_failover:
                self._engine(rec).failover(rec, timeout)
            else:
                self._engine(rec).restart(rec, timeout)
            if rec.get("parameter_group"):
                rec["parameter_status"] = "in-sync"

        return self._run(rec, work, wait)

    def _stop_instance(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
        with self._lock:
            rec = self._load(identifier)
            self._require(rec, "available")
            self._set_status(rec, "stopping")

        def work() -> None:
            self._engine(rec).stop(rec, timeout)

        return self._run(rec, work, wait, after="stopped")

    def _start_instance(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
        with self._lock:
            rec = self._load(identifier)
            self._require(rec, "stopped")
            self._set_status(rec, "starting")

        def work() -> None:
            self._engine(rec).start(rec, timeout)
            if rec.get("parameter_group"):
                rec["parameter_status"] = "in-sync"

        return self._run(rec, work, wait)

    def _delete_instance(self, identifier: str, final_snapshot: str | None, wait: bool, timeout: float) -> None:
        with self._lock:
            rec = self._load(identifier)
            if rec["status"] in ("creating", "deleting"):
                raise Conflict(f"database instance {identifier!r} is {rec['status']}", provider="local",
                               code="InvalidDBInstanceState")
            if final_snapshot is not None and self.db.query("SELECT 1 FROM snapshots WHERE id = ?", (final_snapshot,)):
                raise AlreadyExists(f"database snapshot {final_snapshot!r} already exists", provider="local",
                                    code="DBSnapshotAlreadyExists")
            replicas = [r["id"] for r in self.db.query("SELECT id FROM instances") if self._load(r["id"]).get("replica_of") == identifier]
            if final_snapshot is not None:
                self._backup(rec, final_snapshot, "manual", timeout)
            self._set_status(rec, "deleting")

        def work() -> None:
            for replica in replicas:  # as RDS does: a source's replicas become standalone instances
                self._promote_read_replica(replica, True, timeout)
            self._discard(rec)

        self._run(rec, work, wait, after="")

    # ------------------------------------------------------------ parameter groups
    def _load_group(self, name: str) -> dict[str, Any]:
        rows = self.db.query("SELECT * FROM parameter_groups WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"database parameter group {name!r} does not exist", provider="local",
                           code="DBParameterGroupNotFound")
        return {"name": rows[0]["name"], "family": rows[0]["family"], "description": rows[0]["description"],
                "parameters": json.loads(rows[0]["parameters"]), "created_at": rows[0]["created_at"]}

    @staticmethod
    def _group_model(group: Mapping[str, Any]) -> DatabaseParameterGroup:
        return DatabaseParameterGroup(name=group["name"], family=group["family"], description=group["description"],
                                      parameters=group["parameters"], extra={"created_at": _dt(group["created_at"])})

    def _families(self) -> dict[str, Engine]:
        out: dict[str, Engine] = {}
        for engine in self.engines.values():
            family = engine.family() if engine.available else None
            if family:
                out[family] = engine
        return out

    def _attach(self, rec: dict[str, Any], name: str, status: str) -> None:
        """Give ``rec`` the group ``name`` (its family must be the instance's)."""
        group = self._load_group(name)
        engine = self._engine(rec)
        family = engine.family(str(rec.get("engine_version") or "") or None)
        if family is None:
            raise engine.lacks("create_parameter_group", "has no server parameters")
        if group["family"] != family:
            raise InvalidInput("parameter_group", f"{name!r} is a {group['family']} group; this instance needs a {family} group")
        rec.update(parameter_group=name, parameters=dict(group["parameters"]), parameter_status=status)

    def _users_of(self, name: str) -> list[dict[str, Any]]:
        return [rec for rec in (self._load(r["id"]) for r in self.db.query("SELECT id FROM instances ORDER BY id"))
                if rec.get("parameter_group") == name]

    def _create_parameter_group(self, name: str, family: str, description: str) -> DatabaseParameterGroup:
        families = self._families()
        if family not in families:
            raise InvalidInput("family", f"must be a family of an engine installed here: {', '.join(sorted(families)) or 'none'}")
        with self._lock, self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM parameter_groups WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"database parameter group {name!r} already exists", provider="local",
                                    code="DBParameterGroupAlreadyExists")
            conn.execute("INSERT INTO parameter_groups VALUES (?, ?, ?, '{}', ?)", (name, family, description, time.time()))
        return self._group_model(self._load_group(name))

    def _get_parameter_group(self, name: str) -> DatabaseParameterGroup:
        return self._group_model(self._load_group(name))

    def _list_parameter_groups(self) -> Iterator[DatabaseParameterGroup]:
        def fetch(after: str | None) -> tuple[list[DatabaseParameterGroup], str | None]:
            rows = self.db.query("SELECT name FROM parameter_groups WHERE name > ? ORDER BY name LIMIT ?", (after or "", PAGE))
            out = []
            for row in rows:
                try:
                    out.append(self._group_model(self._load_group(row["name"])))
                except NotFound:
                    continue
            return out, (rows[-1]["name"] if len(rows) == PAGE else None)

        return paginate(fetch)

    def _change_group(self, name: str, change: Callable[[dict[str, str]], list[str]], apply_method: str) -> DatabaseParameterGroup:
        """Change the group's parameters with ``change`` (returns the names it touched) and bring its instances along."""
        with self._lock:
            group = self._load_group(name)
            engine = self._families().get(group["family"])
            if engine is None:
                raise NotSupported("local", "database.modify_parameter_group",
                                   f"no engine of family {group['family']} is installed here")
            params: dict[str, str] = dict(group["parameters"])
            changed = change(params)
            engine.check_parameters(changed)
            users = self._users_of(name)
            running = [rec for rec in users if self._live_status(rec) == "available"]
            if apply_method == "immediate":
                for rec in running:
                    static = engine.static_parameters(rec, changed)
                    if static:
                        raise InvalidInput("apply_method", f"{', '.join(static)} cannot change while the server runs: "
                                           "use apply_method='pending-reboot' and reboot the instance")
            for rec in users:
                rec["parameters"] = dict(params)
                if rec in running and apply_method == "immediate" and changed:
                    engine.apply_parameters(rec, changed, 120)
                elif rec in running:
                    rec["parameter_status"] = "pending-reboot"
                self._save(rec)
            with self.db.transaction() as conn:
                conn.execute("UPDATE parameter_groups SET parameters = ? WHERE name = ?", (json.dumps(params), name))
            return self._group_model(self._load_group(name))

    def _modify_parameter_group(self, name: str, parameters: dict[str, str], apply_method: str) -> DatabaseParameterGroup:
        def change(params: dict[str, str]) -> list[str]:
            params.update(parameters)
            return sorted(parameters)

        return self._change_group(name, change, apply_method)

    def _reset_parameter_group(self, name: str, parameters: list[str] | None, apply_method: str) -> DatabaseParameterGroup:
        def change(params: dict[str, str]) -> list[str]:
            names = sorted(params) if parameters is None else sorted(set(parameters))
            for key in names:
                params.pop(key, None)
            return names

        return self._change_group(name, change, apply_method)

    def _delete_parameter_group(self, name: str) -> None:
        with self._lock:
            self._load_group(name)
            users = [rec["id"] for rec in self._users_of(name)]
            if users:
                raise Conflict(f"database parameter group {name!r} is used by {', '.join(users)}", provider="local",
                               code="InvalidDBParameterGroupState")
            with self.db.transaction() as conn:
                conn.execute("DELETE FROM parameter_groups WHERE name = ?", (name,))

    # ------------------------------------------------------------ snapshots
    def _backup(self, rec: dict[str, Any], snap_id: str, kind: str, timeout: float, at: float | None = None) -> dict[str, Any]:
        """Take a snapshot of ``rec`` now (the caller holds the lock); ``at``: the time to record (run_backups' ``now``)."""
        status = self._live_status(rec)
        if status not in ("available", "stopped", "backing-up", "deleting", "modifying"):
            raise Conflict(f"database instance {rec['id']!r} is {status}; a snapshot needs it available or stopped",
                           provider="local", code="InvalidDBInstanceState")
        snap: dict[str, Any] = {
            "id": snap_id, "instance_id": rec["id"], "engine": rec["engine"], "kind": kind, "status": "creating",
            "created_at": time.time() if at is None else at, "instance_uid": rec.get("uid"), "storage_gb": rec.get("storage_gb"),
            "busy_pid": os.getpid(),
            "engine_version": rec.get("engine_version"), "master_username": rec.get("master_username"),
            "database_name": rec.get("database_name"), "instance_class": rec.get("instance_class"),
            "path": str(self._engine(rec).place() / "snapshots" / snap_id),
        }
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM snapshots WHERE id = ?", (snap_id,)).fetchone():
                raise AlreadyExists(f"database snapshot {snap_id!r} already exists", provider="local", code="DBSnapshotAlreadyExists")
        self._save_snapshot(snap)
        try:
            self._write_secret("snapshot", snap_id, self._read_secret("instance", rec["id"]))
            snap.update(self._engine(rec).snapshot(rec, Path(snap["path"]), status != "stopped", timeout))
            snap["backup_time"] = time.time()
            snap["status"] = "available"
            self._save_snapshot(snap)
        except BaseException:
            self._remove_snapshot(snap)
            raise
        return snap

    def _create_snapshot(self, identifier: str, snapshot_id: str, wait: bool, timeout: float) -> DatabaseSnapshot:
        with self._lock:
            rec = self._load(identifier)
            return self._snap_model(self._backup(rec, snapshot_id, "manual", timeout))

    def _get_snapshot(self, snapshot_id: str) -> DatabaseSnapshot:
        return self._snap_model(self._load_snapshot(snapshot_id))

    def _list_snapshots(self, identifier: str | None, kind: str | None) -> Iterator[DatabaseSnapshot]:
        if identifier is not None:
            self._load(identifier)

        def fetch(after: str | None) -> tuple[list[DatabaseSnapshot], str | None]:
            sql = "SELECT * FROM snapshots WHERE id > ?"
            params: list[Any] = [after or ""]
            if identifier is not None:
                sql += " AND instance_id = ?"
                params.append(identifier)
            if kind is not None:
                sql += " AND kind = ?"
                params.append(kind)
            rows = self.db.query(sql + " ORDER BY id LIMIT ?", (*params, PAGE))
            return [self._snap_model(self._snap_rec(r)) for r in rows], (rows[-1]["id"] if len(rows) == PAGE else None)

        return paginate(fetch)

    def _remove_snapshot(self, snap: Mapping[str, Any]) -> None:
        self._engine(snap).remove_tree(Path(snap["path"]))
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM snapshots WHERE id = ?", (snap["id"],))
        self._drop_secret("snapshot", snap["id"])
        self._tidy()

    def _delete_snapshot(self, snapshot_id: str) -> None:
        with self._lock:
            snap = self._load_snapshot(snapshot_id)
            if snap["kind"] == "automated":
                raise Conflict("automated snapshots are removed by the retention period or with their instance",
                               provider="local", code="InvalidDBSnapshotState")
            self._remove_snapshot(snap)

    def _copy_snapshot(self, snapshot_id: str, target_id: str, destination: DatabaseService | None, wait: bool,
                       timeout: float) -> DatabaseSnapshot:
        dest = self if destination is None else destination
        if not isinstance(dest, LocalDatabase):
            raise NotSupported("local", "database.copy_snapshot",
                               "snapshots copy only to another local root; between providers dump and load the data "
                               "(cloudkit_contrib.dbdump)")
        with self._lock:
            snap = self._load_snapshot(snapshot_id)
            if snap["status"] != "available":
                raise Conflict(f"snapshot {snapshot_id!r} is {snap['status']}", provider="local", code="InvalidDBSnapshotState")
            password = self._read_secret("snapshot", snapshot_id)
        engine = dest.engines[snap["engine"]]
        engine.require(f"database.{snap['engine']}")
        with dest._lock:
            copy = {k: v for k, v in snap.items() if k not in ("busy_pid", "record_backup_time")}
            copy.update(id=target_id, kind="manual", status="creating", created_at=time.time(), instance_uid=None,
                        path=str(engine.place() / "snapshots" / target_id), busy_pid=os.getpid(),
                        copied_from={"snapshot": snapshot_id, "root": str(self.root)})
            with dest.db.transaction() as conn:
                if conn.execute("SELECT 1 FROM snapshots WHERE id = ?", (target_id,)).fetchone():
                    raise AlreadyExists(f"database snapshot {target_id!r} already exists", provider="local",
                                        code="DBSnapshotAlreadyExists")
            dest._save_snapshot(copy)
            try:
                dest._write_secret("snapshot", target_id, password)
                engine.copy_files(Path(snap["path"]), Path(copy["path"]), timeout)
                copy["status"] = "available"
                copy["busy_pid"] = None
                dest._save_snapshot(copy)
            except BaseException:
                dest._remove_snapshot(copy)
                raise
        return dest._snap_model(copy)

    def _restore_snapshot(self, snapshot_id: str, identifier: str, instance_class: str | None, wait: bool,
                          timeout: float, *, parameter_group: str | None = None) -> DatabaseInstance:
        with self._lock:
            snap = self._load_snapshot(snapshot_id)
            if snap["status"] != "available":
                raise Conflict(f"snapshot {snapshot_id!r} is {snap['status']}", provider="local", code="InvalidDBSnapshotState")
            rec = self._restored_record(identifier, snap, instance_class, parameter_group)
            self._write_secret("instance", identifier, self._read_secret("snapshot", snapshot_id))
            self._save(rec)

        def work() -> None:
            left = _budget(timeout)  # the copy, the start and the first backup share the caller's timeout
            self._engine(rec).restore(snap, rec, left())
            self._set_status(rec, "available")
            if rec["backup_retention_days"]:
                self._backup(rec, f"{identifier[:40]}-auto-{_stamp()}", "automated", left())

        return self._run(rec, work, wait, undo=lambda: self._discard(rec))

    def _restored_record(self, identifier: str, source: Mapping[str, Any], instance_class: str | None,
                         parameter_group: str | None = None) -> dict[str, Any]:
        """A new instance record from a snapshot's or an instance's; ``parameter_group`` attached (``None``: defaults)."""
        if self.db.query("SELECT 1 FROM instances WHERE id = ?", (identifier,)):
            raise AlreadyExists(f"database instance {identifier!r} already exists", provider="local",
                                code="DBInstanceAlreadyExists")
        kw = {
            "instance_class": instance_class or source.get("instance_class"), "storage_gb": source.get("storage_gb"),
            "master_username": source.get("master_username"), "database_name": source.get("database_name"),
            "backup_retention_days": source.get("backup_retention_days", 1),
        }
        rec = self._new_record(identifier, str(source["engine"]), str(source.get("engine_version")), kw)
        if parameter_group:
            self._attach(rec, parameter_group, "in-sync")
        return rec

    # ------------------------------------------------------------ point in time
    def _restore_to_point_in_time(self, source: str, identifier: str, time_: datetime | None, wait: bool,
                                  timeout: float, *, parameter_group: str | None = None) -> DatabaseInstance:
        with self._lock:
            src = self._load(source)
            engine = self._engine(src)
            if not engine.point_in_time:
                raise engine.lacks("restore_to_point_in_time", "keeps no log archive to replay; use "
                                   + " or ".join(e.name for e in self.engines.values() if e.point_in_time))
            if not src.get("backup_retention_days"):
                raise Conflict(f"database instance {source!r} has automated backups off (backup_retention_days=0)",
                               provider="local", code="InvalidDBInstanceState")
            latest = self._archive_now(src, timeout)
            target = None if time_ is None else time_.timestamp()
            bases = self._snapshots_of(src, "any")
            bases = [b for b in bases if b.get("method") in engine.base_methods]
            if target is not None:
                if latest is not None and target > latest:
                    raise InvalidInput("time", f"must not be after the latest restorable time {_dt(latest)}")
                bases = [b for b in bases if b["record_backup_time"] <= target]
            if not bases:
                raise InvalidInput("time", "is before the earliest restorable time (the oldest kept backup)")
            base = bases[-1]
            rec = self._restored_record(identifier, src, None, parameter_group)
            rec["restored_from"] = {"instance": source, "time": None if target is None else _dt(target).isoformat()}  # type: ignore[union-attr]
            self._write_secret("instance", identifier, self._read_secret("snapshot", base["id"]))
            self._save(rec)

        def work() -> None:
            left = _budget(timeout)  # the copy, the replay and the first backup share the caller's timeout
            engine.restore_to_time(src, base, rec, target, left())
            # the master password of the source at that time is the one in the data
            self._set_status(rec, "available")
            if rec["backup_retention_days"]:
                self._backup(rec, f"{identifier[:40]}-auto-{_stamp()}", "automated", left())

        return self._run(rec, work, wait, undo=lambda: self._discard(rec))

    def _archive_now(self, src: Mapping[str, Any], timeout: float) -> float | None:
        """Write a commit record, switch WAL and wait until it is archived; the latest restorable time."""
        if self._live_status(src) != "available":
            return self._latest_restorable(src)
        return self._engine(src).mark_now(src, timeout)

    # ------------------------------------------------------------ replicas
    def _create_read_replica(self, source: str, identifier: str, instance_class: str | None, wait: bool,
                             timeout: float) -> DatabaseInstance:
        with self._lock:
            src = self._load(source)
            engine = self._engine(src)
            if not engine.replicas:
                raise engine.lacks("create_read_replica", "has no replication")
            if src.get("replica_of"):
                raise Conflict(f"{source!r} is itself a read replica; replicate its source {src['replica_of']!r}",
                               provider="local", code="InvalidDBInstanceState")
            self._require(src, "available")
            # as RDS does in the source's region, the replica uses the source's parameter group
            rec = self._restored_record(identifier, src, instance_class, src.get("parameter_group"))
            rec.update(replica_of=source, backup_retention_days=0)
            self._write_secret("instance", identifier, self._read_secret("instance", source))
            self._save(rec)

        def work() -> None:
            engine.create_replica(src, rec, timeout)

        return self._run(rec, work, wait, undo=lambda: self._discard(rec))

    def _promote_read_replica(self, identifier: str, wait: bool, timeout: float) -> DatabaseInstance:
        with self._lock:
            rec = self._load(identifier)
            if not rec.get("replica_of"):
                raise Conflict(f"database instance {identifier!r} is not a read replica", provider="local",
                               code="InvalidDBInstanceState")
            self._require(rec, "available")
            self._set_status(rec, "modifying")

        def work() -> None:
            self._engine(rec).promote(rec, timeout)
            rec.update(replica_of=None, backup_retention_days=1)
            self._set_status(rec, "available")
            self._backup(rec, f"{identifier[:40]}-auto-{_stamp()}", "automated", timeout)

        return self._run(rec, work, wait)

    # ------------------------------------------------------------ automated backups
    def run_backups(self, now: datetime | None = None) -> list[str]:
        """Take the automated backups that are due and remove those past retention; the ids taken.

        An instance with ``backup_retention_days`` > 0 gets a new automated snapshot inside its daily
        ``backup_window`` when none was taken since the window opened, or at once when its newest one
        is a day old (a missed window is caught up); automated snapshots older than the retention
        period are removed (the newest always stays), and archived log older than the oldest kept
        backup is removed. ``now`` is the time the run acts as (and records on what it takes).
        """
        moment = (now or datetime.now(UTC)).timestamp()
        taken: list[str] = []
        with self._lock:
            for row in self.db.query("SELECT id FROM instances ORDER BY id"):
                rec = self._load(row["id"])
                retention = int(rec.get("backup_retention_days") or 0)
                if not retention or rec.get("replica_of") or self._live_status(rec) not in ("available", "stopped"):
                    continue
                autos = self._snapshots_of(rec, "automated")
                window = str(rec.get("backup_window") or "03:00-03:30")
                opened = _window_start(window, moment)  # the latest opening of the window, at or before now
                in_window = moment - opened < _window_length(window)
                # the daily backup is taken inside the window; a missed window is caught up a day on
                if not autos or moment - autos[-1]["created_at"] >= DAY or (in_window and autos[-1]["created_at"] < opened):
                    snap = self._backup(rec, f"{rec['id'][:40]}-auto-{_stamp()}", "automated", 1800, at=moment)
                    taken.append(snap["id"])
                    autos = self._snapshots_of(rec, "automated")
                for old in autos[:-1]:
                    if moment - old["created_at"] > retention * DAY:
                        self._remove_snapshot(old)
                self._clean_archive(rec)
        return taken

    def _clean_archive(self, rec: Mapping[str, Any]) -> None:
        self._engine(rec).clean_archive(rec, self._snapshots_of(rec, "any"))


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _window_minutes(window: str) -> tuple[int, int]:
    start, end = window.split("-")
    return int(start[:2]) * 60 + int(start[3:5]), int(end[:2]) * 60 + int(end[3:5])


def _window_start(window: str, moment: float) -> float:
    """The latest opening of the daily ``hh:mm-hh:mm`` (UTC) window at or before ``moment``."""
    start, _ = _window_minutes(window)
    day = moment - moment % DAY
    opening = day + start * 60
    return opening if opening <= moment else opening - DAY


def _window_length(window: str) -> float:
    start, end = _window_minutes(window)
    return ((end - start) % 1440) * 60.0


def _maintenance_minutes(window: str) -> tuple[int, int]:
    """The opening and closing of a ``ddd:hh:mm-ddd:hh:mm`` window, in minutes since Monday 00:00 UTC."""
    out = []
    for part in window.lower().split("-"):
        day, hh, mm = part.split(":")
        out.append(WEEKDAYS.index(day) * 1440 + int(hh) * 60 + int(mm))
    return out[0], out[1]


def _maintenance_start(window: str, moment: float) -> float:
    """The latest opening of the weekly maintenance ``window`` at or before ``moment``."""
    start, _ = _maintenance_minutes(window)
    when = datetime.fromtimestamp(moment, UTC)
    week = moment - (when.weekday() * DAY + moment % DAY)  # Monday 00:00 UTC of this week
    opening = week + start * 60
    return opening if opening <= moment else opening - WEEK


def _maintenance_length(window: str) -> float:
    start, end = _maintenance_minutes(window)
    return ((end - start) % (7 * 1440)) * 60.0


def _budget(timeout: float) -> Callable[[], float]:
    """Seconds left of ``timeout`` (counted from now) at each call; ``Timeout`` once none are."""
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise Timeout(f"did not finish in {timeout:g}s", provider="local")
        return remaining

    return left


def _stamp() -> str:
    return datetime.now(UTC).strftime("%Y%m%d%H%M%S") + f"{int(time.time() * 1000) % 1000:03d}"


def make_service(settings: Mapping[str, Any]) -> LocalDatabase:
    """Build the local database service (the plugin calls this)."""
    return LocalDatabase(settings)


__all__ = ["LocalDatabase", "make_service"]
