"""Run real PostgreSQL servers for the local database family (initdb, pg_ctl, pg_basebackup).

PostgreSQL refuses to run as root, so when we are root every server command runs as an
unprivileged system user (``postgres``, Debian's, or the setting ``postgres_os_user``) through
``setpriv``; as an ordinary user the commands run as that user. Data folders live where that user
can reach them (see :func:`data_home`). Passwords travel only through ``PGPASSWORD`` in a child's
environment or a 0600 file that is removed at once; never on a command line or in a log.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cloudkit_local._root import write_atomic
from cloudkit_local.errors import mapped

#: Where data folders go when we are root and the root folder is private to root.
FALLBACK_HOME = Path("/var/lib/cloudkit-local")


def find_bindir(settings: Mapping[str, Any]) -> Path | None:
    """PostgreSQL's server binaries: setting ``postgres_bin``, else the newest Debian install, else PATH."""
    explicit = settings.get("postgres_bin")
    if explicit:
        path = Path(explicit)
        return path if (path / "initdb").exists() else None
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: _version_key(p.parent.parent.name))
    if candidates:
        return candidates[-1].parent
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    return None


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text)) or (0,)


@attrs.frozen
class Runner:
    """Runs PostgreSQL's tools as the right operating-system user."""

    bindir: Path
    uid: int
    gid: int
    switch: bool  # run through setpriv (we are root)
    version: str

    @classmethod
    def create(cls, settings: Mapping[str, Any]) -> tuple[Runner | None, str]:
        """A runner, or ``None`` and the reason PostgreSQL cannot be used here."""
        bindir = find_bindir(settings)
        if bindir is None:
            return None, "PostgreSQL's server binaries (initdb, pg_ctl) are not installed; install Debian's postgresql package"
        if os.geteuid() == 0:
            name = str(settings.get("postgres_os_user", "postgres"))
            try:
                user = pwd.getpwnam(name)
            except KeyError:
                return None, f"running as root and there is no unprivileged user {name!r} to run PostgreSQL as"
            if user.pw_uid == 0:
                return None, "PostgreSQL refuses to run as root; postgres_os_user must be an unprivileged user"
            if shutil.which("setpriv") is None:
                return None, "running as root needs setpriv (util-linux) to start PostgreSQL as an unprivileged user"
            uid, gid, switch = user.pw_uid, user.pw_gid, True
        else:
            uid, gid, switch = os.geteuid(), os.getegid(), False
        try:
            out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True, check=True, timeout=30)
        except (OSError, subprocess.SubprocessError) as exc:
            return None, f"cannot run {bindir / 'postgres'}: {exc}"
        m = re.search(r"(\d+(?:\.\d+)*)", out.stdout)
        return cls(bindir=bindir, uid=uid, gid=gid, switch=switch, version=m[1] if m else "unknown"), ""

    def argv(self, tool: str, *args: str) -> list[str]:
        """The command line for ``tool`` (a PostgreSQL binary or a system command) run as the server user."""
        exe = str(self.bindir / tool) if (self.bindir / tool).exists() else tool
        base = [exe, *args]
        if self.switch:
            return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups", "--", *base]
        return base

    def run(self, tool: str, *args: str, password: str | None = None, timeout: float = 600,
            operation: str | None = None) -> str:
        """Run ``tool`` and return its output; failures become cloudkit errors (stderr tail kept)."""
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "TZ": "UTC"}
        if password is not None:
            env["PGPASSWORD"] = password
        with mapped(operation or f"run {tool}"):
            done = subprocess.run(self.argv(tool, *args), capture_output=True, text=True, env=env, cwd="/",
                                  timeout=timeout, check=True, stdin=subprocess.DEVNULL)
        return done.stdout

    def own(self, path: Path) -> None:
        """Give ``path`` (recursively) to the server user, when we are root."""
        if not self.switch:
            return
        with mapped("hand a data folder to the server user"):
            os.chown(path, self.uid, self.gid)
            for parent, dirs, files in os.walk(path):
                for name in dirs + files:
                    os.chown(os.path.join(parent, name), self.uid, self.gid, follow_symlinks=False)

    def mkdir(self, path: Path) -> Path:
        """Create a private folder owned by the server user."""
        with mapped("create a data folder"):
            path.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.chmod(path, 0o700)
        self.own(path)
        return path

    def write_private(self, path: Path, text: str) -> None:
        """Write a 0600 file owned by the server user (atomically)."""
        with mapped("write a server file"):
            write_atomic(path, text, owner=(self.uid, self.gid) if self.switch else None)

    def can_reach(self, path: Path) -> bool:
        """Whether the server user can traverse every folder down to ``path``."""
        if not self.switch:
            return True
        groups = {self.gid, *(g.gr_gid for g in _groups_of(self.uid))}
        for folder in [path, *path.parents]:
            try:
                st = folder.stat()
            except OSError:
                continue  # will be created by us and handed over
            mode = st.st_mode
            if st.st_uid == self.uid:
                ok = bool(mode & stat.S_IXUSR)
            elif st.st_gid in groups:
                ok = bool(mode & stat.S_IXGRP)
            else:
                ok = bool(mode & stat.S_IXOTH)
            if not ok:
                return False
        return True


