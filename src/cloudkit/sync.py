"""Copy and sync between local folders and buckets: the engine behind ``cloudkit storage cp/sync``.

Either side is a local path or a ``cloudkit://bucket/prefix`` URL (the syntax of the fsspec
filesystem in ``cloudkit_contrib.fs``). A bucket on another profile is reached by passing that
profile's :class:`~cloudkit.Cloud` as ``source_cloud=`` / ``dest_cloud=`` (on the command line:
``--source-profile`` / ``--dest-profile``); the URL itself never names a profile.

A transfer is a plan first (a value to inspect, what ``--dryrun`` prints), then applied::

    from cloudkit.sync import plan_sync, apply_plan, sync

    plan = plan_sync("photos/", "cloudkit://backups/photos", delete=True, exclude=["*.tmp"])
    for action in plan.actions:
        print(action)
    result = apply_plan(plan, workers=8)          # or simply: sync("photos/", "cloudkit://backups/photos")

The rules (documented in docs/guide.md, "Copying and syncing"):

- **Change detection** (sync): a file is transferred when the destination lacks it or the sizes
  differ; then, with ``compare="size-mtime"`` (the default), when the modification times differ by
  more than :data:`MTIME_TOLERANCE_NS`. An object's modification time is its ``mtime`` user metadata
  (seconds since the epoch, as recorded on upload), else its ``last_modified``; a destination object
  without ``mtime`` metadata is replaced only when the source is newer than its ``last_modified``
  (the rule of ``aws s3 sync``). With ``compare="checksum"`` the MD5 digests are compared instead
  (an object's digest is its ``md5`` metadata, else its ETag when that is a plain MD5; an unknown
  digest counts as different).
- **Modification times travel**: uploads and copies record the source's time as ``mtime`` metadata,
  downloads set the file's time to the object's.
- **No partial files**: a download goes to a temporary file beside the target, gets its time, and is
  renamed into place; an upload is one atomic ``put``. An interrupted run leaves whole files only,
  and running ``sync`` again skips what already arrived.
- **Containment**: a key is never written outside the destination folder: keys with empty, ``.`` or
  ``..`` segments, NUL characters, or that resolve outside the folder (through a symbolic link) are
  refused with :class:`~cloudkit.InvalidInput` before anything is transferred. ``delete`` only
  touches what lies inside the destination prefix or folder.
- **Filters**: ``exclude`` / ``include`` are :mod:`fnmatch` globs on the path relative to the source
  root (``*`` also matches ``/``). A path is left out when it matches an ``exclude`` and no
  ``include``. Left-out paths are neither copied nor deleted.
"""

from __future__ import annotations

import hashlib
import mimetypes
import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from contextlib import contextmanager
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Literal, Union

import attrs

from cloudkit import validation as v
from cloudkit.cloud import Cloud, connect
from cloudkit.errors import CloudkitError, InvalidInput, ProviderError
from cloudkit.models.storage import ObjectInfo

__all__ = [
    "MTIME_TOLERANCE_NS",
    "Action",
    "LocalPath",
    "RemotePath",
    "SyncPlan",
    "SyncResult",
    "Totals",
    "apply_plan",
    "copy",
    "parse_location",
    "plan_copy",
    "plan_sync",
    "sync",
]

SCHEME = "cloudkit://"
#: Modification times closer than this (1 ms) count as equal (file systems round differently).
MTIME_TOLERANCE_NS = 1_000_000
#: The user metadata names this module records.
MTIME_META = "mtime"
MD5_META = "md5"

Compare = Literal["size-mtime", "checksum"]
_MD5 = re.compile(r"[0-9a-f]{32}")


# ------------------------------------------------------------------ locations
@attrs.frozen
class LocalPath:
    """A file or folder on this machine."""

    path: Path

    def __str__(self) -> str:
        return str(self.path)


@attrs.frozen
class RemotePath:
    """An object or a prefix in a bucket: ``cloudkit://bucket/key``."""

    bucket: str
    key: str

    def __str__(self) -> str:
        return f"{SCHEME}{self.bucket}/{self.key}"


