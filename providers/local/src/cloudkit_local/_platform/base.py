"""Shared state of the local platform: the metadata schema, settings helpers, row lookups and events."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from cloudkit.errors import InvalidInput, NotFound
from cloudkit.models.platform import (
    Environment,
    EnvironmentSettings,
    Stack,
)
from cloudkit.settings import Settings
from cloudkit_local import _sandbox
from cloudkit_local._root import Database
from cloudkit_local.errors import PROVIDER, mapped

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
    lb_id TEXT,
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
    state TEXT NOT NULL,
    name TEXT
);
CREATE TABLE IF NOT EXISTS env_topics (
    env_id TEXT PRIMARY KEY,
    env_name TEXT NOT NULL,
    topic_id TEXT NOT NULL,
    subscription_id TEXT,
    protocol TEXT,
    endpoint TEXT,
    created_at TEXT NOT NULL
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
MIN_SIZE_OPTION = "aws:autoscaling:asg:MinSize"
MAX_SIZE_OPTION = "aws:autoscaling:asg:MaxSize"
KEY_PAIR_OPTION = "aws:autoscaling:launchconfiguration:EC2KeyName"
NOTIFY_ENDPOINT_OPTION = "aws:elasticbeanstalk:sns:topics:Notification Endpoint"
NOTIFY_PROTOCOL_OPTION = "aws:elasticbeanstalk:sns:topics:Notification Protocol"
NOTIFY_PROTOCOLS = ("email", "http", "https", "sms", "queue")
LOAD_BALANCER_PREFIXES = ("aws:elb:", "aws:elbv2:")
#: The classic load balancer's HTTP port (a port, or ``OFF``).
LB_HTTP_PORT_OPTION = "aws:elb:loadbalancer:LoadBalancerHTTPPort"
#: Listener options local honours, per listener namespace (``aws:elb:listener:PORT``,
#: ``aws:elbv2:listener:PORT``, ``aws:elbv2:listener:default`` = port 80): option -> allowed values.
LISTENER_OPTIONS = {
    "aws:elb:listener": {"ListenerEnabled": ("true", "false"), "ListenerProtocol": ("HTTP",)},
    "aws:elbv2:listener": {"ListenerEnabled": ("true", "false"), "Protocol": ("HTTP",)},
}
#: The options the local provider applies (``aws:autoscaling:asg`` sizes become the neutral range).
HONOURED_OPTIONS = frozenset({"aws:elasticbeanstalk:application:Application Healthcheck URL", "cloudkit:health:Timeout",
                              "cloudkit:deploy:DrainSeconds", NOTIFY_ENDPOINT_OPTION, NOTIFY_PROTOCOL_OPTION})
#: Options whose empty value removes them.
CLEARABLE_OPTIONS = frozenset({NOTIFY_ENDPOINT_OPTION, HEALTH_PATH_OPTION})
DEFAULT_HEALTH_TIMEOUT = 30.0
DEFAULT_DRAIN = 1.0


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None



def _settings_json(settings: EnvironmentSettings) -> str:
    return json.dumps({
        "env_vars": dict(settings.env_vars),
        "instance_count": settings.instance_count,
        "instance_type": settings.instance_type,
        "options": dict(settings.options),
        "min_instances": settings.min_instances,
        "max_instances": settings.max_instances,
    })


def _settings_from(text: str) -> EnvironmentSettings:
    """Stored settings in their read-back form: the range filled (1 to 1 when never set), ``instance_count`` its minimum."""
    data = json.loads(text)
    low = data.get("min_instances") or data["instance_count"] or 1
    high = data.get("max_instances") or max(low, data["instance_count"] or 1)
    return EnvironmentSettings(env_vars=data["env_vars"], instance_type=data["instance_type"],
                               options=data["options"]).with_scaling(low, high)


def _merge(base: EnvironmentSettings, new: EnvironmentSettings | None, field: str = "settings") -> EnvironmentSettings:
    """``new`` laid over ``base`` (what ``new`` leaves out stays); the merged range is checked."""
    if new is None:
        return base
    low, high = new.scaling()
    low = low if low is not None else base.min_instances
    high = high if high is not None else base.max_instances
    if low is None and high is not None:
        low = 1
    if low is not None and high is not None and low > high:
        name = "max_instances" if new.max_instances is not None or new.min_instances is None else "min_instances"
        raise InvalidInput(f"{field}.{name}", f"would leave min_instances {low} above max_instances {high}")
    merged = EnvironmentSettings(
        env_vars={**base.env_vars, **new.env_vars},
        instance_type=new.instance_type if new.instance_type is not None else base.instance_type,
        options={k: val for k, val in {**base.options, **new.options}.items()
                 if val != "" or (k not in CLEARABLE_OPTIONS and not k.startswith(LOAD_BALANCER_PREFIXES))},
    )
    return merged.with_scaling(low, high) if low is not None else merged


def _seconds(settings: EnvironmentSettings, key: str) -> None:
    try:
        value = float(settings.options[key])
    except ValueError:
        value = -1
    if not 0 <= value <= 3600:
        raise InvalidInput(f"settings.options[{key!r}]", "must be a number of seconds from 0 to 3600")


def _check_settings(settings: EnvironmentSettings | None) -> EnvironmentSettings | None:
    """Provider rules on settings; returns them with the autoscaling options moved into the neutral range.

    Every option either takes effect on local or is refused here, naming the option: see :data:`HONOURED_OPTIONS`.
    """
    if settings is None:
        return None
    from cloudkit import validation as v
    from cloudkit_local.compute import INSTANCE_TYPES

    if settings.instance_type is not None and settings.instance_type not in INSTANCE_TYPES:
        raise InvalidInput("settings.instance_type", f"must be one of {', '.join(INSTANCE_TYPES)}")
    options = dict(settings.options)
    scaling: dict[str, int] = {}
    for key, name in ((MIN_SIZE_OPTION, "min_instances"), (MAX_SIZE_OPTION, "max_instances")):
        if key in options:
            text = options.pop(key)
            if not text.isdigit() or not 1 <= int(text) <= 100:
                raise InvalidInput(f"settings.options[{key!r}]", f"must be a whole number from 1 to 100 (got {text!r})")
            given = getattr(settings, name)
            if given is not None and given != int(text):
                raise InvalidInput(f"settings.options[{key!r}]", f"disagrees with settings.{name} ({given})")
            scaling[name] = int(text)
    for key in options:
        field = f"settings.options[{key!r}]"
        if key == KEY_PAIR_OPTION:
            raise InvalidInput(field, "cannot be used on the local provider: its instances are processes on this machine, "
                                      "with no SSH server to log in to (leave the key pair out)")
        if key.startswith(LOAD_BALANCER_PREFIXES):
            _check_listener_option(field, key, options[key])
            continue
        if key not in HONOURED_OPTIONS:
            raise InvalidInput(field, "is not an option the local provider can honour; it honours "
                                      + ", ".join(repr(k) for k in sorted(HONOURED_OPTIONS)))
    for key in (HEALTH_TIMEOUT_OPTION, DRAIN_OPTION):
        if key in options:
            _seconds(settings, key)
    path = options.get(HEALTH_PATH_OPTION)
    if path is not None and path != "" and (not path.startswith("/") or any(c.isspace() or ord(c) < 32 for c in path)):
        raise InvalidInput(f"settings.options[{HEALTH_PATH_OPTION!r}]", "must be a path starting with '/' without spaces")
    protocol = options.get(NOTIFY_PROTOCOL_OPTION, "email")
    if protocol not in NOTIFY_PROTOCOLS:
        raise InvalidInput(f"settings.options[{NOTIFY_PROTOCOL_OPTION!r}]", f"must be one of {', '.join(NOTIFY_PROTOCOLS)}")
    endpoint = options.get(NOTIFY_ENDPOINT_OPTION)
    if endpoint:
        try:
            v.endpoint(protocol, endpoint)
        except InvalidInput as exc:
            raise InvalidInput(f"settings.options[{NOTIFY_ENDPOINT_OPTION!r}]", exc.rule) from None
    if not scaling and options == dict(settings.options):
        return settings
    low = scaling.get("min_instances", settings.min_instances)
    high = scaling.get("max_instances", settings.max_instances)
    count = settings.instance_count if low is None else low
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"settings.options[{MAX_SIZE_OPTION!r}]", f"must not be less than the minimum (got {high} < {low})")
    return attrs.evolve(settings, options=options, instance_count=count, min_instances=low, max_instances=high)


def _listener_option(key: str) -> tuple[int, str] | None:
    """``(port, option)`` of a listener option key (``aws:elb:listener:8080:ListenerEnabled``), else ``None``."""
    ns, _, option = key.rpartition(":")
    family, _, port = ns.rpartition(":")
    if family not in LISTENER_OPTIONS or option not in LISTENER_OPTIONS[family]:
        return None
    if port == "default" and family == "aws:elbv2:listener":
        return 80, option
    if port.isdigit() and len(port) <= 5 and 1 <= int(port) <= 65535:
        return int(port), option
    return None


def _check_listener_option(field: str, key: str, value: str) -> None:
    """``InvalidInput`` naming ``field`` unless ``key`` = ``value`` is a listener setting local honours."""
    if key == LB_HTTP_PORT_OPTION:
        if value != "" and value.upper() != "OFF" and not (value.isdigit() and len(value) <= 5 and 1 <= int(value) <= 65535):
            raise InvalidInput(field, f"must be a port from 1 to 65535 or OFF (got {value!r})")
        return
    found = _listener_option(key)
    if found is None:
        raise InvalidInput(field, "is not a load-balancer option the local provider honours; it honours "
                                  f"{LB_HTTP_PORT_OPTION!r} and, per listener port (or 'default', port 80, for elbv2), "
                                  "'aws:elb:listener:PORT:ListenerEnabled' / 'ListenerProtocol' and "
                                  "'aws:elbv2:listener:PORT:ListenerEnabled' / 'Protocol' (HTTP only)")
    allowed = LISTENER_OPTIONS[key.rpartition(":")[0].rpartition(":")[0]][found[1]]
    if value != "" and value.upper() not in (a.upper() for a in allowed):
        more = " (an https listener needs a certificate: use the loadbalancer family directly)" if allowed == ("HTTP",) else ""
        raise InvalidInput(field, f"must be one of {', '.join(allowed)} on the local provider (got {value!r}){more}")


def listener_ports(options: dict[str, str] | Any) -> list[int] | None:
    """The environment's load-balancer ports from its options, ascending; ``None`` when no option asks for one.

    A listener port is named by any option of its namespace and is enabled unless its ``ListenerEnabled``
    is ``false``; ``LoadBalancerHTTPPort`` adds its port (``OFF`` none). An empty list means every
    listener named is disabled.
    """
    named: dict[int, bool] = {}
    asked = False
    for key, value in options.items():
        if not key.startswith(LOAD_BALANCER_PREFIXES):
            continue
        asked = True
        if key == LB_HTTP_PORT_OPTION:
            if value.isdigit():
                named.setdefault(int(value), True)
            continue
        found = _listener_option(key)
        if found is None:
            continue
        port, option = found
        enabled = not (option == "ListenerEnabled" and value.lower() == "false")
        named[port] = named.get(port, True) and enabled
    return sorted(port for port, on in named.items() if on) if asked else None


def migrate(db: Database) -> None:
    """Bring a metadata database made by an older version up to this schema."""
    with mapped("upgrade metadata schema"):
        columns = {row["name"] for row in db.query("PRAGMA table_info(workers)")}
        if "name" not in columns:
            with db.transaction() as conn:
                conn.execute("ALTER TABLE workers ADD COLUMN name TEXT")
        if "lb_id" not in {row["name"] for row in db.query("PRAGMA table_info(environments)")}:
            with db.transaction() as conn:
                conn.execute("ALTER TABLE environments ADD COLUMN lb_id TEXT")


class PlatformBase:
    """State and lookups every part of the local platform uses (the service sets the attributes)."""

    settings: Settings
    base: Path
    root: Path
    db: Database
    _storage_cloud: Any
    _lock: threading.RLock
    _threads: list[threading.Thread]
    _children: list[subprocess.Popen[bytes]]
    _me: tuple[int, int | None]

    if TYPE_CHECKING:  # service methods the parts call back into
        def _get_environment(self, env_id_or_name: str) -> Environment:
            ...

        def _terminate_environment(self, env: str, wait: bool, timeout: float) -> Environment:
            ...

        def _publish_event(self, environment: str, severity: str, message: str) -> None:
            ...

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
        if environment is not None:
            self._publish_event(environment, severity, message)


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

    def _env_row(self, ref: str, *, include_terminated: bool = False) -> sqlite3.Row:
        """An environment by id, else the live one of that name (else, when asked, the newest terminated one)."""
        rows = self.db.query("SELECT * FROM environments WHERE id = ?", (ref,))
        if not rows:
            rows = self.db.query("SELECT * FROM environments WHERE name = ? AND status != 'terminated' "
                                 "ORDER BY created_at DESC", (ref,))
        if not rows and include_terminated:
            rows = self.db.query("SELECT * FROM environments WHERE name = ? ORDER BY created_at DESC, rowid DESC", (ref,))
        if not rows:
            raise NotFound(f"environment {ref!r} does not exist", provider=PROVIDER)
        return rows[0]

    def _live_workers(self, env_id: str, generation: int | None = None) -> list[sqlite3.Row]:
        rows = self.db.query("SELECT * FROM workers WHERE env_id = ? AND state = 'serving'", (env_id,))
        return [r for r in rows if (generation is None or r["generation"] == generation)
                and _sandbox.alive(r["pid"], r["pid_start"])]

    def _front_alive(self, row: sqlite3.Row) -> bool:
        """Whether what receives the environment's traffic (its proxy; see ``Balancer``) runs."""
        return _sandbox.alive(row["proxy_pid"], row["proxy_start"])

    def _environment(self, row: sqlite3.Row) -> Environment:
        health = row["health"]
        if row["status"] in ("ready", "updating"):
            want = _settings_from(row["settings"]).instance_count or 1
            live = len(self._live_workers(row["id"], row["generation"])) if row["version"] else 0
            proxy = self._front_alive(row)
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
                   "settings": _settings_from(row["settings"]),
                   **({"load_balancer": f"eb-{row['id']}"} if row["lb_id"] and row["status"] != "terminated" else {})},
        )

