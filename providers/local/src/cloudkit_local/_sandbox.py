"""Bubblewrap sandboxes: the local provider's instances.

A sandbox has its own PID, mount, IPC, UTS (host name) and user namespaces, and its own network
namespace unless it is asked to share the host's (a security group opened ports). Its root is a
fresh tmpfs, read-only once set up, holding the host's ``/usr`` read-only, the instance's private,
writable folders (``/etc``, ``/home``, ``/root``, ``/tmp``, ``/var``, ``/opt``, ``/srv``), a fresh
``/proc``, ``/dev``, ``/run`` and ``/mnt`` (volumes), and the host's boot folder read-only at
``/run/cloudkit``. Limits come from the instance type through rlimits (``prlimit``).

Started by root, a sandbox runs as an unprivileged host uid of its own (see :func:`bwrap_argv`'s
``uid``): a first, privileged bubblewrap only gathers the instance's folders in a private mount
namespace (its ``/`` is the host's, read-only, with a fresh ``/tmp`` holding the binds), then
``setpriv`` drops to the instance's uid and group with no supplementary groups and
``no_new_privs``, and the real sandbox is an unprivileged bubblewrap whose user namespace maps
uid and gid 0 inside to that uid outside. Root inside is therefore not root outside: what it
writes is owned by its uid, it holds no capability on the host, and host files owned by anyone
else are protected from it by ordinary permissions. Inside its namespaces it keeps a small
container-like set of capabilities (no mounts, no network admin).

Process model: each sandbox is started as ``prlimit ... sh -c 'bwrap --die-with-parent ...'`` in a
session of its own. The small ``sh`` is the sandbox's supervisor: it is not tied to the Python
process that started it (an instance outlives a short-lived CLI call), it writes the sandbox's exit
status to the console, and killing it tears the whole sandbox down (bubblewrap's
``--die-with-parent`` kills every process of the sandbox's PID namespace). The supervisor is
identified by its PID *and* its start time, so a recycled PID is never mistaken for the instance.
"""

from __future__ import annotations

import functools
import os
import pwd
import secrets
import shutil
import signal
import stat
import subprocess
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from cloudkit.errors import NotSupported
from cloudkit_local import _guestfs

BWRAP_PACKAGE = "bubblewrap"
#: The instance's private, writable folders: ``rootfs/<name>`` is bound at ``/<name>``. Everything
#: inside them belongs to the guest; the host reaches them only through :mod:`cloudkit_local._guestfs`.
PRIVATE_DIRS = ("etc", "home", "root", "tmp", "var", "opt", "srv")
#: Files copied from the host's /etc into a new root (nothing secret: no shadow, no keys).
ETC_FILES = (
    "passwd", "group", "nsswitch.conf", "ld.so.cache", "ld.so.conf", "profile", "bash.bashrc",
    "localtime", "timezone", "debian_version", "os-release", "mime.types", "shells", "host.conf",
)
#: Host folders of /etc copied into a new root (needed by programs under /usr); ``ssl/private`` is left out.
ETC_DIRS = ("alternatives", "ssl", "ld.so.conf.d", "python3", "python3.11")
#: Capabilities a sandbox started by root keeps (Docker's default set without raw sockets, mknod, setfcap).
SAFE_CAPABILITIES = (
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
    "CAP_NET_BIND_SERVICE", "CAP_SYS_CHROOT",
)
#: Where the host's read-only boot folder (boot script, user-data script) appears inside a sandbox.
BOOT_MOUNT = "/run/cloudkit"
#: Host uids (and gids, the same numbers) given to guests when cloudkit runs as root: one per
#: instance, drawn at random from ``[GUEST_UID_BASE, GUEST_UID_BASE + GUEST_UID_COUNT)``. The range
#: (0x70000000 and up) lies above every range Debian's ``useradd`` hands out (users below 60000,
#: ``/etc/subuid`` blocks of 65536 from 100000), outside systemd's container ranges
#: (524288-1879048191) and below 2^31, where some tools misbehave.
GUEST_UID_BASE = 0x7000_0000
GUEST_UID_COUNT = 1 << 24
#: Where the privileged first stage gathers the instance's folders before dropping privileges.
_STAGE = "/tmp"


