"""The local provider's loadbalancer family: a real HAProxy per load balancer, on 127.0.0.1.

State lives in ``<root>/loadbalancer/lb.sqlite3`` (load balancers and their target registrations),
so a new :class:`cloudkit.Cloud` sees everything an earlier one made. Each load balancer runs one
HAProxy master-worker process (see :mod:`cloudkit_local._haproxy`), detached from the Python
process like local instances are: it keeps serving after ``close()``; ``delete_load_balancer``
stops it. Every change (listeners, targets, health check) regenerates the configuration and
reloads HAProxy gracefully. A load balancer whose process is gone (a crash, a reboot) is shown
``failed``; the next change starts it again.

* Listeners bind 127.0.0.1 only; port 0 picks a free port (recorded, so it stays the same across
  reloads). ``https`` listeners take a PEM file holding the certificate and its key (copied into
  the load balancer's private folder).
* Targets are ``Target("127.0.0.1", port)`` (any address this machine reaches) or local instances
  whose security groups open a port (they share the host's network, address 127.0.0.1); an
  instance target is reached on each listener's ``target_port`` unless it names its own port.
* Health checks are HAProxy's own; :meth:`target_health` reads them from its admin socket.
  Connections to a target that fail before the checks have caught up are retried on another
  target (``retries 3``, ``option redispatch``).
* Deregistration drains: the target stays in the configuration with weight 0 (no new connections,
  open ones continue) for ``deregistration_delay`` seconds, shown ``draining``. A small detached
  drainer process (:mod:`cloudkit_local._lbdrain`, one per load balancer at most) then removes it
  from HAProxy's configuration on its own, whether or not anything calls the service; any operation
  after the delay removes it too.
* A platform environment's load balancer (``eb-<environment id>``, see
  :mod:`cloudkit_local._platform.balancer`) records its owner; ``delete_load_balancer`` refuses it
  while the environment lives (the platform deletes it through :meth:`LocalLoadBalancer.delete_owned`).
* The scheme is ``internal`` (``internet-facing`` raises ``NotSupported``: nothing local is
  reachable from the internet).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from cloudkit.errors import AlreadyExists, Conflict, InvalidInput, NotFound, NotSupported
from cloudkit.models.loadbalancer import HealthCheck, Listener, LoadBalancer, Target, TargetHealth, listener_url
from cloudkit.services.loadbalancer import LoadBalancerService, kind_of, resolved_health_check
from cloudkit_local import _haproxy
from cloudkit_local._root import Database, free_port, root_from
from cloudkit_local.errors import PROVIDER, LocalErrors, mapped

SCHEMA = """
CREATE TABLE IF NOT EXISTS lbs (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    record      TEXT NOT NULL,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS targets (
    lb_id        TEXT NOT NULL REFERENCES lbs(id) ON DELETE CASCADE,
    key          TEXT NOT NULL,
    instance_id  TEXT,
    address      TEXT NOT NULL,
    port         INTEGER,
    drain_until  REAL,
    registered   REAL NOT NULL,
    PRIMARY KEY (lb_id, key)
) WITHOUT ROWID;
"""

HOST = "127.0.0.1"


def _key(t: Target) -> str:
    return f"{t.instance_id or t.address}:{t.port or ''}"


def _server_name(key: str) -> str:
    return "t" + hashlib.sha1(key.encode()).hexdigest()[:12]


class LocalLoadBalancer(LocalErrors, LoadBalancerService):
    """Load balancers served by HAProxy processes on this machine."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self.binary = _haproxy.find(self.settings.get("haproxy_bin"))
        if self.binary is None:
            self.unsupported = {op: _haproxy.MISSING for op in self.OPERATIONS}
        self._state: tuple[Path, Database] | None = None
        self._open_lock = threading.Lock()
        self._drainers: list[subprocess.Popen[bytes]] = []

    def _check(self, operation: str) -> None:
        """``NotSupported`` naming the package to install when HAProxy is missing."""
        if self.binary is None:
            self._not_supported(operation)

    def _open(self) -> tuple[Path, Database]:
        with self._open_lock:
            if self._state is None:
                folder = root_from(self.settings) / "loadbalancer"
                with mapped("open loadbalancer folder"):
                    folder.mkdir(mode=0o700, exist_ok=True)
                self._state = (folder, Database(folder / "lb.sqlite3", SCHEMA))
            return self._state

    @property
    def db(self) -> Database:
        """The metadata database (``<root>/loadbalancer/lb.sqlite3``)."""
        return self._open()[1]

    @property
    def native(self) -> Any:
        """The folder this family keeps its state in."""
        return self._open()[0]

    def close(self) -> None:
        """Close this thread's database connection; HAProxy processes (and drainers) keep running."""
        for proc in self._drainers:
            proc.poll()
        if self._state is not None:
            self._state[1].close()

    # ------------------------------------------------------------ records
    def _load(self, ident: str) -> dict[str, Any]:
        rows = self.db.query("SELECT record FROM lbs WHERE id = ?", (ident,)) or \
            self.db.query("SELECT record FROM lbs WHERE name = ?", (ident,))
        if not rows:
            raise NotFound(f"load balancer {ident!r} does not exist", provider=PROVIDER, code="LoadBalancerNotFound")
        rec: dict[str, Any] = json.loads(rows[0]["record"])
        return rec

    def _save(self, rec: Mapping[str, Any]) -> None:
        with mapped("save load balancer"), self.db.transaction() as conn:
            conn.execute("UPDATE lbs SET record = ? WHERE id = ?", (json.dumps(rec), rec["id"]))

    def _proc(self, rec: Mapping[str, Any]) -> _haproxy.Process:
        assert self.binary is not None
        return _haproxy.Process(self.binary, Path(rec["folder"]))

    @contextmanager
    def _locked(self, rec: Mapping[str, Any]) -> Iterator[None]:
        """Serialise changes to one load balancer (across threads and processes)."""
        with mapped("lock load balancer"):
            fd = os.open(Path(rec["folder"]) / "lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _model(self, rec: Mapping[str, Any]) -> LoadBalancer:
        listeners = tuple(Listener(protocol=item["protocol"], port=item["port"], target_port=item["target_port"],
                                   certificate=item["certificate"]) for item in rec["listeners"])
        state = rec["state"]
        reason = None
        if state == "active" and not self._proc(rec).running():
            state, reason = "failed", "the HAProxy process is not running (the next change starts it again)"
        first = listeners[0] if listeners else None
        return LoadBalancer(
            id=rec["id"], name=rec["name"], state=state, kind=rec["kind"], scheme="internal", dns_name=HOST,
            url=listener_url(first.protocol, HOST, first.port) if first else None, listeners=listeners,
            health_check=HealthCheck(**rec["health_check"]), deregistration_delay=rec["deregistration_delay"],
            created_at=datetime.fromtimestamp(rec["created_at"], UTC),
            extra={"folder": rec["folder"], "pid": self._proc(rec).master_pid(), **({"reason": reason} if reason else {}),
                   **({"environment": rec["environment"]["id"]} if rec.get("environment") else {})},
        )

    def _targets_of(self, lb_id: str) -> list[Any]:
        return self.db.query("SELECT * FROM targets WHERE lb_id = ? ORDER BY registered, key", (lb_id,))

    # ------------------------------------------------------------ applying a configuration
    def _apply(self, rec: Mapping[str, Any]) -> None:
        """Drop targets whose draining is over, write the configuration, (re)start HAProxy."""
        now = time.time()
        with mapped("expire drained targets"), self.db.transaction() as conn:
            conn.execute("DELETE FROM targets WHERE lb_id = ? AND drain_until IS NOT NULL AND drain_until <= ?",
                         (rec["id"], now))
        rows = self._targets_of(rec["id"])
        frontends = []
        for item in rec["listeners"]:
            servers = tuple(
                _haproxy.Server(_server_name(row["key"]), row["address"], row["port"] or item["target_port"],
                                row["drain_until"] is not None)
                for row in rows
            )
            frontends.append(_haproxy.Frontend(item["port"], item["protocol"], item.get("local_certificate"), servers))
        folder = Path(rec["folder"])
        text = _haproxy.render(folder, rec["kind"], frontends, rec["health_check"], rec["deregistration_delay"])
        proc = self._proc(rec)
        with mapped("configure HAProxy"):
            proc.write_config(text)
            if proc.running():
                proc.reload()
            else:
                proc.start()

    def _expire(self, rec: Mapping[str, Any]) -> None:
        """Apply the configuration when some draining target's delay is over."""
        due = self.db.query("SELECT 1 FROM targets WHERE lb_id = ? AND drain_until IS NOT NULL AND drain_until <= ?",
                            (rec["id"], time.time()))
        if due:
            with self._locked(rec):
                self._apply(self._load(rec["id"]))

    def _spawn_drainer(self, rec: Mapping[str, Any]) -> None:
        """Start the detached drainer that removes ``rec``'s drained targets when their delay is over.

        It outlives this process (like HAProxy); a second one started while one runs exits at once.
        """
        assert self.binary is not None
        env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
        if os.environ.get("PYTHONPATH"):
            env["PYTHONPATH"] = os.environ["PYTHONPATH"]
        argv = [sys.executable, "-m", "cloudkit_local._lbdrain", "--root", str(root_from(self.settings)),
                "--haproxy", self.binary, "--lb", rec["id"]]
        with mapped("start the drainer"), open(Path(rec["folder"]) / "drain.log", "ab") as log:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                    start_new_session=True, close_fds=True, env=env)
        self._drainers = [p for p in self._drainers if p.poll() is None] + [proc]

    def finish_draining(self, lb_id: str, *, poll: float = 0.5) -> None:
        """Remove ``lb_id``'s draining targets as their delays run out; return when none is left.

        The body of the drainer process: it holds ``drain.lock`` in the load balancer's folder so that
        one runs per load balancer, and gives it up only while holding the load balancer's own lock
        after seeing no draining target (a deregistration, made under that lock, then starts a new one).
        Returns at once when another drainer runs, and when the load balancer is deleted.
        """
        try:
            rec = self._load(lb_id)
            fd = os.open(Path(rec["folder"]) / "drain.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except (NotFound, OSError):
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return
            while True:
                try:
                    rec = self._load(lb_id)
                except NotFound:
                    return
                if not Path(rec["folder"]).is_dir():
                    return
                rows = self.db.query("SELECT drain_until FROM targets WHERE lb_id = ? AND drain_until IS NOT NULL",
                                     (lb_id,))
                if not rows:
                    with self._locked(rec):
                        if not self.db.query("SELECT 1 FROM targets WHERE lb_id = ? AND drain_until IS NOT NULL",
                                             (lb_id,)):
                            os.close(fd)
                            fd = -1
                            return
                    continue
                due = min(row["drain_until"] for row in rows)
                if due <= time.time():
                    with self._locked(rec):
                        rec = self._load(lb_id)
                        if rec["state"] != "deleting":
                            self._apply(rec)
                    continue
                time.sleep(min(poll, max(0.05, due - time.time())))
        finally:
            if fd >= 0:
                os.close(fd)

    def _bind(self, item: Listener, rec: Mapping[str, Any], field: str) -> dict[str, Any]:
        """A listener as recorded: port 0 replaced by a free port, an https certificate copied in."""
        port = item.port or free_port()
        if item.port and not _port_free(item.port):
            raise Conflict(f"{field}: port {item.port} is in use on {HOST} (by another load balancer or program)",
                           provider=PROVIDER)
        out: dict[str, Any] = {"protocol": item.protocol, "port": port, "target_port": item.target_port,
                               "certificate": item.certificate}
        if item.certificate is not None:
            source = Path(item.certificate)
            if not source.is_file():
                raise InvalidInput(f"{field}.certificate", "must be a PEM file holding the certificate and its key on local")
            target = Path(rec["folder"]) / f"cert-{port}.pem"
            with mapped("copy certificate"):
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
                with os.fdopen(fd, "wb") as fh:
                    fh.write(source.read_bytes())
            out["local_certificate"] = str(target)
        return out

    # ------------------------------------------------------------ load balancers
    def _create_load_balancer(self, name: str, listeners: list[Listener], health_check: HealthCheck,
                              scheme: str | None, deregistration_delay: int, wait: bool, timeout: float) -> LoadBalancer:
        self._check("create_load_balancer")
        if scheme == "internet-facing":
            raise NotSupported(PROVIDER, "loadbalancer.create_load_balancer",
                               "scheme internet-facing: local load balancers listen on 127.0.0.1 only (use internal)")
        kind = kind_of(listeners[0].protocol) if listeners else "application"
        lb_id = "lb-" + uuid.uuid4().hex[:16]
        folder = Path(tempfile.mkdtemp(prefix="cklb-"))
        rec: dict[str, Any] = {
            "id": lb_id, "name": name, "kind": kind, "state": "provisioning", "folder": str(folder),
            "listeners": [], "health_check": attrs.asdict(resolved_health_check(health_check, kind)),
            "deregistration_delay": deregistration_delay, "created_at": time.time(),
        }
        try:
            rec["listeners"] = [self._bind(item, rec, f"listeners[{i}]") for i, item in enumerate(listeners)]
            with mapped("create load balancer"), self.db.transaction() as conn:
                if conn.execute("SELECT 1 FROM lbs WHERE name = ?", (name,)).fetchone():
                    raise AlreadyExists(f"a load balancer named {name!r} already exists", provider=PROVIDER,
                                        code="DuplicateLoadBalancerName")
                conn.execute("INSERT INTO lbs (id, name, record, created_at) VALUES (?, ?, ?, ?)",
                             (lb_id, name, json.dumps(rec), rec["created_at"]))
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        try:
            with self._locked(rec):
                self._apply(rec)
        except BaseException:  # nothing half made stays behind: no process, no record, no folder
            with contextlib.suppress(Exception):
                self._proc(rec).stop()
            with contextlib.suppress(Exception), self.db.transaction() as conn:
                conn.execute("DELETE FROM lbs WHERE id = ?", (lb_id,))
            shutil.rmtree(folder, ignore_errors=True)
            raise
        rec["state"] = "active"
        self._save(rec)
        return self._model(rec)

    def _get_load_balancer(self, load_balancer: str) -> LoadBalancer:
        self._check("get_load_balancer")
        return self._model(self._load(load_balancer))

    def _list_load_balancers(self) -> Iterator[LoadBalancer]:
        self._check("list_load_balancers")
        rows = self.db.query("SELECT record FROM lbs ORDER BY name")
        return (self._model(json.loads(row["record"])) for row in rows)

    # ------------------------------------------------------------ environments' load balancers
    def set_owner(self, lb_id: str, env_id: str, env_name: str) -> None:
        """Record that the platform environment ``env_id`` owns ``lb_id`` (shown in ``extra["environment"]``)."""
        rec = self._load(lb_id)
        with self._locked(rec):
            rec = self._load(lb_id)
            rec["environment"] = {"id": env_id, "name": env_name}
            self._save(rec)

    def _owner_live(self, rec: Mapping[str, Any]) -> str | None:
        """The name of the live environment owning ``rec`` (read from the platform's metadata), else ``None``."""
        owner = rec.get("environment")
        if not owner:
            return None
        path = root_from(self.settings) / "platform" / "platform.db"
        if not path.is_file():
            return None
        try:
            with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)) as conn:
                found = conn.execute("SELECT status FROM environments WHERE id = ?", (owner["id"],)).fetchone()
        except sqlite3.Error:
            return str(owner["name"])  # cannot tell: keep it (the environment's terminate deletes it)
        if found is None or found[0] in ("terminated", "terminating"):
            return None
        return str(owner["name"])

    def delete_owned(self, lb_id: str, env_id: str) -> None:
        """Delete the load balancer of environment ``env_id`` (the platform calls this; no ownership refusal)."""
        rec = self._load(lb_id)
        if (rec.get("environment") or {}).get("id", env_id) != env_id or rec["name"] != f"eb-{env_id}":
            raise Conflict(f"load balancer {rec['name']} does not belong to environment {env_id}", provider=PROVIDER)
        self._delete(rec)

    def registered_ports(self, lb_id: str) -> list[int]:
        """The ports of the address targets registered (not draining) with ``lb_id``."""
        return [row["port"] for row in self._targets_of(lb_id) if row["drain_until"] is None and row["port"]]

    def set_deregistration_delay(self, lb_id: str, delay: int) -> None:
        """Change how long deregistered targets drain (applies to later deregistrations)."""
        rec = self._load(lb_id)
        if rec["deregistration_delay"] == delay:
            return
        with self._locked(rec):
            rec = self._load(lb_id)
            rec["deregistration_delay"] = delay
            self._apply(rec)
            self._save(rec)

    def ensure_running(self, lb_id: str) -> bool:
        """Start ``lb_id``'s HAProxy again when it is not running; whether it had to."""
        rec = self._load(lb_id)
        if self._proc(rec).running():
            return False
        with self._locked(rec):
            rec = self._load(lb_id)
            self._apply(rec)
            rec["state"] = "active"
            self._save(rec)
        return True

    def _delete_load_balancer(self, load_balancer: str) -> None:
        self._check("delete_load_balancer")
        rec = self._load(load_balancer)
        owner = self._owner_live(rec)
        if owner is not None:
            raise Conflict(f"load balancer {rec['name']} belongs to platform environment {owner}: terminate the "
                           "environment (or clear its load-balancer listener options) instead", provider=PROVIDER,
                           code="ResourceInUse")
        self._delete(rec)

    def _delete(self, rec: dict[str, Any]) -> None:
        rec["state"] = "deleting"
        self._save(rec)
        with self._locked(rec):
            with mapped("stop HAProxy"):
                self._proc(rec).stop()
            with mapped("delete load balancer"), self.db.transaction() as conn:
                conn.execute("DELETE FROM targets WHERE lb_id = ?", (rec["id"],))
                conn.execute("DELETE FROM lbs WHERE id = ?", (rec["id"],))
        shutil.rmtree(rec["folder"], ignore_errors=True)

    # ------------------------------------------------------------ listeners
    def _add_listener(self, load_balancer: str, listener: Listener) -> Listener:
        self._check("add_listener")
        rec = self._load(load_balancer)
        with self._locked(rec):
            rec = self._load(rec["id"])
            if rec["listeners"] and kind_of(listener.protocol) != rec["kind"]:
                raise Conflict(f"load balancer {rec['name']} is an {rec['kind']} load balancer: "
                               f"a {listener.protocol} listener does not fit", provider=PROVIDER)
            if any(item["port"] == listener.port for item in rec["listeners"]):
                raise Conflict(f"load balancer {rec['name']} already listens on port {listener.port}",
                               provider=PROVIDER, code="DuplicateListener")
            if not rec["listeners"] and kind_of(listener.protocol) != rec["kind"]:
                rec["kind"] = kind_of(listener.protocol)
                rec["health_check"] = attrs.asdict(resolved_health_check(
                    attrs.evolve(HealthCheck(**rec["health_check"]), protocol=None), rec["kind"]))
            bound = self._bind(listener, rec, "listener")
            rec["listeners"].append(bound)
            self._apply(rec)
            rec["state"] = "active"
            self._save(rec)
        return Listener(protocol=bound["protocol"], port=bound["port"], target_port=bound["target_port"],
                        certificate=bound["certificate"])

    def _remove_listener(self, load_balancer: str, port: int) -> None:
        self._check("remove_listener")
        rec = self._load(load_balancer)
        with self._locked(rec):
            rec = self._load(rec["id"])
            kept = [item for item in rec["listeners"] if item["port"] != port]
            if len(kept) == len(rec["listeners"]):
                raise NotFound(f"load balancer {rec['name']} has no listener on port {port}", provider=PROVIDER,
                               code="ListenerNotFound")
            rec["listeners"] = kept
            self._apply(rec)
            self._save(rec)
        with contextlib.suppress(OSError):
            (Path(rec["folder"]) / f"cert-{port}.pem").unlink()

    # ------------------------------------------------------------ targets
    def _resolve(self, t: Target) -> Target:
        """An instance target with its address (the instance must share the host's network)."""
        if t.instance_id is None:
            return t
        from cloudkit_local.compute import LocalCompute

        compute = LocalCompute(self.settings)
        try:
            inst = compute.get_instance(t.instance_id)
        finally:
            compute.close()
        if inst.state == "terminated":
            raise Conflict(f"instance {inst.id} is terminated", provider=PROVIDER)
        if inst.private_ip is None:
            raise Conflict(f"instance {inst.id} shares no network with the load balancer: none of its security "
                           "groups opens a port (see docs/local/compute.md)", provider=PROVIDER)
        return attrs.evolve(t, address=inst.private_ip)

    def _register_targets(self, load_balancer: str, targets: list[Target]) -> None:
        self._check("register_targets")
        rec = self._load(load_balancer)
        resolved = [self._resolve(t) for t in targets]
        with self._locked(rec):
            rec = self._load(rec["id"])
            now = time.time()
            with mapped("register targets"), self.db.transaction() as conn:
                for given, t in zip(targets, resolved, strict=True):
                    conn.execute(
                        "INSERT INTO targets (lb_id, key, instance_id, address, port, drain_until, registered) "
                        "VALUES (?, ?, ?, ?, ?, NULL, ?) ON CONFLICT (lb_id, key) DO UPDATE SET drain_until = NULL, "
                        "address = excluded.address",
                        (rec["id"], _key(given), t.instance_id, t.address, t.port, now),
                    )
            self._apply(rec)

    def _deregister_targets(self, load_balancer: str, targets: list[Target]) -> None:
        self._check("deregister_targets")
        rec = self._load(load_balancer)
        with self._locked(rec):
            rec = self._load(rec["id"])
            have = {row["key"]: row for row in self._targets_of(rec["id"])}
            for t in targets:
                row = have.get(_key(t))
                if row is None or row["drain_until"] is not None:
                    shown = t.instance_id or f"{t.address}" + (f":{t.port}" if t.port else "")
                    raise NotFound(f"target {shown} is not registered with load balancer {rec['name']}; nothing was "
                                   "changed", provider=PROVIDER, code="InvalidTarget")
            until = time.time() + rec["deregistration_delay"]
            with mapped("deregister targets"), self.db.transaction() as conn:
                conn.executemany("UPDATE targets SET drain_until = ? WHERE lb_id = ? AND key = ?",
                                 [(until, rec["id"], _key(t)) for t in targets])
            self._apply(rec)
        self._spawn_drainer(rec)

    def _target_health(self, load_balancer: str) -> list[TargetHealth]:
        self._check("target_health")
        rec = self._load(load_balancer)
        self._expire(rec)
        rows = self._targets_of(rec["id"])
        proc = self._proc(rec)
        stats: dict[tuple[str, str], dict[str, str]] = {}
        if rec["listeners"] and proc.running():
            with mapped("read HAProxy stats"):
                stats = {(row["pxname"], row["svname"]): row for row in proc.stats()}
        out: dict[Target, TargetHealth] = {}
        for row in rows:
            state: str
            reason: str | None
            name = _server_name(row["key"])
            ports = sorted({row["port"] or item["target_port"] for item in rec["listeners"]}) or [row["port"]]
            for port in ports:
                shown = Target(address=row["address"], port=port, instance_id=row["instance_id"])
                if row["drain_until"] is not None:
                    state, reason, native = "draining", "deregistered: open connections may finish", ""
                elif not rec["listeners"]:
                    state, reason, native = "unused", "the load balancer has no listener", ""
                elif not stats:
                    state, reason, native = "unhealthy", "the load balancer's process is not running", ""
                else:
                    seen = [stats[(f"b{item['port']}", name)] for item in rec["listeners"]
                            if (row["port"] or item["target_port"]) == port and (f"b{item['port']}", name) in stats]
                    state, reason, native = _health(seen)
                health = TargetHealth(target=shown, state=state, reason=reason, extra={"haproxy_status": native})
                out.setdefault(shown, health)
        return list(out.values())

    def _set_health_check(self, load_balancer: str, health_check: HealthCheck) -> LoadBalancer:
        self._check("set_health_check")
        rec = self._load(load_balancer)
        with self._locked(rec):
            rec = self._load(rec["id"])
            rec["health_check"] = attrs.asdict(resolved_health_check(health_check, rec["kind"]))
            self._apply(rec)
            rec["state"] = "active"
            self._save(rec)
        return self._model(rec)


