"""The local provider's compute family: instances are bubblewrap sandboxes on this machine.

Everything lives under ``<root>/compute``: ``compute.db`` (SQLite, WAL) holds instances, images,
key pairs, security groups, volumes and snapshots; ``instances/<id>/rootfs`` is an instance's
private root folder and ``instances/<id>/console.log`` its console; ``volumes/<id>`` and
``snapshots/<id>`` are folders; ``images/<id>`` holds a captured root layout.

Instances run as independent processes (see :mod:`cloudkit_local._sandbox`): they keep running
after the service is closed or the Python process that created them exits, exactly like a VM keeps
running when the console that launched it closes, and they stop only through ``stop_instance``,
``terminate_instance`` or their own exit. The database records each sandbox's supervisor PID and
start time; whenever an instance is read, one whose process is gone (a crash, a host reboot) is
shown, and recorded, as ``stopped``.
"""

from __future__ import annotations

import base64
import fnmatch
import hashlib
import json
import os
import secrets
import shutil
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs

from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models.compute import (
    Image,
    Instance,
    InstanceType,
    KeyPair,
    Location,
    SecurityGroup,
    SecurityRule,
    Volume,
    VolumeSnapshot,
)
from cloudkit.provider import poll_until
from cloudkit.services.compute import ComputeService
from cloudkit_local import _cloudinit, _guestfs, _sandbox
from cloudkit_local._root import Database, root_from
from cloudkit_local.errors import PROVIDER, LocalErrors, mapped

SCHEMA = """
CREATE TABLE IF NOT EXISTS instances (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    state TEXT NOT NULL,
    image_id TEXT NOT NULL,
    instance_type TEXT NOT NULL,
    key_pair TEXT,
    security_groups TEXT NOT NULL,
    user_data TEXT,
    tags TEXT NOT NULL,
    client_token TEXT UNIQUE,
    launched_at TEXT NOT NULL,
    pid INTEGER,
    pid_start INTEGER,
    boot_id TEXT,
    share_net INTEGER NOT NULL DEFAULT 0,
    finished_boot TEXT,
    host_uid INTEGER
);
CREATE TABLE IF NOT EXISTS images (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT,
    source_instance TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS key_pairs (
    name TEXT PRIMARY KEY,
    fingerprint TEXT NOT NULL,
    public_key TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS security_groups (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    rules TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volumes (
    id TEXT PRIMARY KEY,
    name TEXT,
    size_gb INTEGER NOT NULL,
    state TEXT NOT NULL,
    zone TEXT NOT NULL,
    attached_to TEXT,
    device TEXT,
    snapshot_id TEXT,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS volume_snapshots (
    id TEXT PRIMARY KEY,
    volume_id TEXT,
    size_gb INTEGER NOT NULL,
    state TEXT NOT NULL,
    description TEXT NOT NULL,
    created_at TEXT NOT NULL
);
"""

ZONE = "local-1a"


@attrs.frozen
class _Size:
    vcpus: float
    memory_mb: int
    max_processes: int


#: Instance types: the memory limit is the per-process address-space rlimit.
INSTANCE_TYPES: dict[str, _Size] = {
    "local.nano": _Size(0.5, 256, 64),
    "local.micro": _Size(1, 512, 128),
    "local.small": _Size(1, 1024, 256),
    "local.medium": _Size(2, 2048, 512),
    "local.large": _Size(2, 4096, 1024),
}

#: Built-in images: root layouts made from this host.
BUILTIN_IMAGES: dict[str, Image] = {
    "local:debian-host": Image(
        id="local:debian-host",
        name="debian-host",
        owner="local",
        description="The host's /usr read-only, with a private /etc, /home, /root, /tmp, /var, /opt, /srv and /mnt",
    ),
}


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _new_id(prefix: str, nbytes: int = 8) -> str:
    return f"{prefix}-{secrets.token_hex(nbytes)}"


def _rule_dict(rule: SecurityRule) -> dict[str, Any]:
    return {"protocol": rule.protocol, "from_port": rule.from_port, "to_port": rule.to_port, "cidr": rule.cidr}


def _opens_ports(rules: list[SecurityRule]) -> bool:
    return any(r.protocol in ("tcp", "udp", "-1") for r in rules)


def _unprivileged_port_start() -> int:
    """The lowest port a process without ``CAP_NET_BIND_SERVICE`` on the host may bind (sysctl, 1024 by default)."""
    try:
        return int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text().strip())
    except (OSError, ValueError):
        return 1024


