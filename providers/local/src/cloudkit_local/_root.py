"""The local provider's root folder and its SQLite metadata databases (WAL mode)."""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from cloudkit.errors import PermissionDenied
from cloudkit_local.errors import PROVIDER, mapped

#: Flags of every directory opened on the way down from the root: a symbolic link is never followed.
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


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


def planted_link(path: Path | str) -> PermissionDenied:
    """The error for a symbolic link found where the local root holds only real files and folders."""
    return PermissionDenied(
        f"{path} is a symbolic link inside the local root; refusing to follow it (remove it, it was not made by cloudkit)",
        provider=PROVIDER,
        code="SymlinkRefused",
    )


def open_dir(root: Path, *parts: str, create: bool = False) -> int:
    """A descriptor of the folder ``root/parts...``, opened one component at a time without following links.

    ``root`` itself is trusted (it was resolved when the provider started); every component below
    it is opened with ``O_NOFOLLOW`` relative to its parent's descriptor, so a symbolic link
    planted anywhere on the way gives :class:`~cloudkit.errors.PermissionDenied`, never a path
    outside the root. With ``create`` missing folders are made (mode 0700). The caller closes the
    descriptor; OS errors other than a planted link are left to the caller's ``mapped``.
    """
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for i, name in enumerate(parts):
            try:
                nxt = os.open(name, _DIR_FLAGS, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                with contextlib.suppress(FileExistsError):
                    os.mkdir(name, 0o700, dir_fd=fd)
                nxt = _open_child_dir(fd, root, parts[: i + 1])
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    nxt = _open_child_dir(fd, root, parts[: i + 1])
                else:
                    raise
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_child_dir(parent: int, root: Path, parts: tuple[str, ...]) -> int:
    name = parts[-1]
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=parent)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR) and stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode):
            raise planted_link(root.joinpath(*parts)) from None
        raise


@contextmanager
def dir_fd(root: Path, *parts: str, create: bool = False) -> Iterator[int]:
    """:func:`open_dir` as a context manager (the descriptor is closed on exit)."""
    fd = open_dir(root, *parts, create=create)
    try:
        yield fd
    finally:
        os.close(fd)


def check_no_links(root: Path, path: Path) -> None:
    """Refuse (:func:`planted_link`) when any component of ``path`` below ``root`` is a symbolic link.

    Used before handing a path to a library that opens it by name (SQLite): files that do not
    exist yet are fine.
    """
    rel = path.relative_to(root)
    current = root
    for name in rel.parts:
        current = current / name
        try:
            if stat.S_ISLNK(os.lstat(current).st_mode):
                raise planted_link(current)
        except FileNotFoundError:
            return


class Database:
    """One SQLite file in WAL mode, a connection per thread, transactions as context managers.

    With ``root`` given, the database file, its ``-wal``, ``-shm`` and ``-journal`` companions and
    every folder between ``root`` and them are checked not to be symbolic links before SQLite opens
    them (a link planted inside the root would otherwise redirect its writes outside).
    """

    def __init__(self, path: Path, schema: str, *, root: Path | None = None) -> None:
        self.path = path
        self._root = root
        self._local = threading.local()
        self._schema = schema
        # executescript() commits on its own, so it runs outside an explicit transaction;
        # schemas use CREATE ... IF NOT EXISTS and are safe to run on every open.
        with mapped("create metadata schema"):
            self._conn().executescript(schema)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            if self._root is not None:
                for suffix in ("", "-wal", "-shm", "-journal"):
                    check_no_links(self._root, self.path.with_name(self.path.name + suffix))
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


def write_atomic(
    path: Path, data: bytes | str, *, mode: int = 0o600, owner: tuple[int, int] | None = None, dir_fd: int | None = None
) -> None:
    """Write ``data`` to ``path`` whole or not at all: a private temp file, fsync, then rename.

    The file is created with ``mode`` (0600 by default: several hold secrets) and, when ``owner``
    is given, handed to that (uid, gid) before it becomes visible. The temp file is created with
    ``O_EXCL | O_NOFOLLOW`` and the rename replaces a link rather than following it. With
    ``dir_fd`` (a folder opened with :func:`open_dir`), ``path`` is a bare name inside that
    folder, so no link planted on the way to it is followed either. Callers map errors (``mapped``).
    """
    import secrets

    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=dir_fd)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
            os.fsync(fh.fileno())
        if owner is not None:
            os.chown(tmp, *owner, dir_fd=dir_fd, follow_symlinks=False)
        os.replace(tmp, path, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def open_in(directory: int, name: str, flags: int, mode: int = 0o600, *, shown: Path | str) -> int:
    """``os.open(name, flags | O_NOFOLLOW, dir_fd=directory)``; a symbolic link there is :func:`planted_link`.

    ``shown`` is the path named in the error.
    """
    try:
        return os.open(name, flags | os.O_NOFOLLOW | os.O_CLOEXEC, mode, dir_fd=directory)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise planted_link(shown) from None
        raise
