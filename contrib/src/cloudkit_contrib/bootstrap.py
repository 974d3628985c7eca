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

Two recipes render complete configuration-management bootstraps as ``#cloud-config`` that uses only
``write_files`` and ``runcmd``: :func:`puppet_user_data` (``puppet.conf``, CSR attributes, then the
agent's first run against the server) and :func:`chef_user_data` (``client.rb``, first-boot JSON and
the validation key fetched from a bucket through a presigned URL, then the client's first run).

Presigned URLs grant access to whoever holds them until they expire: they are kept out of
every ``repr``, never logged, and never put into exception messages. The user data itself
contains them; treat it as a secret for the URLs' lifetime.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path, PurePosixPath
from typing import Any, Union
from urllib.parse import urlsplit

import attrs

from cloudkit import Cloud, validation
from cloudkit.errors import InvalidInput, NotSupported
from cloudkit.models import Image, Instance
from cloudkit.services import ComputeService, StorageService
from cloudkit_contrib import IntegrityError, _local
from cloudkit_contrib._services import service_of

__all__ = [
    "CHEF_INSTALLER_URL",
    "FORMATS",
    "INSTALL_MODES",
    "Bootstrap",
    "BootstrapFile",
    "BucketKey",
    "FileSpec",
    "chef_user_data",
    "launch_bootstrapped",
    "prepare_bootstrap",
    "puppet_user_data",
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
    return service_of(ref, "storage", StorageService, "storage")


def _compute(ref: object) -> ComputeService:
    return service_of(ref, "compute", ComputeService, "compute")


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


# --------------------------------------------------------------------------- Puppet and Chef recipes
#
# Both recipes render ``#cloud-config`` text that uses only ``write_files`` and ``runcmd``, the keys
# every cloud-init (and the local provider's subset) runs: the agent's configuration files, then a
# runner script (mode 0700) that installs the agent when it is missing and runs it once against the
# server. ``runcmd`` only starts the runner, so nothing secret is ever on a logged command line.

#: How a recipe gets its agent: ``package`` (the OS package manager), ``script`` (an installer
#: script downloaded from ``installer_url`` and run with ``sh``) or ``none`` (already on the image).
INSTALL_MODES = ("package", "script", "none")
#: Chef's omnitruck installer, the default for :func:`chef_user_data`.
CHEF_INSTALLER_URL = "https://omnitruck.chef.io/install.sh"
DEFAULT_PUPPET_CONFDIR = "/etc/puppetlabs/puppet"
DEFAULT_CHEF_CONFDIR = "/etc/chef"

# Puppet: certnames are lower case; environments are lower-case words; extension requests use
# Puppet's short names (or numeric OIDs), custom attributes the challenge password (or OIDs).
_CERTNAME = re.compile(r"[a-z0-9_.-]{1,255}")
_PUPPET_ENV = re.compile(r"[a-z0-9_]{1,255}")
_OID = re.compile(r"[0-9]+(\.[0-9]+)+")
_PP_SHORT_NAMES = frozenset({
    "pp_uuid", "pp_instance_id", "pp_image_name", "pp_preshared_key", "pp_cost_center", "pp_product",
    "pp_project", "pp_application", "pp_service", "pp_employee", "pp_created_by", "pp_environment", "pp_role",
    "pp_software_version", "pp_department", "pp_cluster", "pp_provisioner", "pp_region", "pp_datacenter",
    "pp_zone", "pp_network", "pp_securitypolicy", "pp_cloudplatform", "pp_apptier", "pp_hostname", "pp_owner",
    "pp_authorization", "pp_auth_role",
})
_CUSTOM_ATTRIBUTE_NAMES = frozenset({"challengePassword", "unstructuredName"})
# Chef: node names, environments and run-list entries.
_CHEF_NAME = re.compile(r"[A-Za-z0-9_.:-]{1,255}")
_CHEF_ENV = re.compile(r"[A-Za-z0-9_-]{1,255}")
_RUN_LIST_ITEM = re.compile(r"(recipe|role)\[[A-Za-z0-9_.:@-]+\]|[A-Za-z0-9_-]+(::[A-Za-z0-9_-]+)?(@[0-9.]+)?")
_AGENT = re.compile(r"/?[A-Za-z0-9_.+-]+(/[A-Za-z0-9_.+-]+)*")
_PACKAGE = re.compile(r"[a-z0-9][a-z0-9+.-]{0,127}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ORG_PATH = re.compile(r"/organizations/([a-z0-9_-]+)/?")


def _host(value: object, field: str) -> str:
    """A server's host: a DNS name or an IP address."""
    text = validation.no_controls(field, validation.require_str(field, value))
    try:
        return str(ipaddress.ip_address(text))
    except ValueError:
        return validation.host_name(text, field)


def _matching(value: object, field: str, pattern: re.Pattern[str], rule: str) -> str:
    text = validation.require_str(field, value)
    if not pattern.fullmatch(text):
        raise InvalidInput(field, rule)
    return text


def _line(value: object, field: str, max_len: int = 1024) -> str:
    """One line of text without control characters, at most ``max_len`` characters."""
    text = validation.no_controls(field, validation.require_str(field, value))
    if len(text) > max_len:
        raise InvalidInput(field, f"must be at most {max_len} characters")
    return text


def _bool(value: object, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(field, f"must be True or False, not {type(value).__name__}")
    return value


def _public_url(value: object, field: str) -> str:
    """An http(s) URL that does not point at a link-local or metadata address."""
    checked = validation.url(value, field)
    if validation.is_link_local(urlsplit(checked).hostname or ""):
        raise InvalidInput(field, "must not point at a link-local or cloud metadata address (169.254.0.0/16, fe80::/10)")
    return checked


def _attributes(value: object, field: str, names: frozenset[str], rule: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(field, "must be a mapping of attribute names to strings")
    out: dict[str, str] = {}
    for name, item in value.items():
        if not isinstance(name, str) or not (name in names or _OID.fullmatch(name)):
            raise InvalidInput(f"{field}[{str(name)[:64]!r}]", rule)
        out[name] = _line(item, f"{field}[{name!r}]")
    return out


@attrs.frozen
class _Install:
    """How the runner script gets the agent (checked arguments)."""

    mode: str
    package: str
    url: str | None
    sha256: str | None
    args: tuple[str, ...]


def _install(mode: object, package: object, url: object, sha256: object, args: object) -> _Install:
    mode = validation.one_of("install", mode, INSTALL_MODES)
    package = _matching(package, "package", _PACKAGE, "must be a package name such as 'puppet-agent'")
    if isinstance(args, (str, bytes)) or not isinstance(args, Iterable):
        raise InvalidInput("installer_args", "must be a sequence of strings, not a single string")
    checked_args = tuple(_line(a, f"installer_args[{i}]") for i, a in enumerate(args))
    if mode != "script":
        if url is not None:
            raise InvalidInput("installer_url", f"is used only with install='script', not install={mode!r}")
        return _Install(mode, package, None, None, ())
    if url is None:
        raise InvalidInput("installer_url", "is required with install='script'")
    checked_url = _public_url(url, "installer_url")
    digest = None
    if sha256 is not None:
        digest = _matching(sha256, "installer_sha256", _SHA256, "must be 64 lower-case hexadecimal digits")
    return _Install(mode, package, checked_url, digest, checked_args)


_SCRIPT_HEAD = [
    "set -eu",
    "umask 022",
    "",
    "fail() {",
    '  echo "bootstrap: $*" >&2',
    "  exit 1",
    "}",
    "",
    "# download URL DEST: curl, else wget; messages never repeat the URL.",
    "download() {",
    "  if command -v curl >/dev/null 2>&1; then",
    '    curl -fsS --retry 5 --retry-delay 2 --connect-timeout 10 -o "$2" "$1"',
    "  elif command -v wget >/dev/null 2>&1; then",
    '    wget -q -t 5 -T 30 -O "$2" "$1"',
    "  else",
    '    fail "neither curl nor wget is installed"',
    "  fi",
    "}",
    "",
    "# sha256 FILE: the file's SHA-256 in hexadecimal.",
    "sha256() {",
    "  if command -v sha256sum >/dev/null 2>&1; then",
    '    sha256sum "$1" | cut -d " " -f 1',
    "  else",
    '    openssl dgst -sha256 -r "$1" | cut -d " " -f 1',
    "  fi",
    "}",
    "",
]


def _install_lines(install: _Install) -> list[str]:
    q = shlex.quote
    if install.mode == "none":
        return ['command -v "$agent" >/dev/null 2>&1 || fail "$agent is not installed (install=\'none\')"']
    out = ['if ! command -v "$agent" >/dev/null 2>&1; then']
    if install.mode == "package":
        pkg = q(install.package)
        out += [
            "  if command -v apt-get >/dev/null 2>&1; then",
            "    DEBIAN_FRONTEND=noninteractive apt-get update -q || fail \"apt-get update failed\"",
            f"    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {pkg} || fail \"apt-get install {pkg} failed\"",
            "  elif command -v dnf >/dev/null 2>&1; then",
            f"    dnf -y install {pkg} || fail \"dnf install {pkg} failed\"",
            "  elif command -v yum >/dev/null 2>&1; then",
            f"    yum -y install {pkg} || fail \"yum install {pkg} failed\"",
            "  elif command -v zypper >/dev/null 2>&1; then",
            f"    zypper --non-interactive install {pkg} || fail \"zypper install {pkg} failed\"",
            "  else",
            f"    fail \"no package manager (apt-get, dnf, yum, zypper) to install {pkg}\"",
            "  fi",
        ]
    else:
        assert install.url is not None
        out += [
            '  installer=$(mktemp)',
            f'  download {q(install.url)} "$installer" || {{ rm -f "$installer"; fail "download of the installer failed"; }}',
        ]
        if install.sha256:
            out += [
                f'  if [ "$(sha256 "$installer")" != {install.sha256} ]; then',
                '    rm -f "$installer"',
                '    fail "SHA-256 mismatch for the installer"',
                "  fi",
            ]
        args = "".join(" " + q(a) for a in install.args)
        out += [
            f'  sh "$installer"{args} || {{ rm -f "$installer"; fail "the installer failed"; }}',
            '  rm -f "$installer"',
        ]
    out += ["fi", 'command -v "$agent" >/dev/null 2>&1 || fail "$agent is still missing after its installation"']
    return out


def _cloud_config(comment: str, files: Sequence[tuple[str, str, str]], runner: str, runner_text: str) -> str:
    """``#cloud-config`` with ``write_files`` (path, mode, content) and a ``runcmd`` running ``runner``."""
    lines = ["#cloud-config", f"# {comment}", "write_files:"]
    for path, mode, content in [*files, (runner, "0700", runner_text)]:
        lines += [
            f"  - path: {json.dumps(path, ensure_ascii=False)}",
            f"    permissions: {json.dumps(mode)}",
            f"    content: {json.dumps(content, ensure_ascii=False)}",
        ]
    lines += ["runcmd:", f"  - [{json.dumps('/bin/sh')}, {json.dumps(runner, ensure_ascii=False)}]"]
    return "\n".join(lines) + "\n"


def puppet_user_data(
    *,
    server: str,
    certname: str | None = None,
    environment: str | None = None,
    extension_requests: Mapping[str, str] | None = None,
    custom_attributes: Mapping[str, str] | None = None,
    server_port: int | None = None,
    ca_server: str | None = None,
    waitforcert: int = 120,
    service: bool = False,
    install: str = "package",
    package: str = "puppet-agent",
    installer_url: str | None = None,
    installer_sha256: str | None = None,
    installer_args: Sequence[str] = (),
    agent: str = "puppet",
    confdir: str = DEFAULT_PUPPET_CONFDIR,
    workdir: str = DEFAULT_WORKDIR,
) -> str:
    """``#cloud-config`` user data that installs the Puppet agent and runs it once against ``server``.

    ``write_files`` writes ``<confdir>/puppet.conf`` (``server``, ``certname``, ``environment``,
    ``serverport``, ``ca_server``) and, when attributes are given, ``<confdir>/csr_attributes.yaml``
    (mode 0640: ``custom_attributes`` such as ``challengePassword`` for policy-based autosigning,
    and ``extension_requests`` such as ``pp_role``, by Puppet short name or numeric OID). The runner
    script installs the agent when ``agent`` is not found (``install``: ``package`` through the OS
    package manager, ``script`` through ``installer_url``, ``none`` never), then runs
    ``agent agent --confdir <confdir> --onetime --no-daemonize --waitforcert <waitforcert>``, which
    waits for the server to sign the certificate; with ``service=True`` it then enables the agent's
    service (whose configuration must then be ``confdir``: ``/etc/puppetlabs/puppet`` for Puppet's
    own packages, ``/etc/puppet`` for Debian's).
    """
    host = _host(server, "server")
    cert = None if certname is None else _matching(
        certname, "certname", _CERTNAME, "must be lower-case letters, digits, '.', '-' and '_' (at most 255)")
    env = None if environment is None else _matching(
        environment, "environment", _PUPPET_ENV, "must be lower-case letters, digits and '_' (at most 255)")
    ext = _attributes(extension_requests, "extension_requests", _PP_SHORT_NAMES,
                      "must be a Puppet short name such as 'pp_role' or a numeric OID")
    custom = _attributes(custom_attributes, "custom_attributes", _CUSTOM_ATTRIBUTE_NAMES,
                         "must be 'challengePassword', 'unstructuredName' or a numeric OID")
    port = None if server_port is None else validation.port(server_port, "server_port")
    ca = None if ca_server is None else _host(ca_server, "ca_server")
    wait = validation.int_range("waitforcert", waitforcert, 0, 86400)
    run_service = _bool(service, "service")
    how = _install(install, package, installer_url, installer_sha256, installer_args)
    agent = _matching(agent, "agent", _AGENT, "must be a command name or an absolute path of letters, digits, '.', '_', '+' and '-'")
    confdir = _dest_path(confdir, "confdir")
    workdir = _dest_path(workdir, "workdir")

    conf = ["# Written at first boot by cloudkit_contrib.bootstrap.puppet_user_data.", "[main]", f"server = {host}"]
    if port is not None:
        conf.append(f"serverport = {port}")
    if ca is not None:
        conf.append(f"ca_server = {ca}")
    if cert is not None:
        conf.append(f"certname = {cert}")
    if env is not None:
        conf += ["", "[agent]", f"environment = {env}"]
    files = [(f"{confdir}/puppet.conf", "0644", "\n".join(conf) + "\n")]
    if ext or custom:
        csr = ["---"]
        for section, values in (("custom_attributes", custom), ("extension_requests", ext)):
            if values:
                csr.append(f"{section}:")
                csr += [f"  {json.dumps(k)}: {json.dumps(v, ensure_ascii=False)}" for k, v in values.items()]
        files.append((f"{confdir}/csr_attributes.yaml", "0640", "\n".join(csr) + "\n"))

    q = shlex.quote
    run = (f'"$agent" agent --confdir {q(confdir)} --onetime --no-daemonize --verbose --no-splay '
           f'--no-usecacheonfailure --waitforcert {wait}')
    script = [
        "#!/bin/sh",
        "# Puppet bootstrap: install the agent when it is missing, then run it once against the server.",
        *_SCRIPT_HEAD,
        'PATH="/opt/puppetlabs/bin:$PATH"',
        "export PATH",
        f"agent={q(agent)}",
        *_install_lines(how),
        f"{run} || fail \"the first Puppet run failed (status $?)\"",
    ]
    if run_service:
        script.append(f'"$agent" resource service puppet ensure=running enable=true --confdir {q(confdir)} '
                      '|| fail "enabling the puppet service failed"')
    runner = f"{workdir}/puppet-bootstrap.sh"
    return _cloud_config("Puppet bootstrap: agent configuration, then a runner that installs and runs the agent.",
                         files, runner, "\n".join(script) + "\n")


def _ruby(value: str) -> str:
    """A Ruby single-quoted string literal (no interpolation)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def chef_user_data(
    storage: Cloud | StorageService,
    bucket: str,
    validation_key: Path | bytes | BucketKey,
    *,
    server_url: str,
    validation_client_name: str | None = None,
    node_name: str | None = None,
    environment: str | None = None,
    run_list: Sequence[str] = (),
    first_boot: Mapping[str, Any] | None = None,
    accept_license: bool = False,
    delete_validation_key: bool = True,
    expires_in: int = 3600,
    prefix: str = DEFAULT_PREFIX,
    install: str = "script",
    package: str = "chef",
    installer_url: str | None = CHEF_INSTALLER_URL,
    installer_sha256: str | None = None,
    installer_args: Sequence[str] = (),
    agent: str = "chef-client",
    confdir: str = DEFAULT_CHEF_CONFDIR,
    workdir: str = DEFAULT_WORKDIR,
) -> str:
    """``#cloud-config`` user data that installs Chef Infra Client and runs it against ``server_url``.

    ``server_url`` is the organisation URL (``https://chef.example.com/organizations/acme``); the
    validator's name defaults to ``<organisation>-validator``. The validation key is an object in
    ``bucket`` (:class:`BucketKey`), or a :class:`~pathlib.Path` or ``bytes`` uploaded there under
    ``<prefix><sha256>/``; the instance downloads it through a presigned GET URL valid for
    ``expires_in`` seconds, checks its SHA-256 and installs it with mode 0600. ``write_files``
    writes ``<confdir>/client.rb`` and ``<confdir>/first-boot.json`` (``first_boot`` attributes, with
    ``run_list`` as its ``run_list``). The runner script installs the client when ``agent`` is
    missing (``install``: ``script``, Chef's omnitruck installer by default; ``package``; ``none``),
    runs ``agent -c client.rb -j first-boot.json`` and, once the node holds its own key
    (``client.pem``), deletes the validation key (``delete_validation_key``).

    The returned text contains the presigned URL: treat it as a secret until the URL expires. The
    URL is in no log line, ``runcmd`` entry or exception.
    """
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    prefix = validation.key_prefix(prefix)
    if prefix and not prefix.endswith("/"):
        raise InvalidInput("prefix", "must be empty or end with '/'")
    key_source = _source(validation_key, "validation_key")
    url = _public_url(server_url, "server_url")
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise InvalidInput("server_url", "must not contain user credentials")
    if parts.query or parts.fragment:
        raise InvalidInput("server_url", "must have no query or fragment")
    if validation_client_name is None:
        org = _ORG_PATH.fullmatch(parts.path)
        if org is None:
            raise InvalidInput("validation_client_name", "is required when server_url has no /organizations/<name> path")
        client_name = f"{org.group(1)}-validator"
    else:
        client_name = _matching(validation_client_name, "validation_client_name", _CHEF_NAME,
                                "must be letters, digits, '_', '.', ':' and '-' (at most 255)")
    node = None if node_name is None else _matching(node_name, "node_name", _CHEF_NAME,
                                                    "must be letters, digits, '_', '.', ':' and '-' (at most 255)")
    env = None if environment is None else _matching(environment, "environment", _CHEF_ENV,
                                                     "must be letters, digits, '_' and '-' (at most 255)")
    if isinstance(run_list, (str, bytes)) or not isinstance(run_list, Iterable):
        raise InvalidInput("run_list", "must be a sequence of entries such as 'role[web]', not a single string")
    items = [_matching(item, f"run_list[{i}]", _RUN_LIST_ITEM,
                       "must be 'recipe[name]', 'role[name]' or 'cookbook::recipe'") for i, item in enumerate(run_list)]
    if first_boot is not None and not isinstance(first_boot, Mapping):
        raise InvalidInput("first_boot", "must be a mapping of node attributes")
    attributes = dict(first_boot or {})
    if any(not isinstance(k, str) for k in attributes):
        raise InvalidInput("first_boot", "attribute names must be strings")
    if items and "run_list" in attributes:
        raise InvalidInput("run_list", "is given twice: pass it as run_list or inside first_boot, not both")
    if items:
        attributes["run_list"] = items
    try:
        first_boot_json = json.dumps(attributes, indent=2, sort_keys=True, ensure_ascii=False, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidInput("first_boot", f"must be JSON data (strings, numbers, booleans, lists, mappings): {exc}") from None
    validation.unicode_text("first_boot", first_boot_json)
    license_ok = _bool(accept_license, "accept_license")
    delete_key = _bool(delete_validation_key, "delete_validation_key")
    lifetime = validation.expires_in(expires_in)
    how = _install(install, package, installer_url if install == "script" else None, installer_sha256, installer_args)
    agent = _matching(agent, "agent", _AGENT, "must be a command name or an absolute path of letters, digits, '.', '_', '+' and '-'")
    confdir = _dest_path(confdir, "confdir")
    workdir = _dest_path(workdir, "workdir")
    needs = ["presign_url", "get_object" if isinstance(key_source, BucketKey) else "put_object"]
    _require(store, needs, "a Chef bootstrap")

    key_path = f"{confdir}/validation.pem"
    client_rb = [
        "# Written at first boot by cloudkit_contrib.bootstrap.chef_user_data.",
        f"chef_server_url {_ruby(url)}",
        f"validation_client_name {_ruby(client_name)}",
        f"validation_key {_ruby(key_path)}",
        f"client_key {_ruby(confdir + '/client.pem')}",
        "log_location STDOUT",
    ]
    if node is not None:
        client_rb.append(f"node_name {_ruby(node)}")
    if env is not None:
        client_rb.append(f"environment {_ruby(env)}")
    if license_ok:
        client_rb.append("chef_license 'accept'")

    # Stage (or hash) the key, then presign: nothing that can fail comes after the URL exists.
    key, digest, _size, _head = _stage(store, bucket, prefix, key_source, "validation.pem")
    presigned = store.presign_url(bucket, key, method="GET", expires_in=lifetime)

    q = shlex.quote
    script = [
        "#!/bin/sh",
        "# Chef bootstrap: fetch and check the validation key, install the client when missing, run it once.",
        *_SCRIPT_HEAD,
        'PATH="/opt/chef/bin:/opt/cinc/bin:$PATH"',
        "export PATH",
        f"agent={q(agent)}",
        f"key={q(key_path)}",
        '(umask 022 && mkdir -p "$(dirname "$key")")',
        'rm -f "$key.part"',
        f'(umask 077 && download {q(presigned)} "$key.part") || {{ rm -f "$key.part"; fail "download of $key failed"; }}',
        f'if [ "$(sha256 "$key.part")" != {digest} ]; then',
        '  rm -f "$key.part"',
        '  fail "SHA-256 mismatch for $key"',
        "fi",
        'chmod 0600 "$key.part"',
        'mv -f "$key.part" "$key"',
        *_install_lines(how),
        f'"$agent" -c {q(confdir + "/client.rb")} -j {q(confdir + "/first-boot.json")} || fail "the first Chef run failed (status $?)"',
    ]
    if delete_key:
        script += [
            f'if [ -s {q(confdir + "/client.pem")} ]; then',
            '  rm -f "$key"  # the node has its own key now',
            "fi",
        ]
    files = [
        (f"{confdir}/client.rb", "0644", "\n".join(client_rb) + "\n"),
        (f"{confdir}/first-boot.json", "0644", first_boot_json + "\n"),
    ]
    runner = f"{workdir}/chef-bootstrap.sh"
    return _cloud_config("Chef bootstrap: client configuration, then a runner that fetches the validation key, "
                         "installs and runs the client.", files, runner, "\n".join(script) + "\n")
