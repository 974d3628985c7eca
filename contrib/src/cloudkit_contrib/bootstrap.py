"""Bootstrap instances from files kept in a bucket, built only on cloudkit's neutral API.

:func:`prepare_bootstrap` uploads a bootstrap script and the files it needs (or takes objects
already in the bucket), records their SHA-256 and creates presigned GET URLs with the lifetime you
choose. The :class:`Bootstrap` it returns renders cloud-init user data in two forms:

* :meth:`Bootstrap.cloud_config`: ``#cloud-config`` text whose ``write_files`` drops a small
  fetch script (mode 0700) and whose ``runcmd`` runs it;
* :meth:`Bootstrap.shell_script`: the same fetch script as ``#!/bin/sh`` user data, for images
  whose boot agent runs scripts but knows no cloud-config.

Either way the instance downloads every file with ``curl`` (or ``wget``) next to its destination,
checks its SHA-256 (``sha256sum``, or ``openssl dgst``), moves it into place only when it matches,
and finally runs the bootstrap script from the work folder. :func:`launch_bootstrapped` starts an
instance with that user data through ``compute.create_instance``.

Presigned URLs grant access to whoever holds them until they expire: they are kept out of
every ``repr``, never logged, and never put into exception messages. The user data itself
contains them; treat it as a secret for the URLs' lifetime.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Union

import attrs

from cloudkit import Cloud, validation
from cloudkit.errors import InvalidInput, NotSupported
from cloudkit.models import Image, Instance
from cloudkit.services import ComputeService, StorageService
from cloudkit_contrib import IntegrityError, _local

__all__ = [
    "FORMATS",
    "Bootstrap",
    "BootstrapFile",
    "BucketKey",
    "FileSpec",
    "launch_bootstrapped",
    "prepare_bootstrap",
]

#: The user-data formats :meth:`Bootstrap.user_data` renders.
FORMATS = ("cloud-config", "shell")
DEFAULT_PREFIX = "bootstrap/"
DEFAULT_WORKDIR = "/var/lib/cloudkit-bootstrap"
CHUNK = 1024 * 1024
_SAFE_TEXT = re.compile(r"[^\x00-\x1f\x7f]+")


@attrs.frozen
class BucketKey:
    """An object already in the bootstrap bucket, used as it is instead of uploading a file."""

    key: str


@attrs.frozen
class FileSpec:
    """A file for the instance: where its bytes come from, and the mode it gets there."""

    source: Path | bytes | BucketKey
    mode: int = 0o644


Source = Union[Path, bytes, BucketKey]


@attrs.frozen
class BootstrapFile:
    """One file the instance downloads: its destination, its object, its hash and its URL.

    ``url`` is a presigned GET URL: a secret until it expires, so it is left out of the repr.
    """

    path: str
    bucket: str
    key: str
    sha256: str
    size: int
    mode: int
    url: str = attrs.field(repr=False)


@attrs.frozen
class Bootstrap:
    """Everything an instance needs to bootstrap itself from a bucket, and the user data to do it."""

    script: BootstrapFile
    files: tuple[BootstrapFile, ...]
    expires_at: datetime
    workdir: str = DEFAULT_WORKDIR
    args: tuple[str, ...] = ()
    #: Whether the script starts with ``#!`` (it is executed directly; otherwise through ``/bin/sh``).
    shebang: bool = True

    def shell_script(self) -> str:
        """``#!/bin/sh`` user data: download, verify and place every file, then run the script."""
        q = shlex.quote
        lines = [
            "#!/bin/sh",
            "# Bootstrap from a bucket: download each file, check its SHA-256, then run the bootstrap script.",
            "set -eu",
            "umask 077  # downloads stay private until they are verified and given their mode",
            f"workdir={q(self.workdir)}",
            'mkdir -p "$workdir"',
            'chmod 700 "$workdir"',
            "",
            "fail() {",
            '  echo "bootstrap: $*" >&2',
            "  exit 1",
            "}",
            "",
            "# fetch URL DEST SHA256 MODE: download beside DEST, verify, then move into place.",
            "fetch() {",
            '  part="$2.part"',
            '  (umask 022 && mkdir -p "$(dirname "$2")")',
            "  if command -v curl >/dev/null 2>&1; then",
            '    curl -fsS --retry 5 --retry-delay 2 --connect-timeout 10 -o "$part" "$1" || { rm -f "$part"; fail "download of $2 failed"; }',
            "  elif command -v wget >/dev/null 2>&1; then",
            '    wget -q -t 5 -T 30 -O "$part" "$1" || { rm -f "$part"; fail "download of $2 failed"; }',
            "  else",
            '    fail "neither curl nor wget is installed"',
            "  fi",
            "  if command -v sha256sum >/dev/null 2>&1; then",
            '    got=$(sha256sum "$part" | cut -d " " -f 1)',
            "  else",
            '    got=$(openssl dgst -sha256 -r "$part" | cut -d " " -f 1)',
            "  fi",
            '  if [ "$got" != "$3" ]; then',
            '    rm -f "$part"',
            '    fail "SHA-256 mismatch for $2"',
            "  fi",
            '  chmod "$4" "$part"',
            '  mv -f "$part" "$2"',
            "}",
            "",
        ]
        for f in self.files:
            lines.append(f"fetch {q(f.url)} {q(f.path)} {f.sha256} {f.mode:04o}")
        lines.append(f'fetch {q(self.script.url)} "$workdir/bootstrap" {self.script.sha256} {self.script.mode:04o}')
        args = "".join(" " + q(a) for a in self.args)
        lines.append('cd "$workdir"')
        if self.shebang:
            lines.append(f'exec "$workdir/bootstrap"{args}')
        else:
            lines.append(f'exec /bin/sh "$workdir/bootstrap"{args}')
        return "\n".join(lines) + "\n"

    def cloud_config(self) -> str:
        """``#cloud-config`` user data: ``write_files`` drops the fetch script, ``runcmd`` runs it.

        Every value is written as a JSON string, which YAML reads as a double-quoted scalar.
        """
        fetch = f"{self.workdir}/fetch.sh"
        lines = [
            "#cloud-config",
            "# Bootstrap from a bucket: the fetch script downloads and checks every file, then runs the bootstrap script.",
            "write_files:",
            f"  - path: {json.dumps(fetch)}",
            '    permissions: "0700"',
            f"    content: {json.dumps(self.shell_script(), ensure_ascii=False)}",
            "runcmd:",
            f"  - [{json.dumps('/bin/sh')}, {json.dumps(fetch, ensure_ascii=False)}]",
        ]
        return "\n".join(lines) + "\n"

    def user_data(self, format: str = "cloud-config") -> str:
        """The user data in ``format``: ``cloud-config`` or ``shell``."""
        fmt = validation.one_of("format", format, FORMATS)
        return self.cloud_config() if fmt == "cloud-config" else self.shell_script()

    def expired(self, now: datetime | None = None) -> bool:
        """Whether the presigned URLs have expired (at ``now``, default the clock)."""
        when = datetime.now(UTC) if now is None else validation.aware_datetime("now", now)
        return when >= self.expires_at


