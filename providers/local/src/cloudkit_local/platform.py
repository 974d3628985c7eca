"""The local provider's platform family: an Elastic-Beanstalk-like app platform on 127.0.0.1.

* Applications, versions and configuration templates are rows in ``<root>/platform/platform.db``.
  A version's bundle (a zip) is stored in local storage, bucket ``cloudkit-platform-bundles``, key
  ``<application>/<label>-<random>.zip`` (under ``<root>/platform/bundles`` only when no storage family is
  installed).
* An environment is a front proxy on a stable port (:mod:`cloudkit_local._appserver`; its URL never
  changes across deploys) plus ``instance_count`` worker processes of the version it runs: waitress
  serving ``application:application`` from ``application.py`` (stack ``python``, as Elastic Beanstalk
  expects), or the ``web:`` command of a ``Procfile`` (stacks ``python`` and ``procfile``) with
  ``PORT`` set.
* A deploy is zero-downtime: the new workers start next to the old ones, are health-checked
  (HTTP GET on the health-check path, any status below 500), the proxy's routes are switched
  atomically, in-flight requests drain, and only then do the old workers stop. A failed health check
  stops the new workers, leaves the old version serving, records an ``ERROR`` event and raises.
* Workers and proxies are independent processes that keep serving after the service is closed or the
  calling process exits; ``terminate_environment`` stops them. When the service opens it heals what a
  crash or reboot left behind: a dead proxy or dead workers of a ready environment are restarted, a
  deploy interrupted half-way is rolled back, each with an event.
"""

from __future__ import annotations

import hashlib
import http.client
import io
import json
import os
import secrets
import shutil
import socket
import sqlite3
import string
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound, ProviderError, Timeout
from cloudkit.models.platform import (
    Application,
    AppVersion,
    ConfigurationTemplate,
    Environment,
    EnvironmentSettings,
    Event,
    Stack,
)
from cloudkit.provider import follow as follow_events
from cloudkit.services.platform import PlatformService
from cloudkit_local import _sandbox
from cloudkit_local._root import Database, free_port, root_from, write_atomic
from cloudkit_local.errors import PROVIDER, LocalErrors, mapped

SCHEMA = """
CREATE TABLE IF NOT EXISTS applications (
    name TEXT PRIMARY KEY,
    description TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    application TEXT NOT NULL REFERENCES applications(name) ON DELETE CASCADE,
    label TEXT NOT NULL,
    description TEXT,
    bundle_kind TEXT NOT NULL,
    bundle_ref TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    PRIMARY KEY (application, label)
);
CREATE TABLE IF NOT EXISTS templates (
    application TEXT NOT NULL REFERENCES applications(name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stack TEXT NOT NULL,
    settings TEXT NOT NULL,
    description TEXT,
    created_at TEXT NOT NULL,
    PRIMARY KEY (application, name)
);
CREATE TABLE IF NOT EXISTS environments (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    application TEXT NOT NULL,
    status TEXT NOT NULL,
    health TEXT NOT NULL,
    version TEXT,
    stack TEXT NOT NULL,
    settings TEXT NOT NULL,
    proxy_port INTEGER,
    proxy_pid INTEGER,
    proxy_start INTEGER,
    routes_path TEXT,
    generation INTEGER NOT NULL DEFAULT 0,
    busy_pid INTEGER,
    busy_start INTEGER,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS workers (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    env_id TEXT NOT NULL,
    generation INTEGER NOT NULL,
    version TEXT NOT NULL,
    port INTEGER NOT NULL,
    pid INTEGER,
    pid_start INTEGER,
    state TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts TEXT NOT NULL,
    severity TEXT NOT NULL,
    message TEXT NOT NULL,
    application TEXT,
    environment TEXT,
    version TEXT
);
"""

