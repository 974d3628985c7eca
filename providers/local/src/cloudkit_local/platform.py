"""The local provider's platform family: an Elastic-Beanstalk-like app platform on 127.0.0.1.

* Applications, versions and configuration templates are rows in ``<root>/platform/platform.db``.
  A version's bundle (a zip) is stored in local storage, bucket ``cloudkit-platform-bundles``, key
  ``<application>/<label>-<random>.zip`` (under ``<root>/platform/bundles`` only when no storage family is
  installed).
* An environment is a front proxy on a stable port (:mod:`cloudkit_local._appserver`; its URL never
  changes across deploys) plus ``instance_count`` worker processes of the version it runs: waitress
  serving ``application:application`` from ``application.py`` (stack ``python``, as Elastic Beanstalk
  expects), or the ``web:`` command of a ``Procfile`` (stacks ``python`` and ``procfile``) with
  ``PORT`` set. With load-balancer listener options (``aws:elb:*`` / ``aws:elbv2:*``) the front is
  a HAProxy load balancer of the loadbalancer family instead (``_platform.balancer``), whose URL is
  the environment's.
* A deploy is zero-downtime: the new workers start next to the old ones, are health-checked
  (HTTP GET on the health-check path, any status below 500), the proxy's routes are switched
  atomically, in-flight requests drain, and only then do the old workers stop. A failed health check
  stops the new workers, leaves the old version serving, records an ``ERROR`` event and raises.
* Workers and proxies are independent processes that keep serving after the service is closed or the
  calling process exits; ``terminate_environment`` stops them. When the service opens it heals what a
  crash or reboot left behind: a dead proxy or dead workers of a ready environment are restarted, a
  deploy interrupted half-way is rolled back, each with an event.

The service's verbs are here; the machinery is split by responsibility under
:mod:`cloudkit_local._platform`: ``base`` (schema, settings helpers, lookups, events), ``bundles``
(checking, storing and unpacking version bundles), ``workers`` (worker processes, health checks, the
proxy and its routes), ``balancer`` (the environment's load balancer) and ``rollout`` (rolling a
generation out, rolling back, healing).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import secrets
import shutil
import sqlite3
import string
import subprocess
import threading
import zipfile
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound, NotSupported
from cloudkit.models.platform import (
    Application,
    AppVersion,
    ConfigurationTemplate,
    Environment,
    EnvironmentSettings,
    Event,
    InstanceLog,
    Stack,
)
from cloudkit.provider import follow as follow_events
from cloudkit.services.platform import PlatformService
from cloudkit_local import _sandbox
from cloudkit_local._platform.base import (
    BUCKET,
    DEFAULT_DRAIN,
    DEFAULT_HEALTH_TIMEOUT,
    DRAIN_OPTION,
    HEALTH_PATH_OPTION,
    HEALTH_TIMEOUT_OPTION,
    SCHEMA,
    STACKS,
    _check_settings,
    _merge,
    _now,
    _settings_from,
    _settings_json,
    _ts,
    migrate,
)
from cloudkit_local._platform.bundles import MAX_BUNDLE, _check_bundle, _zip_folder, bundle_extensions
from cloudkit_local._platform.rollout import DeployTimeout, Rollout
from cloudkit_local._platform.workers import DeployFailed, copy_log, read_tail
from cloudkit_local._root import Database, root_from, write_atomic
from cloudkit_local.errors import PROVIDER, LocalErrors, mapped

__all__ = ["BUCKET", "DEFAULT_DRAIN", "DEFAULT_HEALTH_TIMEOUT", "DRAIN_OPTION", "HEALTH_PATH_OPTION", "HEALTH_TIMEOUT_OPTION",
           "MAX_BUNDLE", "STACKS", "DeployFailed", "DeployTimeout", "LocalPlatform", "make_service"]


class LocalPlatform(LocalErrors, Rollout, PlatformService):
    """Applications, versions, environments and deploys on this machine."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(PROVIDER, settings)
        self.base = root_from(self.settings)
        self.root = self.base / "platform"
        with mapped("open platform folder"):
            for sub in ("envs", "bundles", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db = Database(self.root / "platform.db", SCHEMA)
        migrate(self.db)
        self._storage_cloud: Any = None
        self._lock = threading.RLock()
        self._threads: list[threading.Thread] = []
        self._children: list[subprocess.Popen[bytes]] = []
        self._me = (os.getpid(), _sandbox.start_time(os.getpid()))
        self._heal_all()

    def close(self) -> None:
        """Wait for background deploys, then close. Environments keep serving (terminate them to stop)."""
        for thread in list(self._threads):
            thread.join()
        for proc in self._children:
            proc.poll()
        if self._storage_cloud is not None:
            self._storage_cloud.close()
            self._storage_cloud = None
        self._close_notifier()
        self._close_lbs()
        self.db.close()

    # ================================================================ applications
    def _create_application(self, name: str, description: str | None) -> Application:
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO applications (name, description, created_at) VALUES (?,?,?)",
                             (name, description, _now()))
        except Conflict as exc:
            raise AlreadyExists(f"application {name!r} already exists", provider=PROVIDER) from exc
        self._event(f"Created application {name}", application=name)
        return self._get_application(name)

    def _get_application(self, name: str) -> Application:
        row = self._app_row(name)
        return Application(name=row["name"], description=row["description"], created_at=_ts(row["created_at"]))

    def _list_applications(self) -> Iterator[Application]:
        for row in self.db.query("SELECT * FROM applications ORDER BY name"):
            yield Application(name=row["name"], description=row["description"], created_at=_ts(row["created_at"]))

    def _delete_application(self, name: str, terminate_environments: bool) -> None:
        self._app_row(name)
        live = self.db.query("SELECT id FROM environments WHERE application = ? AND status != 'terminated'", (name,))
        if live and not terminate_environments:
            raise Conflict(f"application {name!r} has running environments; terminate them first "
                           "(or pass terminate_environments=True)", provider=PROVIDER)
        for env in live:
            self._terminate_environment(env["id"], True, 900)
        versions = self.db.query("SELECT * FROM versions WHERE application = ?", (name,))
        with self._tx() as conn:
            conn.execute("DELETE FROM applications WHERE name = ?", (name,))
        for row in versions:
            self._drop_bundle(row)
        self._event(f"Deleted application {name}", application=name)

    # ================================================================ versions
    def _create_version(self, application: str, label: str, source: Path | bytes, description: str | None) -> AppVersion:
        if isinstance(source, Path):
            data = _zip_folder(source) if source.is_dir() else source.read_bytes()
        else:
            data = source
        _check_bundle(data)
        self._app_row(application)
        if self.db.query("SELECT 1 FROM versions WHERE application = ? AND label = ?", (application, label)):
            raise AlreadyExists(f"version {label!r} of {application!r} already exists", provider=PROVIDER)
        digest = hashlib.sha256(data).hexdigest()
        storage = self._storage()
        # A unique key per upload: a concurrent upload of the same label never overwrites the winner's bundle.
        key = f"{application}/{label}-{secrets.token_hex(4)}.zip"
        if storage is not None:
            from cloudkit.errors import AlreadyExists as Exists

            try:
                storage.create_bucket(BUCKET)
            except Exists:
                pass
            storage.put_object(BUCKET, key, data, content_type="application/zip")
            kind, ref = "storage", f"{BUCKET}/{key}"
        else:
            path = self.root / "bundles" / f"{digest}.zip"
            write_atomic(path, data, mode=0o644)
            kind, ref = "file", str(path)
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO versions (application, label, description, bundle_kind, bundle_ref, sha256, size, created_at)"
                    " VALUES (?,?,?,?,?,?,?,?)",
                    (application, label, description, kind, ref, digest, len(data), _now()),
                )
        except BaseException as exc:
            if kind == "storage" and storage is not None:
                try:
                    storage.delete_object(BUCKET, key)
                except CloudkitError:
                    pass
            if isinstance(exc, Conflict):
                raise AlreadyExists(f"version {label!r} of {application!r} already exists", provider=PROVIDER) from exc
            raise
        self._event(f"Created version {label!r} ({len(data)} bytes)", application=application, version=label)
        return self._version(self._version_row(application, label))

    @staticmethod
    def _version(row: sqlite3.Row) -> AppVersion:
        source = f"local-storage://{row['bundle_ref']}" if row["bundle_kind"] == "storage" else row["bundle_ref"]
        return AppVersion(application=row["application"], label=row["label"], description=row["description"],
                          source=source, created_at=_ts(row["created_at"]),
                          extra={"sha256": row["sha256"], "size": row["size"]})

    def _list_versions(self, application: str) -> Iterator[AppVersion]:
        self._app_row(application)
        for row in self.db.query("SELECT * FROM versions WHERE application = ? ORDER BY created_at DESC, rowid DESC",
                                 (application,)):
            yield self._version(row)

    def _delete_version(self, application: str, label: str) -> None:
        row = self._version_row(application, label)
        used = self.db.query("SELECT name FROM environments WHERE application = ? AND version = ? AND status != 'terminated'",
                             (application, label))
        if used:
            raise Conflict(f"version {label!r} is running in environment {used[0]['name']}", provider=PROVIDER)
        with self._tx() as conn:
            conn.execute("DELETE FROM versions WHERE application = ? AND label = ?", (application, label))
        self._drop_bundle(row)
        self._event(f"Deleted version {label!r}", application=application, version=label)

    def _list_stacks(self) -> Iterator[Stack]:
        yield from STACKS.values()

    # ================================================================ environments
    def _create_environment(self, application: str, name: str, **kw: Any) -> Environment:
        label: str = kw["version"]
        given = _check_settings(kw.get("settings"))
        stack: str | None = kw.get("stack")
        template: str | None = kw.get("template")
        settings = EnvironmentSettings()
        if template is not None:
            rows = self.db.query("SELECT * FROM templates WHERE application = ? AND name = ?", (application, template))
            if not rows:
                raise NotFound(f"configuration template {template!r} of {application!r} does not exist", provider=PROVIDER)
            settings = _settings_from(rows[0]["settings"])
            stack = stack or rows[0]["stack"]
        if stack not in STACKS:
            raise InvalidInput("stack", f"must be one of {', '.join(STACKS)} (got {stack!r})")
        settings = _merge(settings, given)
        self._app_row(application)
        self._version_row(application, label)
        lb_ports = self._wanted_ports(settings, "platform.create_environment", None)
        env_id = "e-" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM environments WHERE name = ? AND status != 'terminated'", (name,)).fetchall():
                raise AlreadyExists(f"environment {name!r} already exists", provider=PROVIDER)
            conn.execute(
                "INSERT INTO environments (id, name, application, status, health, version, stack, settings, created_at,"
                " updated_at, busy_pid, busy_start) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (env_id, name, application, "launching", "grey", None, stack, _settings_json(settings), _now(), _now(),
                 self._me[0], self._me[1]),
            )
        self._event(f"createEnvironment is starting for {name} (stack {stack})", application=application,
                    environment=name, version=label)
        try:
            self._sync_notifications(env_id, name, application, settings)
            if lb_ports:
                lb = self._create_lb(env_id, name, lb_ports, settings)
                port = lb.listeners[0].port
                with self._tx() as conn:
                    conn.execute("UPDATE environments SET proxy_port = ?, lb_id = ? WHERE id = ?", (port, lb.id, env_id))
                self._event(f"Created load balancer {lb.name} listening on "
                            f"{', '.join(str(item.port) for item in lb.listeners)}", application=application,
                            environment=name)
            else:
                port, pid, started, routes = self._start_proxy(env_id, None)
                with self._tx() as conn:
                    conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ? "
                                 "WHERE id = ?", (port, pid, started, routes, env_id))
        except CloudkitError:
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'terminated', health = 'grey', busy_pid = NULL WHERE id = ?",
                             (env_id,))
            with contextlib.suppress(CloudkitError):  # nothing half made stays behind
                self._drop_lb(self._env_row(env_id))
                self._drop_topic(env_id)
            raise
        self._event(f"Environment URL: http://127.0.0.1:{port}/", application=application, environment=name)
        return self._run(env_id, label, settings, kw.get("wait", True), kw.get("timeout", 900), "createEnvironment")

    def _get_environment(self, env_id_or_name: str) -> Environment:
        return self._environment(self._env_row(env_id_or_name))

    def _list_environments(self, application: str | None, include_terminated: bool) -> Iterator[Environment]:
        if application is not None:
            self._app_row(application)
        for row in self.db.query("SELECT * FROM environments ORDER BY created_at, id"):
            if application is not None and row["application"] != application:
                continue
            if row["status"] == "terminated" and not include_terminated:
                continue
            yield self._environment(row)

    def _deploy(self, env: str, label: str, wait: bool, timeout: float) -> Environment:
        row = self._env_row(env)
        self._version_row(row["application"], label)
        bundle_extensions(self._bundle(row["application"], label))  # refused before anything starts
        row = self._claim(row["id"], ("ready",), "updating")
        self._event(f"Environment update is starting: deploying version {label!r}", application=row["application"],
                    environment=row["name"], version=label)
        return self._run(row["id"], label, _settings_from(row["settings"]), wait, timeout, "Deployment")

    def _update_settings(self, env: str, settings: EnvironmentSettings, wait: bool, timeout: float) -> Environment:
        given = _check_settings(settings)
        row = self._env_row(env)
        if not row["version"]:
            raise Conflict(f"environment {row['name']} runs no version yet; deploy one first", provider=PROVIDER)
        merged = _merge(_settings_from(row["settings"]), given)
        self._wanted_ports(merged, "platform.update_settings", row)
        row = self._claim(row["id"], ("ready",), "updating")
        try:
            self._sync_notifications(row["id"], row["name"], row["application"], merged)
        except BaseException:
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'ready', busy_pid = NULL, busy_start = NULL WHERE id = ?",
                             (row["id"],))
            raise
        self._event("Environment update is starting: applying new settings", application=row["application"],
                    environment=row["name"], version=row["version"])
        return self._run(row["id"], row["version"], merged, wait, timeout, "Configuration update")

    def _get_settings(self, env: str) -> EnvironmentSettings:
        return _settings_from(self._env_row(env)["settings"])

    def _swap_urls(self, env_a: str, env_b: str) -> None:
        a, b = self._env_row(env_a), self._env_row(env_b)
        if a["id"] == b["id"]:
            raise InvalidInput("environment_b", "must be a different environment than environment_a")
        for row in (a, b):
            if row["status"] != "ready":
                raise Conflict(f"environment {row['name']} is {row['status']}; both must be ready", provider=PROVIDER)
            if row["lb_id"]:
                raise NotSupported(PROVIDER, "platform.swap_urls",
                                   f"environment {row['name']} is fronted by a load balancer (listener options); on local, "
                                   "move the listener ports with update_settings instead")
        with self._tx() as conn:
            for mine, other in ((a, b), (b, a)):
                conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ?, "
                             "updated_at = ? WHERE id = ?",
                             (other["proxy_port"], other["proxy_pid"], other["proxy_start"], other["routes_path"], _now(),
                              mine["id"]))
        for mine, other in ((a, b), (b, a)):
            ports = [w["port"] for w in self._live_workers(mine["id"], mine["generation"])]
            self._write_routes(other["routes_path"], ports, mine["version"])
        for mine, other in ((a, b), (b, a)):
            self._event(f"Swapped URLs with {other['name']}: now at http://127.0.0.1:{other['proxy_port']}/",
                        application=mine["application"], environment=mine["name"], version=mine["version"])

    def _terminate_environment(self, env: str, wait: bool, timeout: float) -> Environment:
        row = self._env_row(env)
        if row["status"] == "terminated":
            return self._environment(row)
        with self._tx() as conn:
            conn.execute("UPDATE environments SET status = 'terminating', updated_at = ? WHERE id = ?", (_now(), row["id"]))
        self._event(f"terminateEnvironment is starting for {row['name']}", application=row["application"],
                    environment=row["name"])
        self._stop_workers(self.db.query("SELECT * FROM workers WHERE env_id = ? AND state != 'stopped'", (row["id"],)))
        if row["proxy_pid"]:
            _sandbox.kill(row["proxy_pid"], row["proxy_start"], grace=3)
        self._drop_lb(row)
        with self._tx() as conn:
            conn.execute("UPDATE environments SET status = 'terminated', health = 'grey', proxy_pid = NULL, "
                         "busy_pid = NULL, updated_at = ? WHERE id = ?", (_now(), row["id"]))
        shutil.rmtree(self.root / "envs" / row["id"] / "releases", ignore_errors=True)
        self._event(f"terminateEnvironment completed successfully for {row['name']}", application=row["application"],
                    environment=row["name"])
        self._drop_topic(row["id"])
        return self._environment(self._env_row(row["id"]))

    def _live_env_row(self, env: str, what: str) -> sqlite3.Row:
        row = self._env_row(env)
        if row["status"] == "terminated":
            raise NotFound(f"{what}: environment {row['name']} ({row['id']}) is terminated", provider=PROVIDER)
        return row

    def _rebuild(self, env: str, wait: bool, timeout: float) -> Environment:
        row = self._live_env_row(env, "platform.rebuild")
        if not row["version"]:
            raise Conflict(f"environment {row['name']} runs no version yet; deploy one first", provider=PROVIDER)
        row = self._claim(row["id"], ("ready",), "updating")
        self._event(f"rebuildEnvironment is starting: replacing every instance with a fresh copy of version {row['version']!r}",
                    application=row["application"], environment=row["name"], version=row["version"])
        if not self._front_alive(row):
            self._repair_front(row)
        return self._run(row["id"], row["version"], _settings_from(row["settings"]), wait, timeout, "Rebuild")

    # ================================================================ logs
    def _logs(self, env: str, tail: int, timeout: float) -> list[InstanceLog]:
        row = self._live_env_row(env, "platform.logs")
        out = []
        for instance, path in self._worker_logs(row["id"], self._live_workers(row["id"], row["generation"])):
            out.append(InstanceLog(instance=instance, text=read_tail(path, tail), timestamp=datetime.now(UTC),
                                   extra={"path": str(path)}))
        return out

    def _log_bundle(self, env: str, timeout: float) -> bytes:
        row = self._live_env_row(env, "platform.log_bundle")
        rows = self.db.query("SELECT * FROM workers WHERE env_id = ? ORDER BY id", (row["id"],))
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for instance, path in self._worker_logs(row["id"], rows):
                copy_log(path, zf, f"{instance}/web.stdout.log")
            copy_log(self.root / "envs" / row["id"] / "proxy.log", zf, "proxy/proxy.log")
        return buf.getvalue()

    # ================================================================ templates
    def _create_template(self, application: str, name: str, environment: str | None, stack: str | None,
                         settings: EnvironmentSettings | None, description: str | None) -> ConfigurationTemplate:
        self._app_row(application)
        base = EnvironmentSettings()
        if environment is not None:
            env = self._env_row(environment)
            if env["application"] != application:
                raise InvalidInput("environment", f"belongs to application {env['application']!r}, not {application!r}")
            base = _settings_from(env["settings"])
            stack = stack or env["stack"]
        if stack not in STACKS:
            raise InvalidInput("stack", f"must be one of {', '.join(STACKS)} (got {stack!r})")
        merged = _merge(base, _check_settings(settings))
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO templates (application, name, stack, settings, description, created_at) "
                             "VALUES (?,?,?,?,?,?)", (application, name, stack, _settings_json(merged), description, _now()))
        except Conflict as exc:
            raise AlreadyExists(f"configuration template {name!r} already exists", provider=PROVIDER) from exc
        self._event(f"Created configuration template {name!r}", application=application)
        return ConfigurationTemplate(application=application, name=name, stack=stack, settings=merged, description=description)

    def _list_templates(self, application: str) -> Iterator[ConfigurationTemplate]:
        self._app_row(application)
        for row in self.db.query("SELECT * FROM templates WHERE application = ? ORDER BY name", (application,)):
            yield ConfigurationTemplate(application=row["application"], name=row["name"], stack=row["stack"],
                                        settings=_settings_from(row["settings"]), description=row["description"])

    def _delete_template(self, application: str, name: str) -> None:
        with self._tx() as conn:
            if conn.execute("DELETE FROM templates WHERE application = ? AND name = ?", (application, name)).rowcount == 0:
                raise NotFound(f"configuration template {name!r} of {application!r} does not exist", provider=PROVIDER)
        self._event(f"Deleted configuration template {name!r}", application=application)

    # ================================================================ events
    def _events(self, application: str | None, environment: str | None, since: datetime | None, follow: bool,
                timeout: float) -> Iterator[Event]:
        env_name = None
        if environment is not None:
            env_name = self._env_row(environment, include_terminated=True)["name"]
        last = 0

        def fetch() -> Iterator[Event]:
            nonlocal last
            sql = "SELECT * FROM events WHERE id > ?"
            params: list[Any] = [last]
            if application is not None:
                sql += " AND application = ?"
                params.append(application)
            if env_name is not None:
                sql += " AND environment = ?"
                params.append(env_name)
            for row in self.db.query(sql + " ORDER BY id", tuple(params)):
                last = row["id"]
                ts = datetime.fromisoformat(row["ts"])
                if since is not None and ts < since:
                    continue
                yield Event(timestamp=ts, message=row["message"], severity=row["severity"],
                            application=row["application"], environment=row["environment"], version=row["version"])

        return follow_events(fetch, follow=follow, timeout=timeout, interval=0.1)


def make_service(settings: Mapping[str, Any]) -> LocalPlatform:
    """Build the local platform service (the plugin calls this)."""
    return LocalPlatform(settings)
