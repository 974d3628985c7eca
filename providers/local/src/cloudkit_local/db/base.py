"""The one interface every local database engine implements.

:class:`cloudkit_local.database.LocalDatabase` keeps the family's logic (records, states, snapshot
bookkeeping, retention, background work, crash recovery) and calls an :class:`Engine` for what
depends on the database server: creating and starting it, copying it, replaying its log, replicas.
An engine works on the instance record (a dict the service stores) and may add engine fields to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Protocol

from cloudkit.errors import NotSupported


class Host(Protocol):
    """What an engine may ask of the database service that owns it."""

    root: Path
    folder: Path

    @property
    def settings(self) -> Mapping[str, Any]: ...

    def _save(self, rec: Mapping[str, Any]) -> None: ...

    def _read_secret(self, kind: str, ident: str) -> str: ...

    def _write_secret(self, kind: str, ident: str, password: str) -> None: ...

    def _drop_secret(self, kind: str, ident: str) -> None: ...


class Engine:
    """A database engine on this machine. Subclasses fill in what their server can do.

    Capabilities (class attributes): ``server`` (a server with an endpoint, not a file),
    ``point_in_time`` (a log archive to replay), ``replicas`` (streaming read replicas),
    ``multi_az`` (a synchronous standby promoted by a forced failover, see
    :mod:`cloudkit_local.db.standby`; ``multi_az_reason`` says why an engine has none).
    Operations an engine lacks raise :class:`cloudkit.errors.NotSupported` naming the engine.
    """

    name: ClassVar[str] = ""
    aliases: ClassVar[tuple[str, ...]] = ()
    server: ClassVar[bool] = True
    point_in_time: ClassVar[bool] = False
    replicas: ClassVar[bool] = False
    multi_az: ClassVar[bool] = False
    #: why the engine keeps no Multi-AZ standby (when ``multi_az`` is false)
    multi_az_reason: ClassVar[str] = "keeps no standby server"
    #: how a snapshot is taken live / when the instance is stopped (``DatabaseSnapshot.extra["method"]``)
    base_methods: ClassVar[tuple[str, ...]] = ()

    def __init__(self, host: Host) -> None:
        self.host = host
        self.reason = ""
        self._home: Path | None = None

    # ------------------------------------------------------------ availability
    @property
    def available(self) -> bool:
        """Whether the engine can run here (else :attr:`reason` says why)."""
        return not self.reason

    @property
    def version(self) -> str:
        """The installed engine version."""
        raise NotImplementedError

    def require(self, operation: str = "database.create_instance") -> None:
        """Raise ``NotSupported`` (with the reason) when the engine cannot run here."""
        if self.reason:
            raise NotSupported("local", operation, self.reason)

    def lacks(self, operation: str, what: str) -> NotSupported:
        """The error for an operation this engine does not have."""
        return NotSupported("local", f"database.{operation}", f"the {self.name} engine {what}")

    # ------------------------------------------------------------ places
    def place(self) -> Path:
        """The folder holding this engine's instances and snapshots."""
        raise NotImplementedError

    def tidy(self, left: int) -> None:
        """Called after removals with the number of this engine's instances and snapshots left."""

    def remove_tree(self, path: Path) -> None:
        """Delete an instance's or a snapshot's folder."""
        import shutil

        from cloudkit_local.errors import mapped

        def gone(function: object, name: str, info: tuple[type[BaseException], BaseException, object]) -> None:
            if not isinstance(info[1], FileNotFoundError):  # a file that vanished meanwhile (a SQLite -wal) is fine
                raise info[1]

        if path.exists():
            with mapped("remove a data folder"):
                shutil.rmtree(path, onerror=gone)

    # ------------------------------------------------------------ records and models
    def new_record(self, rec: dict[str, Any], kw: Mapping[str, Any]) -> None:
        """Add the engine's fields to a new instance record (port, file path...)."""

    def model_extra(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        """The engine's fields of ``DatabaseInstance.extra``."""
        return {}

    def running(self, rec: Mapping[str, Any]) -> bool:
        """Whether the instance's server runs (always true for serverless engines)."""
        return True

    # ------------------------------------------------------------ lifecycle
    def create(self, rec: dict[str, Any], password: str, timeout: float) -> None:
        """Create the instance's data and start its server."""
        raise NotImplementedError

    def start(self, rec: dict[str, Any], timeout: float) -> None:
        """Start the server (nothing when it runs)."""

    def stop(self, rec: Mapping[str, Any], timeout: float) -> None:
        """Stop the server (nothing when it is stopped)."""

    def destroy(self, rec: Mapping[str, Any]) -> None:
        """Stop the server of an instance being removed and delete its folder."""
        from cloudkit.errors import CloudkitError

        try:
            self.stop(rec, 30)
        except CloudkitError:
            pass
        self.remove_tree(Path(rec["dir"]))

    def restart(self, rec: dict[str, Any], timeout: float) -> None:
        """Restart the server."""

    def set_password(self, rec: Mapping[str, Any], password: str) -> None:
        """Change the master user's password in the running server."""

    def password_needs_server(self) -> bool:
        """Whether a password change needs the server running."""
        return self.server

    # ------------------------------------------------------------ snapshots
    def snapshot(self, rec: Mapping[str, Any], target: Path, live: bool, timeout: float) -> dict[str, Any]:
        """Copy the instance into ``target`` (``live``: its server runs); the snapshot's engine fields
        (``method`` at least)."""
        raise NotImplementedError

    def copy_files(self, source: Path, target: Path, timeout: float) -> None:
        """Copy a snapshot's folder (to this engine's place, possibly under another root)."""
        import shutil

        from cloudkit_local.errors import mapped

        with mapped("copy a snapshot"):
            shutil.copytree(source, target, symlinks=True)

    def restore(self, snap: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """Make ``rec``'s data from the snapshot ``snap`` and start it."""
        raise NotImplementedError

    # ------------------------------------------------------------ point in time
    def latest_restorable(self, rec: Mapping[str, Any], backups: list[dict[str, Any]]) -> float | None:
        """The latest time a point-in-time restore can reach (``None``: none)."""
        return None

    def mark_now(self, rec: Mapping[str, Any], timeout: float) -> float | None:
        """Make everything written so far restorable; the latest restorable time."""
        raise self.lacks("restore_to_point_in_time", "keeps no log archive to replay")

    def restore_to_time(self, src: Mapping[str, Any], base: Mapping[str, Any], rec: dict[str, Any], target: float | None,
                        timeout: float) -> None:
        """Make ``rec`` from the backup ``base`` of ``src`` and replay ``src``'s log up to ``target``."""
        raise self.lacks("restore_to_point_in_time", "keeps no log archive to replay")

    def clean_archive(self, rec: Mapping[str, Any], backups: list[dict[str, Any]]) -> None:
        """Remove archived log that no kept backup needs."""

    # ------------------------------------------------------------ versions
    def major(self, version: str) -> str:
        """The major version of ``version`` (what a minor upgrade keeps)."""
        return version.split(".")[0]

    def upgrade(self, rec: dict[str, Any], timeout: float, *, running: bool) -> None:
        """Move ``rec`` to the installed minor version: restart a running server on the new binaries."""
        if running:
            self.restart(rec, timeout)

    # ------------------------------------------------------------ parameters
    def family(self, version: str | None = None) -> str | None:
        """The parameter group family of ``version`` (default: the installed one); ``None``: no parameters."""
        return None

    def check_parameters(self, names: list[str]) -> None:
        """``InvalidInput`` (field ``parameters``) naming a parameter the engine does not have."""
        raise self.lacks("modify_parameter_group", "has no server parameters")

    def static_parameters(self, rec: Mapping[str, Any], names: list[str]) -> list[str]:
        """Which of ``names`` the running server of ``rec`` can change only by restarting."""
        return []

    def apply_parameters(self, rec: Mapping[str, Any], changed: list[str], timeout: float) -> None:
        """Make the running server use ``rec["parameters"]`` now for the ``changed`` names (dynamic ones)."""
        raise self.lacks("modify_parameter_group", "has no server parameters")

    # ------------------------------------------------------------ replicas
    def create_replica(self, src: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """Make ``rec`` a read replica streaming from ``src`` and start it."""
        raise self.lacks("create_read_replica", "has no replication")

    def promote(self, rec: dict[str, Any], timeout: float) -> None:
        """Turn the replica ``rec`` into a standalone writable server."""
        raise self.lacks("promote_read_replica", "has no replication")

    # ------------------------------------------------------------ Multi-AZ standby
    def add_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """Make a synchronous standby of the running primary of ``rec`` (``rec["standby"]``) and start it."""
        raise self.lacks("create_instance", self.multi_az_reason)

    def drop_standby(self, rec: dict[str, Any], timeout: float) -> None:
        """Stop and remove the standby of ``rec``; the primary stops waiting for it."""
        raise self.lacks("modify_instance", self.multi_az_reason)

    def failover(self, rec: dict[str, Any], timeout: float) -> None:
        """Promote the standby of ``rec`` (its endpoint moves to it), rebuild the old primary as the standby.

        Resumes a failover that ``rec["failover"]`` records as begun (a process that died in the middle).
        """
        raise self.lacks("reboot_instance", self.multi_az_reason)

    def standby_running(self, rec: Mapping[str, Any]) -> bool:
        """Whether the standby's server of ``rec`` runs."""
        return False