Location = Union[LocalPath, RemotePath]


def parse_location(value: str | os.PathLike[str], field: str = "source") -> Location:
    """A ``cloudkit://bucket/prefix`` URL as a :class:`RemotePath`; anything else as a :class:`LocalPath`."""
    if isinstance(value, os.PathLike):
        return LocalPath(Path(value))
    if not isinstance(value, str) or not value:
        raise InvalidInput(field, "must be a local path or a cloudkit://bucket/prefix URL")
    if "\x00" in value:
        raise InvalidInput(field, "must not contain NUL characters")
    if not value.startswith(SCHEME):
        if re.match(r"[A-Za-z][A-Za-z0-9+.-]*://", value):
            raise InvalidInput(field, f"only cloudkit:// URLs and local paths are supported (got {value!r})")
        return LocalPath(Path(value))
    rest = value[len(SCHEME):]
    bucket, _, key = rest.partition("/")
    if "@" in bucket:
        raise InvalidInput(field, "a bucket name cannot contain '@'; name another profile with "
                                  "--source-profile/--dest-profile (source_cloud=/dest_cloud= in Python)")
    v.bucket_name(bucket, field)
    if key:
        v.key_prefix(key, field)
    return RemotePath(bucket, key)


# ------------------------------------------------------------------ plan values
@attrs.frozen
class Entry:
    """One file or object found under a root, by its path relative to the root (``/``-separated)."""

    rel: str
    size: int
    mtime_ns: int | None
    recorded: bool  # mtime_ns is a recorded time (file time or mtime metadata), not an upload time
    md5: str | None = None
    info: ObjectInfo | None = None


@attrs.frozen
class Action:
    """One step of a plan: ``upload``, ``download``, ``copy`` (bucket to bucket) or ``delete``."""

    kind: Literal["upload", "download", "copy", "delete"]
    source: Location | None
    dest: Location
    size: int = 0
    reason: str = ""
    mtime_ns: int | None = None
    metadata: dict[str, str] = attrs.field(factory=dict)
    content_type: str | None = None

    def __str__(self) -> str:
        if self.kind == "delete":
            return f"delete: {self.dest}"
        return f"{self.kind}: {self.source} to {self.dest}"


@attrs.frozen
class SyncPlan:
    """What a copy or sync will do: inspect it (``--dryrun`` prints it), then :func:`apply_plan`."""

    source: Location
    dest: Location
    actions: tuple[Action, ...]
    skipped: int
    source_cloud: Cloud | None = attrs.field(default=None, repr=False, eq=False)
    dest_cloud: Cloud | None = attrs.field(default=None, repr=False, eq=False)

    @property
    def total_bytes(self) -> int:
        """Bytes the transfers of this plan move."""
        return sum(a.size for a in self.actions if a.kind != "delete")