# --------------------------------------------------------------------------- argument checks


def _storage(ref: object) -> StorageService:
    if isinstance(ref, Cloud):
        return ref.storage
    if isinstance(ref, StorageService):
        return ref
    raise InvalidInput("storage", f"must be a cloudkit Cloud or StorageService, not {type(ref).__name__}")


def _compute(ref: object) -> ComputeService:
    if isinstance(ref, Cloud):
        return ref.compute
    if isinstance(ref, ComputeService):
        return ref
    raise InvalidInput("compute", f"must be a cloudkit Cloud or ComputeService, not {type(ref).__name__}")


def _require(service: StorageService | ComputeService, ops: Iterable[str], job: str) -> None:
    have = service.capabilities()
    for op in ops:
        if op not in have:
            raise NotSupported(service.provider, f"{service.family}.{op}", f"{job} needs it")


def _dest_path(value: object, field: str) -> str:
    """An absolute path on the instance, printable, without ``.``/``..`` segments."""
    path = validation.require_str(field, value)
    if not _SAFE_TEXT.fullmatch(path):
        raise InvalidInput(field, "must not contain control characters")
    if not path.startswith("/") or path.endswith("/"):
        raise InvalidInput(field, "must be an absolute file path such as '/etc/app/app.conf'")
    if any(seg in (".", "..") for seg in path.split("/")):
        raise InvalidInput(field, "must not contain '.' or '..' segments")
    return str(PurePosixPath(path))


