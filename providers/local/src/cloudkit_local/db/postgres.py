"""The ``postgres`` engine: real PostgreSQL servers (``initdb``, ``pg_ctl``) on free 127.0.0.1 ports.

Every server archives its WAL (``archive_command``) into its own archive folder.

* Snapshots are ``pg_basebackup`` copies (plain format, WAL streamed in, so each is
  self-contained); a stopped instance is copied cold. Restoring starts a new server on a copy.
* Point-in-time restore starts from the newest base backup taken before the target time and
  replays the source's WAL archive up to ``recovery_target_time``.
* Read replicas are ``pg_basebackup -R`` standbys streaming from the source (with its archive as
  fallback); promotion runs ``pg_ctl promote``.
* WAL older than the oldest kept backup is removed with ``pg_archivecleanup``.
* A Multi-AZ instance keeps a standby server (``pg_basebackup -R`` into a data folder of its own,
  its own 127.0.0.1 port, the same unprivileged user) streaming as ``cloudkit_replication``;
  the primary waits for it on every commit (``synchronous_standby_names``,
  ``synchronous_commit = remote_apply``: a committed row is readable on the standby). A forced
  failover stops the primary, promotes the standby (``pg_ctl promote``, a new timeline), restarts it
  on the instance's port (the endpoint stays the same address and now reaches the promoted
  server), and rebuilds the old primary's data as the new standby with a fresh base backup.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

from cloudkit_local import _postgres as pg
from cloudkit_local._root import free_port
from cloudkit_local.db.base import Engine, Host
from cloudkit_local.errors import mapped


class PostgresEngine(Engine):
    """PostgreSQL servers run as an unprivileged user (see :mod:`cloudkit_local._postgres`)."""

    name: ClassVar[str] = "postgres"
    aliases: ClassVar[tuple[str, ...]] = ("postgresql",)
    point_in_time: ClassVar[bool] = True
    replicas: ClassVar[bool] = True
    multi_az: ClassVar[bool] = True
    base_methods: ClassVar[tuple[str, ...]] = ("pg_basebackup", "cold copy")

    def __init__(self, host: Host) -> None:
        super().__init__(host)
        self.runner, self.reason = pg.Runner.create(host.settings)
        self._settings: dict[str, str] | None = None

    @property
    def version(self) -> str:
        """The installed server's version."""
        return self.pg().version

    def pg(self) -> pg.Runner:
        """The tool runner (``NotSupported`` when PostgreSQL is missing)."""
        self.require("database.postgres")
        assert self.runner is not None
        return self.runner

    # ------------------------------------------------------------ places
    def place(self) -> Path:
        """Where server data folders and snapshots live (reachable by the server user)."""
        if self._home is None:
            if self.runner is None:
                self._home = self.host.folder / "servers"
                with mapped("create data folder"):
                    self._home.mkdir(parents=True, exist_ok=True, mode=0o700)
            else:
                self._home = pg.data_home(self.runner, self.host.root, self.host.settings)
        return self._home

    def tidy(self, left: int) -> None:
        """Remove a data folder outside the root (see ``_postgres.data_home``) once nothing is left in it."""
        if self._home is None or self._home.parent != pg.FALLBACK_HOME:
            return
        if left == 0 and self.runner is not None:
            pg.remove_tree(self.runner, self._home)
            self._home = None

    def _sync_flag(self) -> list[str]:
        """``--no-sync`` for pg_basebackup when the setting ``durable_backups`` is off (tests, throwaway roots)."""
        value = self.host.settings.get("durable_backups", True)
        off = str(value).strip().lower() in ("0", "false", "no", "off") if isinstance(value, str) else not value
        return ["--no-sync"] if off else []

    # ------------------------------------------------------------ records
    def new_record(self, rec: dict[str, Any], kw: Mapping[str, Any]) -> None:
        """A free port."""
        rec["port"] = free_port()

    def model_extra(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        """``log`` (the server log) and ``archive`` (the WAL archive)."""
        extra: dict[str, Any] = {"log": str(Path(rec["dir"]) / "server.log"), "archive": rec.get("archive")}
        node = rec.get("standby")
        if node:
            extra["standby"] = {"endpoint": f"127.0.0.1:{int(node['port'])}", "dir": node["dir"],
                                "running": self.standby_running(rec), "log": str(Path(node["dir"]) / "server.log")}
        return extra

    def running(self, rec: Mapping[str, Any]) -> bool:
        """Whether the postmaster of the instance runs."""
        return pg.running_pid(Path(rec["dir"]) / "data") is not None

    # ------------------------------------------------------------ server
    def create(self, rec: dict[str, Any], password: str, timeout: float) -> None:
        """``initdb`` with the master user (SCRAM), start, create the database."""
        runner = self.pg()
        idir = runner.mkdir(Path(rec["dir"]))
        runner.mkdir(Path(rec["archive"]))
        data = idir / "data"
        pwfile = idir / ".initdb-pw"
        runner.write_private(pwfile, password + "\n")
        try:
            runner.run("initdb", "-D", str(data), "-U", rec["master_username"], "-A", "scram-sha-256", f"--pwfile={pwfile}",
                       "-E", "UTF8", "--locale=C.UTF-8", "--no-sync", "--wal-segsize=1", timeout=timeout,
                       operation="initialise database server")
        finally:
            with mapped("remove the password file"):
                pwfile.unlink(missing_ok=True)
        pg.include_conf(runner, data)
        self.start(rec, timeout)
        if rec.get("database_name"):
            from psycopg import sql

            self.sql(rec, [(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(rec["database_name"])), ())])

    def start(self, rec: dict[str, Any], timeout: float, recovery: str = "") -> None:
        """``pg_ctl start`` with cloudkit's settings (a new free port when the old one was taken)."""
        runner = self.pg()
        data = Path(rec["dir"]) / "data"
        if pg.running_pid(data) is not None:
            return
        if not _port_free(int(rec["port"])):
            rec["port"] = free_port()
            self.host._save(rec)
        restore_from = None
        if rec.get("replica_of"):
            restore_from = Path(rec["source_archive"])
        runner.write_private(data / "cloudkit.conf", self._conf(rec, restore_from) + recovery)
        runner.run("pg_ctl", "-D", str(data), "-l", str(Path(rec["dir"]) / "server.log"), "-w", "-t", str(int(timeout) or 1),
                   "start", timeout=timeout + 30, operation=f"start database server {rec['id']}")
        if rec.get("standby") and not rec.get("failover"):
            self._start_standby(rec, timeout)

    def _conf(self, rec: Mapping[str, Any], restore_from: Path | None = None, *, port: int | None = None,
              sync: bool | None = None) -> str:
        """``cloudkit.conf``: the managed settings, then the parameter group's.

        ``sync`` (default: ``rec`` has a standby and is not failing over): commits wait for the standby.
        """
        text = pg.server_conf(int(rec["port"]) if port is None else port, Path(rec["archive"]), restore_from)
        if sync is None:
            sync = bool(rec.get("standby")) and not rec.get("failover")
        if sync:
            text += f"synchronous_standby_names = '{STANDBY_NAME}'\nsynchronous_commit = 'remote_apply'\n"
        params = dict(rec.get("parameters") or {})
        if params:
            text += f"# parameter group {rec.get('parameter_group')}\n"
            text += "".join(f"{name} = '{value}'\n" for name, value in sorted(params.items()))
        return text

    def stop(self, rec: Mapping[str, Any], timeout: float) -> None:
        """``pg_ctl stop -m fast`` (the primary first: it hands its last WAL to the standby, then the standby)."""
        self._stop_data(Path(rec["dir"]) / "data", timeout, f"stop database server {rec['id']}")
        if rec.get("standby"):
            self._stop_data(Path(rec["standby"]["dir"]) / "data", timeout, f"stop the standby of {rec['id']}")

    def _stop_data(self, data: Path, timeout: float, operation: str) -> None:
        if pg.running_pid(data) is None:
            return
        self.pg().run("pg_ctl", "-D", str(data), "-m", "fast", "-w", "-t", str(int(timeout) or 1), "stop",
                      timeout=timeout + 30, operation=operation)

    def destroy(self, rec: Mapping[str, Any]) -> None:
        """Stop the servers (primary and standby) of an instance being removed and delete their folders."""
        super().destroy(rec)
        if rec.get("standby"):
            self.remove_tree(Path(rec["standby"]["dir"]))

    def restart(self, rec: dict[str, Any], timeout: float) -> None:
        """``pg_ctl restart -m fast`` (with the settings rewritten: pending parameters apply)."""
        data = Path(rec["dir"]) / "data"
        source = Path(rec["source_archive"]) if rec.get("replica_of") and rec.get("source_archive") else None
        self.pg().write_private(data / "cloudkit.conf", self._conf(rec, source))
        self.pg().run("pg_ctl", "-D", str(data), "-l", str(Path(rec["dir"]) / "server.log"), "-m", "fast", "-w",
                      "-t", str(int(timeout) or 1), "restart", timeout=timeout + 30, operation=f"reboot {rec['id']}")
        if rec.get("standby"):
            # the standby restarts on the same settings (parameters a hot standby must match), or comes back
            # when it had stopped (killed, machine restarted)
            self._stop_data(Path(rec["standby"]["dir"]) / "data", timeout, f"stop the standby of {rec['id']}")
            self._start_standby(rec, timeout)

    def sql(self, rec: Mapping[str, Any], statements: list[tuple[Any, tuple[Any, ...]]], timeout: float = 30) -> list[Any]:
        """Run statements as the master user; returns the first column of each one's first row."""
        out: list[Any] = []
        password = self.host._read_secret("instance", rec["id"])
        with mapped(f"talk to database server {rec['id']}"), pg.connect(
            int(rec["port"]), rec["master_username"], password, timeout=timeout
        ) as conn:
            for sql, params in statements:
                cur = conn.execute(sql, params)
                row = cur.fetchone() if cur.description else None
                out.append(None if row is None else row[0])
        return out

    def set_password(self, rec: Mapping[str, Any], password: str) -> None:
        """``ALTER ROLE ... PASSWORD``."""
        from psycopg import sql

        stmt = sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(rec["master_username"]), sql.Literal(password))
        self.sql(rec, [(stmt, ())])

    def _wait_primary(self, rec: Mapping[str, Any], timeout: float) -> None:
        """Wait until a server has left recovery (after point-in-time restore or promotion)."""
        pg.wait_until(lambda: self.sql(rec, [("SELECT pg_is_in_recovery()", ())])[0] is False, timeout,
                      f"database server {rec['id']}", "a primary (out of recovery)", interval=0.1)

    # ------------------------------------------------------------ parameters
    def family(self, version: str | None = None) -> str | None:
        """``postgres`` and the major version: ``postgres15``."""
        return "postgres" + (version or self.version).split(".")[0]

    def _catalog(self) -> dict[str, str]:
        """Every setting with its context, from ``postgres --describe-config`` (cached)."""
        if self._settings is None:
            out = self.pg().run("postgres", "--describe-config", timeout=60, operation="list the server settings")
            self._settings = {line.split("\t")[0].lower(): line.split("\t")[1] for line in out.splitlines() if "\t" in line}
        return self._settings

    def check_parameters(self, names: list[str]) -> None:
        """Refuse names PostgreSQL does not have, internal ones and the settings cloudkit manages."""
        from cloudkit.errors import InvalidInput

        managed = sorted(n for n in names if n in MANAGED)
        if managed:
            raise InvalidInput("parameters", f"{', '.join(managed)} cannot be set: cloudkit manages them on this engine")
        catalog = self._catalog()
        unknown = sorted(n for n in names if catalog.get(n, "internal") == "internal")
        if unknown:
            raise InvalidInput("parameters", f"{', '.join(unknown)}: not a settable parameter of {self.family()}")

    def static_parameters(self, rec: Mapping[str, Any], names: list[str]) -> list[str]:
        """The names whose context is ``postmaster`` (a restart applies them)."""
        return sorted(n for n in names if self._catalog().get(n) == "postmaster")

    def apply_parameters(self, rec: Mapping[str, Any], changed: list[str], timeout: float) -> None:
        """Rewrite ``cloudkit.conf`` and reload (a setting removed from it returns to its default)."""
        data = Path(rec["dir"]) / "data"
        source = Path(rec["source_archive"]) if rec.get("replica_of") and rec.get("source_archive") else None
        self.pg().write_private(data / "cloudkit.conf", self._conf(rec, source))
        self.sql(rec, [("SELECT pg_reload_conf()", ())], timeout=timeout)
        node = rec.get("standby")
        if node and self.standby_running(rec):  # the standby gets the same settings
            ndata = Path(node["dir"]) / "data"
            self.pg().write_private(ndata / "cloudkit.conf",
                                    self._conf(rec, Path(rec["archive"]), port=int(node["port"]), sync=False))
            self.pg().run("pg_ctl", "-D", str(ndata), "reload", timeout=timeout, operation=f"reload the standby of {rec['id']}")

    # ------------------------------------------------------------ snapshots
    def snapshot(self, rec: Mapping[str, Any], target: Path, live: bool, timeout: float) -> dict[str, Any]:
        """``pg_basebackup`` of a running server, a cold copy of a stopped one."""
        runner = self.pg()
        runner.mkdir(target)
        if not live:
            runner.run("cp", "-a", str(Path(rec["dir"]) / "data"), str(target / "base"), timeout=timeout,
                       operation="copy a stopped server's data")
            return {"method": "cold copy"}
        runner.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(rec["port"]), "-U", rec["master_username"],
                   "-D", str(target / "base"), "-X", "stream", "-c", "fast", "-w", *self._sync_flag(),
                   password=self.host._read_secret("instance", rec["id"]), timeout=timeout,
                   operation=f"snapshot database server {rec['id']}")
        return {"method": "pg_basebackup", "start_wal": _start_wal(target / "base" / "backup_label")}

    def _copy_base(self, base: Path, rec: Mapping[str, Any], timeout: float) -> None:
        runner = self.pg()
        idir = runner.mkdir(Path(rec["dir"]))
        runner.mkdir(Path(rec["archive"]))
        data = idir / "data"
        runner.run("cp", "-a", str(base), str(data), timeout=timeout, operation="copy a base backup")
        with mapped("prepare a restored data folder"):
            for name in ("standby.signal", "recovery.signal", "postmaster.pid"):
                (data / name).unlink(missing_ok=True)
        pg.include_conf(runner, data)

    def copy_files(self, source: Path, target: Path, timeout: float) -> None:
        """``cp -a`` as the server user (ownership and modes kept)."""
        runner = self.pg()
        runner.mkdir(target.parent)
        runner.run("cp", "-a", str(source), str(target), timeout=timeout, operation="copy a snapshot")
        runner.own(target)

    def restore(self, snap: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """Copy the base backup and start a server on it."""
        self._copy_base(Path(snap["path"]) / "base", rec, timeout)
        self.start(rec, timeout)

    # ------------------------------------------------------------ point in time
    def latest_restorable(self, rec: Mapping[str, Any], backups: list[dict[str, Any]]) -> float | None:
        """The newest archived WAL segment or backup."""
        try:
            archive = Path(rec["archive"])
            stamps = [p.stat().st_mtime for p in archive.iterdir() if re.fullmatch(r"[0-9A-F]{24}", p.name)]
        except OSError:
            stamps = []
        stamps += [s["record_backup_time"] for s in backups]
        return max(stamps) if stamps else None

    def mark_now(self, rec: Mapping[str, Any], timeout: float) -> float | None:
        """Write a commit record, switch WAL and wait until it is archived."""
        stamp = time.time()
        seg = self.sql(rec, [("SELECT txid_current()", ()), ("SELECT pg_walfile_name(pg_switch_wal())", ())])[1]
        archived = Path(rec["archive"]) / str(seg)
        pg.wait_until(archived.exists, timeout, f"WAL segment {seg} of {rec['id']}", "archived")
        return stamp

    def restore_to_time(self, src: Mapping[str, Any], base: Mapping[str, Any], rec: dict[str, Any], target: float | None,
                        timeout: float) -> None:
        """Copy ``base``, replay ``src``'s archive up to ``recovery_target_time``, promote."""
        recovery = [f"restore_command = 'cp \"{src['archive']}/%f\" \"%p\"'", "recovery_target_action = 'promote'"]
        if target is not None:
            stamp = datetime.fromtimestamp(target, UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
            recovery.append(f"recovery_target_time = '{stamp}'")
        runner = self.pg()
        self._copy_base(Path(base["path"]) / "base", rec, timeout)
        data = Path(rec["dir"]) / "data"
        runner.write_private(data / "recovery.signal", "")
        self.start(rec, timeout, recovery="\n".join(recovery) + "\n")
        self._wait_primary(rec, timeout)
        # recovery settings are not needed any more: drop them for the next start
        runner.write_private(data / "cloudkit.conf", self._conf(rec))

    def clean_archive(self, rec: Mapping[str, Any], backups: list[dict[str, Any]]) -> None:
        """``pg_archivecleanup`` up to the oldest kept backup's first WAL segment."""
        if self.runner is None:
            return
        walls = [s.get("start_wal") for s in backups]
        if not walls or any(w is None for w in walls):
            return
        oldest = min(str(w) for w in walls)
        self.runner.run("pg_archivecleanup", str(rec["archive"]), oldest, operation=f"clean the WAL archive of {rec['id']}")

    # ------------------------------------------------------------ replicas
    def create_replica(self, src: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """``pg_basebackup -R`` from the source, then start the standby."""
        runner = self.pg()
        rec["source_archive"] = src["archive"]
        idir = runner.mkdir(Path(rec["dir"]))
        runner.mkdir(Path(rec["archive"]))
        data = idir / "data"
        runner.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(src["port"]), "-U", src["master_username"], "-D",
                   str(data), "-X", "stream", "-R", "-c", "fast", "-w", *self._sync_flag(),
                   password=self.host._read_secret("instance", src["id"]), timeout=timeout,
                   operation=f"copy {src['id']} for a read replica")
        pg.include_conf(runner, data)
        self.start(rec, timeout)

    def promote(self, rec: dict[str, Any], timeout: float) -> None:
        """``pg_ctl promote``, then forget the source."""
        runner = self.pg()
        data = Path(rec["dir"]) / "data"
        runner.run("pg_ctl", "-D", str(data), "-w", "-t", str(int(timeout) or 1), "promote", timeout=timeout + 30,
                   operation=f"promote {rec['id']}")
        self._wait_primary(rec, timeout)
        self.sql(rec, [("ALTER SYSTEM RESET primary_conninfo", ()), ("SELECT pg_reload_conf()", ())])
        rec["source_archive"] = None
        runner.write_private(data / "cloudkit.conf", self._conf(rec))

    # ------------------------------------------------------------ Multi-AZ standby
    def standby_running(self, rec: Mapping[str, Any]) -> bool:
        """Whether the standby's postmaster runs."""
        node = rec.get("standby")
        return node is not None and pg.running_pid(Path(node["dir"]) / "data") is not None

    def add_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """A replication role, a base backup of the primary as the standby, then synchronous commits."""
        from psycopg import sql

        password = secrets.token_urlsafe(24)
        self.host._write_secret("replication", rec["id"], password)
        exists = self.sql(rec, [("SELECT 1 FROM pg_roles WHERE rolname = %s", (REPLICATION_ROLE,))])[0]
        verb = "ALTER" if exists else "CREATE"
        self.sql(rec, [(sql.SQL(verb + " ROLE {} WITH LOGIN REPLICATION PASSWORD {}").format(
            sql.Identifier(REPLICATION_ROLE), sql.Literal(password)), ())])
        node = {"dir": str(self.place() / "standbys" / f"{rec['id']}-{secrets.token_hex(4)}"), "port": free_port()}
        rec["standby"] = node
        self.host._save(rec)  # recorded before its files exist: a failure or a crash removes what was made
        self._base_copy(rec, node, int(rec["port"]), timeout)
        self._start_standby(rec, timeout)
        self._set_sync(rec, timeout)

    def _base_copy(self, rec: Mapping[str, Any], node: Mapping[str, Any], port: int, timeout: float) -> None:
        """A fresh ``pg_basebackup -R`` of the primary on ``port`` into the node's data folder."""
        runner = self.pg()
        ndir = runner.mkdir(Path(node["dir"]))
        data = ndir / "data"
        self.remove_tree(data)
        runner.run("pg_basebackup", "-h", "127.0.0.1", "-p", str(port), "-U", REPLICATION_ROLE,
                   "-d", f"application_name={STANDBY_NAME}", "-D", str(data), "-X", "stream", "-R", "-c", "fast", "-w",
                   *self._sync_flag(), password=self.host._read_secret("replication", rec["id"]), timeout=timeout,
                   operation=f"copy {rec['id']} for its standby")
        pg.include_conf(runner, data)

    def _start_standby(self, rec: dict[str, Any], timeout: float) -> None:
        node = rec["standby"]
        data = Path(node["dir"]) / "data"
        if pg.running_pid(data) is not None:
            return
        if not _port_free(int(node["port"])):
            node["port"] = free_port()
            self.host._save(rec)
        runner = self.pg()
        runner.write_private(data / "cloudkit.conf", self._conf(rec, Path(rec["archive"]), port=int(node["port"]), sync=False))
        runner.run("pg_ctl", "-D", str(data), "-l", str(Path(node["dir"]) / "server.log"), "-w", "-t", str(int(timeout) or 1),
                   "start", timeout=timeout + 30, operation=f"start the standby of {rec['id']}")

    def _set_sync(self, rec: Mapping[str, Any], timeout: float) -> None:
        """Make the primary wait for the standby on every commit; wait until the standby is the synchronous one."""
        self.pg().write_private(Path(rec["dir"]) / "data" / "cloudkit.conf", self._conf(rec))
        self.sql(rec, [("SELECT pg_reload_conf()", ())])
        query = "SELECT sync_state FROM pg_stat_replication WHERE application_name = %s"
        pg.wait_until(lambda: self.sql(rec, [(query, (STANDBY_NAME,))])[0] == "sync", timeout,
                      f"the standby of {rec['id']}", "streaming synchronously", interval=0.05)

    def drop_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """Stop waiting for the standby (reload), stop it and remove its folder."""
        node = rec.get("standby")
        if not node:
            return
        rec["standby"] = None
        if self.running(rec):
            self.pg().write_private(Path(rec["dir"]) / "data" / "cloudkit.conf", self._conf(rec))
            self.sql(rec, [("SELECT pg_reload_conf()", ())])
        self._stop_data(Path(node["dir"]) / "data", timeout, f"stop the standby of {rec['id']}")
        self.remove_tree(Path(node["dir"]))
        if self.running(rec):
            from psycopg import sql

            self.sql(rec, [(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(REPLICATION_ROLE)), ())])
        self.host._drop_secret("replication", rec["id"])
        self.host._save(rec)

    def failover(self, rec: dict[str, Any], timeout: float) -> None:
        """Stop the primary, promote the standby onto the instance's port, rebuild the old primary as the standby.

        Every step is recorded first (``rec["failover"]``) and can be run again: a process that dies
        in the middle leaves a record the next call finishes from. The old primary's data never
        starts again as it was (it is replaced by a base backup of the new primary), so there are
        never two primaries.
        """
        runner = self.pg()
        if not rec.get("failover"):
            rec["failover"] = {"old": {"dir": rec["dir"], "port": int(rec["port"])}, "new": dict(rec["standby"])}
            self.host._save(rec)
        plan = rec["failover"]
        old, new = plan["old"], plan["new"]
        port = int(old["port"])  # the instance's endpoint: the promoted server takes it over
        new_data = Path(new["dir"]) / "data"
        # 1. the old primary stops (fast: it sends what it wrote to the standby before it exits)
        self._stop_data(Path(old["dir"]) / "data", timeout, f"stop the primary of {rec['id']}")
        # 2. the standby is promoted (when it was not already, before a crash)
        if (new_data / "standby.signal").exists():
            if pg.running_pid(new_data) is None:
                runner.write_private(new_data / "cloudkit.conf",
                                     self._conf(rec, Path(rec["archive"]), port=int(new["port"]), sync=False))
                runner.run("pg_ctl", "-D", str(new_data), "-l", str(Path(new["dir"]) / "server.log"), "-w",
                           "-t", str(int(timeout) or 1), "start", timeout=timeout + 30,
                           operation=f"start the standby of {rec['id']}")
            runner.run("pg_ctl", "-D", str(new_data), "-w", "-t", str(int(timeout) or 1), "promote", timeout=timeout + 30,
                       operation=f"promote the standby of {rec['id']}")
        # 3. the promoted server serves the instance's endpoint (asynchronous until a standby is back)
        runner.write_private(new_data / "cloudkit.conf", self._conf(rec, port=port, sync=False))
        verb = "restart" if pg.running_pid(new_data) is not None else "start"
        runner.run("pg_ctl", "-D", str(new_data), "-l", str(Path(new["dir"]) / "server.log"), "-m", "fast", "-w",
                   "-t", str(int(timeout) or 1), verb, timeout=timeout + 30, operation=f"move {rec['id']} to its standby")
        rec.update(dir=new["dir"], port=port, standby={"dir": old["dir"], "port": int(new["port"])})
        self.host._save(rec)
        self._wait_primary(rec, timeout)
        self.sql(rec, [("ALTER SYSTEM RESET primary_conninfo", ()), ("SELECT pg_reload_conf()", ())])
        # 4. the old primary's data is replaced by a copy of the new primary: the new standby
        self._base_copy(rec, rec["standby"], port, timeout)
        rec["failover"] = None
        self._start_standby(rec, timeout)
        self._set_sync(rec, timeout)
        self.host._save(rec)

    def remove_tree(self, path: Path) -> None:
        """Delete a folder the server user may own."""
        if self.runner is not None:
            pg.remove_tree(self.runner, path)
        else:
            super().remove_tree(path)


#: the standby's application name (``synchronous_standby_names``) and the role it streams as
STANDBY_NAME = "ck_standby"
REPLICATION_ROLE = "cloudkit_replication"

#: settings cloudkit writes itself: a parameter group may not change them
MANAGED = frozenset({
    "synchronous_standby_names",
    "listen_addresses", "port", "unix_socket_directories", "archive_mode", "archive_command", "restore_command",
    "wal_level", "max_wal_senders", "hot_standby", "primary_conninfo", "primary_slot_name", "data_directory",
    "hba_file", "ident_file", "config_file", "log_destination", "recovery_target_time", "recovery_target_action",
    "archive_library", "shared_preload_libraries", "local_preload_libraries", "session_preload_libraries",
    "dynamic_library_path", "ssl", "logging_collector", "log_directory", "log_filename",
})


def _port_free(port: int) -> bool:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server binds it (TIME_WAIT is fine)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start_wal(label: Path) -> str | None:
    with mapped("read the backup label"):
        text = label.read_text() if label.exists() else ""
    m = re.search(r"START WAL LOCATION: \S+ \(file ([0-9A-F]{24})\)", text)
    return m[1] if m else None