@attrs.frozen
class Totals:
    """Progress of a running plan, as passed to ``progress=``."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int


@attrs.frozen
class SyncResult:
    """What :func:`apply_plan` did: the plan, the actions done, and those that failed with the reason."""

    plan: SyncPlan
    done: tuple[Action, ...]
    failed: tuple[tuple[Action, str], ...]

    @property
    def ok(self) -> bool:
        """True when every action succeeded."""
        return not self.failed


# ------------------------------------------------------------------ helpers
def _mtime_text(ns: int) -> str:
    return f"{ns // 1_000_000_000}.{ns % 1_000_000_000:09d}"


def _parse_mtime(text: str | None) -> int | None:
    if not text or not re.fullmatch(r"\d{1,12}(\.\d{1,9})?", text.strip()):
        return None
    whole, _, frac = text.strip().partition(".")
    return int(whole) * 1_000_000_000 + int((frac + "000000000")[:9])


def _object_entry(info: ObjectInfo, rel: str) -> Entry:
    recorded = _parse_mtime(info.metadata.get(MTIME_META))
    if recorded is not None:
        mtime: int | None = recorded
    elif info.last_modified is not None:
        mtime = int(info.last_modified.timestamp() * 1_000_000_000)
    else:
        mtime = None
    md5 = info.metadata.get(MD5_META)
    if md5 is None and info.etag is not None:
        etag = info.etag.strip('"').lower()
        md5 = etag if _MD5.fullmatch(etag) else None
    return Entry(rel, info.size, mtime, recorded is not None, md5, info)


def _file_md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _dir_prefix(key: str) -> str:
    return key if not key or key.endswith("/") else key + "/"


def _walk_local(root: Path) -> Iterator[Entry]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        base = Path(dirpath)
        for name in sorted(filenames):
            path = base / name
            try:
                st = path.stat()
            except OSError:
                continue  # a dangling link or a file that vanished
            if not path.is_file():
                continue
            rel = path.relative_to(root).as_posix()
            yield Entry(rel, st.st_size, st.st_mtime_ns, True)


def _walk_remote(cloud: Cloud, bucket: str, prefix: str) -> Iterator[Entry]:
    for item in cloud.storage.list_objects(bucket, prefix=prefix):
        if not isinstance(item, ObjectInfo) or item.key.endswith("/"):
            continue  # folder markers carry no data
        yield _object_entry(item, item.key[len(prefix):])


def _walk(loc: Location, cloud: Cloud) -> Iterator[Entry]:
    if isinstance(loc, LocalPath):
        if loc.path.is_dir():
            yield from _walk_local(loc.path)
    else:
        yield from _walk_remote(cloud, loc.bucket, _dir_prefix(loc.key))


def safe_local_target(root: Path, rel: str, field: str = "key") -> Path:
    """``root/rel`` for a ``/``-separated ``rel``, refusing anything that would land outside ``root``."""
    parts = rel.split("/")
    for seg in parts:
        if seg in ("", ".", ".."):
            raise InvalidInput(field, f"{rel!r} has an empty, '.' or '..' segment and would leave the destination folder")
        if "\x00" in seg or (os.sep != "/" and os.sep in seg) or (os.altsep and os.altsep in seg):
            raise InvalidInput(field, f"{rel!r} holds a NUL or path separator character")
    target = root.joinpath(*parts)
    if target.is_absolute() != root.is_absolute() or Path(*parts).is_absolute() or Path(*parts).drive:
        raise InvalidInput(field, f"{rel!r} is an absolute path and would leave the destination folder")
    real_root = os.path.realpath(root)
    real = os.path.realpath(target)
    if os.path.commonpath([real_root, real]) != real_root or real == real_root:
        raise InvalidInput(field, f"{rel!r} resolves outside the destination folder")
    return target


def _included(rel: str, exclude: Sequence[str], include: Sequence[str]) -> bool:
    if not any(fnmatchcase(rel, pat) for pat in exclude):
        return True
    return any(fnmatchcase(rel, pat) for pat in include)


def _globs(values: Sequence[str] | None, field: str) -> tuple[str, ...]:
    if values is None:
        return ()
    if isinstance(values, str):
        raise InvalidInput(field, "must be a list of glob patterns, not a single string")
    out = []
    for i, pat in enumerate(values):
        if not isinstance(pat, str) or not pat or "\x00" in pat or len(pat) > 1024:
            raise InvalidInput(f"{field}[{i}]", "must be a non-empty glob pattern of at most 1024 characters")
        out.append(pat)
    return tuple(out)


def _differs(src: Entry, dst: Entry, compare: Compare, src_loc: Location, dst_loc: Location) -> str | None:
    """Why ``src`` must replace ``dst``, or ``None`` when it is already there."""
    if src.size != dst.size:
        return "size differs"
    if compare == "checksum":
        smd5 = src.md5 if src.md5 is not None or not isinstance(src_loc, LocalPath) else _file_md5(_local_of(src_loc, src.rel))
        dmd5 = dst.md5 if dst.md5 is not None or not isinstance(dst_loc, LocalPath) else _file_md5(_local_of(dst_loc, dst.rel))
        return None if smd5 is not None and smd5 == dmd5 else "checksum differs"
    if src.mtime_ns is None or dst.mtime_ns is None:
        return "modification time unknown"
    if dst.recorded:
        return None if abs(src.mtime_ns - dst.mtime_ns) <= MTIME_TOLERANCE_NS else "modification time differs"
    return "source is newer" if src.mtime_ns > dst.mtime_ns + MTIME_TOLERANCE_NS else None


def _local_of(loc: LocalPath, rel: str) -> Path:
    return loc.path.joinpath(*rel.split("/")) if rel else loc.path


def _target(dest: Location, rel: str) -> Location:
    if isinstance(dest, LocalPath):
        return LocalPath(safe_local_target(dest.path, rel))
    key = _dir_prefix(dest.key) + rel
    return RemotePath(dest.bucket, v.object_key(key, "key"))


def _action(src_loc: Location, dst_loc: Location, src: Entry, rel: str, reason: str, compare: Compare) -> Action:
    source = LocalPath(_local_of(src_loc, rel)) if isinstance(src_loc, LocalPath) else RemotePath(
        src_loc.bucket, src.info.key if src.info is not None else src_loc.key)
    return _action_to(source, _target(dst_loc, rel), src, reason, compare)


def _action_to(source: Location, dest: Location, src: Entry, reason: str, compare: Compare) -> Action:
    meta: dict[str, str] = {}
    ctype: str | None = None
    if isinstance(source, RemotePath) and src.info is not None:
        meta = dict(src.info.metadata)
        ctype = src.info.content_type
    elif isinstance(source, LocalPath):
        ctype = mimetypes.guess_type(source.path.name)[0]
        if compare == "checksum" and src.md5 is not None:
            meta[MD5_META] = src.md5
    if src.mtime_ns is not None:
        meta[MTIME_META] = _mtime_text(src.mtime_ns)
    if isinstance(source, LocalPath):
        kind: Literal["upload", "download", "copy"] = "upload"
    elif isinstance(dest, LocalPath):
        kind = "download"
    else:
        kind = "copy"
    return Action(kind, source, dest, src.size, reason, src.mtime_ns, meta, ctype)


def _clouds(source: Location, dest: Location, cloud: Cloud | None, source_cloud: Cloud | None,
            dest_cloud: Cloud | None) -> tuple[Cloud, Cloud]:
    if isinstance(source, LocalPath) and isinstance(dest, LocalPath):
        raise InvalidInput("dest", "one of source and dest must be a cloudkit://bucket/prefix URL")
    base = cloud
    if base is None and (source_cloud is None or dest_cloud is None):
        base = connect()
    src = source_cloud or base
    dst = dest_cloud or base
    assert src is not None and dst is not None
    return src, dst


# ------------------------------------------------------------------ planning
def plan_sync(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    cloud: Cloud | None = None,
    source_cloud: Cloud | None = None,
    dest_cloud: Cloud | None = None,
    delete: bool = False,
    exclude: Sequence[str] | None = None,
    include: Sequence[str] | None = None,
    compare: Compare = "size-mtime",
) -> SyncPlan:
    """Plan making ``dest`` hold what ``source`` holds: new and changed files, and with ``delete`` removals.

    ``cloud`` serves both sides (default :func:`cloudkit.connect`); ``source_cloud`` / ``dest_cloud``
    override one side (a bucket on another profile). Nothing is transferred: see :func:`apply_plan`.
    """
    return _plan(source, dest, cloud, source_cloud, dest_cloud, delete=delete, exclude=exclude, include=include,
                 compare=compare, always=False, recursive=True)


def plan_copy(
    source: str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    recursive: bool = False,
    cloud: Cloud | None = None,
    source_cloud: Cloud | None = None,
    dest_cloud: Cloud | None = None,
    exclude: Sequence[str] | None = None,
    include: Sequence[str] | None = None,
) -> SyncPlan:
    """Plan copying one file or object (or, with ``recursive``, everything under ``source``), overwriting.

    A single source copied to a destination that ends with ``/`` (or is an existing folder, or a
    bare bucket) keeps its base name there.
    """
    return _plan(source, dest, cloud, source_cloud, dest_cloud, delete=False, exclude=exclude, include=include,
                 compare="size-mtime", always=True, recursive=recursive)


def _plan(source: str | os.PathLike[str], dest: str | os.PathLike[str], cloud: Cloud | None,
          source_cloud: Cloud | None, dest_cloud: Cloud | None, *, delete: bool, exclude: Sequence[str] | None,
          include: Sequence[str] | None, compare: Compare, always: bool, recursive: bool) -> SyncPlan:
    if compare not in ("size-mtime", "checksum"):
        raise InvalidInput("compare", "must be 'size-mtime' or 'checksum'")
    excl, incl = _globs(exclude, "exclude"), _globs(include, "include")
    src_loc, dst_loc = parse_location(source, "source"), parse_location(dest, "dest")
    scloud, dcloud = _clouds(src_loc, dst_loc, cloud, source_cloud, dest_cloud)

    def plan(actions: list[Action], skipped: int) -> SyncPlan:
        return SyncPlan(src_loc, dst_loc, tuple(actions), skipped, scloud, dcloud)

    if not recursive:
        return plan([_single(src_loc, dst_loc, scloud, dest)], 0)

    if isinstance(src_loc, LocalPath) and not src_loc.path.is_dir():
        raise InvalidInput("source", f"{str(src_loc.path)!r} is not a folder")
    if isinstance(dst_loc, LocalPath) and dst_loc.path.exists() and not dst_loc.path.is_dir():
        raise InvalidInput("dest", f"{str(dst_loc.path)!r} exists and is not a folder")
    if isinstance(dst_loc, RemotePath):
        dcloud.storage.get_bucket(dst_loc.bucket)  # NotFound now rather than once per file

    dst_entries = {} if always else {e.rel: e for e in _walk(dst_loc, dcloud)}
    actions: list[Action] = []
    seen: set[str] = set()
    skipped = 0
    for entry in _walk(src_loc, scloud):
        if not _included(entry.rel, excl, incl):
            continue
        seen.add(entry.rel)
        if isinstance(src_loc, LocalPath) and compare == "checksum":
            entry = attrs.evolve(entry, md5=_file_md5(_local_of(src_loc, entry.rel)))
        have = dst_entries.get(entry.rel)
        reason = "copy" if always else ("new" if have is None else _differs(entry, have, compare, src_loc, dst_loc))
        if reason is None:
            _target(dst_loc, entry.rel)  # still refuse a hostile name, even when nothing moves
            skipped += 1
            continue
        actions.append(_action(src_loc, dst_loc, entry, entry.rel, reason, compare))
    if delete:
        for rel, entry in sorted(dst_entries.items()):
            if rel in seen or not _included(rel, excl, incl):
                continue
            if isinstance(dst_loc, LocalPath):
                target: Location = LocalPath(_local_of(dst_loc, rel))
            else:
                assert entry.info is not None
                target = RemotePath(dst_loc.bucket, entry.info.key)
            actions.append(Action("delete", None, target, entry.size, "not in source"))
    return plan(actions, skipped)


def _single(src_loc: Location, dst_loc: Location, scloud: Cloud, dest_text: object) -> Action:
    if isinstance(src_loc, LocalPath):
        if src_loc.path.is_dir():
            raise InvalidInput("source", f"{str(src_loc.path)!r} is a folder; copy it with recursive (--recursive)")
        if not src_loc.path.is_file():
            raise InvalidInput("source", f"{str(src_loc.path)!r} is not a readable file")
        st = src_loc.path.stat()
        entry = Entry(src_loc.path.name, st.st_size, st.st_mtime_ns, True)
        name = src_loc.path.name
    else:
        if not src_loc.key or src_loc.key.endswith("/"):
            raise InvalidInput("source", f"{src_loc} names a prefix; copy it with recursive (--recursive)")
        info = scloud.storage.head_object(src_loc.bucket, src_loc.key)
        entry = _object_entry(info, src_loc.key.rsplit("/", 1)[-1])
        name = entry.rel
    into = False
    if isinstance(dst_loc, LocalPath):
        text = os.fspath(dest_text) if isinstance(dest_text, (str, os.PathLike)) else ""
        into = dst_loc.path.is_dir() or text.endswith(("/", os.sep))
        target: Location = LocalPath(safe_local_target(dst_loc.path, name, "source")) if into else dst_loc
    else:
        into = not dst_loc.key or dst_loc.key.endswith("/")
        target = RemotePath(dst_loc.bucket, v.object_key(dst_loc.key + name if into else dst_loc.key, "dest"))
    return _action_to(src_loc, target, entry, "copy", "size-mtime")


# ------------------------------------------------------------------ applying
class _Meter:
    """Thread-safe totals fed by the workers, reported to the caller's callback."""

    def __init__(self, plan: SyncPlan, progress: Callable[[Totals], None] | None) -> None:
        self.files_total = len(plan.actions)
        self.bytes_total = plan.total_bytes
        self.files_done = 0
        self.bytes_done = 0
        self._lock = threading.Lock()
        self._cb = progress

    def add(self, nbytes: int = 0, files: int = 0) -> None:
        with self._lock:
            self.bytes_done += nbytes
            self.files_done += files
            totals = Totals(self.files_done, self.files_total, self.bytes_done, self.bytes_total)
        if self._cb is not None:
            self._cb(totals)

    def per_file(self) -> _FileMeter:
        return _FileMeter(self)


