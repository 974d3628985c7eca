"""Folder backups: full, incremental and differential archives with JSON manifests in a bucket."""

from __future__ import annotations

import contextlib
import fnmatch
import gzip
import hashlib
import io
import json
import os
import queue
import re
import shutil
import stat
import tarfile
import tempfile
import threading
import zlib
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import attrs

from cloudkit import validation
from cloudkit.errors import CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models import LifecycleRule, ObjectInfo
from cloudkit.services import StorageService
from cloudkit_contrib import IntegrityError, LocalFileError, _local
from cloudkit_contrib.backup._common import (
    Progress,
    StorageRef,
    _from_iso,
    _iso,
    _optional_int,
    _parse_stamp,
    _patterns,
    _prefix,
    _progress,
    _read_json,
    _require,
    _stamp,
    _storage,
    _when,
)

KINDS = ("full", "incremental", "differential")
FORMAT = "cloudkit-backup/1"
ZONE_FORMAT = "cloudkit-zone-backup/1"
DEFAULT_PREFIX = "backups/"
DEFAULT_ZONE_PREFIX = "dns-backups/"
#: Orphan archives (left by interrupted backups) younger than this are left alone by purges,
#: because a backup may still be writing them.
ORPHAN_GRACE = timedelta(days=1)
CHUNK = 1024 * 1024
_PIPE_DEPTH = 4
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_ID = re.compile(r"^(\d{8}T\d{12})Z-(full|incremental|differential)$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")



# --------------------------------------------------------------------------- results


@attrs.frozen
class BackupInfo:
    """One complete folder backup, as its manifest describes it."""

    bucket: str
    name: str
    id: str
    kind: str
    created_at: datetime
    #: The backup this one records changes against (``None`` for a full backup).
    base: str | None
    #: Backup ids a restore applies, in order, ending with this one (a full first).
    chain: tuple[str, ...]
    #: Regular files in the folder at backup time and their total size.
    file_count: int
    total_bytes: int
    #: Files whose bytes this backup's archive holds, and paths deleted since the base.
    stored_count: int
    deleted_count: int
    archive_key: str
    archive_size: int
    archive_sha256: str
    manifest_key: str
    #: Entries skipped because they are neither files, folders nor symbolic links (sockets, devices...).
    skipped: tuple[str, ...] = ()


@attrs.frozen
class RestoreResult:
    """What :func:`restore_backup` did."""

    backup: BackupInfo
    dest: Path
    #: Backups whose archives were read, in the order applied.
    applied: tuple[str, ...]
    files: int
    bytes: int
    #: Paths removed from ``dest`` because the backup does not hold them (``overwrite`` only).
    removed: tuple[str, ...] = ()


@attrs.frozen
class PurgeResult:
    """What :func:`purge_backups` deleted (or would delete, with ``dry_run``)."""

    deleted: tuple[str, ...]
    kept: tuple[str, ...]
    #: Archive keys without a manifest (interrupted backups) that were removed.
    orphans: tuple[str, ...] = ()
    dry_run: bool = False