def _mode(value: object, field: str) -> int:
    return validation.int_range(field, value, 0, 0o7777)


def _source(value: object, field: str) -> Path | bytes | BucketKey:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    if isinstance(value, BucketKey):
        return BucketKey(validation.object_key(value.key, f"{field}.key"))
    if isinstance(value, os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise InvalidInput(field, f"{str(path)!r} is not a readable file")
        return path
    if isinstance(value, str):
        raise InvalidInput(field, "must be a pathlib.Path (a local file), bytes, or a BucketKey (an object in the bucket), not str")
    raise InvalidInput(field, f"must be a pathlib.Path, bytes or a BucketKey, not {type(value).__name__}")


# --------------------------------------------------------------------------- building


def _hash_local(path: Path) -> tuple[str, int, bytes]:
    """SHA-256, size and first two bytes of a local file."""
    sha = hashlib.sha256()
    size = 0
    head = b""
    with _local("read file"), open(path, "rb") as fh:
        while chunk := fh.read(CHUNK):
            if size == 0:
                head = chunk[:2]
            sha.update(chunk)
            size += len(chunk)
    return sha.hexdigest(), size, head


def _stage(store: StorageService, bucket: str, prefix: str, source: Path | bytes | BucketKey, filename: str) -> tuple[str, str, int, bytes]:
    """Put ``source`` in the bucket (unless it is there already); return (key, sha256, size, head)."""
    if isinstance(source, BucketKey):
        sha = hashlib.sha256()
        size = 0
        head = b""
        with store.get_object(bucket, source.key) as reader:
            for chunk in reader.iter_chunks():
                if size == 0:
                    head = chunk[:2]
                sha.update(chunk)
                size += len(chunk)
        return source.key, sha.hexdigest(), size, head
    if isinstance(source, Path):
        digest, size, head = _hash_local(source)
        key = f"{prefix}{digest}/{filename}"
        info = store.upload_file(source, bucket, key, content_type="application/octet-stream", metadata={"sha256": digest})
        if info.size != size:
            raise IntegrityError(f"{source} changed while it was uploaded ({size} bytes read, {info.size} stored)")
        return key, digest, size, head
    digest = hashlib.sha256(source).hexdigest()
    key = f"{prefix}{digest}/{filename}"
    store.put_object(bucket, key, source, content_type="application/octet-stream", metadata={"sha256": digest})
    return key, digest, len(source), source[:2]


def prepare_bootstrap(
    storage: Cloud | StorageService,
    bucket: str,
    script: Path | bytes | BucketKey,
    *,
    files: Mapping[str, Path | bytes | BucketKey | FileSpec] | None = None,
    args: Sequence[str] = (),
    prefix: str = DEFAULT_PREFIX,
    expires_in: int = 3600,
    workdir: str = DEFAULT_WORKDIR,
) -> Bootstrap:
    """Stage a bootstrap script and its files in ``bucket`` and presign them for ``expires_in`` seconds.

    ``script`` and each value of ``files`` (keyed by the absolute path the file gets on the
    instance) is a :class:`~pathlib.Path` (a local file, uploaded), ``bytes`` (uploaded) or a
    :class:`BucketKey` (an object already in the bucket, used as it is); wrap one in
    :class:`FileSpec` to choose its mode (default 0644). Uploads go to
    ``<prefix><sha256>/<name>``, so staging the same bytes twice is harmless and a later upload
    never changes what an earlier bootstrap downloads. ``args`` are passed to the script, which
    runs as root from ``workdir``.
    """
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    prefix = validation.key_prefix(prefix)
    if prefix and not prefix.endswith("/"):
        raise InvalidInput("prefix", "must be empty or end with '/'")
    if any(seg in (".", "..") for seg in prefix.split("/")[:-1]):
        raise InvalidInput("prefix", "must not contain '.' or '..' path segments")
    lifetime = validation.expires_in(expires_in)
    workdir = _dest_path(workdir, "workdir")
    if isinstance(args, (str, bytes)) or not isinstance(args, Iterable):
        raise InvalidInput("args", "must be a sequence of strings, not a single string")
    args = tuple(args)
    for i, a in enumerate(args):
        if not isinstance(a, str) or "\x00" in a:
            raise InvalidInput(f"args[{i}]", "must be a string without NUL characters")
    main = _source(script, "script")
    if files is not None and not isinstance(files, Mapping):
        raise InvalidInput("files", "must be a mapping of destination paths to sources")
    wanted: list[tuple[str, Path | bytes | BucketKey, int]] = []
    for dest, value in (files or {}).items():
        path = _dest_path(dest, "files")
        field = f"files[{path!r}]"
        spec = value if isinstance(value, FileSpec) else FileSpec(value)
        wanted.append((path, _source(spec.source, field), _mode(spec.mode, f"{field}.mode")))
    paths = [p for p, _, _ in wanted]
    if len(set(paths)) != len(paths):
        raise InvalidInput("files", "two entries name the same destination path")
    for p in paths:
        if p == workdir or p.startswith(workdir + "/"):
            raise InvalidInput(f"files[{p!r}]", f"must not be inside the work folder {workdir}")
    sources = [main, *(s for _, s, _ in wanted)]
    needs = ["presign_url"]
    if any(not isinstance(s, BucketKey) for s in sources):
        needs += ["put_object", "upload_file"]
    if any(isinstance(s, BucketKey) for s in sources):
        needs.append("get_object")
    _require(store, needs, "a bootstrap")

    expires_at = datetime.now(UTC) + timedelta(seconds=lifetime)

    def staged(path: str, source: Path | bytes | BucketKey, mode: int, filename: str) -> tuple[BootstrapFile, bytes]:
        key, digest, size, head = _stage(store, bucket, prefix, source, filename)
        url = store.presign_url(bucket, key, method="GET", expires_in=lifetime)
        return BootstrapFile(path=path, bucket=bucket, key=key, sha256=digest, size=size, mode=mode, url=url), head

    script_name = main.name if isinstance(main, Path) else "bootstrap"
    script_file, head = staged(f"{workdir}/bootstrap", main, 0o700, _filename(script_name))
    staged_files = tuple(staged(p, s, m, _filename(PurePosixPath(p).name))[0] for p, s, m in wanted)
    return Bootstrap(script=script_file, files=staged_files, expires_at=expires_at, workdir=workdir, args=args,
                     shebang=head == b"#!")


def _filename(name: str) -> str:
    """A safe last key segment for an uploaded file."""
    clean = re.sub(r"[^A-Za-z0-9._-]", "_", name).strip(".") or "file"
    return clean[:200]


def launch_bootstrapped(
    compute: Cloud | ComputeService,
    name: str,
    bootstrap: Bootstrap,
    *,
    image: Image | str,
    instance_type: str,
    format: str = "cloud-config",
    **kwargs: Any,
) -> Instance:
    """Launch instance ``name`` with ``bootstrap``'s user data through ``compute.create_instance``.

    Other keyword arguments (``key_pair``, ``security_groups``, ``role``, ``wait``...) go to
    ``create_instance`` as they are. An expired bootstrap is refused before anything starts.
    """
    svc = _compute(compute)
    if not isinstance(bootstrap, Bootstrap):
        raise InvalidInput("bootstrap", f"must be a Bootstrap from prepare_bootstrap(), not {type(bootstrap).__name__}")
    fmt = validation.one_of("format", format, FORMATS)
    if "user_data" in kwargs:
        raise InvalidInput("user_data", "is built from the bootstrap; do not pass it as well")
    if bootstrap.expired():
        raise InvalidInput("bootstrap", f"its presigned URLs expired at {bootstrap.expires_at.isoformat()}; prepare it again")
    _require(svc, ("create_instance",), "launching a bootstrapped instance")
    return svc.create_instance(name, image=image, instance_type=instance_type, user_data=bootstrap.user_data(fmt), **kwargs)