class _FileMeter:
    """A per-transfer progress callback feeding the overall :class:`_Meter` with deltas."""

    def __init__(self, meter: _Meter) -> None:
        self.meter = meter
        self.moved = 0

    def __call__(self, done: int, _size: int | None) -> None:
        delta = done - self.moved
        if delta > 0:
            self.moved = done
            self.meter.add(delta)


def _run(action: Action, plan: SyncPlan, same: bool, meter: _Meter) -> None:
    scloud, dcloud = plan.source_cloud, plan.dest_cloud
    assert scloud is not None and dcloud is not None
    cb = meter.per_file()
    if action.kind == "delete":
        if isinstance(action.dest, LocalPath):
            action.dest.path.unlink(missing_ok=True)
        else:
            dcloud.storage.delete_object(action.dest.bucket, action.dest.key)
        meter.add(files=1)
        return
    src, dst = action.source, action.dest
    if isinstance(src, LocalPath) and isinstance(dst, RemotePath):
        dcloud.storage.upload_file(src.path, dst.bucket, dst.key, content_type=action.content_type,
                                   metadata=action.metadata, progress=cb)
    elif isinstance(src, RemotePath) and isinstance(dst, LocalPath):
        _download(scloud, src, dst.path, action.mtime_ns, cb)
    elif isinstance(src, RemotePath) and isinstance(dst, RemotePath):
        if same:
            scloud.storage.copy_object(src.bucket, src.key, dst.bucket, dst.key, metadata=action.metadata)
        else:
            with scloud.storage.get_object(src.bucket, src.key) as reader:
                dcloud.storage.put_object(dst.bucket, dst.key, reader, content_type=action.content_type,
                                          metadata=action.metadata, progress=cb)
    else:  # pragma: no cover - planning never produces local-to-local
        raise InvalidInput("dest", "one of source and dest must be a cloudkit:// URL")
    meter.add(max(action.size - cb.moved, 0), files=1)  # copies without byte progress count at the end