BUCKET = "cloudkit-platform-bundles"
STACKS = {
    "python": Stack(name="python", language="python",
                    extra={"server": "waitress", "entry": "application.py:application or Procfile web:",
                           "python": f"{sys.version_info.major}.{sys.version_info.minor}"}),
    "procfile": Stack(name="procfile", language=None, extra={"entry": "Procfile web: command, listening on $PORT"}),
}
HEALTH_PATH_OPTION = "aws:elasticbeanstalk:application:Application Healthcheck URL"
HEALTH_TIMEOUT_OPTION = "cloudkit:health:Timeout"
DRAIN_OPTION = "cloudkit:deploy:DrainSeconds"
DEFAULT_HEALTH_TIMEOUT = 30.0
DEFAULT_DRAIN = 1.0
MAX_BUNDLE = 512 * 1024 * 1024


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _proxy_env() -> dict[str, str]:
    """The front proxy's environment: minimal, keeping ``PYTHONPATH`` so it imports this package."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _settings_json(settings: EnvironmentSettings) -> str:
    return json.dumps({
        "env_vars": dict(settings.env_vars),
        "instance_count": settings.instance_count,
        "instance_type": settings.instance_type,
        "options": dict(settings.options),
    })


def _settings_from(text: str) -> EnvironmentSettings:
    data = json.loads(text)
    return EnvironmentSettings(env_vars=data["env_vars"], instance_count=data["instance_count"],
                               instance_type=data["instance_type"], options=data["options"])


def _merge(base: EnvironmentSettings, new: EnvironmentSettings | None) -> EnvironmentSettings:
    if new is None:
        return base
    return EnvironmentSettings(
        env_vars={**base.env_vars, **new.env_vars},
        instance_count=new.instance_count if new.instance_count is not None else base.instance_count,
        instance_type=new.instance_type if new.instance_type is not None else base.instance_type,
        options={**base.options, **new.options},
    )


def _check_settings(settings: EnvironmentSettings | None) -> None:
    """Provider rules on settings: a known instance type and numeric deploy options."""
    if settings is None:
        return
    from cloudkit_local.compute import INSTANCE_TYPES

    if settings.instance_type is not None and settings.instance_type not in INSTANCE_TYPES:
        raise InvalidInput("settings.instance_type", f"must be one of {', '.join(INSTANCE_TYPES)}")
    for key in (HEALTH_TIMEOUT_OPTION, DRAIN_OPTION):
        if key in settings.options:
            try:
                value = float(settings.options[key])
            except ValueError:
                value = -1
            if not 0 <= value <= 3600:
                raise InvalidInput(f"settings.options[{key!r}]", "must be a number of seconds from 0 to 3600")


def _procfile(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, cmd = line.split(":", 1)
        out[name.strip()] = cmd.strip()
    return out


def _check_bundle(data: bytes) -> None:
    """A version bundle must be a safe zip with ``application.py`` or a ``Procfile`` with ``web:``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            total = sum(i.file_size for i in zf.infolist())
            procfile = zf.read("Procfile").decode("utf-8", "replace") if "Procfile" in names else None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError) as exc:
        raise InvalidInput("source", f"is not a readable zip archive ({exc})") from None
    if total > MAX_BUNDLE:
        raise InvalidInput("source", f"unpacks to more than {MAX_BUNDLE} bytes")
    for name in names:
        if name.startswith("/") or ".." in Path(name).parts:
            raise InvalidInput("source", f"the archive entry {name!r} would escape the application folder")
    if procfile is not None:
        if "web" not in _procfile(procfile):
            raise InvalidInput("source", "the Procfile must define a 'web:' process")
    elif "application.py" not in names:
        raise InvalidInput("source", "must contain application.py (a WSGI 'application') or a Procfile at its top level")


def _zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in ("__pycache__", ".git") for part in rel.parts) or not path.is_file():
                continue
            zf.write(path, rel.as_posix())
    return buf.getvalue()


@attrs.frozen
class _Worker:
    port: int
    proc: subprocess.Popen[bytes]
    started: int | None
    log: Path
    row_id: int


class DeployFailed(ProviderError):
    """A new version failed its health check; the environment still serves the previous version."""


class DeployTimeout(Timeout):
    """A new version was not healthy before the call's ``timeout``; it was rolled back like a failed one."""


