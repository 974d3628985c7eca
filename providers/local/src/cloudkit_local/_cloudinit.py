"""User data for local sandboxes, run the way cloud-init would, and the boot script that runs it.

Two formats are accepted (checked before anything touches the disk):

* a script starting with ``#!``: it runs once, on the instance's first boot, as cloud-init's
  ``scripts-user`` module does;
* ``#cloud-config`` YAML with the keys ``bootcmd`` (every boot, first), ``write_files`` and
  ``runcmd`` (first boot only). Any other key raises :class:`InvalidInput` naming it.

The boot script is a POSIX shell script that runs inside the sandbox as its first process. It marks
the boot as started (the instance is then ``running``), runs the user data, prints a cloud-init
style summary to the console, marks the boot as finished and then idles as the sandbox's init.
"""

from __future__ import annotations

import base64
import gzip
import shlex
from collections.abc import Sequence
from typing import Any

import attrs
import yaml  # type: ignore[import-untyped]

from cloudkit.errors import InvalidInput

SUPPORTED_KEYS = ("bootcmd", "runcmd", "write_files")
_FILE_KEYS = {"path", "content", "encoding", "permissions", "owner", "append"}
_ENCODINGS = {
    "text": "text",
    "b64": "b64",
    "base64": "b64",
    "gz": "gz",
    "gzip": "gz",
    "gz+b64": "gz+b64",
    "gz+base64": "gz+b64",
    "gzip+b64": "gz+b64",
    "gzip+base64": "gz+b64",
}

#: Where the boot machinery lives inside the sandbox. The scripts are in the host's read-only boot
#: folder (bound at /run/cloudkit); the state folder is the guest's own, and the host reads the
#: markers there only as untrusted, small, regular files.
STATE_DIR = "/var/lib/cloud/instance"
BOOT_SCRIPT = "/run/cloudkit/boot.sh"
USER_SCRIPT = "/run/cloudkit/user-data.sh"
#: Lines the boot script prints on the console (a host-owned file the guest can only append to
#: through its output) when a boot starts and finishes, followed by the boot id. The host reads the
#: instance's state from these, never from files in the guest's tree; the marker files under
#: STATE_DIR are still written for programs inside the instance.
BOOT_STARTED = "[cloudkit-init] boot-started"
BOOT_FINISHED = "[cloudkit-init] boot-finished"
#: The files of the host's boot folder (outside the guest's tree).
BOOT_SCRIPT_FILE = "boot.sh"
USER_SCRIPT_FILE = "user-data.sh"


@attrs.frozen
class WriteFile:
    """One ``write_files`` entry, decoded."""

    path: str
    content: bytes
    permissions: int = 0o644
    owner: str | None = None
    append: bool = False


@attrs.frozen
class UserData:
    """Parsed user data."""

    kind: str  # "none", "script" or "cloud-config"
    script: str | None = None
    bootcmd: tuple[str, ...] = ()
    runcmd: tuple[str, ...] = ()
    write_files: tuple[WriteFile, ...] = ()


def _command(value: Any, field: str) -> str:
    """A ``runcmd``/``bootcmd`` item: a string for ``sh -c`` or a list of arguments (run as is)."""
    if isinstance(value, str):
        if not value.strip():
            raise InvalidInput(field, "must not be empty")
        return value
    if isinstance(value, list) and value and all(isinstance(a, (str, int, float)) for a in value):
        return " ".join(shlex.quote(str(a)) for a in value)
    raise InvalidInput(field, "must be a command string or a non-empty list of arguments")


