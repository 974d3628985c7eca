"""Where stack state lives (a bucket of the profile's storage family, or a local folder) and the apply lock.

Every write replaces a whole document atomically: a bucket's ``put_object`` is atomic by cloudkit's
contract, and the folder store writes a temporary file, fsyncs it and renames it over the old one.

The lock has two parts. On one machine an OS file lock (``fcntl.flock`` on a file in the temporary
folder) makes two applies of one stack exclusive at once, and the kernel drops it when its process
dies (also by ``kill -9``). Across machines a lock document next to the state names its holder (host,
pid, time): a second machine is refused while it is there; a holder on this machine whose process is
gone, or a document older than ``stale_after`` seconds, is taken over.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import os
import socket
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

import cloudkit
from cloudkit import Conflict, InvalidInput, NotFound

__all__ = ["BucketStore", "FileStore", "StateStore", "stack_lock"]


class StateStore(Protocol):
    """Whole-document storage of stack state."""

    def read(self, key: str) -> bytes | None:
        """The document under ``key``, or ``None``."""

    def write(self, key: str, data: bytes) -> None:
        """Replace the document under ``key`` atomically."""

    def delete(self, key: str) -> None:
        """Remove the document under ``key`` (no error when absent)."""

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""

    def identity(self) -> str:
        """A string naming this store (for the machine-local lock)."""


class FileStore:
    """State documents as files in a folder (created with mode 0700)."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        self.folder = Path(folder).expanduser().absolute()

    def _path(self, key: str) -> Path:
        if ".." in key.split("/") or key.startswith("/"):
            raise InvalidInput("key", "must be a relative key without '..'")
        return self.folder / key

    def read(self, key: str) -> bytes | None:
        """The document under ``key``, or ``None``."""
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise cloudkit.ProviderError(f"cannot read stack state {key!r}: {exc.strerror}") from exc

    def write(self, key: str, data: bytes) -> None:
        """Write to a temporary file, fsync, rename over the old one, fsync the folder."""
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
            try:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(data)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise
            dfd = os.open(path.parent, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)
        except OSError as exc:
            raise cloudkit.ProviderError(f"cannot write stack state {key!r}: {exc.strerror}") from exc

    def delete(self, key: str) -> None:
        """Remove the file (no error when absent)."""
        with contextlib.suppress(FileNotFoundError):
            self._path(key).unlink()

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""
        base = self._path(prefix) if prefix else self.folder
        if not base.is_dir():
            return []
        return sorted(str(p.relative_to(self.folder)) for p in base.rglob("*") if p.is_file() and not p.name.startswith(".tmp-"))

    def identity(self) -> str:
        """The folder's path."""
        return f"file:{self.folder}"


class BucketStore:
    """State documents as objects in a bucket of ``cloud``'s storage family (the bucket is created on first write)."""

    def __init__(self, cloud: cloudkit.Cloud, bucket: str) -> None:
        self.cloud = cloud
        self.bucket = bucket
        self._ready = False

    def read(self, key: str) -> bytes | None:
        """The object under ``key``, or ``None``."""
        try:
            with self.cloud.storage.get_object(self.bucket, key) as reader:
                data: bytes = reader.read()
                return data
        except NotFound:
            return None

    def write(self, key: str, data: bytes) -> None:
        """Put the object (atomic by cloudkit's contract)."""
        if not self._ready:
            try:
                self.cloud.storage.create_bucket(self.bucket)
            except cloudkit.AlreadyExists:
                pass
            self._ready = True
        self.cloud.storage.put_object(self.bucket, key, data, content_type="application/json")

    def delete(self, key: str) -> None:
        """Delete the object (no error when absent)."""
        with contextlib.suppress(NotFound):
            self.cloud.storage.delete_object(self.bucket, key)

    def keys(self, prefix: str) -> list[str]:
        """Every key under ``prefix``."""
        try:
            return [o.key for o in self.cloud.storage.list_objects(self.bucket, prefix=prefix) if isinstance(o, cloudkit.ObjectInfo)]
        except NotFound:
            return []

    def identity(self) -> str:
        """Provider and bucket."""
        return f"bucket:{self.cloud.provider_of('storage')}:{self.cloud.profile}:{self.bucket}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@contextlib.contextmanager
def stack_lock(store: StateStore, name: str, *, stale_after: float = 6 * 3600) -> Iterator[None]:
    """Hold the apply lock of stack ``name``; :class:`cloudkit.Conflict` when another apply holds it."""
    digest = hashlib.sha256(f"{store.identity()}\0{name}".encode()).hexdigest()[:32]
    folder = Path(tempfile.gettempdir()) / f"cloudkit-stack-locks-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    fd = os.open(folder / f"{digest}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Conflict(f"stack {name!r} is being changed by another command on this machine; "
                           "try again when it has finished") from None
        key = f"locks/{name}.json"
        held = store.read(key)
        if held is not None:
            try:
                info: dict[str, Any] = json.loads(held)
            except ValueError:
                info = {}
            mine = info.get("host") == socket.gethostname()
            stale = (mine and not _alive(int(info.get("pid", 0) or 0))) or \
                time.time() - float(info.get("time", 0) or 0) > stale_after or (mine and info.get("pid") == os.getpid())
            if not stale:
                raise Conflict(f"stack {name!r} is being changed by process {info.get('pid')} on "
                               f"{info.get('host')!r}; try again when it has finished")
        token = uuid.uuid4().hex
        store.write(key, json.dumps({"host": socket.gethostname(), "pid": os.getpid(), "time": time.time(),
                                     "token": token}).encode())
        back = store.read(key)
        if back is None or json.loads(back).get("token") != token:
            raise Conflict(f"stack {name!r} is being changed by another command; try again when it has finished")
        try:
            yield
        finally:
            store.delete(key)
    finally:
        os.close(fd)  # releases the flock
