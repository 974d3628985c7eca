"""The local provider's storage family: buckets and objects under the root folder.

Layout under ``<root>/storage``::

    meta.sqlite3            buckets, objects, lifecycle rules, pending writes (SQLite, WAL)
    presign.key             the HMAC key of presigned URLs (mode 0600)
    tmp/<blob>              uploads in progress
    tmp.lock                held shared by writers while they register, exclusive by the orphan sweep
    buckets/<bucket id>/<ab>/<blob>   object bytes, one immutable file per stored version

Object files are named by generated ids, never by their keys, so no key can reach a path
outside its bucket's folder. A write streams into ``tmp/``, is fsynced, renamed into the bucket's
folder and only then committed to the metadata database: readers see the old object or the new
one, never a part. Every write in progress is recorded in the ``pending`` table and holds an
exclusive ``flock`` on its file; files left behind by a crash (or by a replaced or deleted object)
are removed by :meth:`LocalStorage.recover`, run when the service starts. A writer creates its
temp file, locks it and records it as pending while holding ``tmp.lock`` shared; the sweep of
``tmp/`` holds it exclusive, so a temp file that is neither locked nor pending is an orphan of a
writer killed before it could record it, and is removed.

Every file and folder below the root is opened relative to its parent folder's descriptor with
``O_NOFOLLOW`` (:func:`cloudkit_local._root.open_dir`): a symbolic link planted inside the root
gives :class:`~cloudkit.errors.PermissionDenied`, never a read or write outside it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import io
import json
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote, urlencode

from cloudkit.errors import Conflict, InvalidInput, NotFound
from cloudkit.models.storage import (
    Bucket,
    CommonPrefix,
    DeleteResult,
    LifecycleReport,
    LifecycleRule,
    ObjectInfo,
)
from cloudkit.services.storage import Listing, StorageService
from cloudkit.streams import ObjectReader, Progress
from cloudkit_local._root import Database, dir_fd, open_dir, open_in, root_from
from cloudkit_local._streams import CHUNK, _copy_stream, _parallel_copy, _Slice
from cloudkit_local._streams import PART_SIZE as PART_SIZE  # re-exported: the part size of parallel uploads
from cloudkit_local.errors import PROVIDER, LocalErrors, mapped, translate

SCHEMA = """
CREATE TABLE IF NOT EXISTS buckets (
    name        TEXT PRIMARY KEY,
    id          TEXT NOT NULL UNIQUE,
    region      TEXT,
    created_at  REAL NOT NULL,
    lifecycle   TEXT NOT NULL DEFAULT '[]'
);
CREATE TABLE IF NOT EXISTS objects (
    bucket        TEXT NOT NULL REFERENCES buckets(name),
    key           TEXT NOT NULL,
    blob          TEXT NOT NULL,
    size          INTEGER NOT NULL,
    etag          TEXT NOT NULL,
    content_type  TEXT NOT NULL,
    metadata      TEXT NOT NULL,
    last_modified REAL NOT NULL,
    storage_class TEXT NOT NULL DEFAULT 'STANDARD',
    PRIMARY KEY (bucket, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending (
    blob        TEXT PRIMARY KEY,
    bucket_id   TEXT NOT NULL,
    kind        TEXT NOT NULL CHECK (kind IN ('write', 'garbage')),
    created_at  REAL NOT NULL
);
"""

#: ``upload_file`` switches to parallel parts (and an S3 multipart ETag) above this size.
MULTIPART_THRESHOLD = 8 * 1024 * 1024
#: Rows fetched per keyset page when listing.
PAGE = 1000
DEFAULT_CONTENT_TYPE = "application/octet-stream"
STANDARD = "STANDARD"
_ARCHIVE_RANK = {STANDARD: 0, "ARCHIVE": 1, "DEEP_ARCHIVE": 2}


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


#: The lock file of the orphan sweep (in ``<root>/storage``).
SWEEP_LOCK = "tmp.lock"


def _fsync_dir(directory: int) -> None:
    """Make a rename in the folder ``directory`` (a descriptor) durable."""
    os.fsync(directory)


def _unlink_in(directory: int, name: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(name, dir_fd=directory)


class LocalStorage(LocalErrors, StorageService):
    """Buckets and objects stored under the local provider's root folder."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        # Nothing touches the disk until the first operation that passed validation.
        self._state: tuple[Path, Path, Database] | None = None
        self._open_lock = threading.Lock()
        self._key: bytes | None = None

    def _open(self) -> tuple[Path, Path, Database]:
        """Create the folders and the metadata database on first use, then run :meth:`recover`."""
        with self._open_lock:
            if self._state is None:
                root = root_from(self.settings)
                base = root / "storage"
                with mapped("open storage folder"):
                    for sub in ("tmp", "buckets"):
                        os.close(open_dir(root, "storage", sub, create=True))
                self._state = (root, base, Database(base / "meta.sqlite3", SCHEMA, root=root))
                fresh = True
            else:
                fresh = False
        if fresh:
            self.recover()
        return self._state

    @property
    def root(self) -> Path:
        """The provider's root folder."""
        return (self._state or self._open())[0]

    @property
    def base(self) -> Path:
        """``<root>/storage``."""
        return (self._state or self._open())[1]

    @property
    def db(self) -> Database:
        """The metadata database."""
        return (self._state or self._open())[2]

    # ------------------------------------------------------------ service
    @property
    def native(self) -> Path:
        """The root folder this provider keeps its state in."""
        return self.root

    def close(self) -> None:
        """Close this thread's database connection.

        The presigned-URL endpoint is not stopped: URLs stay valid until they expire, after which it
        ends by itself (:meth:`stop_endpoint` ends it at once).
        """
        if self._state is not None:
            self._state[2].close()

    # ------------------------------------------------------------ paths and rows
    def _blob_path(self, bucket_id: str, blob: str) -> Path:
        return self.base / "buckets" / bucket_id / blob[:2] / blob

    def _dir(self, *parts: str, create: bool = False) -> contextlib.AbstractContextManager[int]:
        """A descriptor of ``<root>/storage/<parts>`` opened without following links (see :func:`open_dir`)."""
        return dir_fd(self.root, "storage", *parts, create=create)

    @staticmethod
    def _blob_dir(bucket_id: str, blob: str) -> tuple[str, ...]:
        return ("buckets", bucket_id, blob[:2])

    @contextlib.contextmanager
    def _sweep_lock(self, how: int) -> Iterator[None]:
        """``tmp.lock`` held with ``how`` (shared: registering a write; exclusive: sweeping orphans)."""
        with self._dir() as base:
            fd = open_in(base, SWEEP_LOCK, os.O_RDWR | os.O_CREAT, shown=self.base / SWEEP_LOCK)
        try:
            fcntl.flock(fd, how)
            yield
        finally:
            os.close(fd)

    def _bucket_row(self, conn: Any, name: str) -> Any:
        row = conn.execute("SELECT * FROM buckets WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise NotFound(f"no bucket named {name!r}", provider=PROVIDER, code="NoSuchBucket")
        return row

    def _bucket_id(self, name: str) -> str:
        rows = self.db.query("SELECT id FROM buckets WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no bucket named {name!r}", provider=PROVIDER, code="NoSuchBucket")
        return str(rows[0]["id"])

    @staticmethod
    def _bucket(row: Any) -> Bucket:
        return Bucket(name=row["name"], region=row["region"], created_at=_utc(row["created_at"]), extra={"id": row["id"]})

    @staticmethod
    def _info(bucket: str, row: Any) -> ObjectInfo:
        return ObjectInfo(
            bucket=bucket,
            key=row["key"],
            size=row["size"],
            etag=row["etag"],
            content_type=row["content_type"],
            last_modified=_utc(row["last_modified"]),
            metadata=json.loads(row["metadata"]),
            storage_class=row["storage_class"],
        )

    def _object_row(self, bucket: str, key: str) -> tuple[str, Any]:
        rows = self.db.query(
            "SELECT b.id AS bucket_id, o.* FROM buckets b LEFT JOIN objects o ON o.bucket = b.name AND o.key = ? "
            "WHERE b.name = ?",
            (key, bucket),
        )
        if not rows:
            raise NotFound(f"no bucket named {bucket!r}", provider=PROVIDER, code="NoSuchBucket")
        row = rows[0]
        if row["key"] is None:
            raise NotFound(f"no object {key!r} in bucket {bucket!r}", provider=PROVIDER, code="NoSuchKey")
        return str(row["bucket_id"]), row

    def _open_object(self, bucket: str, key: str) -> tuple[str, Any, IO[bytes]]:
        """(bucket id, row, open file) of an object.

        A concurrent writer may replace the object and remove the old file between reading the
        row and opening the file; the row is then read again. Once open, the file stays readable
        whatever happens to the object.
        """
        last_blob = None
        while True:
            bucket_id, row = self._object_row(bucket, key)
            blob = row["blob"]
            try:
                with self._dir(*self._blob_dir(bucket_id, blob)) as folder:
                    fd = open_in(folder, blob, os.O_RDONLY, shown=self._blob_path(bucket_id, blob))
            except FileNotFoundError:
                if blob == last_blob:
                    raise
                last_blob = blob
                continue
            return bucket_id, row, os.fdopen(fd, "rb", buffering=0)

    # ------------------------------------------------------------ recovery
    def recover(self) -> int:
        """Remove files of writes that died and of replaced or deleted objects; return how many.

        A write still in progress (in this or another process) holds an ``flock`` on its file and
        is left alone. Temp files that no pending row names and no writer locks (a writer killed
        between creating its temp file and recording it) are swept too, under ``tmp.lock``.
        """
        removed = 0
        with mapped("recover storage"):
            rows = self.db.query("SELECT blob, bucket_id, kind FROM pending")
            for row in rows:
                blob, bucket_id = row["blob"], row["bucket_id"]
                places = [("tmp",), self._blob_dir(bucket_id, blob)]
                if not self._unlocked(places, blob):
                    continue
                with self.db.transaction() as conn:
                    still = conn.execute("SELECT kind FROM pending WHERE blob = ?", (blob,)).fetchone()
                    if still is None:
                        continue
                    for parts in places:
                        self._unlink(parts, blob)
                    conn.execute("DELETE FROM pending WHERE blob = ?", (blob,))
                removed += 1
            removed += self._sweep_orphans()
        return removed

    def _sweep_orphans(self) -> int:
        """Remove temp files neither recorded as pending nor locked by a live writer."""
        removed = 0
        with self._sweep_lock(fcntl.LOCK_EX), self._dir("tmp") as tmp:
            names = os.listdir(tmp)
            if not names:
                return 0
            pending = {r["blob"] for r in self.db.query("SELECT blob FROM pending")}
            for name in names:
                if name in pending or not self._unlocked([("tmp",)], name):
                    continue
                _unlink_in(tmp, name)
                removed += 1
        return removed

    def _unlink(self, parts: tuple[str, ...], name: str) -> None:
        """Remove ``<storage>/<parts>/<name>`` if present (a link there is removed, never followed)."""
        try:
            with self._dir(*parts) as folder:
                _unlink_in(folder, name)
        except FileNotFoundError:
            pass

    def _unlocked(self, places: list[tuple[str, ...]], name: str) -> bool:
        """True when no live writer holds a lock on ``name`` in any of the folders ``places``."""
        for parts in places:
            try:
                with self._dir(*parts) as folder:
                    fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK, dir_fd=folder)
            except FileNotFoundError:
                continue
            except OSError as exc:
                if exc.errno == errno.ELOOP:
                    continue  # a planted link: nobody writes through it, removing it is safe
                raise
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            finally:
                os.close(fd)
        return True

    def _discard(self, garbage: list[tuple[str, str]]) -> None:
        """Unlink committed-garbage files and forget them (``recover`` finishes the job after a crash)."""
        if not garbage:
            return
        for bucket_id, blob in garbage:
            self._unlink(self._blob_dir(bucket_id, blob), blob)
        with self.db.transaction() as conn:
            conn.executemany("DELETE FROM pending WHERE blob = ? AND kind = 'garbage'", [(b,) for _, b in garbage])

    # ------------------------------------------------------------ buckets
    def _create_bucket(self, name: str, region: str | None) -> Bucket:
        with self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM buckets WHERE name = ?", (name,)).fetchone():
                from cloudkit.errors import AlreadyExists

                raise AlreadyExists(f"bucket {name!r} already exists", provider=PROVIDER, code="BucketAlreadyExists")
            bid = uuid.uuid4().hex
            with self._dir("buckets") as folder:
                os.mkdir(bid, 0o700, dir_fd=folder)
            conn.execute(
                "INSERT INTO buckets (name, id, region, created_at) VALUES (?, ?, ?, ?)",
                (name, bid, region, time.time()),
            )
        row = self.db.query("SELECT * FROM buckets WHERE name = ?", (name,))[0]
        return self._bucket(row)

    def _get_bucket(self, name: str) -> Bucket:
        rows = self.db.query("SELECT * FROM buckets WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no bucket named {name!r}", provider=PROVIDER, code="NoSuchBucket")
        return self._bucket(rows[0])

    def _list_buckets(self) -> Iterator[Bucket]:
        after = ""
        while True:
            rows = self.db.query("SELECT * FROM buckets WHERE name > ? ORDER BY name LIMIT ?", (after, PAGE))
            for row in rows:
                yield self._bucket(row)
            if len(rows) < PAGE:
                return
            after = rows[-1]["name"]

    def _delete_bucket(self, name: str) -> None:
        with self.db.transaction() as conn:
            row = self._bucket_row(conn, name)
            if conn.execute("SELECT 1 FROM objects WHERE bucket = ? LIMIT 1", (name,)).fetchone():
                raise Conflict(f"bucket {name!r} is not empty", provider=PROVIDER, code="BucketNotEmpty")
            busy = conn.execute("SELECT 1 FROM pending WHERE bucket_id = ? LIMIT 1", (row["id"],)).fetchone()
            conn.execute("DELETE FROM buckets WHERE name = ?", (name,))
        if not busy:
            with self._dir("buckets") as folder:
                import shutil  # here, not at the top: it pulls in the compression modules

                shutil.rmtree(row["id"], ignore_errors=True, dir_fd=folder)

    # ------------------------------------------------------------ writes
    def _store(
        self,
        bucket: str,
        key: str,
        fill: Any,
        content_type: str | None,
        metadata: dict[str, str],
        *,
        link_from: tuple[str, str, str] | None = None,
    ) -> ObjectInfo:
        """The one write path: ``fill(fd)`` writes the bytes and returns (size, etag).

        Bytes go to ``tmp/``, are fsynced, renamed into the bucket folder, and then the metadata
        is committed; the replaced object's file is removed after the commit. With ``link_from``
        (bucket id, blob and ETag of an immutable committed object file) the temp file is a hard
        link to it when the file system allows, and ``fill`` is not called.
        """
        with mapped("put object"), self._dir("tmp") as tmpdir:
            bucket_id = self._bucket_id(bucket)
            blob = uuid.uuid4().hex
            shown = self.base / "tmp" / blob
            linked = False
            # Create, lock and register the temp file under the shared sweep lock: the orphan
            # sweep (exclusive) then never sees a live writer's file unlocked and unregistered.
            with self._sweep_lock(fcntl.LOCK_SH):
                if link_from is not None:
                    src_bucket_id, src_blob, _ = link_from
                    try:
                        with self._dir(*self._blob_dir(src_bucket_id, src_blob)) as src_dir:
                            os.link(src_blob, blob, src_dir_fd=src_dir, dst_dir_fd=tmpdir, follow_symlinks=False)
                        linked = True
                    except OSError:
                        linked = False
                flags = os.O_RDONLY if linked else os.O_RDWR | os.O_CREAT | os.O_EXCL
                try:
                    fd = open_in(tmpdir, blob, flags, 0o600, shown=shown)
                except BaseException:
                    if linked:
                        _unlink_in(tmpdir, blob)
                    raise
                committed = False
                try:
                    # The lock tells recover() in any process that this write is alive.
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    with self.db.transaction() as conn:
                        conn.execute(
                            "INSERT INTO pending (blob, bucket_id, kind, created_at) VALUES (?, ?, 'write', ?)",
                            (blob, bucket_id, time.time()),
                        )
                except BaseException:
                    _unlink_in(tmpdir, blob)
                    os.close(fd)
                    raise
            final_dir = -1
            try:
                if linked and link_from is not None:
                    size, etag = os.fstat(fd).st_size, link_from[2]
                else:
                    size, etag = fill(fd)
                os.fsync(fd)
                final_dir = open_dir(self.root, "storage", *self._blob_dir(bucket_id, blob), create=True)
                now = time.time()
                with self.db.transaction() as conn:
                    row = conn.execute("SELECT id FROM buckets WHERE name = ?", (bucket,)).fetchone()
                    if row is None:
                        raise NotFound(f"no bucket named {bucket!r}", provider=PROVIDER, code="NoSuchBucket")
                    if row["id"] != bucket_id:
                        raise Conflict(f"bucket {bucket!r} was deleted and re-created during the write", provider=PROVIDER)
                    old = conn.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
                    os.rename(blob, blob, src_dir_fd=tmpdir, dst_dir_fd=final_dir)
                    _fsync_dir(final_dir)
                    conn.execute(
                        "INSERT OR REPLACE INTO objects (bucket, key, blob, size, etag, content_type, metadata, "
                        "last_modified, storage_class) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (bucket, key, blob, size, etag, content_type or DEFAULT_CONTENT_TYPE,
                         json.dumps(metadata, sort_keys=True), now, STANDARD),
                    )
                    conn.execute("DELETE FROM pending WHERE blob = ?", (blob,))
                    if old is not None:
                        conn.execute(
                            "INSERT OR IGNORE INTO pending (blob, bucket_id, kind, created_at) VALUES (?, ?, 'garbage', ?)",
                            (old["blob"], bucket_id, now),
                        )
                committed = True
            finally:
                if not committed:
                    _unlink_in(tmpdir, blob)
                    if final_dir >= 0:
                        _unlink_in(final_dir, blob)
                    with contextlib.suppress(Exception), self.db.transaction() as conn:
                        conn.execute("DELETE FROM pending WHERE blob = ?", (blob,))
                if final_dir >= 0:
                    os.close(final_dir)
                os.close(fd)
            if old is not None:
                self._discard([(bucket_id, old["blob"])])
        return ObjectInfo(
            bucket=bucket,
            key=key,
            size=size,
            etag=etag,
            content_type=content_type or DEFAULT_CONTENT_TYPE,
            last_modified=_utc(now),
            metadata=metadata,
            storage_class=STANDARD,
        )

    def _put_object(
        self, bucket: str, key: str, reader: IO[bytes], size: int | None, content_type: str | None, metadata: dict[str, str]
    ) -> ObjectInfo:
        return self._store(bucket, key, lambda fd: _copy_stream(reader, fd, size), content_type, metadata)

    def _upload_file(
        self, path: Path, bucket: str, key: str, content_type: str | None, metadata: dict[str, str], progress: Progress | None
    ) -> ObjectInfo:
        """Files up to :data:`MULTIPART_THRESHOLD` are stored like ``put_object`` (ETag: MD5 of the
        bytes). Bigger files are copied and hashed in :data:`PART_SIZE` parts on several threads,
        and their ETag is the S3 multipart one: MD5 of the parts' MD5s, ``-`` and the part count
        (what ``upload_file`` gives on S3 too).
        """
        from cloudkit.streams import ProgressReader

        fh = open(path, "rb", buffering=0)  # noqa: SIM115 - closed below
        with fh:
            total = os.fstat(fh.fileno()).st_size
            if total > MULTIPART_THRESHOLD:
                return self._store(bucket, key, lambda fd: _parallel_copy(fh.fileno(), fd, total, progress),
                                   content_type, metadata)
            reader: Any = fh if progress is None else ProgressReader(fh, total, progress)
            return self._store(bucket, key, lambda fd: _copy_stream(reader, fd, total), content_type, metadata)

    def _copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, metadata: dict[str, str] | None) -> ObjectInfo:
        src_bucket_id, row, src = self._open_object(src_bucket, src_key)
        with src:
            size = row["size"]

            def fill(fd: int) -> tuple[int, str]:
                done = 0
                while done < size:
                    n = os.copy_file_range(src.fileno(), fd, min(CHUNK, size - done), done, done)
                    if n == 0:
                        break
                    done += n
                return done, str(row["etag"])

            meta = json.loads(row["metadata"]) if metadata is None else metadata
            # Object files never change once committed, so a hard link is a safe, instant copy.
            return self._store(dst_bucket, dst_key, fill, row["content_type"], meta,
                               link_from=(src_bucket_id, str(row["blob"]), str(row["etag"])))

    # ------------------------------------------------------------ reads
    def _get_object(self, bucket: str, key: str, range: tuple[int, int | None] | None) -> ObjectReader:
        _, row, fh = self._open_object(bucket, key)
        info = self._info(bucket, row)
        size = info.size
        if range is None:
            source: IO[bytes] = io.BufferedReader(_Slice(fh, 0, size), CHUNK)
        else:
            start, end = range
            if start >= size and not (size == 0 and start == 0):
                fh.close()
                raise InvalidInput("range", f"starts past the end of the object ({size} bytes)")
            last = size - 1 if end is None else min(end, size - 1)
            source = io.BufferedReader(_Slice(fh, start, last - start + 1), CHUNK)
        return ObjectReader(info, source, on_error=lambda exc: translate(exc, "read object"))

    def _head_object(self, bucket: str, key: str) -> ObjectInfo:
        _, row = self._object_row(bucket, key)
        return self._info(bucket, row)

    def _download_file(self, bucket: str, key: str, path: Path, progress: Progress | None) -> ObjectInfo:
        _, row, src = self._open_object(bucket, key)
        info = self._info(bucket, row)
        with src:
            tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}.part"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            try:
                try:
                    done = 0
                    # Without a progress callback the kernel copies it all in as few calls as it likes.
                    step = CHUNK if progress is not None else 1 << 30
                    while done < info.size:
                        want = min(step, info.size - done)
                        try:
                            n = os.copy_file_range(src.fileno(), fd, want)
                        except OSError as exc:
                            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                                raise
                            n = os.sendfile(fd, src.fileno(), None, want)
                        if n == 0:
                            break
                        done += n
                        if progress is not None:
                            progress(done, info.size)
                    os.fsync(fd)
                finally:
                    os.close(fd)
                os.replace(tmp, path)
            except BaseException:
                tmp.unlink(missing_ok=True)
                raise
        return info

    # ------------------------------------------------------------ deletes
    def _delete_object(self, bucket: str, key: str) -> None:
        self._delete_objects(bucket, [key])

    def _delete_objects(self, bucket: str, keys: list[str]) -> DeleteResult:
        garbage: list[tuple[str, str]] = []
        with self.db.transaction() as conn:
            bucket_id = self._bucket_row(conn, bucket)["id"]
            now = time.time()
            for key in keys:
                row = conn.execute("SELECT blob FROM objects WHERE bucket = ? AND key = ?", (bucket, key)).fetchone()
                if row is None:
                    continue
                conn.execute("DELETE FROM objects WHERE bucket = ? AND key = ?", (bucket, key))
                conn.execute(
                    "INSERT OR IGNORE INTO pending (blob, bucket_id, kind, created_at) VALUES (?, ?, 'garbage', ?)",
                    (row["blob"], bucket_id, now),
                )
                garbage.append((bucket_id, row["blob"]))
        self._discard(garbage)
        return DeleteResult(deleted=keys)

    # ------------------------------------------------------------ listing
    def _list_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[Listing]:
        self._bucket_id(bucket)
        return self._iter_objects(bucket, prefix, delimiter, start_after)

    def _iter_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[Listing]:
        # Keyset paging: each page is one short query starting where the last one ended, so the
        # first key comes at once and memory stays flat for any number of keys.
        lower, inclusive = prefix, True
        if start_after is not None and start_after >= prefix:
            lower, inclusive = start_after, False
        last_common: str | None = None
        while True:
            op = ">=" if inclusive else ">"
            with mapped("list objects"):
                rows = self.db.query(
                    f"SELECT key, size, etag, content_type, metadata, last_modified, storage_class FROM objects "
                    f"WHERE bucket = ? AND key {op} ? ORDER BY key LIMIT ?",
                    (bucket, lower, PAGE),
                )
            if not rows:
                return
            skip_to: str | None = None
            for row in rows:
                key = row["key"]
                if not key.startswith(prefix):
                    return
                if delimiter is not None:
                    cut = key.find(delimiter, len(prefix))
                    if cut >= 0:
                        common = key[: cut + 1]
                        if common != last_common:  # once: a U+10FFFF delimiter has no successor to jump to below
                            last_common = common
                            yield CommonPrefix(bucket=bucket, prefix=common)
                        if ord(delimiter) < 0x10FFFF:
                            # Jump past every key under this common prefix.
                            skip_to = common[:-1] + chr(ord(delimiter) + 1)
                            break
                        continue
                yield self._info(bucket, row)
            if skip_to is not None:
                lower, inclusive = skip_to, True
                continue
            if len(rows) < PAGE:
                return
            lower, inclusive = rows[-1]["key"], False

    # ------------------------------------------------------------ presigned URLs
    def _presign_key(self) -> bytes:
        if self._key is None:
            path = self.base / "presign.key"
            with mapped("read presign key"), self._dir() as base:
                try:
                    fd = open_in(base, "presign.key", os.O_RDONLY, shown=path)
                except FileNotFoundError:
                    name = f"presign.{uuid.uuid4().hex}"
                    with self._sweep_lock(fcntl.LOCK_SH), self._dir("tmp") as tmp:
                        fd = open_in(tmp, name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600, shown=self.base / "tmp" / name)
                        try:
                            import secrets  # presigning only: keeps the service's start light

                            os.write(fd, secrets.token_bytes(32))
                            os.fsync(fd)
                        finally:
                            os.close(fd)
                        try:
                            # atomic create-if-absent: the first process wins
                            os.link(name, "presign.key", src_dir_fd=tmp, dst_dir_fd=base, follow_symlinks=False)
                        except FileExistsError:
                            pass
                        finally:
                            _unlink_in(tmp, name)
                    fd = open_in(base, "presign.key", os.O_RDONLY, shown=path)
                with os.fdopen(fd, "rb") as fh:
                    key = fh.read(64)
            if len(key) != 32:
                raise Conflict(f"presign key file {path} is damaged (expected 32 bytes)", provider=PROVIDER)
            self._key = key
        return self._key

    def signature(self, method: str, bucket: str, key: str, expires: int) -> str:
        """The HMAC-SHA256 signature of a presigned request (hex)."""
        message = "\n".join((method, bucket, key, str(expires))).encode("utf-8")
        import hmac

        return hmac.new(self._presign_key(), message, hashlib.sha256).hexdigest()

    def verify(self, method: str, bucket: str, key: str, expires: str, signature: str) -> str | None:
        """``None`` when the signature is valid and unexpired, else the reason it is refused."""
        try:
            when = int(expires)
        except ValueError:
            return "malformed expiry"
        want = self.signature(method, bucket, key, when)
        import hmac

        if not hmac.compare_digest(want, signature):
            return "signature does not match"
        if when < time.time():
            return "request has expired"
        return None

    def stop_endpoint(self) -> bool:
        """Stop this root's presigned-URL endpoint now (its URLs stop working). True if one was running."""
        from cloudkit_local._presign import stop_endpoint

        with mapped("stop presign endpoint"):
            return stop_endpoint(self.base)

    def _presign_url(self, bucket: str, key: str, method: str, expires_in: int) -> str:
        self._bucket_id(bucket)
        expires = int(time.time()) + expires_in
        sig = self.signature(method, bucket, key, expires)
        from cloudkit_local._presign import ensure_endpoint

        port = ensure_endpoint(self.root, self.base, expires)
        query = urlencode({"method": method, "expires": expires, "signature": sig})
        return f"http://127.0.0.1:{port}/{bucket}/{quote(key, safe='/-_.~')}?{query}"

    # ------------------------------------------------------------ lifecycle
    def _set_lifecycle(self, bucket: str, rules: list[LifecycleRule]) -> None:
        data = [
            {
                "id": r.id,
                "prefix": r.prefix,
                "archive_after_days": r.archive_after_days,
                "expire_after_days": r.expire_after_days,
                "archive_class": r.archive_class,
                "enabled": r.enabled,
            }
            for r in rules
        ]
        with mapped("set lifecycle"), self.db.transaction() as conn:
            self._bucket_row(conn, bucket)
            conn.execute("UPDATE buckets SET lifecycle = ? WHERE name = ?", (json.dumps(data), bucket))

    def _get_lifecycle(self, bucket: str) -> list[LifecycleRule]:
        rows = self.db.query("SELECT lifecycle FROM buckets WHERE name = ?", (bucket,))
        if not rows:
            raise NotFound(f"no bucket named {bucket!r}", provider=PROVIDER, code="NoSuchBucket")
        return [LifecycleRule(**r) for r in json.loads(rows[0]["lifecycle"])]

    def _apply_lifecycle(self, bucket: str | None, now: datetime | None) -> LifecycleReport:
        """One sweep: archive (record the class) and expire (delete) objects per each bucket's rules.

        Keys in the report are plain keys when one bucket is swept, ``bucket/key`` when all are.
        """
        when = (now or datetime.now(UTC)).timestamp()
        if bucket is None:
            buckets = [r["name"] for r in self.db.query("SELECT name FROM buckets ORDER BY name")]
        else:
            self._bucket_id(bucket)
            buckets = [bucket]
        archived: list[str] = []
        expired: list[str] = []
        for name in buckets:
            label = "" if bucket is not None else f"{name}/"
            rules = [r for r in self._get_lifecycle(name) if r.enabled]
            doomed: list[str] = []
            for rule in rules:
                if rule.expire_after_days is not None:
                    cutoff = when - timedelta(days=rule.expire_after_days).total_seconds()
                    doomed.extend(self._matching(name, rule.prefix, cutoff, None))
            doomed = sorted(set(doomed))
            for i in range(0, len(doomed), PAGE):
                self._delete_objects(name, doomed[i : i + PAGE])
            expired.extend(label + k for k in doomed)
            gone = set(doomed)
            for rule in rules:
                if rule.archive_after_days is None:
                    continue
                cutoff = when - timedelta(days=rule.archive_after_days).total_seconds()
                rank = _ARCHIVE_RANK[rule.archive_class]
                keys = [k for k in self._matching(name, rule.prefix, cutoff, rank) if k not in gone]
                with mapped("apply lifecycle"), self.db.transaction() as conn:
                    for key in keys:
                        conn.execute(
                            "UPDATE objects SET storage_class = ? WHERE bucket = ? AND key = ?",
                            (rule.archive_class, name, key),
                        )
                archived.extend(label + k for k in keys)
        self.recover()
        return LifecycleReport(archived=sorted(set(archived)), expired=expired)

    def _matching(self, bucket: str, prefix: str, cutoff: float, below_rank: int | None) -> list[str]:
        """Keys under ``prefix`` last modified at or before ``cutoff`` (and in a lower class than ``below_rank``)."""
        out: list[str] = []
        after, op = prefix, ">="
        while True:
            with mapped("apply lifecycle"):
                rows = self.db.query(
                    f"SELECT key, last_modified, storage_class FROM objects WHERE bucket = ? AND key {op} ? "
                    f"ORDER BY key LIMIT ?",
                    (bucket, after, PAGE),
                )
            for row in rows:
                if not row["key"].startswith(prefix):
                    return out
                if row["last_modified"] > cutoff:
                    continue
                if below_rank is not None and _ARCHIVE_RANK.get(row["storage_class"], 0) >= below_rank:
                    continue
                out.append(row["key"])
            if len(rows) < PAGE:
                return out
            after, op = rows[-1]["key"], ">"


def make_service(settings: Mapping[str, Any]) -> LocalStorage:
    """Build the local storage service (called by the local plugin)."""
    return LocalStorage(settings)