def _commands(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise InvalidInput(field, "must be a list of commands")
    return tuple(_command(item, f"{field}[{i}]") for i, item in enumerate(value))


def _write_file(entry: Any, field: str) -> WriteFile:
    if not isinstance(entry, dict):
        raise InvalidInput(field, "must be a mapping with at least 'path'")
    unknown = sorted(set(map(str, entry)) - _FILE_KEYS)
    if unknown:
        raise InvalidInput(f"{field}.{unknown[0]}", f"is not supported (supported: {', '.join(sorted(_FILE_KEYS))})")
    path = entry.get("path")
    if not isinstance(path, str) or not path.startswith("/") or "\x00" in path or "\n" in path:
        raise InvalidInput(f"{field}.path", "must be an absolute path")
    if any(part == ".." for part in path.split("/")):
        raise InvalidInput(f"{field}.path", "must not contain '..'")
    content = entry.get("content", "")
    if not isinstance(content, (str, bytes)):
        raise InvalidInput(f"{field}.content", "must be text")
    raw = content.encode("utf-8") if isinstance(content, str) else content
    encoding = str(entry.get("encoding", "text")).lower()
    kind = _ENCODINGS.get(encoding)
    if kind is None:
        raise InvalidInput(f"{field}.encoding", f"must be one of {', '.join(sorted(_ENCODINGS))}")
    try:
        if kind in ("b64", "gz+b64"):
            raw = base64.b64decode(raw, validate=False)
        if kind in ("gz", "gz+b64"):
            raw = gzip.decompress(raw)
    except (ValueError, OSError, EOFError) as exc:
        raise InvalidInput(f"{field}.content", f"cannot be decoded as {encoding} ({exc})") from None
    perms = entry.get("permissions", "0644")
    try:
        mode = int(perms, 8) if isinstance(perms, str) else int(perms)
    except (TypeError, ValueError):
        raise InvalidInput(f"{field}.permissions", "must be an octal string such as '0644'") from None
    if not 0 <= mode <= 0o7777:
        raise InvalidInput(f"{field}.permissions", "must be between 0000 and 7777")
    owner = entry.get("owner")
    if owner is not None and (not isinstance(owner, str) or not owner.replace(":", "").replace("-", "").replace("_", "").isalnum()):
        raise InvalidInput(f"{field}.owner", "must be 'user' or 'user:group'")
    append = entry.get("append", False)
    if not isinstance(append, bool):
        raise InvalidInput(f"{field}.append", "must be true or false")
    return WriteFile(path=path, content=raw, permissions=mode, owner=owner, append=append)


def parse(text: str | None, field: str = "user_data") -> UserData:
    """Parse and check user data; raises :class:`InvalidInput` for anything this provider cannot run."""
    if text is None or not text.strip():
        return UserData(kind="none")
    if text.startswith("#!"):
        return UserData(kind="script", script=text)
    first = text.split("\n", 1)[0].strip()
    if first != "#cloud-config":
        raise InvalidInput(field, "must start with '#!' (a boot script) or '#cloud-config'")
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(field, f"is not valid cloud-config YAML ({exc})") from None
    if doc is None:
        doc = {}
    if not isinstance(doc, dict):
        raise InvalidInput(field, "cloud-config must be a YAML mapping")
    unknown = sorted(str(k) for k in doc if k not in SUPPORTED_KEYS)
    if unknown:
        raise InvalidInput(
            f"{field}.{unknown[0]}",
            f"cloud-config key {unknown[0]!r} is not supported here (supported: {', '.join(SUPPORTED_KEYS)})",
        )
    files = doc.get("write_files") or []
    if not isinstance(files, list):
        raise InvalidInput(f"{field}.write_files", "must be a list")
    return UserData(
        kind="cloud-config",
        bootcmd=_commands(doc.get("bootcmd"), f"{field}.bootcmd"),
        runcmd=_commands(doc.get("runcmd"), f"{field}.runcmd"),
        write_files=tuple(_write_file(e, f"{field}.write_files[{i}]") for i, e in enumerate(files)),
    )


def _run(label: str, commands: Sequence[str]) -> list[str]:
    lines = []
    for i, cmd in enumerate(commands):
        lines.append(f"log {shlex.quote(f'{label}[{i}]: {cmd}')}")
        lines.append(f"( {cmd}\n) || log \"{label}[{i}] failed with status $?\"")
    return lines


def boot_script(data: UserData) -> str:
    """The shell script the sandbox runs as its first process on every boot."""
    out = [
        "#!/bin/sh",
        "# Generated by cloudkit-local at every boot, read-only inside the instance.",
        "log() { echo \"[cloudkit-init] $*\"; }",
        # A stop sends SIGTERM to every process; the boot script ends once its current command has.
        "trap 'log \"SIGTERM received: shutting down\"; exit 143' TERM",
        f"mkdir -p {STATE_DIR}",
        f"echo \"$CLOUDKIT_BOOT_ID\" > {STATE_DIR}/boot-started",
        f"echo \"{BOOT_STARTED} $CLOUDKIT_BOOT_ID\"",
        "log \"booting $(hostname) (boot $CLOUDKIT_BOOT_ID)\"",
    ]
    out += _run("bootcmd", data.bootcmd)
    out.append(f"if [ ! -e {STATE_DIR}/first-boot-done ]; then")
    for i, wf in enumerate(data.write_files):
        quoted = shlex.quote(wf.path)
        encoded = base64.b64encode(wf.content).decode("ascii")
        redirect = ">>" if wf.append else ">"
        out.append(f"  log {shlex.quote(f'write_files[{i}]: {wf.path}')}")
        out.append(f"  mkdir -p \"$(dirname {quoted})\" && echo {encoded} | base64 -d {redirect} {quoted} "
                   f"&& chmod {wf.permissions:o} {quoted} || log \"write_files[{i}] failed\"")
        if wf.owner:
            out.append(f"  chown {shlex.quote(wf.owner)} {quoted} || log \"write_files[{i}] chown failed\"")
    out += ["  " + line for line in _run("runcmd", data.runcmd)]
    if data.kind == "script":
        out.append(f"  log 'running user-data script'; {USER_SCRIPT}; log \"user-data script exited with status $?\"")
    out.append(f"  touch {STATE_DIR}/first-boot-done")
    out.append("fi")
    out.append(f"echo \"$CLOUDKIT_BOOT_ID\" > {STATE_DIR}/boot-finished")
    out.append(f"echo \"{BOOT_FINISHED} $CLOUDKIT_BOOT_ID\"")
    out.append("log \"Cloud-init finished (boot $CLOUDKIT_BOOT_ID)\"")
    out.append("exec sleep infinity")
    return "\n".join(out) + "\n"