def maps_guests() -> bool:
    """Whether guests run as an unprivileged host uid of their own: when this process is root.

    A process that is not root already starts an unprivileged bubblewrap, whose user namespace
    maps the guest's root to that process's user: nothing more is done then.
    """
    return os.geteuid() == 0


def _subid_ranges() -> list[tuple[int, int]]:
    """The ``(first, count)`` ranges of ``/etc/subuid`` and ``/etc/subgid`` (other users' containers)."""
    ranges: list[tuple[int, int]] = []
    for name in ("/etc/subuid", "/etc/subgid"):
        try:
            lines = Path(name).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.strip().split(":")
            if len(fields) == 3 and fields[1].isdigit() and fields[2].isdigit():
                ranges.append((int(fields[1]), int(fields[2])))
    return ranges


def _uid_taken(uid: int, ranges: Iterable[tuple[int, int]]) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    return any(first <= uid < first + count for first, count in ranges)


def new_guest_uid(in_use: Iterable[int]) -> int:
    """A host uid for a new guest: in the guest range, not ``in_use``, no user's, in no subordinate range."""
    used = set(in_use)
    ranges = _subid_ranges()
    for _ in range(1000):
        uid = GUEST_UID_BASE + secrets.randbelow(GUEST_UID_COUNT)
        if uid not in used and not _uid_taken(uid, ranges):
            return uid
    raise RuntimeError("no free guest uid found in 1000 draws")  # 2^24 uids: never in practice


def setpriv_path() -> str:
    """The ``setpriv`` binary (util-linux), or ``NotSupported`` naming the Debian package."""
    found = shutil.which("setpriv")
    if not found:
        raise NotSupported(
            "local",
            "compute.create_instance",
            "run as root, cloudkit starts each instance as an unprivileged uid with 'setpriv', which was not "
            "found; install the Debian package 'util-linux'",
        )
    return found


@functools.cache
def check_uid_mapping() -> None:
    """Check once per process that a guest can be started under an unprivileged uid (only as root).

    Unprivileged user namespaces may be turned off (``kernel.unprivileged_userns_clone=0``,
    ``user.max_user_namespaces=0``, or an AppArmor policy restricting them); cloudkit then refuses
    to start instances as root rather than run guests as host root. Raises ``NotSupported``.
    """
    if not maps_guests():
        return
    argv = _staged_argv([], [], ["/usr/bin/true"], uid=65534)  # nobody, for a process that only exits
    try:
        done = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, timeout=30,
                              env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"})
    except (OSError, subprocess.TimeoutExpired) as exc:
        reason = str(exc)
    else:
        if done.returncode == 0:
            return
        reason = done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
    raise NotSupported(
        "local",
        "compute.create_instance",
        f"run as root, cloudkit starts each instance as an unprivileged uid in a user namespace, and this "
        f"machine refused one ({reason}); allow unprivileged user namespaces (sysctl "
        f"kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0, or an AppArmor profile for "
        f"bwrap), or run cloudkit as an unprivileged user",
    )


def bwrap_path() -> str:
    """The bubblewrap binary, or ``NotSupported`` naming the Debian package to install."""
    found = shutil.which("bwrap") or ("/usr/bin/bwrap" if os.access("/usr/bin/bwrap", os.X_OK) else None)
    if not found:
        raise NotSupported(
            "local",
            "compute.create_instance",
            f"instances are bubblewrap sandboxes and 'bwrap' was not found; install the Debian package "
            f"'{BWRAP_PACKAGE}' (apt-get install {BWRAP_PACKAGE}). cloudkit never runs an instance unsandboxed",
        )
    return found


