"""The local provider's root folder and its SQLite metadata databases (WAL mode)."""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cloudkit_local.errors import mapped


def root_from(settings: Mapping[str, Any]) -> Path:
    """The root folder: setting ``root``, else ``CLOUDKIT_LOCAL_ROOT``, else the user data folder."""
    value = settings.get("root") or os.environ.get("CLOUDKIT_LOCAL_ROOT")
    if value:
        root = Path(value).expanduser()
    else:
        from platformdirs import user_data_path

        root = user_data_path("cloudkit", appauthor=False) / "local"
    with mapped("open root folder"):
        root.mkdir(parents=True, exist_ok=True, mode=0o700)
    return root.resolve()


class Database:
    """One SQLite file in WAL mode, a connection per thread, transactions as context managers."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = path
        self._local = threading.local()
        self._schema = schema
        # executescript() commits on its own, so it runs outside an explicit transaction;
        # schemas use CREATE ... IF NOT EXISTS and are safe to run on every open.
        with mapped("create metadata schema"):
            self._conn().executescript(schema)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            with mapped("open metadata database"):
                conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
                conn.row_factory = sqlite3.Row
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
                conn.execute("PRAGMA foreign_keys=ON")
            self._local.conn = conn
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (``ROLLBACK`` on any error)."""
        conn = self._conn()
        with mapped("write metadata"):
            conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            with mapped("commit metadata"):
                conn.execute("COMMIT")

    def query(self, sql: str, params: tuple[Any, ...] | dict[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read query and return all rows."""
        with mapped("read metadata"):
            return list(self._conn().execute(sql, params))

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_atomic(path: Path, data: bytes | str, *, mode: int = 0o600, owner: tuple[int, int] | None = None) -> None:
    """Write ``data`` to ``path`` whole or not at all: a private temp file, fsync, then rename.

    The file is created with ``mode`` (0600 by default: several hold secrets) and, when ``owner``
    is given, handed to that (uid, gid) before it becomes visible. Callers map errors (``mapped``).
    """
    import secrets

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if owner is not None:
            os.chown(tmp, *owner)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