class LocalPlatform(LocalErrors, PlatformService):
    """Applications, versions, environments and deploys on this machine."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(PROVIDER, settings)
        self.base = root_from(self.settings)
        self.root = self.base / "platform"
        with mapped("open platform folder"):
            for sub in ("envs", "bundles", "tmp"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db = Database(self.root / "platform.db", SCHEMA)
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
        self.db.close()

    # ================================================================ helpers
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A metadata transaction whose sqlite3 errors surface as cloudkit errors."""
        with mapped("update metadata"), self.db.transaction() as conn:
            yield conn

    def _event(self, message: str, *, severity: str = "INFO", application: str | None = None,
               environment: str | None = None, version: str | None = None) -> None:
        with self._tx() as conn:
            conn.execute("INSERT INTO events (ts, severity, message, application, environment, version) VALUES (?,?,?,?,?,?)",
                         (_now(), severity, message, application, environment, version))

    def _storage(self) -> Any:
        """The local storage service on the same root, or ``None`` when that family is not installed."""
        if self._storage_cloud is None:
            import cloudkit

            self._storage_cloud = cloudkit.connect("local", root=str(self.base))
        svc = self._storage_cloud.storage
        return svc if {"put_object", "download_file", "create_bucket"} <= svc.capabilities() else None

    def _app_row(self, name: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM applications WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"application {name!r} does not exist", provider=PROVIDER)
        return rows[0]

    def _version_row(self, application: str, label: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM versions WHERE application = ? AND label = ?", (application, label))
        if not rows:
            raise NotFound(f"version {label!r} of application {application!r} does not exist", provider=PROVIDER)
        return rows[0]

    def _env_row(self, ref: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM environments WHERE id = ?", (ref,))
        if not rows:
            rows = self.db.query("SELECT * FROM environments WHERE name = ? AND status != 'terminated' "
                                 "ORDER BY created_at DESC", (ref,))
        if not rows:
            raise NotFound(f"environment {ref!r} does not exist", provider=PROVIDER)
        return rows[0]

    def _live_workers(self, env_id: str, generation: int | None = None) -> list[sqlite3.Row]:
        rows = self.db.query("SELECT * FROM workers WHERE env_id = ? AND state = 'serving'", (env_id,))
        return [r for r in rows if (generation is None or r["generation"] == generation)
                and _sandbox.alive(r["pid"], r["pid_start"])]

    def _environment(self, row: sqlite3.Row) -> Environment:
        health = row["health"]
        if row["status"] in ("ready", "updating"):
            want = _settings_from(row["settings"]).instance_count or 1
            live = len(self._live_workers(row["id"], row["generation"])) if row["version"] else 0
            proxy = _sandbox.alive(row["proxy_pid"], row["proxy_start"])
            if not proxy or live == 0:
                health = "red"
            elif live < want:
                health = "yellow"
            else:
                health = "green"
        url = f"http://127.0.0.1:{row['proxy_port']}/" if row["proxy_port"] and row["status"] != "terminated" else None
        return Environment(
            id=row["id"], name=row["name"], application=row["application"], status=row["status"], health=health,
            version=row["version"], stack=row["stack"], url=url, created_at=_ts(row["created_at"]),
            updated_at=_ts(row["updated_at"]),
            extra={"cname": f"{row['name']}.local", "instances": len(self._live_workers(row["id"])),
                   "settings": _settings_from(row["settings"])},
        )

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

    def _drop_bundle(self, row: sqlite3.Row) -> None:
        if row["bundle_kind"] == "storage":
            storage = self._storage()
            if storage is not None:
                bucket, key = row["bundle_ref"].split("/", 1)
                try:
                    storage.delete_object(bucket, key)
                except NotFound:
                    pass
        elif not self.db.query("SELECT 1 FROM versions WHERE bundle_ref = ?", (row["bundle_ref"],)):
            with mapped("delete version bundle"):
                Path(row["bundle_ref"]).unlink(missing_ok=True)

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

    def _bundle(self, application: str, label: str) -> bytes:
        row = self._version_row(application, label)
        if row["bundle_kind"] == "storage":
            storage = self._storage()
            if storage is None:
                raise ProviderError("the local storage family holding this version is not installed", provider=PROVIDER)
            bucket, key = row["bundle_ref"].split("/", 1)
            with storage.get_object(bucket, key) as reader:
                data = bytes(reader.read())
        else:
            with mapped("read version bundle"):
                data = Path(row["bundle_ref"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise ProviderError(f"the bundle of version {label!r} is corrupt (checksum mismatch)", provider=PROVIDER)
        return data

    def _list_stacks(self) -> Iterator[Stack]:
        yield from STACKS.values()

    # ================================================================ processes
    def _release(self, env_id: str, generation: int, application: str, label: str) -> Path:
        dest = self.root / "envs" / env_id / "releases" / str(generation)
        data = self._bundle(application, label)
        with mapped("unpack version"):
            if dest.exists():
                shutil.rmtree(dest)
            tmp = dest.with_name(dest.name + ".part")
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                zf.extractall(tmp)
            tmp.rename(dest)
        return dest

    def _command(self, stack: str, release: Path, port: int) -> list[str]:
        procfile = release / "Procfile"
        if procfile.is_file():
            web = _procfile(procfile.read_text(errors="replace")).get("web")
            if web:
                return ["/bin/sh", "-c", f"exec {web}"]
        if stack == "procfile":
            raise DeployFailed("the bundle has no Procfile with a 'web:' process (stack 'procfile')", provider=PROVIDER)
        return [sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "--threads=4", "application:application"]

    def _spawn_workers(self, env: sqlite3.Row, generation: int, label: str, settings: EnvironmentSettings,
                       release: Path) -> list[_Worker]:
        count = settings.instance_count or 1
        logs = self.root / "envs" / env["id"] / "logs"
        with mapped("create log folder"):
            logs.mkdir(parents=True, exist_ok=True)
        workers: list[_Worker] = []
        bindir = os.path.dirname(sys.executable)
        limits: list[str] = []
        if settings.instance_type is not None and shutil.which("prlimit"):
            from cloudkit_local.compute import INSTANCE_TYPES

            size = INSTANCE_TYPES[settings.instance_type]
            limits = [str(shutil.which("prlimit")), f"--as={size.memory_mb * 1024 * 1024}", "--"]
        for i in range(count):
            port = free_port()
            argv = limits + self._command(env["stack"], release, port)
            environ = {
                "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
                "LANG": "C.UTF-8",
                "HOME": str(release),
                "PYTHONUNBUFFERED": "1",
                "PYTHONDONTWRITEBYTECODE": "1",
                "PYTHONPATH": str(release),
                "PORT": str(port),
                **dict(settings.env_vars),
            }
            log = logs / f"{generation}-{i}.log"
            with mapped("start application instance"), open(log, "ab") as out:
                proc = subprocess.Popen(argv, cwd=release, env=environ, stdin=subprocess.DEVNULL, stdout=out,
                                        stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
            self._children.append(proc)
            started = None
            for _ in range(100):
                started = _sandbox.start_time(proc.pid)
                if started is not None or proc.poll() is not None:
                    break
                time.sleep(0.002)
            with self._tx() as conn:
                cur = conn.execute(
                    "INSERT INTO workers (env_id, generation, version, port, pid, pid_start, state) VALUES (?,?,?,?,?,?,?)",
                    (env["id"], generation, label, port, proc.pid, started, "starting"),
                )
                row_id = int(cur.lastrowid or 0)
            workers.append(_Worker(port=port, proc=proc, started=started, log=log, row_id=row_id))
        return workers

    @staticmethod
    def _tail(path: Path, lines: int = 3) -> str:
        try:
            text = path.read_text(errors="replace")
        except OSError:
            return ""
        return " | ".join(line for line in text.strip().splitlines()[-lines:] if line.strip())

    def _health(self, workers: list[_Worker], path: str, deadline: float) -> str | None:
        """``None`` when every worker answers below 500, else the reason the check failed."""
        pending = list(workers)
        delay = 0.02
        while pending:
            for w in list(pending):
                if w.proc.poll() is not None:
                    return f"instance on port {w.port} exited with status {w.proc.returncode}: {self._tail(w.log)}"
                conn = http.client.HTTPConnection("127.0.0.1", w.port, timeout=5)
                try:
                    conn.request("GET", path, headers={"User-Agent": "cloudkit-local-health"})
                    status = conn.getresponse().status
                except (OSError, http.client.HTTPException):
                    continue
                finally:
                    conn.close()
                if status >= 500:
                    return f"instance on port {w.port} answered {path} with HTTP {status}: {self._tail(w.log)}"
                pending.remove(w)
            if not pending:
                return None
            if time.monotonic() >= deadline:
                return f"no answer on {path} before the health-check timeout"
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)
        return None

    def _stop_workers(self, rows: list[Any]) -> None:
        for row in rows:
            pid = row.proc.pid if isinstance(row, _Worker) else row["pid"]
            started = row.started if isinstance(row, _Worker) else row["pid_start"]
            row_id = row.row_id if isinstance(row, _Worker) else row["id"]
            if pid and started:
                _sandbox.kill(pid, started, grace=3)
            with self._tx() as conn:
                conn.execute("UPDATE workers SET state = 'stopped' WHERE id = ?", (row_id,))
        for proc in self._children:
            proc.poll()
        self._children = [p for p in self._children if p.returncode is None]

    def _write_routes(self, routes_path: str, ports: list[int], label: str | None) -> None:
        path = Path(routes_path)
        with mapped("switch traffic"):
            write_atomic(path, json.dumps({"backends": ports, "version": label}), mode=0o644)

    def _start_proxy(self, env_id: str, port: int | None) -> tuple[int, int, int | None, str]:
        routes = str(self.root / "envs" / env_id / f"routes-{secrets.token_hex(4)}.json")
        log = self.root / "envs" / env_id / "proxy.log"
        with mapped("start environment proxy"):
            (self.root / "envs" / env_id).mkdir(parents=True, exist_ok=True)
        self._write_routes(routes, [], None)
        for attempt in range(5):
            chosen = port if (port is not None and attempt == 0) else free_port()
            with mapped("start environment proxy"), open(log, "ab") as out:
                proc = subprocess.Popen(
                    [sys.executable, "-m", "cloudkit_local._appserver", "--port", str(chosen), "--routes", routes],
                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
                    close_fds=True, env=_proxy_env(),
                )
            self._children.append(proc)
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    with socket.create_connection(("127.0.0.1", chosen), timeout=0.5):
                        return chosen, proc.pid, _sandbox.start_time(proc.pid), routes
                except OSError:
                    time.sleep(0.02)
            if proc.poll() is None:
                _sandbox.kill(proc.pid, _sandbox.start_time(proc.pid) or 0, grace=1)
        raise ProviderError(f"the proxy of environment {env_id} could not start: {self._tail(log)}", provider=PROVIDER)

    # ================================================================ rollouts
    def _claim(self, env_id: str, statuses: tuple[str, ...], new_status: str) -> sqlite3.Row:
        """Mark the environment busy with a rollout by this process, or raise ``Conflict``."""
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM environments WHERE id = ?", (env_id,)).fetchall()
            if not rows:
                raise NotFound(f"environment {env_id!r} does not exist", provider=PROVIDER)
            row = rows[0]
            busy = row["busy_pid"] and _sandbox.alive(row["busy_pid"], row["busy_start"])
            if busy or row["status"] not in statuses:
                raise Conflict(f"environment {row['name']} is {row['status']}; wait until it is ready", provider=PROVIDER)
            conn.execute("UPDATE environments SET status = ?, busy_pid = ?, busy_start = ?, updated_at = ? WHERE id = ?",
                         (new_status, self._me[0], self._me[1], _now(), env_id))
        return self.db.query("SELECT * FROM environments WHERE id = ?", (env_id,))[0]

    def _rollout(self, env_id: str, label: str, settings: EnvironmentSettings, timeout: float, what: str) -> None:
        """Start ``label`` with ``settings``, health-check, switch traffic, stop the old workers (or roll back)."""
        env = self.db.query("SELECT * FROM environments WHERE id = ?", (env_id,))[0]
        app, name = env["application"], env["name"]
        deadline = time.monotonic() + timeout
        health_timeout = float(settings.options.get(HEALTH_TIMEOUT_OPTION, DEFAULT_HEALTH_TIMEOUT))
        drain = float(settings.options.get(DRAIN_OPTION, DEFAULT_DRAIN))
        path = settings.options.get(HEALTH_PATH_OPTION, "/") or "/"
        old = self.db.query("SELECT * FROM workers WHERE env_id = ? AND state IN ('serving', 'starting')", (env_id,))
        generation = env["generation"] + 1
        workers: list[_Worker] = []
        try:
            release = self._release(env_id, generation, app, label)
            workers = self._spawn_workers(env, generation, label, settings, release)
            self._event(f"Started {len(workers)} instance(s) of version {label!r}; checking their health on {path}",
                        application=app, environment=name, version=label)
            problem = self._health(workers, path, min(deadline, time.monotonic() + health_timeout))
        except CloudkitError as exc:
            problem = str(exc)
        if problem is not None:
            self._stop_workers(workers)
            # Also any worker started before a failure cut the list short.
            self._stop_workers(self.db.query("SELECT * FROM workers WHERE env_id = ? AND generation = ? AND state = 'starting'",
                                             (env_id, generation)))
            shutil.rmtree(self.root / "envs" / env_id / "releases" / str(generation), ignore_errors=True)
            serving = env["version"]
            still = f"version {serving!r} is still serving" if serving else "no version is serving"
            self._event(f"Health check failed for version {label!r}: {problem}", severity="ERROR",
                        application=app, environment=name, version=label)
            self._event(f"{what} failed; rolled back ({still})", severity="ERROR",
                        application=app, environment=name, version=label)
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'ready', health = ?, busy_pid = NULL, busy_start = NULL, "
                             "updated_at = ? WHERE id = ?", ("green" if serving else "red", _now(), env_id))
            if time.monotonic() >= deadline:
                raise DeployTimeout(f"{what} of version {label!r} to {name} did not pass its health check within "
                                    f"{timeout:g}s; rolled back, {still}", provider=PROVIDER, code="HealthCheckTimeout")
            raise DeployFailed(f"{what} of version {label!r} to {name} failed its health check ({problem}); "
                               f"rolled back, {still}", provider=PROVIDER, code="HealthCheckFailed")
        with self._tx() as conn:
            for w in workers:
                conn.execute("UPDATE workers SET state = 'serving' WHERE id = ?", (w.row_id,))
        self._write_routes(env["routes_path"], [w.port for w in workers], label)
        with self._tx() as conn:
            conn.execute("UPDATE environments SET version = ?, settings = ?, generation = ?, health = 'green', "
                         "updated_at = ? WHERE id = ?", (label, _settings_json(settings), generation, _now(), env_id))
        self._event(f"Switched traffic to version {label!r}", application=app, environment=name, version=label)
        if old:
            time.sleep(drain)
            self._stop_workers(old)
            self._event(f"Stopped {len(old)} instance(s) of the previous version", application=app, environment=name,
                        version=label)
        for gen_dir in (self.root / "envs" / env_id / "releases").glob("*"):
            if gen_dir.name != str(generation):
                shutil.rmtree(gen_dir, ignore_errors=True)
        with self._tx() as conn:
            conn.execute("UPDATE environments SET status = 'ready', busy_pid = NULL, busy_start = NULL, updated_at = ? "
                         "WHERE id = ?", (_now(), env_id))
        self._event(f"{what} completed successfully: {name} runs version {label!r}", application=app,
                    environment=name, version=label)

    def _guarded_rollout(self, env_id: str, label: str, settings: EnvironmentSettings, timeout: float, what: str) -> None:
        """A rollout that, whatever goes wrong, leaves the environment ready (or red) rather than stuck."""
        try:
            self._rollout(env_id, label, settings, timeout, what)
        except (DeployFailed, DeployTimeout):
            raise
        except BaseException as exc:
            stray = self.db.query("SELECT * FROM workers WHERE env_id = ? AND state = 'starting'", (env_id,))
            self._stop_workers(stray)
            env = self.db.query("SELECT * FROM environments WHERE id = ?", (env_id,))[0]
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'ready', busy_pid = NULL, busy_start = NULL, updated_at = ? "
                             "WHERE id = ?", (_now(), env_id))
            self._event(f"{what} of version {label!r} was interrupted ({type(exc).__name__}: {exc}); "
                        f"{'version ' + repr(env['version']) + ' is still serving' if env['version'] else 'no version is serving'}",
                        severity="ERROR", application=env["application"], environment=env["name"], version=label)
            if isinstance(exc, CloudkitError) or not isinstance(exc, Exception):
                raise
            raise ProviderError(f"{what} of version {label!r} failed: {exc}", provider=PROVIDER) from exc

    def _run(self, env_id: str, label: str, settings: EnvironmentSettings, wait: bool, timeout: float, what: str) -> Environment:
        if wait:
            self._guarded_rollout(env_id, label, settings, timeout, what)
            return self._get_environment(env_id)

        def background() -> None:
            try:
                self._guarded_rollout(env_id, label, settings, timeout, what)
            except CloudkitError:
                pass  # recorded as events

        thread = threading.Thread(target=background, name=f"cloudkit-rollout-{env_id}", daemon=True)
        self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()
        return self._get_environment(env_id)

    # ================================================================ environments
    def _create_environment(self, application: str, name: str, **kw: Any) -> Environment:
        label: str = kw["version"]
        _check_settings(kw.get("settings"))
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
        settings = _merge(settings, kw.get("settings"))
        self._app_row(application)
        self._version_row(application, label)
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
            port, pid, started, routes = self._start_proxy(env_id, None)
        except CloudkitError:
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'terminated', health = 'grey', busy_pid = NULL WHERE id = ?",
                             (env_id,))
            raise
        with self._tx() as conn:
            conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ? WHERE id = ?",
                         (port, pid, started, routes, env_id))
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
        row = self._claim(row["id"], ("ready",), "updating")
        self._event(f"Environment update is starting: deploying version {label!r}", application=row["application"],
                    environment=row["name"], version=label)
        return self._run(row["id"], label, _settings_from(row["settings"]), wait, timeout, "Deployment")

    def _update_settings(self, env: str, settings: EnvironmentSettings, wait: bool, timeout: float) -> Environment:
        _check_settings(settings)
        row = self._env_row(env)
        if not row["version"]:
            raise Conflict(f"environment {row['name']} runs no version yet; deploy one first", provider=PROVIDER)
        row = self._claim(row["id"], ("ready",), "updating")
        merged = _merge(_settings_from(row["settings"]), settings)
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
        with self._tx() as conn:
            conn.execute("UPDATE environments SET status = 'terminated', health = 'grey', proxy_pid = NULL, "
                         "busy_pid = NULL, updated_at = ? WHERE id = ?", (_now(), row["id"]))
        shutil.rmtree(self.root / "envs" / row["id"] / "releases", ignore_errors=True)
        self._event(f"terminateEnvironment completed successfully for {row['name']}", application=row["application"],
                    environment=row["name"])
        return self._environment(self._env_row(row["id"]))

    def _heal_all(self) -> None:
        """Repair what a crash or a reboot left behind (see the module docstring)."""
        for row in self.db.query("SELECT * FROM environments WHERE status NOT IN ('terminated')"):
            try:
                self._heal(row)
            except CloudkitError as exc:
                self._event(f"Could not recover environment {row['name']}: {exc}", severity="ERROR",
                            application=row["application"], environment=row["name"])

    def _heal(self, row: sqlite3.Row) -> None:
        app, name = row["application"], row["name"]
        if row["busy_pid"] and not _sandbox.alive(row["busy_pid"], row["busy_start"]):
            stray = self.db.query("SELECT * FROM workers WHERE env_id = ? AND state = 'starting'", (row["id"],))
            self._stop_workers(stray)
            if row["status"] == "terminating":
                self._terminate_environment(row["id"], True, 900)
                return
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'ready', busy_pid = NULL, busy_start = NULL WHERE id = ?",
                             (row["id"],))
            self._event(f"An interrupted {row['status']} operation was rolled back", severity="WARN", application=app,
                        environment=name, version=row["version"])
            row = self._env_row(row["id"])
        if row["status"] != "ready":
            return
        if not _sandbox.alive(row["proxy_pid"], row["proxy_start"]):
            port, pid, started, routes = self._start_proxy(row["id"], row["proxy_port"])
            with self._tx() as conn:
                conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ? "
                             "WHERE id = ?", (port, pid, started, routes, row["id"]))
            moved = "" if port == row["proxy_port"] else f" (its old port was taken; the URL is now http://127.0.0.1:{port}/)"
            self._event(f"Restarted the environment's proxy{moved}", severity="WARN", application=app, environment=name)
            row = self._env_row(row["id"])
            ports = [w["port"] for w in self._live_workers(row["id"], row["generation"])]
            self._write_routes(row["routes_path"], ports, row["version"])
        settings = _settings_from(row["settings"])
        live = self._live_workers(row["id"], row["generation"])
        if row["version"] and len(live) < (settings.instance_count or 1):
            self._event(f"{(settings.instance_count or 1) - len(live)} instance(s) are gone; replacing them",
                        severity="WARN", application=app, environment=name, version=row["version"])
            self._claim(row["id"], ("ready",), "updating")
            self._guarded_rollout(row["id"], row["version"], settings, 900, "Instance replacement")

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
        merged = _merge(base, settings)
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
            env_name = self._env_row(environment)["name"]
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