def _name(value: object, field: str = "name") -> str:
    value = validation.require_str(field, value)
    if not _NAME.fullmatch(value):
        raise InvalidInput(field, "must be 1 to 128 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def _backup_id(value: object, field: str = "backup_id") -> str:
    value = validation.require_str(field, value)
    if not _ID.fullmatch(value):
        raise InvalidInput(field, "must be a backup id such as '20261126T143000123456Z-full'")
    return value


def _set_root(prefix: str, name: str) -> str:
    return f"{prefix}{name}/"


def _manifest_key(prefix: str, name: str, bid: str) -> str:
    return f"{_set_root(prefix, name)}manifests/{bid}.json"


def _archive_key(prefix: str, name: str, bid: str) -> str:
    return f"{_set_root(prefix, name)}archives/{bid}.tar.gz"


# --------------------------------------------------------------------------- manifests

def _check_relpath(path: object) -> str:
    """A relative POSIX path from a manifest; anything that could escape the folder is corrupt."""
    if not isinstance(path, str) or not path or path.startswith("/") or "\x00" in path or "\\" in path:
        raise IntegrityError(f"manifest holds an unsafe path {path!r}")
    if any(seg in ("", ".", "..") for seg in path.split("/")):
        raise IntegrityError(f"manifest holds an unsafe path {path!r}")
    return path


def _info_from(bucket: str, prefix: str, doc: Mapping[str, Any], manifest_key: str) -> BackupInfo:
    try:
        if doc.get("format") != FORMAT:
            raise IntegrityError(f"{manifest_key} is not a {FORMAT} manifest")
        files = doc["files"]
        regular = [e for e in files.values() if e["type"] == "file"]
        archive = doc["archive"]
        bid = _backup_id(doc["id"], "manifest.id")
        name = _name(doc["name"], "manifest.name")
        if doc["kind"] not in KINDS or not bid.endswith("-" + doc["kind"]):
            raise IntegrityError(f"{manifest_key} has an unknown or inconsistent kind {doc['kind']!r}")
        chain = tuple(_backup_id(c, "manifest.chain") for c in doc["chain"])
        if not chain or chain[-1] != bid or not chain[0].endswith("-full"):
            raise IntegrityError(f"{manifest_key} has a malformed chain")
        return BackupInfo(
            bucket=bucket,
            name=name,
            id=bid,
            kind=doc["kind"],
            created_at=_from_iso(doc["created_at"]),
            base=doc["base"],
            chain=chain,
            file_count=len(regular),
            total_bytes=sum(int(e["size"]) for e in regular),
            stored_count=len(doc["stored"]),
            deleted_count=len(doc["deleted"]),
            archive_key=_archive_key(prefix, name, bid),
            archive_size=int(archive["size"]),
            archive_sha256=archive["sha256"],
            manifest_key=manifest_key,
            skipped=tuple(doc.get("skipped", ())),
        )
    except IntegrityError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise IntegrityError(f"{manifest_key} is not a valid backup manifest ({type(exc).__name__}: {exc})") from exc


def _load(storage: StorageService, bucket: str, prefix: str, name: str, bid: str) -> tuple[BackupInfo, dict[str, Any]]:
    key = _manifest_key(prefix, name, bid)
    try:
        doc = _read_json(storage, bucket, key)
    except NotFound:
        raise NotFound(f"no complete backup {bid!r} in set {name!r} of bucket {bucket!r}", provider=storage.provider) from None
    info = _info_from(bucket, prefix, doc, key)
    if info.id != bid or info.name != name:
        raise IntegrityError(f"{key} describes backup {info.name}/{info.id}, not {name}/{bid}")
    return info, doc


def _manifest_ids(storage: StorageService, bucket: str, prefix: str, name: str) -> list[str]:
    root = f"{_set_root(prefix, name)}manifests/"
    ids = []
    for obj in storage.list_objects(bucket, prefix=root):
        if isinstance(obj, ObjectInfo) and obj.key.endswith(".json"):
            bid = obj.key[len(root) : -len(".json")]
            if _ID.fullmatch(bid):
                ids.append(bid)
    return sorted(ids)


def list_backups(storage: StorageRef, bucket: str, name: str, *, prefix: str = DEFAULT_PREFIX) -> Iterator[BackupInfo]:
    """The complete backups of set ``name``, oldest first (one manifest read per backup)."""
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    name, prefix = _name(name), _prefix(prefix)
    _require(store, ("list_objects", "get_object"), "listing backups")

    def generate() -> Iterator[BackupInfo]:
        for bid in _manifest_ids(store, bucket, prefix, name):
            try:
                yield _load(store, bucket, prefix, name, bid)[0]
            except NotFound:
                continue  # purged while we listed
    return generate()


def get_backup(storage: StorageRef, bucket: str, name: str, backup_id: str, *, prefix: str = DEFAULT_PREFIX) -> BackupInfo:
    """One complete backup, or ``NotFound``."""
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    name, prefix, bid = _name(name), _prefix(prefix), _backup_id(backup_id)
    _require(store, ("get_object",), "reading a backup")
    return _load(store, bucket, prefix, name, bid)[0]


# --------------------------------------------------------------------------- scanning


def _scan(root: Path, exclude: tuple[str, ...]) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """Every folder, regular file and symbolic link under ``root`` (not following links)."""
    entries: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []

    def excluded(rel: str) -> bool:
        return any(fnmatch.fnmatchcase(rel, pat) or fnmatch.fnmatchcase(rel.rsplit("/", 1)[-1], pat) for pat in exclude)

    def walk(folder: Path, rel_folder: str) -> None:
        with _local("read folder"), os.scandir(folder) as it:
            items = sorted(it, key=lambda e: e.name)
        for item in items:
            rel = f"{rel_folder}{item.name}"
            if excluded(rel):
                continue
            with _local("read folder"):
                st = item.stat(follow_symlinks=False)
            mode = stat.S_IMODE(st.st_mode)
            if stat.S_ISDIR(st.st_mode):
                entries[rel] = {"type": "dir", "mode": mode}
                walk(Path(item.path), rel + "/")
            elif stat.S_ISREG(st.st_mode):
                entries[rel] = {"type": "file", "mode": mode, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
            elif stat.S_ISLNK(st.st_mode):
                with _local("read folder"):
                    entries[rel] = {"type": "symlink", "target": os.readlink(item.path)}
            else:
                skipped.append(rel)

    walk(root, "")
    return entries, skipped


def _hash_file(path: Path) -> str:
    h = hashlib.sha256()
    with _local("read file"), open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


# --------------------------------------------------------------------------- streaming


class _Cancelled(Exception):
    """The consumer went away; the producer stops writing."""


_END = object()


class _Pipe(io.RawIOBase):
    """A bounded hand-off from a producer thread writing bytes to a consumer iterating chunks."""

    def __init__(self) -> None:
        super().__init__()
        self._q: queue.Queue[Any] = queue.Queue(maxsize=_PIPE_DEPTH)
        self._buf = bytearray()
        self.cancelled = threading.Event()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buf += data
        if len(self._buf) >= CHUNK:
            self._send(bytes(self._buf))
            self._buf.clear()
        return len(data)

    def _send(self, item: Any) -> None:
        while True:
            if self.cancelled.is_set():
                raise _Cancelled()
            try:
                self._q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def finish(self, error: BaseException | None) -> None:
        """Flush what is buffered and signal the end (or the producer's error)."""
        with contextlib.suppress(_Cancelled):
            if error is None and self._buf:
                self._send(bytes(self._buf))
                self._buf.clear()
            self._send(_END if error is None else error)

    def chunks(self) -> Iterator[bytes]:
        while True:
            item = self._q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item


class _HashingReader(io.RawIOBase):
    """Reads at most ``limit`` bytes of ``src`` and hashes them."""

    def __init__(self, src: IO[bytes], limit: int | None = None) -> None:
        super().__init__()
        self._src = src
        self._left = limit
        self.sha = hashlib.sha256()
        self.count = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if size is None or size < 0:
            size = CHUNK if self._left is None else self._left
        if self._left is not None:
            size = min(size, self._left)
        data = self._src.read(size) if size else b""
        if data:
            self.sha.update(data)
            self.count += len(data)
            if self._left is not None:
                self._left -= len(data)
        return data

    def readinto(self, b: Any) -> int:
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


# --------------------------------------------------------------------------- backup


def _base_for(
    store: StorageService, bucket: str, prefix: str, name: str, kind: str, ids: list[str]
) -> tuple[BackupInfo, dict[str, Any]] | None:
    """The backup a new one of ``kind`` records changes against (``ids``: the set's backups, sorted)."""
    if kind == "full":
        return None
    if kind == "differential":
        ids = [i for i in ids if i.endswith("-full")]
    for bid in reversed(ids):
        try:
            return _load(store, bucket, prefix, name, bid)
        except NotFound:
            continue
    raise NotFound(f"a {kind} backup needs a full backup of set {name!r} first; none is in bucket {bucket!r}",
                   provider=store.provider)


def backup_folder(
    storage: StorageRef,
    bucket: str,
    name: str,
    folder: str | os.PathLike[str],
    *,
    kind: str = "full",
    prefix: str = DEFAULT_PREFIX,
    exclude: Sequence[str] | None = None,
    checksum: bool = False,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> BackupInfo:
    """Back up ``folder`` into ``bucket`` as backup set ``name``.

    ``kind`` is ``full`` (every file), ``incremental`` (files changed since the set's last backup
    of any kind) or ``differential`` (files changed since its last full backup). A file counts as
    changed when its size or modification time differs from the base; with ``checksum`` its
    SHA-256 is compared instead (slower: every file is read). ``exclude`` holds glob patterns
    matched against relative paths and base names. ``now`` sets the backup's time (default: the
    clock). ``progress`` is called with the archive bytes uploaded so far.

    The archive is streamed to the bucket as it is built; the manifest is written after the
    archive is stored whole, so an interrupted backup never looks complete.
    """
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    name, prefix = _name(name), _prefix(prefix)
    kind = validation.one_of("kind", kind, KINDS)
    patterns = _patterns(exclude)
    if not isinstance(checksum, bool):
        raise InvalidInput("checksum", "must be True or False")
    when = datetime.now(UTC) if now is None else _when(now, "now")
    report = _progress(progress)
    if not isinstance(folder, (str, os.PathLike)):
        raise InvalidInput("folder", f"must be a path, not {type(folder).__name__}")
    root = Path(folder)
    if not root.is_dir():
        raise InvalidInput("folder", f"{str(root)!r} is not a folder")
    _require(store, ("put_object", "get_object", "list_objects"), "a folder backup")

    existing = _manifest_ids(store, bucket, prefix, name)
    base = _base_for(store, bucket, prefix, name, kind, existing)
    bid = f"{_stamp(when)}Z-{kind}"
    if base is not None and base[0].id[:21] >= bid[:21]:
        raise InvalidInput("now", f"must be later than the base backup {base[0].id}")
    if any(i[:21] == bid[:21] for i in existing):
        raise Conflict(f"set {name!r} already has a backup taken at {_iso(when)}", provider=store.provider)
    base_files: Mapping[str, Any] = base[1]["files"] if base is not None else {}

    entries, skipped = _scan(root, patterns)
    with _local("read folder"):
        root_mode = stat.S_IMODE(root.stat().st_mode)
    to_store: list[str] = []
    for rel, entry in entries.items():
        if entry["type"] != "file":
            continue
        old: Any = base_files.get(rel)
        same = old is not None and old.get("type") == "file" and old["size"] == entry["size"]
        if same and checksum:
            same = _hash_file(root / rel) == old["sha256"]
        elif same:
            same = old["mtime_ns"] == entry["mtime_ns"]
        if same:
            entry["sha256"] = old["sha256"]
            entry["stored_in"] = old["stored_in"]
        else:
            to_store.append(rel)

    archive_key = _archive_key(prefix, name, bid)
    archive_size, archive_sha, vanished = _upload_archive(store, bucket, archive_key, root, to_store, entries, report)
    for rel in vanished:  # deleted between the scan and the archiving: a deletion like any other
        del entries[rel]
        to_store.remove(rel)
    deleted = sorted(set(base_files) - set(entries))
    for rel in to_store:
        entries[rel]["stored_in"] = bid

    chain = (*base[0].chain, bid) if base is not None else (bid,)
    doc = {
        "format": FORMAT,
        "name": name,
        "id": bid,
        "kind": kind,
        "created_at": _iso(when),
        "base": base[0].id if base is not None else None,
        "chain": list(chain),
        "archive": {"key": archive_key, "size": archive_size, "sha256": archive_sha},
        "stored": to_store,
        "deleted": deleted,
        "skipped": skipped,
        "root_mode": root_mode,
        "files": entries,
    }
    manifest_key = _manifest_key(prefix, name, bid)
    body = json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    try:
        meta = {"backup-kind": kind} if base is None else {"backup-kind": kind, "backup-base": base[0].id}
        store.put_object(bucket, manifest_key, body, content_type="application/json", metadata=meta)
    except BaseException:
        with contextlib.suppress(CloudkitError):
            store.delete_object(bucket, archive_key)
        raise
    return _info_from(bucket, prefix, doc, manifest_key)


def _upload_archive(
    store: StorageService,
    bucket: str,
    key: str,
    root: Path,
    to_store: list[str],
    entries: dict[str, dict[str, Any]],
    report: Progress | None,
) -> tuple[int, str, list[str]]:
    """Stream a tar.gz of ``to_store`` to ``key`` and fill in each entry's SHA-256.

    Returns the archive's size and SHA-256, and the files that vanished before they could be read.
    """
    pipe = _Pipe()
    failure: list[BaseException] = []
    vanished: list[str] = []

    def produce() -> None:
        error: BaseException | None = None
        try:
            with tarfile.open(fileobj=pipe, mode="w|gz", format=tarfile.PAX_FORMAT) as tar:
                for rel in to_store:
                    if not _add_file(tar, root, rel, entries[rel]):
                        vanished.append(rel)
        except _Cancelled:
            return
        except BaseException as exc:
            error = exc
            failure.append(exc)
        pipe.finish(error)

    sha = hashlib.sha256()
    size = 0

    def consume() -> Iterator[bytes]:
        nonlocal size
        for chunk in pipe.chunks():
            sha.update(chunk)
            size += len(chunk)
            if report is not None:
                report(size, None)
            yield chunk

    worker = threading.Thread(target=produce, name="cloudkit-backup-archive", daemon=True)
    worker.start()
    try:
        store.put_object(bucket, key, consume(), content_type="application/gzip")
    except BaseException as exc:
        pipe.cancelled.set()
        worker.join()
        with contextlib.suppress(CloudkitError):
            store.delete_object(bucket, key)
        if failure and failure[0] is not exc:
            raise failure[0] from None
        raise
    worker.join()
    if failure:  # pragma: no cover - the consumer always sees the producer's error first
        raise failure[0]
    return size, sha.hexdigest(), vanished


def _add_file(tar: tarfile.TarFile, root: Path, rel: str, entry: dict[str, Any]) -> bool:
    """Append one file to ``tar``; ``False`` when it no longer exists."""
    path = root / rel
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the with block below
    except FileNotFoundError:
        return False
    except OSError as exc:
        with _local("read file"):
            raise exc
    with _local("read file"), fh:
        st = os.fstat(fh.fileno())
        info = tarfile.TarInfo(rel)
        info.size = st.st_size
        info.mode = stat.S_IMODE(st.st_mode)
        info.mtime = int(st.st_mtime)
        reader = _HashingReader(fh, st.st_size)
        try:
            tar.addfile(info, reader)
        except OSError as exc:
            if reader.count < st.st_size:
                raise LocalFileError(f"read file: {path} shrank while it was backed up") from exc
            raise
        if reader.count != st.st_size:
            raise LocalFileError(f"read file: {path} shrank while it was backed up")
    entry.update(size=st.st_size, mtime_ns=st.st_mtime_ns, mode=info.mode, sha256=reader.sha.hexdigest())
    return True


# --------------------------------------------------------------------------- restore


def _pick(store: StorageService, bucket: str, prefix: str, name: str, backup_id: str | None, at: datetime | None) -> str:
    if backup_id is not None:
        return backup_id
    ids = _manifest_ids(store, bucket, prefix, name)
    if at is not None:
        ids = [i for i in ids if _parse_stamp(i[:21]) <= at]
    if not ids:
        when = f" at or before {_iso(at)}" if at is not None else ""
        raise NotFound(f"no complete backup of set {name!r}{when} in bucket {bucket!r}", provider=store.provider)
    return ids[-1]


def restore_backup(
    storage: StorageRef,
    bucket: str,
    name: str,
    dest: str | os.PathLike[str],
    *,
    backup_id: str | None = None,
    at: datetime | None = None,
    prefix: str = DEFAULT_PREFIX,
    overwrite: bool = False,
) -> RestoreResult:
    """Restore set ``name`` into folder ``dest`` as it was at one backup.

    The backup is ``backup_id``, else the last one taken at or before ``at``, else the latest.
    Its chain (the full, then the differential or the incrementals in order) is applied; files
    deleted along the way stay deleted. Every file's and every archive's SHA-256 is checked
    (``IntegrityError`` on a mismatch). The folder is assembled in a staging folder beside
    ``dest`` and moved into place only when complete.

    ``dest`` must be missing or empty unless ``overwrite`` is set; then files the backup holds
    replace what is there, and whatever the backup does not hold is removed.
    """
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    name, prefix = _name(name), _prefix(prefix)
    bid = None if backup_id is None else _backup_id(backup_id)
    when = None if at is None else _when(at, "at")
    if bid is not None and when is not None:
        raise InvalidInput("at", "give backup_id or at, not both")
    if not isinstance(overwrite, bool):
        raise InvalidInput("overwrite", "must be True or False")
    if not isinstance(dest, (str, os.PathLike)):
        raise InvalidInput("dest", f"must be a path, not {type(dest).__name__}")
    target = Path(os.path.abspath(dest))
    if target.exists() or target.is_symlink():
        if not target.is_dir() or target.is_symlink():
            raise InvalidInput("dest", f"{str(target)!r} exists and is not a folder")
        with _local("read folder"):
            empty = not any(os.scandir(target))
        if not empty and not overwrite:
            raise InvalidInput("dest", f"{str(target)!r} is not empty (pass overwrite=True to restore over it)")
    elif not target.parent.is_dir():
        raise InvalidInput("dest", f"folder {str(target.parent)!r} does not exist")
    _require(store, ("get_object", "list_objects"), "a restore")

    chosen = _pick(store, bucket, prefix, name, bid, when)
    info, doc = _load(store, bucket, prefix, name, chosen)
    files: dict[str, dict[str, Any]] = doc["files"]
    for rel in files:
        _check_relpath(rel)
    # Which archive holds each file's bytes, grouped per archive in chain order.
    wanted: dict[str, dict[str, dict[str, Any]]] = {c: {} for c in info.chain}
    for rel, entry in files.items():
        if entry.get("type") == "file":
            src = entry.get("stored_in")
            if src not in wanted:
                raise IntegrityError(f"{info.manifest_key}: {rel!r} is stored in {src!r}, outside the backup's chain")
            if not isinstance(entry.get("sha256"), str) or not _SHA256.fullmatch(entry["sha256"]):
                raise IntegrityError(f"{info.manifest_key}: {rel!r} has no valid SHA-256")
            wanted[src][rel] = entry
    needed = [c for c in info.chain if wanted[c]]
    archives: dict[str, BackupInfo] = {}
    for c in needed:  # every link first, so a broken chain fails before anything is written
        archives[c] = info if c == info.id else _load(store, bucket, prefix, name, c)[0]
        if not store.supports("head_object"):
            continue
        try:
            store.head_object(bucket, archives[c].archive_key)
        except NotFound:
            raise NotFound(f"backup {info.id} needs the archive of {c}, which is missing from bucket {bucket!r}",
                           provider=store.provider) from None

    with _local("create staging folder"):
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.restore-", dir=target.parent))
    try:
        dirs = sorted((r for r, e in files.items() if e.get("type") == "dir"))
        with _local("restore folder"):
            for rel in dirs:
                (staging / rel).mkdir(parents=True, exist_ok=True)
        total = 0
        for c in needed:
            total += _extract(store, archives[c], wanted[c], staging)
        with _local("restore symbolic links"):
            for rel, entry in files.items():
                if entry.get("type") == "symlink":
                    (staging / rel).parent.mkdir(parents=True, exist_ok=True)
                    os.symlink(str(entry["target"]), staging / rel)
        if not target.exists():
            with _local("restore folder"):
                os.chmod(staging, int(doc.get("root_mode", 0o755)))
        removed = _move_into_place(staging, target, files)
    finally:
        with contextlib.suppress(OSError):
            if staging.exists():
                shutil.rmtree(staging)
    count = sum(1 for e in files.values() if e.get("type") == "file")
    return RestoreResult(backup=info, dest=target, applied=tuple(needed), files=count, bytes=total, removed=tuple(removed))


def _extract(store: StorageService, archive: BackupInfo, wanted: Mapping[str, Mapping[str, Any]], staging: Path) -> int:
    """Write the ``wanted`` members of one archive under ``staging``, checking every hash."""
    left = dict(wanted)
    total = 0
    with store.get_object(archive.bucket, archive.archive_key) as obj:
        reader = _HashingReader(obj)  # type: ignore[arg-type]
        try:
            with tarfile.open(fileobj=reader, mode="r|gz") as tar:
                for member in tar:
                    entry = left.pop(member.name, None)
                    if entry is None or not member.isfile():
                        continue
                    src = tar.extractfile(member)
                    if src is None:  # pragma: no cover - isfile() members always have data
                        raise IntegrityError(f"{archive.archive_key}: {member.name!r} has no data")
                    total += _write_checked(src, staging / member.name, entry, archive.archive_key)
            while reader.read(CHUNK):  # the rest of the stream, for the archive's hash
                pass
        except (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile) as exc:
            raise IntegrityError(f"{archive.archive_key} is not a readable tar.gz archive ({exc})") from exc
    if reader.sha.hexdigest() != archive.archive_sha256 or reader.count != archive.archive_size:
        raise IntegrityError(f"{archive.archive_key} does not match the SHA-256 and size in its manifest")
    if left:
        raise IntegrityError(f"{archive.archive_key} lacks {len(left)} file(s) its manifest lists, such as {sorted(left)[0]!r}")
    return total


def _write_checked(src: IO[bytes], path: Path, entry: Mapping[str, Any], archive_key: str) -> int:
    sha = hashlib.sha256()
    size = 0
    with _local("write file"):
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as out:
            while chunk := src.read(CHUNK):
                sha.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    if sha.hexdigest() != entry["sha256"] or size != entry["size"]:
        raise IntegrityError(f"{archive_key}: {path.name!r} does not match the SHA-256 in the manifest")
    with _local("write file"):
        os.chmod(path, int(entry.get("mode", 0o644)))
        mtime = int(entry.get("mtime_ns", 0))
        if mtime:
            os.utime(path, ns=(mtime, mtime))
    return size


def _move_into_place(staging: Path, target: Path, files: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Move the staged tree to ``target``; with a non-empty target, mirror it. Returns removed paths.

    Folder modes are applied last, so a read-only folder does not stop the files going in or out.
    """
    dirs = sorted((rel for rel, e in files.items() if e.get("type") == "dir"), reverse=True)
    with _local("restore folder"):
        if not target.exists() or not any(os.scandir(target)):
            for rel in dirs:
                os.chmod(staging / rel, int(files[rel].get("mode", 0o755)))
            if target.exists():
                os.chmod(staging, stat.S_IMODE(target.stat().st_mode))
                target.rmdir()
            os.replace(staging, target)
            return []
        real = os.path.realpath(target)
        for rel in sorted(files):
            entry = files[rel]
            dst = target / rel
            parent = os.path.realpath(dst.parent)
            if parent != real and not parent.startswith(real + os.sep):
                raise LocalFileError(f"restore folder: {str(dst.parent)!r} leads outside {str(target)!r}")
            is_dir = dst.is_dir() and not dst.is_symlink()
            if entry["type"] == "dir":
                if os.path.lexists(dst) and not is_dir:
                    dst.unlink()
                dst.mkdir(exist_ok=True)
                os.chmod(dst, stat.S_IMODE(dst.stat().st_mode) | stat.S_IRWXU)  # writable until the end
                continue
            if is_dir:
                shutil.rmtree(dst)
            os.replace(staging / rel, dst)
        removed: list[str] = []
        for folder, subdirs, names in os.walk(target, topdown=True):
            rel_folder = os.path.relpath(folder, target)
            rel_folder = "" if rel_folder == "." else rel_folder + "/"
            for sub in list(subdirs):
                rel = rel_folder + sub
                full = os.path.join(folder, sub)
                link = os.path.islink(full)
                want = files.get(rel, {}).get("type")
                if link:
                    subdirs.remove(sub)  # never descend through a link
                    if want != "symlink":
                        os.unlink(full)
                        removed.append(rel)
                elif want != "dir":
                    subdirs.remove(sub)
                    shutil.rmtree(full)
                    removed.append(rel)
            for fname in names:
                rel = rel_folder + fname
                if rel not in files:
                    os.unlink(os.path.join(folder, fname))
                    removed.append(rel)
        for rel in dirs:
            os.chmod(target / rel, int(files[rel].get("mode", 0o755)))
        return sorted(removed)


# --------------------------------------------------------------------------- retention


def purge_backups(
    storage: StorageRef,
    bucket: str,
    name: str,
    *,
    keep_fulls: int | None = None,
    keep_days: int | None = None,
    prefix: str = DEFAULT_PREFIX,
    now: datetime | None = None,
    dry_run: bool = False,
) -> PurgeResult:
    """Delete the backups of set ``name`` that the retention policy no longer needs.

    A backup is kept when it belongs to one of the ``keep_fulls`` newest full backups (the full
    and everything built on it) or was taken within ``keep_days`` days of ``now``; the newest
    backup is always kept. Every backup a kept backup's chain needs is kept too, so a purge never
    breaks a restorable chain. Backups are deleted newest first, manifest before archive, so an
    interrupted purge leaves only complete chains. Orphan archives of interrupted backups older
    than :data:`ORPHAN_GRACE` are removed as well.
    """
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    name, prefix = _name(name), _prefix(prefix)
    fulls = _optional_int("keep_fulls", keep_fulls, 1)
    days = _optional_int("keep_days", keep_days, 0, 36500)
    if fulls is None and days is None:
        raise InvalidInput("keep_fulls", "give keep_fulls and/or keep_days")
    when = datetime.now(UTC) if now is None else _when(now, "now")
    if not isinstance(dry_run, bool):
        raise InvalidInput("dry_run", "must be True or False")
    _require(store, ("list_objects", "get_object", "delete_object"), "a retention purge")

    backups = {b.id: b for b in list_backups(store, bucket, name, prefix=prefix)}
    ordered = sorted(backups)
    keep: set[str] = set()
    if ordered:
        keep.add(ordered[-1])
    if fulls is not None:
        newest = [b for b in ordered if b.endswith("-full")][-fulls:]
        keep.update(b for b in ordered if backups[b].chain[0] in newest)
    if days is not None:
        cutoff = when - timedelta(days=days)
        keep.update(b for b in ordered if backups[b].created_at >= cutoff)
    needed: set[str] = set()
    for b in keep:
        needed.update(backups[b].chain)
    missing = needed - set(backups)
    if missing:
        # A kept backup already lacks a link; deleting more could only hide the damage.
        raise IntegrityError(f"backups {', '.join(sorted(keep))} need {', '.join(sorted(missing))}, which are missing")
    doomed = [b for b in reversed(ordered) if b not in needed]

    root = f"{_set_root(prefix, name)}archives/"
    orphans = []
    for obj in store.list_objects(bucket, prefix=root):
        if not isinstance(obj, ObjectInfo) or not obj.key.endswith(".tar.gz"):
            continue
        bid = obj.key[len(root) : -len(".tar.gz")]
        m = _ID.fullmatch(bid)
        if m and bid not in backups and _parse_stamp(m.group(1)) < when - ORPHAN_GRACE:
            orphans.append(obj.key)

    if not dry_run:
        for b in doomed:
            store.delete_object(bucket, backups[b].manifest_key)
            store.delete_object(bucket, backups[b].archive_key)
        for key in orphans:
            store.delete_object(bucket, key)
    return PurgeResult(deleted=tuple(sorted(doomed)), kept=tuple(sorted(needed)), orphans=tuple(orphans), dry_run=dry_run)


def set_backup_lifecycle(
    storage: StorageRef,
    bucket: str,
    name: str,
    *,
    archive_after_days: int | None = None,
    expire_after_days: int | None = None,
    archive_class: str = "ARCHIVE",
    prefix: str = DEFAULT_PREFIX,
) -> list[LifecycleRule]:
    """Install the bucket lifecycle rules of backup set ``name``; other rules of the bucket are kept.

    Archives move to ``archive_class`` after ``archive_after_days``; manifests stay in the
    standard class so backups can still be listed. Manifests expire after ``expire_after_days``
    and archives one day later, so a listed backup never lacks its archive. Age-based expiry
    knows nothing of chains: pick ``expire_after_days`` beyond what :func:`purge_backups` keeps
    (retention plus the interval between full backups). Passing neither day count removes the
    set's rules. Returns the bucket's rules as installed.
    """
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    name, prefix = _name(name), _prefix(prefix)
    archive = _optional_int("archive_after_days", archive_after_days, 0, 36500)
    expire = _optional_int("expire_after_days", expire_after_days, 1, 36499)
    if archive is not None and expire is not None and expire <= archive:
        raise InvalidInput("expire_after_days", "must be later than archive_after_days")
    if archive_class not in validation.ARCHIVE_CLASSES:
        raise InvalidInput("archive_class", f"must be one of {', '.join(validation.ARCHIVE_CLASSES)}")
    _require(store, ("get_lifecycle", "set_lifecycle"), "backup lifecycle rules")

    root = _set_root(prefix, name)
    ours = {f"cloudkit-backup:{root}archives", f"cloudkit-backup:{root}manifests"}
    rules = [r for r in store.get_lifecycle(bucket) if r.id not in ours]
    if archive is not None or expire is not None:
        rules.append(LifecycleRule(
            prefix=f"{root}archives/",
            archive_after_days=archive,
            expire_after_days=None if expire is None else expire + 1,
            archive_class=archive_class,
            id=f"cloudkit-backup:{root}archives",
        ))
        if expire is not None:
            rules.append(LifecycleRule(prefix=f"{root}manifests/", expire_after_days=expire, id=f"cloudkit-backup:{root}manifests"))
    store.set_lifecycle(bucket, rules)
    return store.get_lifecycle(bucket)