def _unservable_rules(groups: list[sqlite3.Row], rules_of: Callable[[sqlite3.Row], list[SecurityRule]]) -> list[str]:
    """The rules whose ports a guest sharing the host's network cannot bind, as ``"group: tcp 80-80"``.

    A guest holds no capability in the host's network namespace (its root is an unprivileged
    uid, or the unprivileged user running cloudkit), so ports below the host's
    ``net.ipv4.ip_unprivileged_port_start`` cannot be bound. Such a rule is kept (the same program
    runs on every provider) and reported in ``Instance.extra["unservable_rules"]``; a rule whose
    range reaches above that port (or opens every port) is servable.
    """
    start = _unprivileged_port_start()
    found = []
    for group in groups:
        for rule in rules_of(group):
            if rule.protocol not in ("tcp", "udp") or rule.from_port is None:
                continue
            last = rule.to_port if rule.to_port is not None else rule.from_port
            if 0 <= last < start:
                found.append(f"{group['name']}: {rule.protocol} {rule.from_port}-{last}")
    return found


def _fingerprint(public_key: str) -> str:
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def _copy_tree(src: Path, dst: Path) -> None:
    """Copy a guest-written folder ``src`` to ``dst`` atomically (a temporary sibling renamed into place).

    ``src`` is a volume, a snapshot or an image: links are copied as links and never followed,
    FIFOs, sockets and devices are skipped (see :func:`cloudkit_local._guestfs.copy_tree`).
    """
    tmp = dst.with_name(dst.name + ".part")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    _guestfs.copy_tree(src, tmp)
    tmp.rename(dst)