def _groups_of(uid: int) -> list[Any]:
    import grp

    name = pwd.getpwuid(uid).pw_name
    return [g for g in grp.getgrall() if name in g.gr_mem]


def data_home(runner: Runner, root: Path, settings: Mapping[str, Any], *, setting: str = "postgres_data_root",
              folder: str = "servers", suffix: str = "") -> Path:
    """Where server data folders go: setting ``postgres_data_root``, else ``<root>/database/servers``
    when the server user can reach it, else a folder under ``/var/lib/cloudkit-local`` named after
    the root (we are root then, and the root folder is private to us). Another engine passes its
    own ``setting``, ``folder`` and fallback ``suffix``."""
    explicit = settings.get(setting)
    if explicit:
        home = Path(explicit).expanduser()
    else:
        home = root / "database" / folder
        if not runner.can_reach(home):
            digest = hashlib.sha256(str(root).encode()).hexdigest()[:16]
            home = FALLBACK_HOME / (digest + suffix)
            with mapped("create the server data folder"):
                home.parent.mkdir(parents=True, exist_ok=True)
                os.chmod(home.parent, 0o711)
    with mapped("create the server data folder"):
        home.mkdir(parents=True, exist_ok=True)
        os.chmod(home, 0o711)
    return home


def server_conf(port: int, archive: Path, restore_from: Path | None = None) -> str:
    """The settings cloudkit manages, kept in ``cloudkit.conf`` included by ``postgresql.conf``."""
    lines = [
        "# managed by cloudkit's local provider; rewritten on every start",
        "listen_addresses = '127.0.0.1'",
        f"port = {port}",
        "unix_socket_directories = ''",
        "max_connections = 40",
        "shared_buffers = 32MB",
        "wal_level = replica",
        "max_wal_senders = 10",
        "hot_standby = on",
        "archive_mode = on",
        f"archive_command = 'test ! -f \"{archive}/%f\" && cp \"%p\" \"{archive}/%f\"'",
        "log_destination = 'stderr'",
    ]
    if restore_from is not None:
        lines.append(f"restore_command = 'cp \"{restore_from}/%f\" \"%p\"'")
    return "\n".join(lines) + "\n"


def include_conf(runner: Runner, data: Path) -> None:
    """Make ``postgresql.conf`` include ``cloudkit.conf`` (once)."""
    conf = data / "postgresql.conf"
    with mapped("configure the server"):
        text = conf.read_text()
        if "include_if_exists = 'cloudkit.conf'" not in text:
            with conf.open("a") as fh:
                fh.write("\ninclude_if_exists = 'cloudkit.conf'\n")


def running_pid(data: Path) -> int | None:
    """The postmaster's pid if the server of ``data`` runs."""
    try:
        first = (data / "postmaster.pid").read_text().split("\n", 1)[0]
        pid = int(first)
    except (OSError, ValueError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def wait_until(check: Any, timeout: float, what: str, target: str, interval: float = 0.05) -> None:
    """Poll ``check()`` until true, else raise :class:`cloudkit.errors.Timeout` naming ``what`` and ``target``.

    The shared wait rule (:func:`cloudkit.provider.poll_until`): nothing is undone on a timeout.
    """
    from cloudkit.provider import poll_until

    poll_until(check, bool, timeout=timeout, what=what, target=target, interval=interval, provider="local")


def connect(port: int, user: str, password: str, dbname: str = "postgres", timeout: float = 10) -> Any:
    """A psycopg connection (autocommit) to a local server."""
    import psycopg

    return psycopg.connect(host="127.0.0.1", port=port, user=user, password=password, dbname=dbname,
                           connect_timeout=max(1, int(timeout)), autocommit=True)


def remove_tree(runner: Runner, path: Path) -> None:
    """Delete a folder the server user may own."""
    if path.exists():
        with mapped("remove a data folder"):
            shutil.rmtree(path)

