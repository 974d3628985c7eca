"""The ``mysql`` engine (alias ``mariadb``): real MariaDB servers (Debian's ``mariadb-server``).

Each instance is its own ``mariadbd`` on a free 127.0.0.1 port, run as an unprivileged user
(``mysql``, or the setting ``mysql_os_user``, when we are root; else the current user), with its
data folder made by ``mariadb-install-db`` and every setting in the instance's ``my.cnf``.
cloudkit administers the server over its Unix socket as that operating-system user
(``unix_socket`` authentication), so no administrative password exists; the master user
(``'<name>'@'%'``, every privilege but ``SUPER`` and ``READ_ONLY ADMIN``, as on RDS) logs in
over TCP with the master password. Passwords reach the server only through a client's standard
input, never a command line, a file or a log.

* Every server writes a binary log (row format) into its archive folder.
* Snapshots are ``mariabackup`` copies (consistent for InnoDB, prepared at once so each is a
  ready data folder, recording the binary-log position); a stopped instance is copied cold.
* Point-in-time restore copies the newest backup taken before the target time and replays the
  source's binary log from the backup's position with ``mariadb-binlog --stop-datetime``. The
  binary log keeps whole seconds: writes made in the target time's second are included.
* Read replicas are seeded by ``mariabackup`` and replicate by GTID (``CHANGE MASTER TO ...
  MASTER_USE_GTID=slave_pos``) as a replication user of their own; they run ``read_only``.
  Promotion stops replication and makes the server writable.
* A Multi-AZ instance keeps a standby ``mariadbd`` (a data folder of its own, its own 127.0.0.1
  port, the same OS user), seeded from a ``mariabackup`` of the primary and replicating by GTID
  with semi-synchronous replication (``AFTER_SYNC``: a commit returns only once the standby has
  the transaction in its relay log). The timeout is long (:data:`SEMI_SYNC_TIMEOUT_MS`) so that
  commits do not silently fall back to asynchronous. A forced failover makes the primary
  read-only, waits until the standby has applied its last GTID, stops it, promotes the standby
  (``STOP SLAVE; RESET SLAVE ALL``) and restarts it on the instance's port with the instance's
  binary-log archive: it continues the archive's file sequence and GTID history (``gtid_strict_mode``),
  so point-in-time restore works across the failover. The old primary is rebuilt as the standby
  from a fresh ``mariabackup``.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import subprocess
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cloudkit.errors import ProviderError
from cloudkit_local import _postgres as pg
from cloudkit_local._root import free_port
from cloudkit_local.db.base import Engine, Host
from cloudkit_local.db.postgres import _port_free
from cloudkit_local.errors import mapped

SERVER = "mariadbd"
#: small servers: these settings are also given to mariadb-install-db so that its files fit them
_INNODB = ("--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M", "--performance-schema=OFF")
_TEMPLATE_LOCK = threading.Lock()
#: dynamic settings whose default on cloudkit's servers is not MariaDB's (a reset returns to these)
DEFAULTS = {"max_connections": "40", "character_set_server": "utf8mb4"}
#: server settings cloudkit writes itself: a parameter group may not change them
MANAGED = frozenset({
    "basedir", "bind_address", "binlog_format", "datadir", "init_file", "log_bin", "log_bin_basename", "log_bin_index",
    "log_error", "pid_file", "plugin_dir", "port", "read_only", "relay_log", "secure_file_priv", "server_id",
    "skip_grant_tables", "skip_networking", "socket", "tmpdir", "user", "general_log_file", "slow_query_log_file",
    "plugin_load", "plugin_load_add", "init_connect", "init_slave",
    "rpl_semi_sync_master_enabled", "rpl_semi_sync_slave_enabled", "rpl_semi_sync_master_wait_point",
    "rpl_semi_sync_master_timeout", "gtid_strict_mode",
})
#: how long a commit on a Multi-AZ primary waits for the standby's acknowledgement before MariaDB falls
#: back to asynchronous replication: long (five minutes), so that a commit is not silently acknowledged
#: without the standby having it; a standby that is down makes commits wait instead
SEMI_SYNC_TIMEOUT_MS = 300_000
#: the user the standby replicates as
STANDBY_USER = "cloudkit_standby"
TOOLS = ("mariadb-install-db", "mariadb", "mariadb-admin", "mariabackup", "mariadb-binlog")


def _quote(text: str) -> str:
    """A MariaDB string literal (default ``sql_mode``: backslash escapes)."""
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


class MysqlEngine(Engine):
    """MariaDB servers, one per instance."""

    name: ClassVar[str] = "mysql"
    aliases: ClassVar[tuple[str, ...]] = ("mariadb",)
    point_in_time: ClassVar[bool] = True
    replicas: ClassVar[bool] = True
    multi_az: ClassVar[bool] = True
    base_methods: ClassVar[tuple[str, ...]] = ("mariabackup", "cold copy")

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.runner: pg.Runner | None = None
        self.os_user = ""
        self._variables: set[str] | None = None
        self.reason = self._find(host.settings)

    def _find(self, settings: Mapping[str, Any]) -> str:
        missing = [t for t in (SERVER, *TOOLS) if shutil.which(t, path=_path()) is None]
        if missing:
            return (f"MariaDB is not installed ({', '.join(missing)} missing); install Debian's mariadb-server and "
                    "mariadb-backup packages")
        if os.geteuid() == 0:
            name = str(settings.get("mysql_os_user", "mysql"))
            try:
                user = pwd.getpwnam(name)
            except KeyError:
                return f"running as root and there is no unprivileged user {name!r} to run MariaDB as"
            if user.pw_uid == 0:
                return "mysql_os_user must be an unprivileged user"
            if shutil.which("setpriv") is None:
                return "running as root needs setpriv (util-linux) to start MariaDB as an unprivileged user"
            uid, gid, switch = user.pw_uid, user.pw_gid, True
        else:
            uid, gid, switch = os.geteuid(), os.getegid(), False
            name = pwd.getpwuid(uid).pw_name
        try:
            out = subprocess.run([str(shutil.which(SERVER, path=_path())), "--version"], capture_output=True, text=True,
                                 check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            return f"cannot run {SERVER}: {exc}"
        m = re.search(r"Ver (\d+(?:\.\d+)+)", out.stdout)
        self.os_user = name
        self.runner = pg.Runner(bindir=Path("/nonexistent"), uid=uid, gid=gid, switch=switch,
                                version=m[1] if m else "unknown")
        return ""

    @property
    def version(self) -> str:
        """The installed MariaDB server's version."""
        return self._runner().version

    def _runner(self) -> pg.Runner:
        self.require("database.mysql")
        assert self.runner is not None
        return self.runner

    # ------------------------------------------------------------ running tools
    def _tool(self, tool: str, *args: str, stdin: str | None = None, secret: str | None = None, timeout: float = 600,
              operation: str) -> str:
        """Run a MariaDB tool as the server user; ``secret`` never appears in an error."""
        runner = self._runner()
        argv = runner.argv(str(shutil.which(tool, path=_path()) or tool), *args)
        env = {"PATH": _path(), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC", "HOME": "/nonexistent"}
        with mapped(operation):
            try:
                done = subprocess.run(argv, input=stdin if stdin is not None else "", capture_output=True, text=True, env=env,
                                      cwd="/", timeout=timeout, check=True)
            except subprocess.CalledProcessError as exc:
                if secret:
                    exc.stderr = (exc.stderr or "").replace(secret, "***")
                    exc.output = (exc.output or "").replace(secret, "***")
                    exc.cmd = [str(a).replace(secret, "***") for a in exc.cmd]
                raise
        return done.stdout

    def admin(self, rec: Mapping[str, Any], sql: str, *, secret: str | None = None, timeout: float = 120) -> list[list[str]]:
        """Run SQL over the instance's socket as the administrative OS user; the rows (tab-separated)."""
        out = self._tool("mariadb", "--no-defaults", f"--socket={self._socket(rec)}", f"--user={self.os_user}", "--batch",
                         "--skip-column-names", "--connect-timeout=10", stdin=sql, secret=secret, timeout=timeout,
                         operation=f"talk to database server {rec['id']}")
        return [line.split("\t") for line in out.splitlines()]

    # ------------------------------------------------------------ places
    def place(self) -> Path:
        """Where MariaDB data folders and snapshots live (reachable by the server user)."""
        if self._home is None:
            runner = self._runner()
            self._home = pg.data_home(runner, self.host.root, self.host.settings, setting="mysql_data_root",
                                      folder="mysql", suffix="-mysql")
        return self._home

    def tidy(self, left: int) -> None:
        """Remove a data folder outside the root once nothing is left in it."""
        if self._home is None or self._home.parent != pg.FALLBACK_HOME or left or self.runner is None:
            return
        pg.remove_tree(self.runner, self._home)
        self._home = None

    def _socket(self, rec: Mapping[str, Any]) -> Path:
        path = Path(rec["dir"]) / "mysqld.sock"
        if len(str(path)) > 100:  # the limit of a Unix socket's path
            path = self.place() / "sockets" / f"{str(rec['uid'])[:16]}.sock"
        return path

    # ------------------------------------------------------------ records
    def new_record(self, rec: dict[str, Any], kw: Mapping[str, Any]) -> None:
        """A free port and a server id of its own."""
        rec["port"] = free_port()
        rec["server_id"] = secrets.randbelow(2**31 - 2) + 1

    def model_extra(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        """``log`` (the server's error log), ``archive`` (binary logs), ``server`` (``MariaDB``), ``standby``."""
        extra: dict[str, Any] = {"log": str(Path(rec["dir"]) / "server.log"), "archive": rec.get("archive"),
                                 "server": "MariaDB"}
        node = rec.get("standby")
        if node:
            extra["standby"] = {"endpoint": f"127.0.0.1:{int(node['port'])}", "dir": node["dir"],
                                "running": self.standby_running(rec), "log": str(Path(node["dir"]) / "server.log")}
        return extra

    def _pid(self, rec: Mapping[str, Any]) -> int | None:
        try:
            pid = int((Path(rec["dir"]) / "mysqld.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        try:  # a killed server not yet reaped by its parent (init) is a zombie: gone all the same
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            return pid
        return None if state in ("Z", "X") else pid

    def running(self, rec: Mapping[str, Any]) -> bool:
        """Whether the instance's ``mariadbd`` runs."""
        return self._pid(rec) is not None

    # ------------------------------------------------------------ server
    def config(self, rec: Mapping[str, Any]) -> str:
        """The instance's ``my.cnf`` (rewritten on every start)."""
        idir = Path(rec["dir"])
        lines = [
            "# managed by cloudkit's local provider; rewritten on every start",
            "[mariadbd]",
            f"datadir = {idir / 'data'}",
            "bind-address = 127.0.0.1",
            f"port = {int(rec['port'])}",
            f"socket = {self._socket(rec)}",
            f"pid-file = {idir / 'mysqld.pid'}",
            f"log-error = {idir / 'server.log'}",
            f"server-id = {int(rec['server_id'])}",
            "binlog-format = ROW",
            "skip-name-resolve",
            *(f"{name} = {value}" for name, value in DEFAULTS.items()),
            *(option.lstrip("-").replace("=", " = ") for option in _INNODB),
        ]
        role = rec.get("role")
        if role != "standby":  # only the primary writes (and archives) binary logs
            lines.append(f"log-bin = {Path(rec['archive']) / 'mysql-bin'}")
        if rec.get("replica_of") or role == "standby":
            lines += ["read-only = ON", f"relay-log = {idir / 'relay' / 'relay-bin'}"]
        if role == "standby":
            lines += ["rpl-semi-sync-slave-enabled = ON", "gtid-strict-mode = ON"]
        elif role == "old":  # a primary being failed over from: nothing more is written on it
            lines += ["read-only = ON", "gtid-strict-mode = ON"]
        elif rec.get("standby"):
            lines.append("gtid-strict-mode = ON")
            if not rec.get("failover"):  # (asynchronous until the rebuilt standby is back)
                lines += ["rpl-semi-sync-master-enabled = ON", "rpl-semi-sync-master-wait-point = AFTER_SYNC",
                          f"rpl-semi-sync-master-timeout = {SEMI_SYNC_TIMEOUT_MS}"]
        params = dict(rec.get("parameters") or {})
        if params:
            lines.append(f"# parameter group {rec.get('parameter_group')}")
            lines += [f"{name} = {value}" for name, value in sorted(params.items())]
        return "\n".join(lines) + "\n"

    # ------------------------------------------------------------ versions
    def major(self, version: str) -> str:
        """MariaDB's major version is its first two numbers (``10.11``)."""
        return ".".join(version.split(".")[:2])

    def upgrade(self, rec: dict[str, Any], timeout: float, *, running: bool) -> None:
        """Restart on the installed binaries, then ``mariadb-upgrade`` (system tables of the new version)."""
        if not running:
            return
        self.restart(rec, timeout)
        self._tool("mariadb-upgrade", "--no-defaults", f"--socket={self._socket(rec)}", f"--user={self.os_user}", "--silent",
                   timeout=timeout, operation=f"upgrade the system tables of {rec['id']}")

    # ------------------------------------------------------------ parameters
    def family(self, version: str | None = None) -> str | None:
        """``mysql`` and MariaDB's major.minor version: ``mysql10.11``."""
        return "mysql" + ".".join((version or self.version).split(".")[:2])

    def _catalog(self) -> set[str]:
        """Every server variable ``mariadbd --verbose --help`` lists (cached)."""
        if self._variables is None:
            out = self._tool(SERVER, "--no-defaults", "--verbose", "--help", timeout=60, operation="list the server variables")
            names: set[str] = set()
            listing = False
            for line in out.splitlines():
                if line.startswith("Variables (--variable-name=value)"):
                    listing = True
                elif listing and line and not line.startswith("-"):
                    names.add(line.split()[0].replace("-", "_"))
            self._variables = names
        return self._variables

    def check_parameters(self, names: list[str]) -> None:
        """Refuse names MariaDB does not have and the settings cloudkit manages."""
        from cloudkit.errors import InvalidInput

        managed = sorted(n for n in names if n in MANAGED)
        if managed:
            raise InvalidInput("parameters", f"{', '.join(managed)} cannot be set: cloudkit manages them on this engine")
        unknown = sorted(n for n in names if n not in self._catalog())
        if unknown:
            raise InvalidInput("parameters", f"{', '.join(unknown)}: not a parameter of {self.family()}")

    def static_parameters(self, rec: Mapping[str, Any], names: list[str]) -> list[str]:
        """The names the running server reports read-only (changed only by a restart)."""
        listed = ", ".join(_quote(n.upper()) for n in names)
        rows = self.admin(rec, "SELECT LOWER(VARIABLE_NAME) FROM information_schema.SYSTEM_VARIABLES "
                               f"WHERE READ_ONLY = 'NO' AND VARIABLE_NAME IN ({listed});\n")
        dynamic = {r[0] for r in rows if r}
        return sorted(n for n in names if n not in dynamic)

    def apply_parameters(self, rec: Mapping[str, Any], changed: list[str], timeout: float) -> None:
        """``SET GLOBAL`` each changed name to its value (``DEFAULT`` when reset)."""
        params = dict(rec.get("parameters") or {})
        statements = []
        for name in changed:
            value = params.get(name)
            if value is None and name in DEFAULTS:
                value = DEFAULTS[name]  # cloudkit's default for its small servers, as after a restart
            literal = "DEFAULT" if value is None else value if re.fullmatch(r"-?\d+(?:\.\d+)?", value) else _quote(value)
            statements.append(f"SET GLOBAL {name} = {literal};")
        self.admin(rec, "\n".join(statements) + "\n", timeout=timeout)
        if self.standby_running(rec):  # the standby gets the same settings
            self.admin(self._standby_view(rec, rec["standby"]), "\n".join(statements) + "\n", timeout=timeout)

    def create(self, rec: dict[str, Any], password: str, timeout: float) -> None:
        """``mariadb-install-db``, start, create the master user and the database."""
        runner = self._runner()
        template = self._template(timeout)
        idir = runner.mkdir(Path(rec["dir"]))
        runner.mkdir(Path(rec["archive"]))
        runner.run("cp", "-a", str(template), str(idir / "data"), timeout=timeout, operation="copy the initial data folder")
        self.start(rec, timeout)
        user = _quote(str(rec["master_username"]))
        sql = (f"CREATE USER {user}@'%' IDENTIFIED BY {_quote(password)};\n"
               f"GRANT ALL PRIVILEGES ON *.* TO {user}@'%' WITH GRANT OPTION;\n"
               f"REVOKE SUPER, READ_ONLY ADMIN ON *.* FROM {user}@'%';\n")
        if rec.get("database_name"):
            sql += f"CREATE DATABASE `{rec['database_name']}`;\n"
        self.admin(rec, sql, secret=password)

    def _template(self, timeout: float) -> Path:
        """An empty data folder made once by ``mariadb-install-db`` (a copy of it starts each new instance)."""
        with _TEMPLATE_LOCK:
            runner = self._runner()
            folder = self.place() / "template"
            data = folder / f"data-{self.version}-{runner.uid}"
            if data.exists():
                return data
            runner.mkdir(folder)
            work = folder / f"making-{os.getpid()}-{secrets.token_hex(4)}"
            try:
                self._tool("mariadb-install-db", "--no-defaults", f"--datadir={work}", f"--user={self.os_user}",
                           "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve",
                           *_INNODB, timeout=timeout, operation="initialise database server")
                try:
                    os.rename(work, data)  # atomic: another process sees all of it or nothing
                except OSError:
                    if not data.exists():  # else another process made it first: use that one
                        raise
            finally:
                self.remove_tree(work)
            return data

    def start(self, rec: dict[str, Any], timeout: float) -> None:
        """Start the instance's ``mariadbd`` (a new free port when the old one was taken), then its standby."""
        if not self.running(rec) and not _port_free(int(rec["port"])):
            rec["port"] = free_port()
            self.host._save(rec)
        self._serve(rec, timeout)
        if rec.get("standby") and not rec.get("failover"):
            self._start_standby(rec, timeout)

    def _serve(self, rec: Mapping[str, Any], timeout: float) -> None:
        """Start the ``mariadbd`` of ``rec`` (an instance or a view of its standby) detached; wait until it answers."""
        runner = self._runner()
        if self.running(rec):
            return
        idir = Path(rec["dir"])
        if rec.get("replica_of") or rec.get("role") == "standby":
            runner.mkdir(idir / "relay")
        sock = self._socket(rec)
        if sock.parent != idir:
            runner.mkdir(sock.parent)
        runner.write_private(idir / "my.cnf", self.config(rec))
        with mapped(f"start database server {rec['id']}"):
            (idir / "mysqld.pid").unlink(missing_ok=True)
        # setsid --fork: the server is no child of ours (never a zombie we would have to reap)
        argv = runner.argv(str(shutil.which(SERVER, path=_path())), f"--defaults-file={idir / 'my.cnf'}")
        with mapped(f"start database server {rec['id']}"):
            subprocess.run(["setsid", "--fork", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL, cwd="/", env={"PATH": _path(), "TZ": "UTC"}, check=True, timeout=30)
        started = time.monotonic()

        def up() -> bool:
            if self._ping(rec):
                return True
            if time.monotonic() - started > 5 and not self.running(rec) and "ERROR" in self._log_tail(rec):
                raise ProviderError(f"database server {rec['id']} did not start: {self._log_tail(rec)}", provider="local")
            return False

        pg.wait_until(up, timeout, f"database server {rec['id']}", "accepting connections", interval=0.02)

    def _ping(self, rec: Mapping[str, Any]) -> bool:
        """Whether the server accepts connections: its socket answers with the protocol's greeting."""
        import socket

        path = self._socket(rec)
        if not path.exists() or not self.running(rec):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            try:
                sock.connect(str(path))
                return bool(sock.recv(4))
            except OSError:
                return False

    def _log_tail(self, rec: Mapping[str, Any]) -> str:
        try:
            lines = (Path(rec["dir"]) / "server.log").read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return " | ".join(line for line in lines[-5:] if "ERROR" in line)

    def stop(self, rec: Mapping[str, Any], timeout: float) -> None:
        """Stop the primary, then the standby (the primary's last transactions reach it first)."""
        self._halt(rec, timeout)
        if rec.get("standby"):
            self._halt(self._standby_view(rec, rec["standby"]), timeout)

    def _halt(self, rec: Mapping[str, Any], timeout: float) -> None:
        """``SHUTDOWN`` over the socket; wait until the process is gone."""
        pid = self._pid(rec)
        if pid is None:
            return
        try:
            self._tool("mariadb-admin", "--no-defaults", f"--socket={self._socket(rec)}", f"--user={self.os_user}",
                       f"--shutdown-timeout={int(timeout) or 1}", "shutdown", timeout=timeout + 30,
                       operation=f"stop database server {rec['id']}")
        except ProviderError:
            if self._pid(rec) is None:
                return
            with mapped(f"stop database server {rec['id']}"):
                os.kill(pid, 15)  # the socket does not answer: SIGTERM is a clean shutdown too
        pg.wait_until(lambda: self._pid(rec) is None, timeout, f"database server {rec['id']}", "stopped", interval=0.05)

    def destroy(self, rec: Mapping[str, Any]) -> None:
        """Kill the servers (primary and standby; their data is going) and delete their folders."""
        if rec.get("standby"):
            self._kill(self._standby_view(rec, rec["standby"]))
        plan = rec.get("failover")
        if plan:  # a failover cut short: both folders it names go
            for node in (plan["old"], plan["new"]):
                self._kill(self._standby_view(rec, node))
        self._kill(rec)

    def _kill(self, rec: Mapping[str, Any], *, keep_archive: bool = False) -> None:
        """Kill a server and delete its folder (``keep_archive``: but the instance's archive, when it is inside)."""
        pid = self._pid(rec)
        if pid is not None:
            with mapped(f"stop database server {rec['id']}"):
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            pg.wait_until(lambda: self._pid(rec) is None, 30, f"database server {rec['id']}", "stopped", interval=0.02)
        folder = Path(rec["dir"])
        archive = Path(rec["archive"]) if keep_archive and rec.get("archive") else None
        if archive is None or archive.parent != folder:
            self.remove_tree(folder)
            return
        # a server folder that once was the primary's holds the instance's binary-log archive: it stays
        with mapped(f"remove the files of {rec['id']}"):
            children = list(folder.iterdir()) if folder.exists() else []
            for child in children:
                if child == archive:
                    continue
                if child.is_dir() and not child.is_symlink():
                    self.remove_tree(child)
                else:
                    child.unlink(missing_ok=True)

    def restart(self, rec: dict[str, Any], timeout: float) -> None:
        """Stop, then start."""
        self.stop(rec, timeout)
        self.start(rec, timeout)

    def set_password(self, rec: Mapping[str, Any], password: str) -> None:
        """``ALTER USER ... IDENTIFIED BY`` (through standard input)."""
        self.admin(rec, f"ALTER USER {_quote(str(rec['master_username']))}@'%' IDENTIFIED BY {_quote(password)};\n",
                   secret=password)

    # ------------------------------------------------------------ snapshots
    def snapshot(self, rec: Mapping[str, Any], target: Path, live: bool, timeout: float) -> dict[str, Any]:
        """``mariabackup --backup`` then ``--prepare`` of a running server; a cold copy of a stopped one."""
        runner = self._runner()
        runner.mkdir(target)
        base = target / "base"
        if not live:
            runner.run("cp", "-a", str(Path(rec["dir"]) / "data"), str(base), timeout=timeout,
                       operation="copy a stopped server's data")
            logs = self._binlogs(Path(rec["archive"]))
            end = logs[-1] if logs else None
            return {"method": "cold copy", "binlog_file": end.name if end else None,
                    "binlog_pos": end.stat().st_size if end else None}
        self._tool("mariabackup", "--no-defaults", "--backup", f"--target-dir={base}", f"--socket={self._socket(rec)}",
                   f"--user={self.os_user}", timeout=timeout, operation=f"snapshot database server {rec['id']}")
        self._tool("mariabackup", "--no-defaults", "--prepare", f"--target-dir={base}", timeout=timeout,
                   operation=f"prepare the snapshot of {rec['id']}")
        info = _binlog_info(base)
        return {"method": "mariabackup", **info}

    def _binlogs(self, archive: Path) -> list[Path]:
        try:
            return sorted(p for p in archive.iterdir() if re.fullmatch(r"mysql-bin\.\d{6}", p.name))
        except OSError:
            return []

    def _copy_base(self, base: Path, rec: Mapping[str, Any], timeout: float) -> None:
        runner = self._runner()
        idir = runner.mkdir(Path(rec["dir"]))
        runner.mkdir(Path(rec["archive"]))
        runner.run("cp", "-a", str(base), str(idir / "data"), timeout=timeout, operation="copy a backup")

    def copy_files(self, source: Path, target: Path, timeout: float) -> None:
        """``cp -a`` as the server user (ownership and modes kept)."""
        runner = self._runner()
        runner.mkdir(target.parent)
        runner.run("cp", "-a", str(source), str(target), timeout=timeout, operation="copy a snapshot")
        runner.own(target)

    def restore(self, snap: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """Copy the prepared backup and start a server on it."""
        self._copy_base(Path(snap["path"]) / "base", rec, timeout)
        self.start(rec, timeout)

    # ------------------------------------------------------------ point in time
    def latest_restorable(self, rec: Mapping[str, Any], backups: list[dict[str, Any]]) -> float | None:
        """The newest binary-log write or backup."""
        stamps = [p.stat().st_mtime for p in self._binlogs(Path(rec["archive"]))]
        stamps += [s["record_backup_time"] for s in backups]
        return max(stamps) if stamps else None

    def mark_now(self, rec: Mapping[str, Any], timeout: float) -> float | None:
        """``FLUSH BINARY LOGS``: everything committed so far is in a closed file."""
        stamp = time.time()
        self.admin(rec, "FLUSH BINARY LOGS;\n", timeout=timeout)
        return stamp

    def restore_to_time(self, src: Mapping[str, Any], base: Mapping[str, Any], rec: dict[str, Any], target: float | None,
                        timeout: float) -> None:
        """Copy ``base``, start, replay ``src``'s binary log from the backup's position up to ``target``."""
        self._copy_base(Path(base["path"]) / "base", rec, timeout)
        self.start(rec, timeout)
        logs = self._binlogs(Path(src["archive"]))
        first = base.get("binlog_file")
        if first is not None:
            logs = [p for p in logs if p.name >= str(first)]
        if not logs:
            return
        args = ["--no-defaults"]
        if first is not None and logs[0].name == first and base.get("binlog_pos"):
            args.append(f"--start-position={int(base['binlog_pos'])}")
        if target is not None:
            # whole seconds in the log: stop at the first event after the target's second
            stop = datetime.fromtimestamp(int(target) + 1, UTC).strftime("%Y-%m-%d %H:%M:%S")
            args.append(f"--stop-datetime={stop}")
        events = self._tool("mariadb-binlog", *args, *[str(p) for p in logs], timeout=timeout,
                            operation=f"read the binary log of {src['id']}")
        self.admin(rec, events, timeout=timeout)

    def clean_archive(self, rec: Mapping[str, Any], backups: list[dict[str, Any]]) -> None:
        """``PURGE BINARY LOGS TO`` the oldest kept backup's file (while the server runs)."""
        files = [s.get("binlog_file") for s in backups]
        if not files or any(f is None for f in files) or not self.running(rec):
            return
        self.admin(rec, f"PURGE BINARY LOGS TO {_quote(min(str(f) for f in files))};\n")

    # ------------------------------------------------------------ replicas
    def create_replica(self, src: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """Seed from a ``mariabackup`` of the source, then replicate by GTID as a replication user of its own."""
        runner = self._runner()
        seed = Path(rec["dir"]) / "seed"
        try:
            info = self.snapshot(src, seed, True, timeout)
            self._copy_base(seed / "base", rec, timeout)
        finally:
            self.remove_tree(seed)
        if not info.get("gtid"):
            raise ProviderError(f"the backup of {src['id']} recorded no GTID position", provider="local")
        user = f"cloudkit_repl_{str(rec['uid'])[:16]}"
        password = secrets.token_urlsafe(24)
        self.admin(src, f"CREATE OR REPLACE USER '{user}'@'%' IDENTIFIED BY {_quote(password)};\n"
                        f"GRANT REPLICATION SLAVE ON *.* TO '{user}'@'%';\n", secret=password)
        rec["replication_user"] = user
        self.start(rec, timeout)
        runner.mkdir(Path(rec["dir"]) / "relay")
        self.admin(rec, f"SET GLOBAL gtid_slave_pos = {_quote(str(info['gtid']))};\n"
                        f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={int(src['port'])}, MASTER_USER='{user}', "
                        f"MASTER_PASSWORD={_quote(password)}, MASTER_USE_GTID=slave_pos;\nSTART SLAVE;\n", secret=password)

    def promote(self, rec: dict[str, Any], timeout: float) -> None:
        """Stop replication, forget the source, make the server writable."""
        self.admin(rec, "STOP SLAVE;\nRESET SLAVE ALL;\nSET GLOBAL read_only = OFF;\n", timeout=timeout)
        rec["replica_of"] = None
        self._runner().write_private(Path(rec["dir"]) / "my.cnf", self.config(rec))

    def replica_status(self, rec: Mapping[str, Any]) -> dict[str, str]:
        """``SHOW SLAVE STATUS`` as a dict (empty when not a replica)."""
        out = self._tool("mariadb", "--no-defaults", f"--socket={self._socket(rec)}", f"--user={self.os_user}",
                         "--vertical", stdin="SHOW SLAVE STATUS;\n", operation=f"read the replication state of {rec['id']}")
        status: dict[str, str] = {}
        for line in out.splitlines():
            key, sep, value = line.strip().partition(": ")
            if sep:
                status[key] = value
        return status


    # ------------------------------------------------------------ Multi-AZ standby
    def _standby_view(self, rec: Mapping[str, Any], node: Mapping[str, Any], role: str = "standby") -> dict[str, Any]:
        """A record-like view of one of the instance's servers other than its primary (never saved)."""
        uid = rec["uid"] if role == "old" else f"{str(rec['uid'])[:12]}-{role[:4]}"  # the old primary's socket is the instance's
        return {"id": f"{rec['id']} ({role})", "uid": uid, "dir": node["dir"],
                "port": int(node["port"]), "server_id": int(node["server_id"]), "archive": rec.get("archive"),
                "parameters": rec.get("parameters"), "parameter_group": rec.get("parameter_group"), "role": role}

    def standby_running(self, rec: Mapping[str, Any]) -> bool:
        """Whether the standby's ``mariadbd`` runs."""
        node = rec.get("standby")
        return node is not None and self.running(self._standby_view(rec, node))

    def add_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """A replication user, a ``mariabackup`` of the primary as the standby, then semi-synchronous commits."""
        password = secrets.token_urlsafe(24)
        self.host._write_secret("replication", rec["id"], password)
        self.admin(rec, f"CREATE OR REPLACE USER '{STANDBY_USER}'@'127.0.0.1' IDENTIFIED BY {_quote(password)};\n"
                        f"GRANT REPLICATION SLAVE ON *.* TO '{STANDBY_USER}'@'127.0.0.1';\n", secret=password)
        node = {"dir": str(self.place() / "standbys" / f"{rec['id']}-{secrets.token_hex(4)}"), "port": free_port(),
                "server_id": secrets.randbelow(2**31 - 2) + 1}
        rec["standby"] = node
        self.host._save(rec)  # recorded before its files exist: a failure or a crash removes what was made
        self._seed_standby(rec, timeout)
        self._set_semi_sync(rec, timeout)

    def _seed_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """A fresh ``mariabackup`` of the running primary into the standby's folder; start it replicating by GTID."""
        runner = self._runner()
        node = rec["standby"]
        view = self._standby_view(rec, node)
        self._kill(view, keep_archive=True)  # whatever was there (a half-made standby, the old primary's data) goes
        ndir = runner.mkdir(Path(node["dir"]))
        seed = ndir / "seed"
        try:
            info = self.snapshot(rec, seed, True, timeout)
            runner.run("cp", "-a", str(seed / "base"), str(ndir / "data"), timeout=timeout,
                       operation=f"copy {rec['id']} for its standby")
        finally:
            self.remove_tree(seed)
        if not info.get("gtid"):
            raise ProviderError(f"the backup of {rec['id']} recorded no GTID position", provider="local")
        self._start_standby(rec, timeout)
        password = self.host._read_secret("replication", rec["id"])
        self.admin(view, f"SET GLOBAL gtid_slave_pos = {_quote(str(info['gtid']))};\n"
                         f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={int(rec['port'])}, "
                         f"MASTER_USER='{STANDBY_USER}', MASTER_PASSWORD={_quote(password)}, MASTER_USE_GTID=slave_pos, "
                         # reconnect at once after a primary restart (commits wait for the standby meanwhile)
                         "MASTER_CONNECT_RETRY=1;\n"
                         "START SLAVE;\n", secret=password)

    def _start_standby(self, rec: dict[str, Any], timeout: float) -> None:
        node = rec["standby"]
        view = self._standby_view(rec, node)
        if self.running(view):
            return
        if not _port_free(int(node["port"])):
            node["port"] = free_port()
            self.host._save(rec)
            view = self._standby_view(rec, node)
        self._serve(view, timeout)

    def _set_semi_sync(self, rec: Mapping[str, Any], timeout: float) -> None:
        """Make the primary wait for the standby on every commit; wait until the standby acknowledges."""
        self._runner().write_private(Path(rec["dir"]) / "my.cnf", self.config(rec))
        self.admin(rec, "SET GLOBAL gtid_strict_mode = ON;\n"
                        "SET GLOBAL rpl_semi_sync_master_wait_point = 'AFTER_SYNC';\n"
                        f"SET GLOBAL rpl_semi_sync_master_timeout = {SEMI_SYNC_TIMEOUT_MS};\n"
                        "SET GLOBAL rpl_semi_sync_master_enabled = ON;\n", timeout=timeout)

        def acknowledging() -> bool:
            status = dict(self.admin(rec, "SHOW GLOBAL STATUS WHERE Variable_name IN "
                                          "('Rpl_semi_sync_master_clients', 'Rpl_semi_sync_master_status');\n"))
            return status.get("Rpl_semi_sync_master_status") == "ON" and int(status.get("Rpl_semi_sync_master_clients", 0)) > 0

        pg.wait_until(acknowledging, timeout, f"the standby of {rec['id']}", "replicating semi-synchronously", interval=0.05)

    def drop_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """Stop waiting for the standby, stop it and remove its folder and its replication user."""
        node = rec.get("standby")
        if not node:
            return
        rec["standby"] = None
        if self.running(rec):
            self._runner().write_private(Path(rec["dir"]) / "my.cnf", self.config(rec))
            self.admin(rec, "SET GLOBAL rpl_semi_sync_master_enabled = OFF;\n"
                            f"DROP USER IF EXISTS '{STANDBY_USER}'@'127.0.0.1';\n", timeout=timeout)
        self._kill(self._standby_view(rec, node), keep_archive=True)
        self.host._drop_secret("replication", rec["id"])
        self.host._save(rec)

    def failover(self, rec: dict[str, Any], timeout: float) -> None:
        """Promote the standby onto the instance's port and archive, rebuild the old primary as the standby.

        Every step is recorded first (``rec["failover"]``) and can be run again: a process that dies
        in the middle leaves a record the next call finishes from. Until the standby is promoted the
        old primary only ever runs read-only; after, its data is replaced by a backup of the new
        primary, so there are never two writable primaries.
        """
        if not rec.get("failover"):
            rec["failover"] = {"old": {"dir": rec["dir"], "port": int(rec["port"]), "server_id": int(rec["server_id"])},
                               "new": dict(rec["standby"]), "promoted": False}
            self.host._save(rec)
        plan = rec["failover"]
        old = self._standby_view(rec, plan["old"], "old")
        new = self._standby_view(rec, plan["new"])
        if not plan["promoted"]:
            # 1. the old primary takes no more writes (started read-only if it had died, so that the
            #    standby can fetch what it logged); its last GTID is what the standby must apply
            if self.running(old):
                self.admin(old, "SET GLOBAL read_only = ON;\n", timeout=timeout)
            else:
                self._serve(old, timeout)
            last = self.admin(old, "SELECT @@gtid_binlog_pos;\n", timeout=timeout)[0][0]
            # 2. the standby applies everything up to it
            if not self.running(new):
                self._serve(new, timeout)
            waited = self.admin(new, f"SELECT MASTER_GTID_WAIT({_quote(last)}, {int(timeout) or 1});\n",
                                timeout=timeout + 30)[0][0]
            if waited != "0":
                raise ProviderError(f"the standby of {rec['id']} did not apply the primary's last transaction "
                                    f"({last}) in {timeout:g} s", provider="local")
            # 3. the old primary stops; the standby is promoted
            self._halt(old, timeout)
            self.admin(new, "STOP SLAVE;\nRESET SLAVE ALL;\n", timeout=timeout)
            plan["promoted"] = True
            self.host._save(rec)
        # 4. the promoted server serves the instance's endpoint and continues its binary-log archive
        if rec["dir"] != plan["new"]["dir"]:
            self._halt(new, timeout)
            rec.update(dir=plan["new"]["dir"], port=int(plan["old"]["port"]), server_id=int(plan["new"]["server_id"]),
                       standby={"dir": plan["old"]["dir"], "port": int(plan["new"]["port"]),
                                "server_id": int(plan["old"]["server_id"])})
            self.host._save(rec)
        self._serve(rec, timeout)
        # 5. the old primary's data is replaced by a backup of the new primary: the new standby
        self._seed_standby(rec, timeout)
        rec["failover"] = None
        self.host._save(rec)
        self._set_semi_sync(rec, timeout)

def _path() -> str:
    base = os.environ.get("PATH", "/usr/bin:/bin")
    return base + "".join(f":{d}" for d in ("/usr/sbin", "/sbin", "/usr/bin") if d not in base.split(":"))


def _binlog_info(base: Path) -> dict[str, Any]:
    """File, position and GTID of the binary log at the backup (``xtrabackup_binlog_info``)."""
    with mapped("read the backup's binary log position"):
        path = base / "xtrabackup_binlog_info"
        text = path.read_text().strip() if path.exists() else ""
    parts = text.split("\t") if text else []
    return {
        "binlog_file": parts[0] if parts else None,
        "binlog_pos": int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None,
        "gtid": parts[2] if len(parts) > 2 else None,
    }