class LocalCompute(LocalErrors, ComputeService):
    """Instances as bubblewrap sandboxes, with key pairs, security groups, volumes and snapshots."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        super().__init__(PROVIDER, settings)
        self.root = root_from(self.settings) / "compute"
        with mapped("open compute folder"):
            for sub in ("instances", "volumes", "snapshots", "images"):
                (self.root / sub).mkdir(parents=True, exist_ok=True)
        self.db = Database(self.root / "compute.db", SCHEMA)
        self._migrate()
        self._children: dict[int, subprocess.Popen[bytes]] = {}
        self._lock = threading.RLock()

    def _migrate(self) -> None:
        """Add the columns newer code reads to a database made by older code."""
        for column, kind in (("finished_boot", "TEXT"), ("host_uid", "INTEGER")):
            columns = {row["name"] for row in self.db.query("PRAGMA table_info(instances)")}
            if column in columns:
                continue
            try:
                with self._tx() as conn:
                    conn.execute(f"ALTER TABLE instances ADD COLUMN {column} {kind}")
            except CloudkitError:  # another process added it first
                columns = {row["name"] for row in self.db.query("PRAGMA table_info(instances)")}
                if column not in columns:
                    raise

    def close(self) -> None:
        """Close the metadata database. Running instances keep running (stop or terminate them)."""
        for pid, proc in list(self._children.items()):
            if proc.poll() is not None:
                self._children.pop(pid, None)
        self.db.close()

    # ================================================================ catalogue
    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A metadata transaction whose sqlite3 errors surface as cloudkit errors."""
        with mapped("update metadata"), self.db.transaction() as conn:
            yield conn

    def _list_images(self, name: str | None, owner: str | None) -> Iterator[Image]:
        images = list(BUILTIN_IMAGES.values())
        images += [self._image(row) for row in self.db.query("SELECT * FROM images ORDER BY created_at")]
        for image in images:
            if name is not None and not fnmatch.fnmatchcase(image.name, name):
                continue
            if owner is not None and image.owner != owner:
                continue
            yield image

    def _image(self, row: sqlite3.Row) -> Image:
        return Image(
            id=row["id"], name=row["name"], owner="self", description=row["description"],
            created_at=_ts(row["created_at"]), extra={"source_instance": row["source_instance"]},
        )

    def _get_image(self, image_id: str) -> Image:
        if image_id in BUILTIN_IMAGES:
            return BUILTIN_IMAGES[image_id]
        rows = self.db.query("SELECT * FROM images WHERE id = ?", (image_id,))
        if not rows:
            raise NotFound(f"image {image_id!r} does not exist", provider=PROVIDER)
        return self._image(rows[0])

    def _create_image(self, instance_id: str, name: str, wait: bool, timeout: float) -> Image:
        inst = self._row(instance_id)
        if inst["state"] == "terminated":
            raise Conflict(f"instance {instance_id} is terminated", provider=PROVIDER)
        if self.db.query("SELECT 1 FROM images WHERE name = ?", (name,)):
            raise AlreadyExists(f"an image named {name!r} already exists", provider=PROVIDER)
        image_id = _new_id("local:image", 6)
        dest = self.root / "images" / image_id
        rootfs = self._dir(instance_id) / "rootfs"
        tmp = dest.with_name(dest.name + ".part")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        for sub in _sandbox.PRIVATE_DIRS:
            if (rootfs / sub).is_dir() and not (rootfs / sub).is_symlink():
                _guestfs.copy_tree(rootfs / sub, tmp / sub)
        # A new instance boots for the first time: drop the per-instance cloud-init state (a link
        # on the way is not followed: the copy is the guest's writing).
        _guestfs.remove_tree(tmp, _cloudinit.STATE_DIR)
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO images (id, name, description, source_instance, created_at) VALUES (?,?,?,?,?)",
                    (image_id, name, f"captured from {instance_id}", instance_id, _now()),
                )
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        tmp.rename(dest)
        return self._get_image(image_id)

    def _list_instance_types(self) -> Iterator[InstanceType]:
        for name, size in INSTANCE_TYPES.items():
            yield InstanceType(name=name, vcpus=size.vcpus, memory_mb=size.memory_mb,
                               extra={"max_processes": size.max_processes})

    def _list_locations(self) -> Iterator[Location]:
        yield Location(id=ZONE, name="this machine")

    # ================================================================ instances
    def _dir(self, instance_id: str) -> Path:
        return self.root / "instances" / instance_id

    def _row(self, instance_id: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM instances WHERE id = ?", (instance_id,))
        if not rows:
            raise NotFound(f"instance {instance_id!r} does not exist", provider=PROVIDER)
        return self._refresh(rows[0])

    def _console_says(self, instance_id: str, marker: str, boot_id: str) -> bool:
        """Whether the console's last 64 KiB hold ``marker`` for ``boot_id`` (a line the boot script prints).

        The console is a host file outside the guest's tree that the sandbox can only append to, so
        this never follows a guest's link or blocks on a guest's FIFO. A guest can print the line
        itself, but that only changes what it reports about its own boot; a guest that floods its
        console before the host sees the line stays ``pending``.
        """
        try:
            with open(self._dir(instance_id) / "console.log", "rb") as fh:
                fh.seek(0, os.SEEK_END)
                fh.seek(max(0, fh.tell() - 65536))
                tail = fh.read()
        except OSError:
            return False
        return f"{marker} {boot_id}\n".encode() in tail

    def _refresh(self, row: sqlite3.Row) -> sqlite3.Row:
        """Bring a row's state in line with its process (gone -> stopped; booted -> running)."""
        state = row["state"]
        if state not in ("pending", "running", "stopping"):
            return row
        self._reap()
        new = state
        if not _sandbox.alive(row["pid"], row["pid_start"]):
            new = "stopped"
        elif state == "pending" and row["boot_id"] and self._console_says(row["id"], _cloudinit.BOOT_STARTED, row["boot_id"]):
            new = "running"
        if new == state:
            return row
        with self._tx() as conn:
            conn.execute("UPDATE instances SET state = ? WHERE id = ? AND state = ?", (new, row["id"], state))
        return self.db.query("SELECT * FROM instances WHERE id = ?", (row["id"],))[0]

    def _boot_finished(self, row: sqlite3.Row) -> bool:
        """Whether this boot has finished: recorded once seen on the console, so later output cannot hide it."""
        boot_id = row["boot_id"]
        if not boot_id:
            return False
        if row["finished_boot"] == boot_id:
            return True
        if not self._console_says(row["id"], _cloudinit.BOOT_FINISHED, boot_id):
            return False
        with self._tx() as conn:
            conn.execute("UPDATE instances SET finished_boot = ? WHERE id = ? AND boot_id = ?", (boot_id, row["id"], boot_id))
        return True

    def _reap(self) -> None:
        for pid, proc in list(self._children.items()):
            if proc.poll() is not None:
                self._children.pop(pid, None)

    def _instance(self, row: sqlite3.Row) -> Instance:
        extra: dict[str, Any] = {
            "network": "host" if row["share_net"] else "isolated",
            "boot_id": row["boot_id"],
        }
        if row["host_uid"] is not None:
            extra["host_uid"] = row["host_uid"]  # the unprivileged host uid its root runs as (cloudkit as root)
        if row["share_net"] and row["state"] != "terminated":
            groups = [self._group_row(g) for g in json.loads(row["security_groups"]) if self._group_exists(g)]
            extra["unservable_rules"] = _unservable_rules(groups, self._rules)  # ports the guest cannot listen on
        if row["state"] in ("pending", "running"):
            extra["boot_finished"] = self._boot_finished(row)
            extra["pid"] = row["pid"]
        return Instance(
            id=row["id"],
            name=row["name"],
            state=row["state"],
            image_id=row["image_id"],
            instance_type=row["instance_type"],
            key_pair=row["key_pair"],
            security_groups=tuple(json.loads(row["security_groups"])),
            private_ip="127.0.0.1" if row["share_net"] else None,
            zone=ZONE,
            tags=json.loads(row["tags"]),
            launched_at=_ts(row["launched_at"]),
            extra=extra,
        )

    def _create_instance(self, name: str, **kw: Any) -> Instance:
        image_id: str = kw["image"]
        instance_type: str = kw["instance_type"]
        user_data = _cloudinit.parse(kw["user_data"])
        if instance_type not in INSTANCE_TYPES:
            raise InvalidInput("instance_type", f"must be one of {', '.join(INSTANCE_TYPES)} (got {instance_type!r})")
        if kw.get("role") is not None:
            raise InvalidInput("role", "instance roles are not supported by the local provider")
        if kw.get("subnet") is not None:
            raise InvalidInput("subnet", "subnets are not supported by the local provider")
        zone = kw.get("zone")
        if zone is not None and zone != ZONE:
            raise InvalidInput("zone", f"must be {ZONE!r} on the local provider")
        token: str | None = kw.get("client_token")
        if token is not None:
            rows = self.db.query("SELECT id FROM instances WHERE client_token = ?", (token,))
            if rows:
                return self._instance(self._row(rows[0]["id"]))
        self._get_image(image_id)
        key: sqlite3.Row | None = None
        if kw.get("key_pair") is not None:
            found = self.db.query("SELECT * FROM key_pairs WHERE name = ?", (kw["key_pair"],))
            if not found:
                raise NotFound(f"key pair {kw['key_pair']!r} does not exist", provider=PROVIDER)
            key = found[0]
        groups = [self._group_row(g) for g in kw.get("security_groups") or ()]
        _sandbox.bwrap_path()
        share_net = any(_opens_ports(self._rules(g)) for g in groups)
        if _sandbox.maps_guests():
            _sandbox.setpriv_path()
            _sandbox.check_uid_mapping()
        instance_id = _new_id("i", 8)
        base = self._dir(instance_id)
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO instances (id, name, state, image_id, instance_type, key_pair, security_groups, user_data,"
                    " tags, client_token, launched_at, share_net) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                    (instance_id, name, "pending", image_id, instance_type, kw.get("key_pair"),
                     json.dumps([g["id"] for g in groups]), kw["user_data"], json.dumps(kw.get("tags") or {}),
                     token, _now(), int(share_net)),
                )
        except Conflict:
            if token is not None:  # a concurrent retry with the same token won the race
                rows = self.db.query("SELECT id FROM instances WHERE client_token = ?", (token,))
                if rows:
                    return self._instance(self._row(rows[0]["id"]))
            raise
        try:
            with mapped("create instance root"):
                rootfs = base / "rootfs"
                if image_id in BUILTIN_IMAGES:
                    rootfs.mkdir(parents=True)
                else:
                    _copy_tree(self.root / "images" / image_id, rootfs)
                try:
                    _sandbox.prepare_root(rootfs, name)
                    if key is not None:
                        _guestfs.make_dirs(rootfs, "root/.ssh", mode=0o700)
                        _guestfs.write_file(rootfs, "root/.ssh/authorized_keys", (key["public_key"] + "\n").encode(),
                                            mode=0o600)
                except _guestfs.GuestPathError as exc:
                    raise Conflict(f"image {image_id}: its {exc.path} {exc.reason}; cloudkit will not write through it",
                                   provider=PROVIDER) from None
                boot = base / "boot"
                boot.mkdir(mode=0o700)
                if user_data.kind == "script" and user_data.script is not None:
                    _guestfs.write_file(boot, _cloudinit.USER_SCRIPT_FILE, user_data.script.encode(), mode=0o755)
            self._boot(instance_id)
        except BaseException:
            self._discard(instance_id)
            raise
        if kw.get("wait", True):
            return self._wait_for_instance(instance_id, "running", kw.get("timeout", 600))
        return self._instance(self._row(instance_id))

    def _discard(self, instance_id: str) -> None:
        """Undo a failed launch: stop what started, remove files and the row."""
        rows = self.db.query("SELECT pid, pid_start FROM instances WHERE id = ?", (instance_id,))
        if rows and rows[0]["pid"]:
            _sandbox.kill(rows[0]["pid"], rows[0]["pid_start"], grace=1)
        shutil.rmtree(self._dir(instance_id), ignore_errors=True)
        with self._tx() as conn:
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))

    def _boot(self, instance_id: str) -> None:
        """Start the instance's sandbox (it must not be running)."""
        rows = self.db.query("SELECT * FROM instances WHERE id = ?", (instance_id,))
        row = rows[0]
        size = INSTANCE_TYPES[row["instance_type"]]
        base = self._dir(instance_id)
        rootfs = base / "rootfs"
        boot_id = secrets.token_hex(8)
        binds: dict[str, Path] = {}
        for vol in self.db.query("SELECT id, device FROM volumes WHERE attached_to = ?", (instance_id,)):
            # The mount point is made by bubblewrap in the sandbox's fresh /mnt, not in the guest's files.
            binds["/mnt/" + vol["device"].rsplit("/", 1)[-1]] = self.root / "volumes" / vol["id"]
        for name in _sandbox.PRIVATE_DIRS:
            # The top of rootfs is the host's (the guest sees only inside each folder): still, never
            # hand bubblewrap a link as a bind source.
            if (rootfs / name).is_symlink() or not (rootfs / name).is_dir():
                raise Conflict(f"instance {instance_id}: its root folder's {name!r} is not a plain folder; "
                               f"it will not boot", provider=PROVIDER)
        share_net = self._boot_network(row)
        data = _cloudinit.parse(row["user_data"])
        uid = self._guest_uid(instance_id)
        with mapped("start sandbox"):
            # The boot script lives in the host's boot folder, outside every folder the guest can
            # change, and is bound read-only into the sandbox.
            boot = base / "boot"
            boot.mkdir(mode=0o700, exist_ok=True)
            _guestfs.write_file(boot, _cloudinit.BOOT_SCRIPT_FILE, _cloudinit.boot_script(data).encode(), mode=0o755)
            if uid is not None:
                self._hand_over(instance_id, uid, [(rootfs, name) for name in _sandbox.PRIVATE_DIRS]
                                + [(self.root / "volumes", path.name) for path in binds.values()])
                # Host-owned and read-only for the guest: root's, readable through the guest's group.
                os.chown(boot, 0, uid)
                os.chmod(boot, 0o750)
            argv = _sandbox.bwrap_argv(
                rootfs, ["/bin/sh", _cloudinit.BOOT_SCRIPT], hostname=row["name"], share_net=share_net,
                boot_dir=boot, binds=binds, env={"CLOUDKIT_BOOT_ID": boot_id, "CLOUDKIT_INSTANCE_ID": instance_id},
                uid=uid,
            )
            proc = _sandbox.spawn(argv, base / "console.log", memory_mb=size.memory_mb, max_processes=size.max_processes)
        started = None
        for _ in range(100):
            started = _sandbox.start_time(proc.pid)
            if started is not None:
                break
            time.sleep(0.005)
        self._children[proc.pid] = proc
        with self._tx() as conn:
            conn.execute(
                "UPDATE instances SET state = 'pending', pid = ?, pid_start = ?, boot_id = ?, share_net = ? WHERE id = ?",
                (proc.pid, started, boot_id, int(share_net), instance_id),
            )

    def _boot_network(self, row: sqlite3.Row) -> bool:
        """Whether the instance's next boot shares the host's network."""
        groups = [self._group_row(g) for g in json.loads(row["security_groups"]) if self._group_exists(g)]
        return any(_opens_ports(self._rules(g)) for g in groups)

    def _guest_uid(self, instance_id: str) -> int | None:
        """The host uid (and gid) the instance's guest runs as, allocated at its first boot; ``None`` unless root.

        Each instance gets its own uid (see :data:`cloudkit_local._sandbox.GUEST_UID_BASE`), so guests
        are separated from the host *and* from each other by file ownership, and the instance type's
        process limit (``RLIMIT_NPROC``, counted per uid) counts that instance's processes only.
        """
        if not _sandbox.maps_guests():
            return None
        with self._tx() as conn:
            found = conn.execute("SELECT host_uid FROM instances WHERE id = ?", (instance_id,)).fetchone()
            if found["host_uid"] is not None:
                return int(found["host_uid"])
            used = [r[0] for r in conn.execute("SELECT host_uid FROM instances WHERE host_uid IS NOT NULL")]
            uid = _sandbox.new_guest_uid(used)
            conn.execute("UPDATE instances SET host_uid = ? WHERE id = ?", (uid, instance_id))
        return uid

    def _hand_over(self, instance_id: str, uid: int, trees: list[tuple[Path, str]]) -> None:
        """Give each ``(top, folder)`` tree to ``uid`` unless its top already belongs to ``uid``.

        Trees to hand over: a new root made by the host (or copied from an image), a volume last used
        by another instance or restored from a snapshot, a root made before guests had a uid of their own.

        :func:`cloudkit_local._guestfs.chown_tree` never follows a link and changes a tree's top
        last, so a top owned by ``uid`` means the whole tree was handed over.
        """
        for top, name in trees:
            try:
                if _guestfs.owner(top, name) != uid:
                    _guestfs.chown_tree(top, name, uid, uid)
            except _guestfs.GuestPathError as exc:
                raise Conflict(f"instance {instance_id} will not boot: {top.name}/{exc.path.lstrip('/')} {exc.reason}",
                               provider=PROVIDER) from None

    def _get_instance(self, instance_id: str) -> Instance:
        return self._instance(self._row(instance_id))

    def _list_instances(self, state: str | None, tags: dict[str, str]) -> Iterator[Instance]:
        for row in self.db.query("SELECT * FROM instances ORDER BY launched_at, id"):
            inst = self._instance(self._refresh(row))
            if state is not None and inst.state != state:
                continue
            if any(inst.tags.get(k) != v for k, v in tags.items()):
                continue
            yield inst

    @contextmanager
    def _exclusive(self, instance_id: str) -> Iterator[None]:
        """Hold the instance's lock file: one start, stop, reboot or terminate at a time, across processes."""
        import fcntl

        self._row(instance_id)  # NotFound before anything is written
        with self._lock, mapped("lock instance"):
            base = self._dir(instance_id)
            base.mkdir(parents=True, exist_ok=True)
            with open(base / ".lock", "a") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

    def _halt(self, row: sqlite3.Row) -> None:
        if row["pid"]:
            _sandbox.shutdown(row["pid"], row["pid_start"])
            self._reap()

    def _start_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        with self._exclusive(instance_id):
            row = self._row(instance_id)
            if row["state"] == "terminated":
                raise Conflict(f"instance {instance_id} is terminated and cannot be started", provider=PROVIDER)
            if row["state"] == "stopped":
                self._boot(instance_id)
        return self._wait_for_instance(instance_id, "running", timeout) if wait else self._get_instance(instance_id)

    def _stop_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        with self._exclusive(instance_id):
            row = self._row(instance_id)
            if row["state"] == "terminated":
                raise Conflict(f"instance {instance_id} is terminated", provider=PROVIDER)
            if row["state"] != "stopped":
                with self._tx() as conn:
                    conn.execute("UPDATE instances SET state = 'stopping' WHERE id = ?", (instance_id,))
                self._halt(row)
                with self._tx() as conn:
                    conn.execute("UPDATE instances SET state = 'stopped', pid = NULL, pid_start = NULL WHERE id = ?",
                                 (instance_id,))
        return self._get_instance(instance_id)

    def _reboot_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        with self._exclusive(instance_id):
            row = self._row(instance_id)
            if row["state"] not in ("pending", "running"):
                raise Conflict(f"instance {instance_id} is {row['state']}; only a running instance can be rebooted",
                               provider=PROVIDER)
            self._boot_network(row)  # refuse before stopping it
            self._halt(row)
            self._boot(instance_id)
        return self._wait_for_instance(instance_id, "running", timeout) if wait else self._get_instance(instance_id)

    def _terminate_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        with self._exclusive(instance_id):
            row = self._row(instance_id)
            if row["state"] != "terminated":
                self._halt(row)
                with self._tx() as conn:
                    conn.execute("UPDATE instances SET state = 'terminated', pid = NULL, pid_start = NULL WHERE id = ?",
                                 (instance_id,))
                    conn.execute("UPDATE volumes SET state = 'available', attached_to = NULL, device = NULL "
                                 "WHERE attached_to = ?", (instance_id,))
                rootfs = self._dir(instance_id) / "rootfs"
                if rootfs.exists():
                    shutil.rmtree(rootfs)
        return self._get_instance(instance_id)

    def _wait_for_instance(self, instance_id: str, state: str, timeout: float) -> Instance:
        def cannot(inst: Instance) -> Conflict | None:
            if inst.state == "terminated" or (state == "running" and inst.state == "stopped"):
                return Conflict(f"instance {instance_id} is {inst.state}; it will not become {state}", provider=PROVIDER)
            return None

        # The wait rule (cloudkit.provider): on Timeout the instance keeps booting or stopping.
        return poll_until(lambda: self._instance(self._row(instance_id)), lambda inst: inst.state == state,
                          timeout=timeout, what=f"instance {instance_id}", target=state, state=lambda inst: inst.state,
                          failed=cannot, interval=0.05, initial=0.002, provider=PROVIDER)

    def _get_console_output(self, instance_id: str) -> str:
        self._row(instance_id)
        path = self._dir(instance_id) / "console.log"
        if not path.exists():
            return ""
        with mapped("read console output"), open(path, "rb") as fh:
            size = path.stat().st_size
            fh.seek(max(0, size - 65536))
            return fh.read().decode("utf-8", "replace")

    # ================================================================ key pairs
    def _create_key_pair(self, name: str) -> KeyPair:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        key = Ed25519PrivateKey.generate()
        private = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
        ).decode()
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        public = f"{public} {name}"
        stored = self._store_key(name, public)
        return attrs.evolve(stored, private_key=private)

    def _import_key_pair(self, name: str, public_key: str) -> KeyPair:
        from cryptography.hazmat.primitives.serialization import load_ssh_public_key

        try:
            load_ssh_public_key(public_key.encode())
        except (ValueError, TypeError, IndexError):
            raise InvalidInput("public_key", "is not a valid OpenSSH public key") from None
        return self._store_key(name, public_key)

    def _store_key(self, name: str, public_key: str) -> KeyPair:
        fp = _fingerprint(public_key)
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO key_pairs (name, fingerprint, public_key, created_at) VALUES (?,?,?,?)",
                             (name, fp, public_key, _now()))
        except Conflict as exc:
            raise AlreadyExists(f"a key pair named {name!r} already exists", provider=PROVIDER) from exc
        return KeyPair(name=name, fingerprint=fp, public_key=public_key)

    def _list_key_pairs(self) -> Iterator[KeyPair]:
        for row in self.db.query("SELECT * FROM key_pairs ORDER BY name"):
            yield KeyPair(name=row["name"], fingerprint=row["fingerprint"], public_key=row["public_key"])

    def _delete_key_pair(self, name: str) -> None:
        with self._tx() as conn:
            if conn.execute("DELETE FROM key_pairs WHERE name = ?", (name,)).rowcount == 0:
                raise NotFound(f"key pair {name!r} does not exist", provider=PROVIDER)

    # ================================================================ security groups
    def _group_exists(self, group: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM security_groups WHERE id = ? OR name = ?", (group, group)))

    def _group_row(self, group: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM security_groups WHERE id = ? OR name = ?", (group, group))
        if not rows:
            raise NotFound(f"security group {group!r} does not exist", provider=PROVIDER)
        return rows[0]

    @staticmethod
    def _rules(row: sqlite3.Row) -> list[SecurityRule]:
        return [SecurityRule(**r) for r in json.loads(row["rules"])]

    def _group(self, row: sqlite3.Row) -> SecurityGroup:
        return SecurityGroup(id=row["id"], name=row["name"], description=row["description"], rules=self._rules(row))

    def _create_security_group(self, name: str, description: str, rules: list[SecurityRule]) -> SecurityGroup:
        unique = list(dict.fromkeys(rules))
        group_id = _new_id("sg", 8)
        try:
            with self._tx() as conn:
                conn.execute("INSERT INTO security_groups (id, name, description, rules) VALUES (?,?,?,?)",
                             (group_id, name, description, json.dumps([_rule_dict(r) for r in unique])))
        except Conflict as exc:
            raise AlreadyExists(f"a security group named {name!r} already exists", provider=PROVIDER) from exc
        return self._group(self._group_row(group_id))

    def _list_security_groups(self) -> Iterator[SecurityGroup]:
        for row in self.db.query("SELECT * FROM security_groups ORDER BY name"):
            yield self._group(row)

    def _delete_security_group(self, group_id: str) -> None:
        row = self._group_row(group_id)
        for inst in self.db.query("SELECT id, security_groups FROM instances WHERE state != 'terminated'"):
            if row["id"] in json.loads(inst["security_groups"]):
                raise Conflict(f"security group {row['name']} is used by instance {inst['id']}", provider=PROVIDER)
        with self._tx() as conn:
            conn.execute("DELETE FROM security_groups WHERE id = ?", (row["id"],))

    def _change_rules(self, group_id: str, rules: list[SecurityRule], add: bool) -> SecurityGroup:
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM security_groups WHERE id = ? OR name = ?", (group_id, group_id)).fetchall()
            if not rows:
                raise NotFound(f"security group {group_id!r} does not exist", provider=PROVIDER)
            current = self._rules(rows[0])
            for rule in rules:
                if add:
                    if rule in current:
                        raise AlreadyExists(f"the rule {rule} already exists in {rows[0]['name']}", provider=PROVIDER)
                    current.append(rule)
                else:
                    if rule not in current:
                        raise NotFound(f"the rule {rule} does not exist in {rows[0]['name']}", provider=PROVIDER)
                    current.remove(rule)
            conn.execute("UPDATE security_groups SET rules = ? WHERE id = ?",
                         (json.dumps([_rule_dict(r) for r in current]), rows[0]["id"]))
        return self._group(self._group_row(rows[0]["id"]))

    def _authorize_ingress(self, group_id: str, rules: list[SecurityRule]) -> SecurityGroup:
        return self._change_rules(group_id, rules, add=True)

    def _revoke_ingress(self, group_id: str, rules: list[SecurityRule]) -> SecurityGroup:
        return self._change_rules(group_id, rules, add=False)

    # ================================================================ volumes
    def _volume_row(self, volume_id: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM volumes WHERE id = ?", (volume_id,))
        if not rows:
            raise NotFound(f"volume {volume_id!r} does not exist", provider=PROVIDER)
        return rows[0]

    def _volume(self, row: sqlite3.Row) -> Volume:
        extra: dict[str, Any] = {"created_at": row["created_at"]}
        if row["device"]:
            extra["mount_point"] = "/mnt/" + row["device"].rsplit("/", 1)[-1]
        return Volume(id=row["id"], size_gb=row["size_gb"], state=row["state"], name=row["name"], zone=row["zone"],
                      attached_to=row["attached_to"], device=row["device"], snapshot_id=row["snapshot_id"], extra=extra)

    def _create_volume(self, size_gb: int, name: str | None, zone: str | None, snapshot_id: str | None,
                       wait: bool, timeout: float) -> Volume:
        if zone is not None and zone != ZONE:
            raise InvalidInput("zone", f"must be {ZONE!r} on the local provider")
        snap = None
        if snapshot_id is not None:
            snap = self._snapshot_row(snapshot_id)
            if size_gb < snap["size_gb"]:
                raise InvalidInput("size_gb", f"must be at least the snapshot's size ({snap['size_gb']} GiB)")
        volume_id = _new_id("vol", 8)
        dest = self.root / "volumes" / volume_id
        if snap is not None:
            _copy_tree(self.root / "snapshots" / snap["id"], dest)
        else:
            dest.mkdir()
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO volumes (id, name, size_gb, state, zone, snapshot_id, created_at) VALUES (?,?,?,?,?,?,?)",
                    (volume_id, name, size_gb, "available", ZONE, snapshot_id, _now()),
                )
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        return self._volume(self._volume_row(volume_id))

    def _list_volumes(self) -> Iterator[Volume]:
        for row in self.db.query("SELECT * FROM volumes ORDER BY created_at, id"):
            yield self._volume(row)

    def _delete_volume(self, volume_id: str) -> None:
        row = self._volume_row(volume_id)
        if row["attached_to"]:
            raise Conflict(f"volume {volume_id} is attached to {row['attached_to']}; detach it first", provider=PROVIDER)
        with self._tx() as conn:
            conn.execute("DELETE FROM volumes WHERE id = ?", (volume_id,))
        shutil.rmtree(self.root / "volumes" / volume_id, ignore_errors=True)

    def _attach_volume(self, volume_id: str, instance_id: str, device: str, wait: bool, timeout: float) -> Volume:
        inst = self._row(instance_id)
        if inst["state"] == "terminated":
            raise Conflict(f"instance {instance_id} is terminated", provider=PROVIDER)
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM volumes WHERE id = ?", (volume_id,)).fetchall()
            if not rows:
                raise NotFound(f"volume {volume_id!r} does not exist", provider=PROVIDER)
            if rows[0]["attached_to"]:
                raise Conflict(f"volume {volume_id} is already attached to {rows[0]['attached_to']}", provider=PROVIDER)
            if conn.execute("SELECT 1 FROM volumes WHERE attached_to = ? AND device = ?", (instance_id, device)).fetchall():
                raise Conflict(f"device {device} is already in use on {instance_id}", provider=PROVIDER)
            conn.execute("UPDATE volumes SET state = 'in-use', attached_to = ?, device = ? WHERE id = ?",
                         (instance_id, device, volume_id))
        return self._volume(self._volume_row(volume_id))

    def _detach_volume(self, volume_id: str, wait: bool, timeout: float) -> Volume:
        with self._tx() as conn:
            rows = conn.execute("SELECT * FROM volumes WHERE id = ?", (volume_id,)).fetchall()
            if not rows:
                raise NotFound(f"volume {volume_id!r} does not exist", provider=PROVIDER)
            if not rows[0]["attached_to"]:
                raise Conflict(f"volume {volume_id} is not attached", provider=PROVIDER)
            conn.execute("UPDATE volumes SET state = 'available', attached_to = NULL, device = NULL WHERE id = ?",
                         (volume_id,))
        return self._volume(self._volume_row(volume_id))

    # ================================================================ volume snapshots
    def _snapshot_row(self, snapshot_id: str) -> sqlite3.Row:
        rows = self.db.query("SELECT * FROM volume_snapshots WHERE id = ?", (snapshot_id,))
        if not rows:
            raise NotFound(f"snapshot {snapshot_id!r} does not exist", provider=PROVIDER)
        return rows[0]

    @staticmethod
    def _snapshot(row: sqlite3.Row) -> VolumeSnapshot:
        return VolumeSnapshot(id=row["id"], volume_id=row["volume_id"], size_gb=row["size_gb"], state=row["state"],
                              description=row["description"], created_at=_ts(row["created_at"]))

    def _create_volume_snapshot(self, volume_id: str, description: str, wait: bool, timeout: float) -> VolumeSnapshot:
        vol = self._volume_row(volume_id)
        snapshot_id = _new_id("snap", 8)
        dest = self.root / "snapshots" / snapshot_id
        _copy_tree(self.root / "volumes" / volume_id, dest)
        try:
            with self._tx() as conn:
                conn.execute(
                    "INSERT INTO volume_snapshots (id, volume_id, size_gb, state, description, created_at) VALUES (?,?,?,?,?,?)",
                    (snapshot_id, volume_id, vol["size_gb"], "completed", description, _now()),
                )
        except BaseException:
            shutil.rmtree(dest, ignore_errors=True)
            raise
        return self._snapshot(self._snapshot_row(snapshot_id))

    def _list_volume_snapshots(self) -> Iterator[VolumeSnapshot]:
        for row in self.db.query("SELECT * FROM volume_snapshots ORDER BY created_at, id"):
            yield self._snapshot(row)

    def _delete_volume_snapshot(self, snapshot_id: str) -> None:
        self._snapshot_row(snapshot_id)
        with self._tx() as conn:
            conn.execute("DELETE FROM volume_snapshots WHERE id = ?", (snapshot_id,))
        shutil.rmtree(self.root / "snapshots" / snapshot_id, ignore_errors=True)


def make_service(settings: Mapping[str, Any]) -> LocalCompute:
    """Build the local compute service (the plugin calls this)."""
    return LocalCompute(settings)
