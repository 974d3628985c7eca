"""Workers, their health checks, and the front proxy's routes."""

from __future__ import annotations

import errno
import http.client
import json
import os
import secrets
import shutil
import socket
import sqlite3
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import attrs

from cloudkit.errors import ProviderError
from cloudkit.models.platform import (
    EnvironmentSettings,
)
from cloudkit_local import _sandbox
from cloudkit_local._platform.base import PlatformBase
from cloudkit_local._platform.bundles import _procfile
from cloudkit_local._root import free_port, write_atomic
from cloudkit_local.errors import PROVIDER, mapped

LOG_BLOCK = 64 * 1024
#: The most bytes read from the end of one log file for ``logs(tail=N)``.
LOG_READ_LIMIT = 8 * 1024 * 1024


def worker_environ(release: Path, settings: EnvironmentSettings) -> dict[str, str]:
    """The environment of an instance (and of the configuration commands): minimal, plus the settings' variables."""
    bindir = os.path.dirname(sys.executable)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "HOME": str(release),
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONPATH": str(release),
        **dict(settings.env_vars),
    }


def _proxy_env() -> dict[str, str]:
    """The front proxy's environment: minimal, keeping ``PYTHONPATH`` so it imports this package."""
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env



@attrs.frozen
class _Worker:
    port: int
    proc: subprocess.Popen[bytes]
    started: int | None
    log: Path
    row_id: int


class DeployFailed(ProviderError):
    """A new version failed its health check; the environment still serves the previous version."""




class Workers(PlatformBase):
    """Start, health-check and stop worker processes; start the proxy and switch its routes."""

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
        limits: list[str] = []
        if settings.instance_type is not None and shutil.which("prlimit"):
            from cloudkit_local.compute import INSTANCE_TYPES

            size = INSTANCE_TYPES[settings.instance_type]
            limits = [str(shutil.which("prlimit")), f"--as={size.memory_mb * 1024 * 1024}", "--"]
        for i in range(count):
            port = free_port()
            argv = limits + self._command(env["stack"], release, port)
            environ = {**worker_environ(release, settings), "PORT": str(port)}
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
                    "INSERT INTO workers (env_id, generation, version, port, pid, pid_start, state, name) VALUES (?,?,?,?,?,?,?,?)",
                    (env["id"], generation, label, port, proc.pid, started, "starting", log.stem),
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

    # ------------------------------------------------------------ logs
    def _log_dir(self, env_id: str) -> Path:
        return self.root / "envs" / env_id / "logs"

    @staticmethod
    def instance_id(env_id: str, name: str) -> str:
        """The neutral id of a worker: ``<environment id>-<generation>-<index>``."""
        return f"{env_id}-{name}"

    def _worker_logs(self, env_id: str, rows: list[sqlite3.Row]) -> list[tuple[str, Path]]:
        """``(instance id, log file)`` of worker rows that recorded their log's name."""
        return [(self.instance_id(env_id, r["name"]), self._log_dir(env_id) / f"{r['name']}.log") for r in rows if r["name"]]


def _open_log(path: Path) -> int | None:
    """A read descriptor of ``path``, or ``None`` when it is missing, a symbolic link (never followed) or not a regular file."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return None
        with mapped("read instance log"):
            raise
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # a folder, a FIFO...: not a log
        os.close(fd)
        return None
    return fd


def read_tail(path: Path, lines: int, *, limit: int = LOG_READ_LIMIT) -> str:
    """The last ``lines`` lines of ``path`` (read from its end, at most ``limit`` bytes; ``""`` if missing).

    The file is opened without following a symbolic link.
    """
    fd = _open_log(path)
    if fd is None:
        return ""
    with mapped("read instance log"), os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return ""
        end = fh.seek(0, os.SEEK_END)
        data = b""
        pos = end
        while pos > 0 and data.count(b"\n") <= lines and end - pos < limit:
            step = min(LOG_BLOCK, pos, limit - (end - pos))
            pos -= step
            fh.seek(pos)
            data = fh.read(step) + data
    text = data.decode("utf-8", "replace")
    kept = text.splitlines(keepends=True)[-lines:]
    if kept and not kept[-1].endswith("\n"):
        kept[-1] += "\n"
    return "".join(kept)


def copy_log(path: Path, zf: zipfile.ZipFile, arcname: str) -> None:
    """Add the regular file ``path`` to ``zf`` as ``arcname`` (not following a link; missing files are skipped)."""
    fd = _open_log(path)
    if fd is None:
        return
    with mapped("read instance log"), os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            return
        with zf.open(arcname, "w", force_zip64=True) as out:
            shutil.copyfileobj(fh, out, LOG_BLOCK)