def _copy_etc_dir(rootfs: Path, name: str) -> None:
    """Copy the host's ``/etc/<name>`` into the root (links kept as links), replacing a planted link."""
    host = Path("/etc") / name
    if not host.is_dir() or host.is_symlink():
        return
    etc_fd = _guestfs.open_dir(rootfs, "etc")
    try:
        try:
            info = os.stat(name, dir_fd=etc_fd, follow_symlinks=False)
        except FileNotFoundError:
            info = None
        if info is not None and stat.S_ISDIR(info.st_mode):
            return  # an image brought its own copy
        if info is not None:
            os.unlink(name, dir_fd=etc_fd)  # a link or a file where the folder belongs: never written through
    finally:
        os.close(etc_fd)
    _guestfs.make_dirs(rootfs, f"etc/{name}")
    for dirpath, dirnames, filenames in os.walk(host):
        rel = os.path.relpath(dirpath, host)
        base = f"etc/{name}" if rel == "." else f"etc/{name}/{rel}"
        if name == "ssl" and rel == ".":
            dirnames[:] = [d for d in dirnames if d != "private"]
        for entry in dirnames + filenames:
            src = Path(dirpath) / entry
            if src.is_symlink():
                fd = _guestfs.open_dir(rootfs, base)
                try:
                    os.symlink(os.readlink(src), entry, dir_fd=fd)
                except FileExistsError:
                    pass
                finally:
                    os.close(fd)
            elif src.is_dir():
                _guestfs.make_dirs(rootfs, f"{base}/{entry}")
            elif src.is_file():
                _guestfs.write_file(rootfs, f"{base}/{entry}", src.read_bytes(), mode=stat.S_IMODE(src.stat().st_mode))


def prepare_root(rootfs: Path, hostname: str) -> None:
    """Create or refresh a private root layout at ``rootfs`` (a new folder, or a copy of an image).

    The folder may hold files a guest wrote (an image is a captured instance), so every write goes
    through :mod:`cloudkit_local._guestfs`: a planted link is replaced or refused, never followed.
    """
    rootfs.mkdir(parents=True, exist_ok=True)
    for name in PRIVATE_DIRS:
        _guestfs.make_dirs(rootfs, name)
    _guestfs.chmod_dir(rootfs, "tmp", 0o1777)
    _guestfs.chmod_dir(rootfs, "root", 0o700)
    for name in ETC_FILES:
        src = Path("/etc") / name
        if src.is_file() and _guestfs.read_small(rootfs, f"etc/{name}", limit=1 << 20) is None:
            _guestfs.write_file(rootfs, f"etc/{name}", src.read_bytes())
    for name in ETC_DIRS:
        _copy_etc_dir(rootfs, name)
    _guestfs.write_file(rootfs, "etc/hostname", f"{hostname}\n".encode())
    _guestfs.write_file(rootfs, "etc/hosts",
                        f"127.0.0.1\tlocalhost\n127.0.1.1\t{hostname}\n::1\tlocalhost ip6-localhost\n".encode())
    if _guestfs.read_small(rootfs, "etc/resolv.conf") is None:
        _guestfs.write_file(rootfs, "etc/resolv.conf", b"")
    _guestfs.make_dirs(rootfs, "var/lib/cloud/instance")
    for sub in ("log", "cache", "tmp", "spool", "opt"):
        _guestfs.make_dirs(rootfs, f"var/{sub}")
    _guestfs.chmod_dir(rootfs, "var/tmp", 0o1777)


def _system_binds() -> list[str]:
    """The host's ``/usr`` read-only, with ``/bin``, ``/lib`` ... as the links or read-only folders they are."""
    argv = ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = Path("/") / name
        if host.is_symlink():
            argv += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            argv += ["--ro-bind", str(host), f"/{name}"]
    return argv