def _health(rows: list[dict[str, str]]) -> tuple[str, str | None, str]:
    """The neutral state of a server from its ``show stat`` rows (the worst over the backends using it)."""
    if not rows:
        return "initial", "not checked yet", ""
    order = {"healthy": 0, "initial": 1, "unhealthy": 2}
    worst: tuple[str, str | None, str] = ("healthy", None, "")
    for row in rows:
        status = row.get("status", "")
        check = row.get("check_status", "")
        desc = row.get("last_chk", "") or check
        if status.startswith("UP"):
            one: tuple[str, str | None, str] = ("healthy", None, status)
        elif check.lstrip("* ") in ("", "INI"):
            one = ("initial", "not checked yet", status)
        elif status.startswith("DOWN"):
            one = ("unhealthy", f"health check failed: {check} {desc}".strip(), status)
        else:
            one = ("unhealthy", f"HAProxy reports {status}", status)
        if order[one[0]] > order[worst[0]]:
            worst = one
        elif worst[2] == "":
            worst = (worst[0], worst[1], one[2])
    return worst


def _port_free(port: int) -> bool:
    """Whether ``port`` can be bound on 127.0.0.1 now (HAProxy binds without SO_REUSEPORT, see _haproxy)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as HAProxy binds it (TIME_WAIT is fine)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def make_service(settings: Mapping[str, Any]) -> LocalLoadBalancer:
    """Build the local loadbalancer service (called by the local plugin)."""
    return LocalLoadBalancer(settings)


__all__ = ["LocalLoadBalancer", "make_service"]

