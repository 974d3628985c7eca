"""Rollouts: claim an environment, start a new generation, check it, switch traffic, stop the old one; healing."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

from cloudkit.errors import CloudkitError, Conflict, NotFound, ProviderError, Timeout
from cloudkit.models.platform import (
    Environment,
    EnvironmentSettings,
)
from cloudkit_local import _sandbox
from cloudkit_local._platform import ebextensions
from cloudkit_local._platform.balancer import LB_MIN_DRAIN, Balancer, lb_name
from cloudkit_local._platform.base import (
    DEFAULT_DRAIN,
    DEFAULT_HEALTH_TIMEOUT,
    DRAIN_OPTION,
    HEALTH_PATH_OPTION,
    HEALTH_TIMEOUT_OPTION,
    _now,
    _settings_from,
    _settings_json,
    listener_ports,
)
from cloudkit_local._platform.bundles import Bundles
from cloudkit_local._platform.notify import Notifications
from cloudkit_local._platform.workers import DeployFailed, Workers, _Worker, worker_environ
from cloudkit_local.errors import PROVIDER, mapped


class DeployTimeout(Timeout):
    """A new version was not healthy before the call's ``timeout``; it was rolled back like a failed one."""




class Rollout(Workers, Bundles, Notifications, Balancer):
    """Rolling a version (with settings) out to an environment, and repairing environments on open."""

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
        old = self.db.query("SELECT * FROM workers WHERE env_id = ? AND state IN ('serving', 'starting')", (env_id,))
        generation = env["generation"] + 1
        workers: list[_Worker] = []
        stage, code, drain = "Health check", "HealthCheckFailed", DEFAULT_DRAIN
        effective = settings
        try:
            release = self._release(env_id, generation, app, label)
            stage, code = "Configuration file", "ConfigurationInvalid"
            ext = ebextensions.parse(ebextensions.read_release(release))
            effective = ext.under(settings)
            stage, code = "A configuration command", "CommandFailed"
            self._run_commands(env, generation, label, release, ext, effective, deadline)
            stage, code = "Health check", "HealthCheckFailed"
            health_timeout = float(effective.options.get(HEALTH_TIMEOUT_OPTION, DEFAULT_HEALTH_TIMEOUT))
            drain = float(effective.options.get(DRAIN_OPTION, DEFAULT_DRAIN))
            path = effective.options.get(HEALTH_PATH_OPTION, "/") or "/"
            workers = self._spawn_workers(env, generation, label, effective, release)
            self._event(f"Started {len(workers)} instance(s) of version {label!r}; checking their health on {path}",
                        application=app, environment=name, version=label)
            problem = self._health(workers, path, min(deadline, time.monotonic() + health_timeout))
        except CloudkitError as exc:
            problem = str(exc)
        if problem is None:
            try:
                self._switch_front(env_id, effective, [w.port for w in workers], label)
            except CloudkitError as exc:
                stage, code, problem = "Traffic switch", "SwitchFailed", str(exc)
                self._restore_front(env, [w["port"] for w in old if w["state"] == "serving"])
        if problem is not None:
            self._stop_workers(workers)
            # Also any worker started before a failure cut the list short.
            self._stop_workers(self.db.query("SELECT * FROM workers WHERE env_id = ? AND generation = ? AND state = 'starting'",
                                             (env_id, generation)))
            shutil.rmtree(self.root / "envs" / env_id / "releases" / str(generation), ignore_errors=True)
            serving = env["version"]
            still = f"version {serving!r} is still serving" if serving else "no version is serving"
            self._event(f"{stage} failed for version {label!r}: {problem}", severity="ERROR",
                        application=app, environment=name, version=label)
            self._event(f"{what} failed; rolled back ({still})", severity="ERROR",
                        application=app, environment=name, version=label)
            with self._tx() as conn:
                conn.execute("UPDATE environments SET status = 'ready', health = ?, busy_pid = NULL, busy_start = NULL, "
                             "updated_at = ? WHERE id = ?", ("green" if serving else "red", _now(), env_id))
            try:  # the subscription follows the settings that stay
                self._sync_notifications(env_id, name, app, _settings_from(env["settings"]))
            except CloudkitError as exc:
                self._event(f"Could not restore the notification subscription: {exc}", severity="WARN",
                            application=app, environment=name)
            if time.monotonic() >= deadline:
                raise DeployTimeout(f"{what} of version {label!r} to {name} did not pass its health check within "
                                    f"{timeout:g}s; rolled back, {still}", provider=PROVIDER, code="HealthCheckTimeout")
            check = {"HealthCheckFailed": "its health check", "SwitchFailed": "to switch traffic"}.get(
                code, stage.lower().removeprefix("a "))
            raise DeployFailed(f"{what} of version {label!r} to {name} failed {check} ({problem}); "
                               f"rolled back, {still}", provider=PROVIDER, code=code)
        with self._tx() as conn:
            for w in workers:
                conn.execute("UPDATE workers SET state = 'serving' WHERE id = ?", (w.row_id,))
        with self._tx() as conn:
            conn.execute("UPDATE environments SET version = ?, settings = ?, generation = ?, health = 'green', "
                         "updated_at = ? WHERE id = ?", (label, _settings_json(settings), generation, _now(), env_id))
        self._event(f"Switched traffic to version {label!r}", application=app, environment=name, version=label)
        if old:
            # Behind a load balancer, also past the idle timeout of clients' connections to the old HAProxy worker.
            time.sleep(max(drain, LB_MIN_DRAIN) if listener_ports(effective.options) else drain)
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
        if not self._front_alive(row):
            row = self._repair_front(row)
        settings = _settings_from(row["settings"])
        live = self._live_workers(row["id"], row["generation"])
        if row["version"] and len(live) < (settings.instance_count or 1):
            self._event(f"{(settings.instance_count or 1) - len(live)} instance(s) are gone; replacing them",
                        severity="WARN", application=app, environment=name, version=row["version"])
            self._claim(row["id"], ("ready",), "updating")
            self._guarded_rollout(row["id"], row["version"], settings, 900, "Instance replacement")

    def _switch_front(self, env_id: str, settings: EnvironmentSettings, ports: list[int], label: str) -> None:
        """Send the environment's traffic to the workers on ``ports``: through its load balancer, else its proxy."""
        env = self._env_row(env_id)
        wanted = listener_ports(settings.options)
        if wanted:
            self._switch_to_lb(env, wanted, settings, ports)
        elif env["lb_id"]:  # the listener options were cleared: back to the environment's own proxy
            port, pid, started, routes = self._start_proxy(env_id, None)
            self._write_routes(routes, ports, label)
            with self._tx() as conn:
                conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ? "
                             "WHERE id = ?", (port, pid, started, routes, env_id))
            self._drop_lb(env)
            self._event(f"The load balancer {lb_name(env_id)} was removed; the environment's proxy serves it at "
                        f"http://127.0.0.1:{port}/", application=env["application"], environment=env["name"],
                        version=label)
        else:
            self._write_routes(env["routes_path"], ports, label)

    def _restore_front(self, before: sqlite3.Row, ports: list[int]) -> None:
        """After a failed switch, the front as ``before`` had it, sending to the old workers (best effort)."""
        try:
            settings = _settings_from(before["settings"])
            wanted = listener_ports(settings.options)
            now = self._env_row(before["id"])
            if wanted and before["lb_id"]:
                self._converge_lb(now, wanted, settings, ports)
            elif not before["lb_id"]:
                self._drop_lb(now)
                with self._tx() as conn:
                    conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ?,"
                                 " lb_id = NULL WHERE id = ?", (before["proxy_port"], before["proxy_pid"],
                                                                before["proxy_start"], before["routes_path"], before["id"]))
        except CloudkitError as exc:
            self._event(f"Could not restore the environment's front after a failed switch: {exc}", severity="WARN",
                        application=before["application"], environment=before["name"])

    def _repair_front(self, row: sqlite3.Row) -> sqlite3.Row:
        """Start the environment's dead front again: its load balancer, else its proxy."""
        settings = _settings_from(row["settings"])
        wanted = listener_ports(settings.options)
        if not wanted:
            return self._restart_proxy(row)
        ports = [w["port"] for w in self._live_workers(row["id"], row["generation"])]
        lb = self._converge_lb(row, wanted, settings, ports)
        self._event(f"Restarted the environment's load balancer {lb.name} (its HAProxy was not running)",
                    severity="WARN", application=row["application"], environment=row["name"])
        return self._env_row(row["id"])

    def _restart_proxy(self, row: sqlite3.Row) -> sqlite3.Row:
        """Start the environment's dead proxy again (on its port when free) with the serving workers' routes."""
        port, pid, started, routes = self._start_proxy(row["id"], row["proxy_port"])
        with self._tx() as conn:
            conn.execute("UPDATE environments SET proxy_port = ?, proxy_pid = ?, proxy_start = ?, routes_path = ? "
                         "WHERE id = ?", (port, pid, started, routes, row["id"]))
        moved = "" if port == row["proxy_port"] else f" (its old port was taken; the URL is now http://127.0.0.1:{port}/)"
        self._event(f"Restarted the environment's proxy{moved}", severity="WARN", application=row["application"],
                    environment=row["name"])
        row = self._env_row(row["id"])
        ports = [w["port"] for w in self._live_workers(row["id"], row["generation"])]
        self._write_routes(row["routes_path"], ports, row["version"])
        return row

    def _run_commands(self, env: sqlite3.Row, generation: int, label: str, release: Path, ext: ebextensions.Extensions,
                      settings: EnvironmentSettings, deadline: float) -> None:
        """Run the bundle's ``commands`` then ``container_commands`` in the new release (``DeployFailed`` on a failure)."""
        if not ext.commands:
            return
        app, name = env["application"], env["name"]
        log_path = self._log_dir(env["id"]) / f"{generation}-commands.log"
        environ = worker_environ(release, settings)
        with mapped("run configuration commands"):
            log_path.parent.mkdir(parents=True, exist_ok=True)
        for cmd in ext.commands:
            cwd = (release / cmd.cwd) if cmd.cwd else release
            where = f"{cmd.section} {cmd.name!r} of {cmd.source}"
            if not cwd.is_dir() or cwd.is_symlink():
                raise DeployFailed(f"{where}: its cwd {cmd.cwd!r} is not a folder of the application", provider=PROVIDER)
            left = deadline - time.monotonic()
            try:
                with mapped("run configuration commands"), open(log_path, "ab") as log:
                    status = ebextensions.run(cmd, str(cwd), environ, log, max(left, 0.001))
            except subprocess.TimeoutExpired:
                raise DeployFailed(f"{where} did not finish before the call's timeout", provider=PROVIDER) from None
            if status == -1:
                self._event(f"Skipped {where}: its test did not pass", application=app, environment=name, version=label)
            elif status == 0:
                self._event(f"Ran {where}", application=app, environment=name, version=label)
            elif cmd.ignore_errors:
                self._event(f"{where} failed with status {status} (ignored: ignoreErrors is set)", severity="WARN",
                            application=app, environment=name, version=label)
            else:
                raise DeployFailed(f"{where} failed with status {status}: {self._tail(log_path)}", provider=PROVIDER)