def _staged_argv(
    staged: Sequence[tuple[str, Path, str]], inner_mounts: Sequence[str], command: Sequence[str], *, uid: int,
) -> list[str]:
    """``bwrap (root: gather the instance's folders) -- setpriv (drop to uid) -- bwrap (the sandbox) -- command``.

    The sandbox's bubblewrap runs as ``uid`` and resolves its bind sources with that uid's rights,
    so it could not reach an instance's folders under a private local root (``/root/...``, a
    ``0700`` folder). The first stage, still root, binds each of them (``staged``: bubblewrap option,
    host path, stage path) at a fresh ``/tmp/<n>`` of a private mount namespace whose ``/`` is the
    host's, read-only; the sandbox binds them from there. Nothing of the first stage is visible
    inside the sandbox, whose root is a fresh tmpfs.
    """
    outer = [bwrap_path(), "--die-with-parent", "--ro-bind", "/", "/", "--bind", "/proc", "/proc",
             "--dev-bind", "/dev", "/dev", "--tmpfs", _STAGE]
    for option, source, stage in staged:
        outer += [f"--{option}", str(source), stage]
    drop = [setpriv_path(), f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--nnp", "--"]
    inner = [bwrap_path(), "--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--die-with-parent",
             *_system_binds(), *inner_mounts, "--", *command]
    return [*outer, "--", *drop, *inner]


def bwrap_argv(
    rootfs: Path,
    command: Sequence[str],
    *,
    hostname: str,
    share_net: bool,
    boot_dir: Path,
    binds: Mapping[str, Path] | None = None,
    env: Mapping[str, str] | None = None,
    uid: int | None = None,
) -> list[str]:
    """The bubblewrap command line for a sandbox over ``rootfs`` running ``command``.

    The sandbox's ``/`` is a fresh tmpfs made read-only once set up, so no mount point lies in a
    folder the guest can change: the private folders are bound at the top level, ``boot_dir`` (the
    host's boot script and user data) read-only at :data:`BOOT_MOUNT` inside a fresh ``/run``, and
    volumes (``binds``, targets under ``/mnt``) inside a fresh ``/mnt``.

    With ``uid`` (only when this process is root, see :func:`maps_guests`), the guest runs as that
    unprivileged host uid and gid, mapped to 0 inside its user namespace (see :func:`_staged_argv`):
    its folders and volumes must be owned by ``uid``, and ``boot_dir`` readable by it. Without
    ``uid``, bubblewrap runs as this process; started by root that way, a guest is host root with
    a reduced capability set.
    """
    if uid is not None and not maps_guests():
        raise ValueError("a guest uid can only be given when the host process is root")
    staged: list[tuple[str, Path, str]] = []

    def source(option: str, path: Path) -> str:
        if uid is None:
            return str(path)
        stage = f"{_STAGE}/{len(staged)}"
        staged.append((option, path, stage))
        return stage

    mounts = ["--hostname", hostname]
    for name in PRIVATE_DIRS:
        mounts += ["--bind", source("bind", rootfs / name), f"/{name}"]
    mounts += [
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/run",
        "--ro-bind", source("ro-bind", boot_dir), BOOT_MOUNT,
        "--tmpfs", "/mnt",
    ]
    for target, path in (binds or {}).items():
        if not target.startswith("/mnt/") or "/" in target[len("/mnt/"):] or target in ("/mnt/.", "/mnt/.."):
            raise ValueError(f"volume mount point {target!r} must be a name under /mnt")
        mounts += ["--bind", source("bind", path), target]
    mounts += ["--remount-ro", "/", "--chdir", "/root", "--clearenv"]
    if uid is not None or os.geteuid() == 0:
        # Keep only a container-like set, never CAP_SYS_ADMIN (mounts), CAP_NET_ADMIN, CAP_SYS_PTRACE or
        # CAP_SYS_MODULE. With a uid these are capabilities in the guest's user namespace only.
        mounts += ["--cap-drop", "ALL"]
        for cap in SAFE_CAPABILITIES:
            mounts += ["--cap-add", cap]
    base_env = {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "HOSTNAME": hostname,
        "LANG": "C.UTF-8",
        "TERM": "dumb",
    }
    base_env.update(env or {})
    for key, value in base_env.items():
        mounts += ["--setenv", key, value]
    if share_net:
        mounts.insert(0, "--share-net")
    if uid is not None:
        return _staged_argv(staged, mounts, command, uid=uid)
    return [bwrap_path(), "--unshare-all", "--die-with-parent", *_system_binds(), *mounts, "--", *command]


def spawn(
    argv: Sequence[str],
    console: Path,
    *,
    memory_mb: int | None,
    max_processes: int | None,
    max_open_files: int = 4096,
) -> subprocess.Popen[bytes]:
    """Start the supervisor shell running ``argv`` under rlimits; output appends to ``console``."""
    limits = [f"--nofile={max_open_files}"]
    if memory_mb:
        limits.append(f"--as={memory_mb * 1024 * 1024}")
    if max_processes:
        limits.append(f"--nproc={max_processes}")
    prlimit = shutil.which("prlimit")
    supervisor = ["/bin/sh", "-c", '"$@"; echo "[cloudkit-init] sandbox exited with status $?"', "sandbox", *argv]
    full = [prlimit, *limits, "--", *supervisor] if prlimit else supervisor
    with open(console, "ab") as out:
        return subprocess.Popen(
            full,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )


def start_time(pid: int) -> int | None:
    """The kernel's start time of ``pid`` (clock ticks since boot), or ``None`` if it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(pid: int | None, started: int | None) -> bool:
    """Whether the process ``pid`` that started at ``started`` still runs."""
    return pid is not None and started is not None and start_time(pid) == started


def kill(pid: int, started: int, *, grace: float = 5.0) -> None:
    """Stop a sandbox: SIGTERM to its whole session, then SIGKILL to what is left after ``grace``.

    The supervisor's exit does not end the rest of its process group (a pid namespace's first
    process ignores SIGTERM from outside), so whatever is left of the group is killed too.
    """
    if not alive(pid, started):
        _sweep_group(pid)
        return
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, started):
            _sweep_group(pid)
            return
        time.sleep(0.02)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        return
    for _ in range(100):
        _reap(pid)
        if not alive(pid, started):
            return
        time.sleep(0.02)


def _group_members(pgid: int) -> list[int]:
    """The live processes whose process group is ``pgid`` (read from /proc, zombies left out)."""
    members = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            fields = Path(f"/proc/{entry.name}/stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def _sweep_group(pgid: int) -> None:
    """SIGKILL what is left of a stopped sandbox's process group (only while members remain: the
    kernel keeps a group's number from being reused while it has a member, so no stranger is hit)."""
    if _group_members(pgid):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _descendants(pid: int) -> list[tuple[int, str]]:
    """``(pid, command name)`` of every process below ``pid``."""
    children: dict[int, list[tuple[int, str]]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        head, _, rest = stat.rpartition(")")
        comm = head.split("(", 1)[1] if "(" in head else ""
        ppid = int(rest.split()[1])
        children.setdefault(ppid, []).append((int(entry.name), comm))
    out: list[tuple[int, str]] = []
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child[0])
    return out


def shutdown(pid: int, started: int, *, grace: float = 5.0) -> None:
    """Stop a sandbox gracefully: SIGTERM to the processes inside it, then tear it down after ``grace``.

    The supervisor and bubblewrap itself are left alone at first, so the sandbox ends the way a
    machine shuts down: its programs get SIGTERM, and when its first process exits the supervisor
    writes the exit status to the console. Whatever still runs after ``grace`` is killed.
    """
    if not alive(pid, started):
        return
    for child, comm in _descendants(pid):
        if comm != "bwrap":
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        _reap(pid)
        if not alive(pid, started):
            _sweep_group(pid)
            return
        time.sleep(0.01)
    kill(pid, started, grace=0.5)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
