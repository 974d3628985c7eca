"""An fsspec filesystem over cloudkit storage: ``cloudkit://bucket/key`` on every provider.

Built only on cloudkit's public storage API, so it works wherever ``cloud.storage`` does::

    import fsspec
    fs = fsspec.filesystem("cloudkit", profile="prod")       # or provider="local", root=...
    with fsspec.open("cloudkit://backups/db/dump.sql", "rb", provider="local") as f:
        head = f.read(100)

Paths are ``bucket/key``; the empty path is the root that lists buckets. Object stores have no
directories: a key prefix ending in ``/`` is a pseudo-directory that exists while a key lies under
it, ``mkdir`` of a path inside a bucket is a no-op, and ``mkdir``/``rmdir`` of a bare bucket name
create and delete the bucket. Errors are cloudkit's, raised as the built-in types fsspec users
expect as well: :class:`FileNotFound` is both ``cloudkit.NotFound`` and ``FileNotFoundError``,
:class:`FileExists` both ``cloudkit.AlreadyExists`` and ``FileExistsError``, :class:`AccessDenied`
both ``cloudkit.PermissionDenied`` and ``PermissionError``, :class:`DirectoryNotEmpty` both
``cloudkit.Conflict`` and ``OSError`` (``ENOTEMPTY``). Bad paths raise ``cloudkit.InvalidInput``
(a ``ValueError``) naming the field and the rule.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from fsspec.spec import AbstractBufferedFile, AbstractFileSystem, _Cached  # type: ignore[import-untyped]
from fsspec.utils import tokenize  # type: ignore[import-untyped]

import cloudkit
from cloudkit import CommonPrefix, InvalidInput, ObjectInfo

__all__ = [
    "AccessDenied",
    "CloudkitFile",
    "CloudkitFileSystem",
    "DirectoryNotEmpty",
    "FileExists",
    "FileNotFound",
]

PROTOCOL = "cloudkit"


class FileNotFound(cloudkit.NotFound, FileNotFoundError):
    """No such bucket, object or pseudo-directory: a ``cloudkit.NotFound`` and a ``FileNotFoundError``."""

    def __init__(self, path: str, message: str | None = None, *, provider: str | None = None,
                 code: str | None = None) -> None:
        message = message or f"{path}: no such file or directory"
        cloudkit.NotFound.__init__(self, message, provider=provider, code=code)
        self.errno, self.strerror, self.filename = errno.ENOENT, message, path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.filename, self.message), {"provider": self.provider, "code": self.code})


class FileExists(cloudkit.AlreadyExists, FileExistsError):
    """The bucket or object already exists: a ``cloudkit.AlreadyExists`` and a ``FileExistsError``."""

    def __init__(self, path: str, message: str | None = None, *, provider: str | None = None,
                 code: str | None = None) -> None:
        message = message or f"{path}: already exists"
        cloudkit.AlreadyExists.__init__(self, message, provider=provider, code=code)
        self.errno, self.strerror, self.filename = errno.EEXIST, message, path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.filename, self.message), {"provider": self.provider, "code": self.code})


class AccessDenied(cloudkit.PermissionDenied, PermissionError):
    """The credentials may not do this: a ``cloudkit.PermissionDenied`` and a ``PermissionError``."""

    def __init__(self, path: str, message: str | None = None, *, provider: str | None = None,
                 code: str | None = None) -> None:
        message = message or f"{path}: permission denied"
        cloudkit.PermissionDenied.__init__(self, message, provider=provider, code=code)
        self.errno, self.strerror, self.filename = errno.EACCES, message, path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.filename, self.message), {"provider": self.provider, "code": self.code})


class DirectoryNotEmpty(cloudkit.Conflict, OSError):
    """``rmdir`` of a bucket that still holds objects: a ``cloudkit.Conflict`` and an ``OSError`` (ENOTEMPTY)."""

    def __init__(self, path: str, message: str | None = None, *, provider: str | None = None,
                 code: str | None = None) -> None:
        message = message or f"{path}: directory not empty"
        cloudkit.Conflict.__init__(self, message, provider=provider, code=code)
        self.errno, self.strerror, self.filename = errno.ENOTEMPTY, message, path

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.filename, self.message), {"provider": self.provider, "code": self.code})


@contextmanager
def _translated(path: str) -> Iterator[None]:
    """Re-raise cloudkit errors as the dual (cloudkit + built-in) types fsspec callers expect."""
    try:
        yield
    except (FileNotFound, FileExists, AccessDenied, DirectoryNotEmpty):
        raise
    except cloudkit.NotFound as exc:
        raise FileNotFound(path, exc.message, provider=exc.provider, code=exc.code) from exc
    except cloudkit.AlreadyExists as exc:
        raise FileExists(path, exc.message, provider=exc.provider, code=exc.code) from exc
    except (cloudkit.PermissionDenied, cloudkit.AuthenticationError) as exc:
        raise AccessDenied(path, exc.message, provider=exc.provider, code=exc.code) from exc


def _file_entry(obj: ObjectInfo) -> dict[str, Any]:
    return {
        "name": f"{obj.bucket}/{obj.key}",
        "size": obj.size,
        "type": "file",
        "ETag": obj.etag,
        "LastModified": obj.last_modified,
        "ContentType": obj.content_type,
        "StorageClass": obj.storage_class,
        "metadata": dict(obj.metadata),
    }


def _dir_entry(name: str) -> dict[str, Any]:
    return {"name": name, "size": 0, "type": "directory"}


class _FileSystemMeta(_Cached):  # type: ignore[misc]
    """fsspec's instance cache, except that a filesystem over a caller's ``cloud=`` is never shared.

    fsspec keys its cache on ``str()`` of the arguments, and two different ``Cloud`` objects can
    print the same; sharing would send one caller's writes to another's cloud.
    """

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("cloud") is not None:
            kwargs["skip_instance_cache"] = True
        return super().__call__(*args, **kwargs)


class CloudkitFileSystem(AbstractFileSystem, metaclass=_FileSystemMeta):  # type: ignore[misc]
    """fsspec filesystem over ``cloud.storage`` (protocol ``cloudkit``).

    Pass an existing ``cloud=`` (not closed by the filesystem), or the arguments of
    :func:`cloudkit.connect`: ``provider=``, ``profile=``, ``region=``, ``config_file=`` and any
    provider settings as keywords (``root=...`` for the local provider). With none, the
    default connection (``cloudkit.toml`` profile or the local provider) is used.
    """

    protocol = PROTOCOL
    root_marker = ""

    def __init__(
        self,
        *,
        cloud: cloudkit.Cloud | None = None,
        provider: str | None = None,
        profile: str | None = None,
        region: str | None = None,
        config_file: str | os.PathLike[str] | None = None,
        **settings: Any,
    ) -> None:
        fsspec_options = {k: settings.pop(k) for k in list(settings) if k in _FSSPEC_OPTIONS}
        super().__init__(**fsspec_options)
        if cloud is not None:
            if not isinstance(cloud, cloudkit.Cloud):
                raise InvalidInput("cloud", "must be a cloudkit.Cloud from cloudkit.connect()")
            if provider is not None or profile is not None or region is not None or config_file is not None or settings:
                raise InvalidInput("cloud", "give either cloud= or connection arguments, not both")
            self.cloud, self._owned = cloud, False
        else:
            self.cloud = cloudkit.connect(provider, profile=profile, region=region,
                                          config_file=None if config_file is None else os.fspath(config_file),
                                          **settings)
            self._owned = True

    def __repr__(self) -> str:
        return f"<CloudkitFileSystem {self.cloud!r}>"

    @property
    def storage(self) -> cloudkit.StorageService:
        """The storage service every call goes through."""
        return self.cloud.storage

    def close(self) -> None:
        """Close the connection if this filesystem opened it (a caller's ``cloud=`` is left open)."""
        if self._owned:
            self.cloud.close()

    # ------------------------------------------------------------------ paths
    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        if isinstance(path, list):
            return [cls._strip_protocol(p) for p in path]
        path = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(path, str):
            raise InvalidInput("path", f"must be a string such as 'bucket/key' (got {type(path).__name__})")
        if path.startswith(f"{PROTOCOL}://"):
            path = path[len(PROTOCOL) + 3:]
        elif path.startswith(f"{PROTOCOL}::"):
            path = path[len(PROTOCOL) + 2:]
        return path.strip("/")

    def split_path(self, path: str) -> tuple[str, str]:
        """``(bucket, key)`` of a path; the key is ``""`` for a bucket or the root."""
        path = self._strip_protocol(path)
        bucket, _, key = path.partition("/")
        return bucket, key

    def _parent(self, path: str) -> str:
        path = self._strip_protocol(path)
        return path.rsplit("/", 1)[0] if "/" in path else self.root_marker

    # ------------------------------------------------------------------ listing
    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        """Entries directly under ``path``: buckets at the root, keys and pseudo-directories below."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket:
            with _translated(path):
                entries = [_dir_entry(b.name) for b in self.storage.list_buckets()]
        else:
            prefix = f"{key}/" if key else ""
            entries = []
            with _translated(path):
                for item in self.storage.list_objects(bucket, prefix=prefix, delimiter="/"):
                    if isinstance(item, CommonPrefix):
                        entries.append(_dir_entry(f"{bucket}/{item.prefix.rstrip('/')}"))
                    elif item.key.endswith("/"):
                        if item.key != prefix:  # a folder marker object (as consoles make)
                            entries.append(_dir_entry(f"{bucket}/{item.key.rstrip('/')}"))
                    else:
                        entries.append(_file_entry(item))
                if not entries and key:
                    # Not a pseudo-directory: a file lists as itself, anything else does not exist.
                    entries = [self.info(path)]
                elif not entries:
                    self.storage.get_bucket(bucket)
        return entries if detail else [e["name"] for e in entries]

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        """Details of a bucket, object or pseudo-directory; ``FileNotFound`` when it is none of them."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket:
            return _dir_entry("")
        with _translated(path):
            if not key:
                b = self.storage.get_bucket(bucket)
                return {**_dir_entry(bucket), "CreationDate": b.created_at, "region": b.region}
            try:
                return _file_entry(self.storage.head_object(bucket, key))
            except cloudkit.NotFound:
                pass
            for _ in self.storage.list_objects(bucket, prefix=f"{key}/"):
                return _dir_entry(path)
        raise FileNotFound(path)

    def find(self, path: str, maxdepth: int | None = None, withdirs: bool = False, detail: bool = False,
             **kwargs: Any) -> Any:
        """Every file under ``path`` in one flat listing (pseudo-directories too with ``withdirs``)."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket or maxdepth is not None:
            return super().find(path, maxdepth=maxdepth, withdirs=withdirs, detail=detail, **kwargs)
        out: dict[str, dict[str, Any]] = {}
        prefix = f"{key}/" if key else ""
        with _translated(path):
            for item in self.storage.list_objects(bucket, prefix=prefix):
                if not isinstance(item, ObjectInfo):
                    continue
                if withdirs:
                    parts = item.key[len(prefix):].split("/")[:-1]
                    for i in range(1, len(parts) + 1):
                        d = f"{bucket}/{prefix}{'/'.join(parts[:i])}"
                        out.setdefault(d, _dir_entry(d))
                if not item.key.endswith("/"):
                    out[f"{bucket}/{item.key}"] = _file_entry(item)
        if out and withdirs:
            out[path] = _dir_entry(path)
        elif not out:
            try:
                entry = self.info(path)
            except FileNotFoundError:
                entry = None
            if entry is not None and (entry["type"] == "file" or withdirs):
                out[path] = entry
        names = sorted(out)
        return {n: out[n] for n in names} if detail else names

    def checksum(self, path: str) -> int:
        """An integer that changes when the object changes: its ETag (hex ETags are read as numbers)."""
        info = self.info(path)
        etag = info.get("ETag") if info["type"] == "file" else None
        if not etag:
            return int(tokenize(info), 16)
        text = str(etag).strip('"').split("-")[0]
        try:
            return int(text, 16)
        except ValueError:
            return int(tokenize(etag), 16)

    def created(self, path: str) -> Any:
        """Object stores keep no creation time: ``NotImplementedError`` as fsspec documents."""
        raise NotImplementedError("object stores keep no creation time; see modified()")

    def modified(self, path: str) -> Any:
        """The object's last-modified time (an aware UTC datetime)."""
        info = self.info(path)
        if info["type"] != "file" or info.get("LastModified") is None:
            raise IsADirectoryError(path)
        return info["LastModified"]

    # ------------------------------------------------------------------ directories
    def mkdir(self, path: str, create_parents: bool = True, **kwargs: Any) -> None:
        """Create the bucket of a bare bucket path; inside a bucket, a no-op (prefixes need no creating)."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket:
            raise InvalidInput("path", "the root cannot be created; name a bucket")
        if key:
            if create_parents and not self.exists(bucket):
                self.mkdir(bucket)
            return
        with _translated(path):
            self.storage.create_bucket(bucket, region=kwargs.get("region"))

    def makedirs(self, path: str, exist_ok: bool = False) -> None:
        """Create the bucket if missing; an existing bucket is ``FileExists`` unless ``exist_ok``."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket:
            return
        try:
            self.mkdir(bucket)
        except FileExistsError:
            if not exist_ok and not key:
                raise

    def rmdir(self, path: str) -> None:
        """Delete an empty bucket. Pseudo-directories vanish with their last key, so they cannot be removed."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not bucket:
            raise InvalidInput("path", "the root cannot be removed")
        if key:
            if self.exists(path):
                raise FileExists(path, f"{path}: a key or prefix inside a bucket; use rm(path, recursive=True)")
            raise FileNotFound(path)
        with _translated(path):
            try:
                self.storage.delete_bucket(bucket)
            except cloudkit.Conflict as exc:
                raise DirectoryNotEmpty(path, exc.message, provider=exc.provider, code=exc.code) from exc

    # ------------------------------------------------------------------ removing
    def rm_file(self, path: str) -> None:
        """Delete one object (``FileNotFound`` when it does not exist)."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        with _translated(path):
            self.storage.head_object(bucket, key)
            self.storage.delete_object(bucket, key)

    def _rm(self, path: str) -> None:
        self.rm_file(path)

    def rm(self, path: Any, recursive: bool = False, maxdepth: int | None = None) -> None:
        """Delete files; with ``recursive``, everything under the paths, and a bare bucket path deletes the bucket.

        Objects go in batches per bucket (``delete_objects``); pseudo-directories need no deleting.
        """
        paths = self.expand_path(path, recursive=recursive, maxdepth=maxdepth)
        by_bucket: dict[str, list[str]] = {}
        buckets: list[str] = []
        for p in paths:
            bucket, key = self.split_path(p)
            if not key:
                buckets.append(bucket)
            elif self.isfile(p):
                by_bucket.setdefault(bucket, []).append(key)
            elif not self.isdir(p):
                raise FileNotFound(p)
        for bucket, keys in by_bucket.items():
            with _translated(bucket):
                result = self.storage.delete_objects(bucket, keys)
            if result.errors:
                key, why = next(iter(result.errors.items()))
                raise OSError(errno.EIO, f"{bucket}/{key}: not deleted: {why}", f"{bucket}/{key}")
        if recursive:
            for bucket in buckets:
                self.rmdir(bucket)
        elif buckets:
            raise IsADirectoryError(errno.EISDIR, f"{buckets[0]}: a bucket; use rm(path, recursive=True)", buckets[0])

    # ------------------------------------------------------------------ bytes
    def cat_file(self, path: str, start: int | None = None, end: int | None = None, **kwargs: Any) -> bytes:
        """The object's bytes, or ``start``..``end`` of them (Python slice rules, negative from the end)."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not key:
            raise IsADirectoryError(errno.EISDIR, f"{path}: a bucket, not a file", path)
        with _translated(path):
            if start is None and end is None:
                with self.storage.get_object(bucket, key) as reader:
                    return reader.read()
            size = self.storage.head_object(bucket, key).size
            lo, hi, _ = slice(start, end).indices(size)
            if lo >= hi:
                return b""
            with self.storage.get_object(bucket, key, range=(lo, hi - 1)) as reader:
                return reader.read()

    def pipe_file(self, path: str, value: bytes, mode: str = "overwrite", **kwargs: Any) -> None:
        """Store ``value`` as the object at ``path`` (``mode="create"`` refuses an existing one)."""
        path = self._strip_protocol(path)
        bucket, key = self.split_path(path)
        if not key:
            raise IsADirectoryError(errno.EISDIR, f"{path}: a bucket, not a file", path)
        if mode == "create" and self.exists(path):
            raise FileExists(path)
        with _translated(path):
            self.storage.put_object(bucket, key, value, content_type=kwargs.get("content_type"))

    def put_file(self, lpath: str, rpath: str, callback: Any = None, mode: str = "overwrite",
                 **kwargs: Any) -> None:
        """Upload a local file through ``upload_file`` (multipart and concurrent where the provider has it)."""
        rpath = self._strip_protocol(rpath)
        if os.path.isdir(lpath):
            self.makedirs(rpath, exist_ok=True)
            return
        bucket, key = self.split_path(rpath)
        if not key:
            raise IsADirectoryError(errno.EISDIR, f"{rpath}: a bucket, not a file", rpath)
        if mode == "create" and self.exists(rpath):
            raise FileExists(rpath)

        def progress(done: int, total: int | None) -> None:
            if callback is not None:
                if total is not None:
                    callback.set_size(total)
                callback.absolute_update(done)

        with _translated(rpath):
            self.storage.upload_file(lpath, bucket, key, content_type=kwargs.get("content_type"), progress=progress)

    def get_file(self, rpath: str, lpath: str, callback: Any = None, outfile: Any = None,
                 **kwargs: Any) -> None:
        """Download an object to a local path (appears whole or not at all), or into an open file."""
        rpath = self._strip_protocol(rpath)
        if outfile is None and isinstance(lpath, str) and self.isdir(rpath):
            os.makedirs(lpath, exist_ok=True)
            return
        bucket, key = self.split_path(rpath)
        if not key:
            raise IsADirectoryError(errno.EISDIR, f"{rpath}: a bucket, not a file", rpath)
        with _translated(rpath):
            if outfile is not None or not isinstance(lpath, (str, os.PathLike)):
                target: Any = outfile if outfile is not None else lpath
                with self.storage.get_object(bucket, key) as reader:
                    shutil.copyfileobj(reader, target)
                return
            os.makedirs(os.path.dirname(os.path.abspath(lpath)), exist_ok=True)
            self.storage.download_file(bucket, key, lpath)

    def cp_file(self, path1: str, path2: str, **kwargs: Any) -> None:
        """Copy one object inside the provider (``copy_object``); a pseudo-directory needs no copying."""
        path1, path2 = self._strip_protocol(path1), self._strip_protocol(path2)
        src_bucket, src_key = self.split_path(path1)
        dst_bucket, dst_key = self.split_path(path2)
        if not src_key or not dst_key:
            if self.isdir(path1):
                return
            raise IsADirectoryError(errno.EISDIR, f"{path2}: a bucket, not a file", path2)
        with _translated(path1):
            try:
                self.storage.copy_object(src_bucket, src_key, dst_bucket, dst_key)
            except cloudkit.NotFound:
                if self.isdir(path1):
                    return
                raise

    # ------------------------------------------------------------------ files
    def _open(self, path: str, mode: str = "rb", block_size: int | None = None, autocommit: bool = True,
              cache_options: dict[str, Any] | None = None, **kwargs: Any) -> CloudkitFile:
        return CloudkitFile(self, path, mode, block_size=block_size, autocommit=autocommit,
                            cache_options=cache_options, **kwargs)


#: fsspec's own constructor options, passed to AbstractFileSystem rather than to the provider.
_FSSPEC_OPTIONS = frozenset({"use_listings_cache", "listings_expiry_time", "max_paths", "asynchronous", "loop"})


class CloudkitFile(AbstractBufferedFile):  # type: ignore[misc]
    """A file in a bucket: ranged, read-ahead reads; writes spooled and stored whole on close.

    Reads fetch ``block_size`` bytes at a time with ``get_object(range=...)``. Writes collect in
    memory up to ``block_size``, then in a local temporary file; on close a small object goes up
    with ``put_object`` and a larger one with ``upload_file`` (multipart and concurrent where the
    provider has it). Nothing is visible until close, and the object appears whole.
    """

    fs: CloudkitFileSystem

    def __init__(self, fs: CloudkitFileSystem, path: str, mode: str = "rb", **kwargs: Any) -> None:
        path = fs._strip_protocol(path)
        bucket, key = fs.split_path(path)
        if not key:
            raise IsADirectoryError(errno.EISDIR, f"{path}: a bucket, not a file", path)
        if mode == "xb" and fs.exists(path):
            raise FileExists(path)
        self.bucket, self.key = bucket, key
        self._spool: IO[bytes] | None = None
        self._spool_path: str | None = None
        self._pending = b""
        if mode != "rb":
            from cloudkit import validation  # the key rules, before any byte is buffered

            validation.bucket_name(bucket)
            validation.object_key(key)
        super().__init__(fs, path, mode, **kwargs)

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        """Close; a write interrupted by an exception is discarded instead of stored half-done."""
        if exc_type is not None and self.mode != "rb" and not getattr(self, "_closed", True):
            self.discard()
            self.closed = True
            return
        self.close()

    def _fetch_range(self, start: int, end: int) -> bytes:
        if start >= end:
            return b""
        with _translated(self.path), self.fs.storage.get_object(self.bucket, self.key, range=(start, end - 1)) as reader:
            return reader.read()

    def _initiate_upload(self) -> None:
        """Nothing to do yet: a small file goes up whole with ``put_object`` on close."""

    def _open_spool(self) -> IO[bytes]:
        if self._spool is None:
            fd, self._spool_path = tempfile.mkstemp(prefix="cloudkit-fs-")
            self._spool = os.fdopen(fd, "w+b")
            if self.mode == "ab" and self.fs.isfile(self.path):
                with _translated(self.path), self.fs.storage.get_object(self.bucket, self.key) as reader:
                    shutil.copyfileobj(reader, self._spool)
        return self._spool

    def _upload_chunk(self, final: bool = False) -> bool:
        data = self.buffer.getvalue()
        if self._spool is None and final and not (self.mode == "ab" and self.fs.isfile(self.path)):
            self._pending = data
        else:
            self._open_spool().write(data)
        if final and self.autocommit:
            self.commit()
        return True

    def commit(self) -> None:
        """Store the written bytes as the object (done on close unless ``autocommit=False``)."""
        try:
            with _translated(self.path):
                if self._spool is None:
                    self.fs.storage.put_object(self.bucket, self.key, self._pending)
                else:
                    self._spool.close()
                    assert self._spool_path is not None
                    self.fs.storage.upload_file(self._spool_path, self.bucket, self.key)
        finally:
            self.discard()

    def discard(self) -> None:
        """Throw the written bytes away without storing them."""
        if self._spool is not None:
            self._spool.close()
            self._spool = None
        if self._spool_path is not None:
            try:
                os.unlink(self._spool_path)
            except FileNotFoundError:
                pass
            self._spool_path = None
        self._pending = b""