def _download(cloud: Cloud, src: RemotePath, path: Path, mtime_ns: int | None,
              progress: Callable[[int, int | None], None]) -> None:
    """Download to a temporary file beside ``path``, stamp its time, and rename it into place."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProviderError(f"cannot create folder {str(path.parent)!r}: {exc.strerror}") from exc
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name[:100]}.", suffix=".cloudkit-part", dir=path.parent)
    os.close(fd)
    try:
        cloud.storage.download_file(src.bucket, src.key, tmp, progress=progress)
        if mtime_ns is not None:
            os.utime(tmp, ns=(mtime_ns, mtime_ns))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def apply_plan(plan: SyncPlan, *, workers: int = 8, progress: Callable[[Totals], None] | None = None,
               on_done: Callable[[Action, str | None], None] | None = None) -> SyncResult:
    """Carry out ``plan`` with up to ``workers`` transfers at once.

    ``progress`` gets :class:`Totals` as bytes move; ``on_done(action, error)`` is called after each
    action (``error`` is ``None`` on success). A failed action does not stop the others; the result
    lists it with the reason. Deletions run after every transfer has finished.
    """
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 64:
        raise InvalidInput("workers", "must be an integer from 1 to 64")
    assert plan.source_cloud is not None and plan.dest_cloud is not None
    same = plan.source_cloud is plan.dest_cloud or plan.source_cloud.storage is plan.dest_cloud.storage
    meter = _Meter(plan, progress)
    done: list[Action] = []
    failed: list[tuple[Action, str]] = []

    def one(action: Action) -> str | None:
        try:
            _run(action, plan, same, meter)
        except CloudkitError as exc:
            return f"{type(exc).__name__}: {exc}"
        except OSError as exc:
            return f"{type(exc).__name__}: {exc.strerror or exc}"
        return None

    def record(action: Action, error: str | None) -> None:
        if error is None:
            done.append(action)
        else:
            failed.append((action, error))
        if on_done is not None:
            on_done(action, error)

    transfers = [a for a in plan.actions if a.kind != "delete"]
    deletes = [a for a in plan.actions if a.kind == "delete"]
    for batch in (transfers, deletes):
        if not batch:
            continue
        with ThreadPoolExecutor(max_workers=min(workers, len(batch))) as pool:
            futures = {pool.submit(one, a): a for a in batch}
            try:
                for fut in as_completed(futures):
                    record(futures[fut], fut.result())
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    return SyncResult(plan, tuple(done), tuple(failed))


def sync(source: str | os.PathLike[str], dest: str | os.PathLike[str], *, cloud: Cloud | None = None,
         source_cloud: Cloud | None = None, dest_cloud: Cloud | None = None, delete: bool = False,
         exclude: Sequence[str] | None = None, include: Sequence[str] | None = None,
         compare: Compare = "size-mtime", workers: int = 8, dryrun: bool = False,
         progress: Callable[[Totals], None] | None = None) -> SyncResult:
    """:func:`plan_sync` then :func:`apply_plan` (with ``dryrun``, the plan only: nothing done).

    Without ``cloud``/``source_cloud``/``dest_cloud`` the default connection is opened and closed here.
    """
    with _connection(cloud, source_cloud, dest_cloud) as base:
        plan = plan_sync(source, dest, cloud=base, source_cloud=source_cloud, dest_cloud=dest_cloud, delete=delete,
                         exclude=exclude, include=include, compare=compare)
        if dryrun:
            return SyncResult(plan, (), ())
        return apply_plan(plan, workers=workers, progress=progress)


def copy(source: str | os.PathLike[str], dest: str | os.PathLike[str], *, recursive: bool = False,
         cloud: Cloud | None = None, source_cloud: Cloud | None = None, dest_cloud: Cloud | None = None,
         exclude: Sequence[str] | None = None, include: Sequence[str] | None = None, workers: int = 8,
         dryrun: bool = False, progress: Callable[[Totals], None] | None = None) -> SyncResult:
    """:func:`plan_copy` then :func:`apply_plan` (with ``dryrun``, the plan only: nothing done).

    Without ``cloud``/``source_cloud``/``dest_cloud`` the default connection is opened and closed here.
    """
    with _connection(cloud, source_cloud, dest_cloud) as base:
        plan = plan_copy(source, dest, recursive=recursive, cloud=base, source_cloud=source_cloud,
                         dest_cloud=dest_cloud, exclude=exclude, include=include)
        if dryrun:
            return SyncResult(plan, (), ())
        return apply_plan(plan, workers=workers, progress=progress)


@contextmanager
def _connection(cloud: Cloud | None, source_cloud: Cloud | None, dest_cloud: Cloud | None) -> Iterator[Cloud | None]:
    """The caller's cloud, or a default connection opened (and closed) here when one side needs it."""
    if cloud is not None or (source_cloud is not None and dest_cloud is not None):
        yield cloud
        return
    with connect() as opened:
        yield opened
