"""Run as root, a guest's root is an unprivileged host uid of its own, not the host's root.

The guest sees uid 0; the host sees each instance's own uid in the guest range on every file the
guest writes, in its root folder and on its volumes; a root-owned host file that a planted mistake
binds writable into the sandbox is protected by ordinary permissions; volumes, snapshots and images
move between instances with their ownership handed over, never through a guest's link.
"""

from __future__ import annotations

import os
import shutil
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from cloudkit_local import _guestfs, _sandbox

from cloudkit.errors import Conflict
from cloudkit.models.compute import Instance, SecurityRule
from cloudkit.services.compute import ComputeService

pytestmark = [
    pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed"),
    pytest.mark.timeout(120),
]
as_root = pytest.mark.skipif(os.geteuid() != 0, reason="guests get a uid of their own only when cloudkit runs as root")

IMAGE = "local:debian-host"


def finished(compute: ComputeService, inst: Instance, timeout: float = 20) -> str:
    """The console once the current boot has finished (its user data has run)."""
    boot_id = compute.get_instance(inst).extra["boot_id"]
    deadline = time.monotonic() + timeout
    while True:
        out = compute.get_console_output(inst)
        if f"Cloud-init finished (boot {boot_id})" in out:
            return out
        assert time.monotonic() < deadline, f"boot {boot_id} never finished:\n{out}"
        time.sleep(0.02)


def host_uid(compute: ComputeService, inst: Instance) -> int:
    uid = compute.get_instance(inst).extra["host_uid"]
    assert isinstance(uid, int)
    return uid


def in_range(uid: int) -> bool:
    return _sandbox.GUEST_UID_BASE <= uid < _sandbox.GUEST_UID_BASE + _sandbox.GUEST_UID_COUNT


@as_root
def test_guest_is_root_inside_and_its_own_uid_outside(compute: ComputeService, root: Path) -> None:
    user_data = ("#!/bin/sh\necho \"inside: $(id -u):$(id -g)\"\necho \"map: $(cat /proc/self/uid_map)\"\n"
                 "echo made > /root/made.txt\nmkdir -p /srv/www && echo page > /srv/www/index.html\n"
                 "chown nobody /root/made.txt || echo CHOWN-TO-ANOTHER-USER-REFUSED\n")
    inst = compute.create_instance("uid-1", image=IMAGE, instance_type="local.nano", user_data=user_data)
    out = finished(compute, inst)
    uid = host_uid(compute, inst)
    assert in_range(uid) and uid != 0
    assert "inside: 0:0" in out, out
    assert "CHOWN-TO-ANOTHER-USER-REFUSED" in out, "only uid 0 exists inside (documented)"
    assert " ".join(f"map: 0 {uid} 1".split()) in " ".join(out.split()), out
    rootfs = root / "compute" / "instances" / inst.id / "rootfs"
    for path in (rootfs / "root/made.txt", rootfs / "srv/www/index.html", rootfs / "srv/www", rootfs / "etc/hostname"):
        info = path.lstat()
        assert (info.st_uid, info.st_gid) == (uid, uid), path
    # The boot folder stays the host's: root-owned, readable by the guest's group only.
    boot = (root / "compute" / "instances" / inst.id / "boot").stat()
    assert (boot.st_uid, boot.st_gid, stat.S_IMODE(boot.st_mode)) == (0, uid, 0o750)


@as_root
def test_guest_processes_do_not_run_as_host_root(compute: ComputeService) -> None:
    inst = compute.create_instance("uid-ps", image=IMAGE, instance_type="local.nano", user_data="#!/bin/sh\ntrue\n")
    finished(compute, inst)
    uid = host_uid(compute, inst)
    pid = compute.get_instance(inst).extra["pid"]
    owners = {}
    for child, comm in _sandbox._descendants(pid):
        status = Path(f"/proc/{child}/status").read_text()
        owners[child] = (comm, int(status.split("Uid:")[1].split()[0]))
    guest = [comm for comm, owner in owners.values() if comm != "bwrap"]
    assert "sleep" in guest, owners  # the boot script idles as `sleep infinity`
    assert all(owner == uid for comm, owner in owners.values() if comm != "bwrap"), owners
    # Of the two bubblewraps, only the first (the staging one, which runs no guest code) is root.
    assert sorted(owner for comm, owner in owners.values() if comm == "bwrap").count(0) == 1, owners


@as_root
def test_two_instances_get_different_uids(compute: ComputeService, root: Path) -> None:
    a = compute.create_instance("uid-a", image=IMAGE, instance_type="local.nano", wait=False)
    b = compute.create_instance("uid-b", image=IMAGE, instance_type="local.nano", wait=False)
    ua, ub = host_uid(compute, a), host_uid(compute, b)
    assert ua != ub and in_range(ua) and in_range(ub)
    # A stop and start keeps the uid (its files stay its own).
    compute.stop_instance(a)
    compute.start_instance(a)
    assert host_uid(compute, a) == ua


@as_root
def test_dac_protects_a_root_owned_file_bound_writable_by_mistake(
    compute: ComputeService, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    host = tmp_path / "host"
    host.mkdir(mode=0o755)
    canary = host / "canary"
    canary.write_text("host data\n")
    canary.chmod(0o644)
    real = _sandbox.bwrap_argv

    def planted(*args: Any, **kw: Any) -> list[str]:
        kw["binds"] = {**(kw.get("binds") or {}), "/mnt/planted": host}  # the mistake: a host folder, writable
        return real(*args, **kw)

    monkeypatch.setattr(_sandbox, "bwrap_argv", planted)
    user_data = ("#!/bin/sh\n[ -f /mnt/planted/canary ] && echo PLANTED-BIND-PRESENT\necho pwned >> /mnt/planted/canary && echo WROTE-CANARY\n"
                 "echo x > /mnt/planted/new && echo CREATED-FILE\nchmod 666 /mnt/planted/canary && echo CHMODDED\n"
                 "rm -f /mnt/planted/canary && echo REMOVED\nls -ln /mnt/planted\n")
    inst = compute.create_instance("uid-dac", image=IMAGE, instance_type="local.nano", user_data=user_data)
    out = finished(compute, inst)
    assert "PLANTED-BIND-PRESENT" in out, f"the planted bind did not happen:\n{out}"
    for done in ("WROTE-CANARY", "CREATED-FILE", "CHMODDED", "REMOVED"):
        assert done not in out, out
    assert canary.read_text() == "host data\n"
    assert stat.S_IMODE(canary.stat().st_mode) == 0o644 and canary.stat().st_uid == 0
    assert sorted(p.name for p in host.iterdir()) == ["canary"]


@as_root
def test_volumes_snapshots_and_images_follow_the_instance_that_boots_them(
    compute: ComputeService, root: Path, tmp_path: Path,
) -> None:
    canary = tmp_path / "canary"
    canary.write_text("host\n")
    write = ("#cloud-config\nbootcmd:\n  - echo from-$(hostname) >> /mnt/sdf/log.txt && echo APPENDED\n"
             f"  - ln -sfn {canary} /mnt/sdf/link\n")
    vol = compute.create_volume(1, name="shared")
    a = compute.create_instance("vol-a", image=IMAGE, instance_type="local.nano", user_data=write, wait=False)
    compute.stop_instance(a)
    compute.attach_volume(vol, a, "/dev/sdf")
    compute.start_instance(a)
    assert "APPENDED" in finished(compute, a)
    folder = root / "compute" / "volumes" / vol.id
    assert (folder / "log.txt").lstat().st_uid == host_uid(compute, a)
    compute.stop_instance(a)
    compute.detach_volume(vol)

    b = compute.create_instance("vol-b", image=IMAGE, instance_type="local.nano", user_data=write, wait=False)
    compute.stop_instance(b)
    compute.attach_volume(vol, b, "/dev/sdf")
    compute.start_instance(b)
    assert "APPENDED" in finished(compute, b), "the volume was handed over to the instance that boots it"
    ub = host_uid(compute, b)
    assert (folder / "log.txt").read_text() == "from-vol-a\nfrom-vol-b\n"
    for path in (folder, folder / "log.txt", folder / "link"):
        assert path.lstat().st_uid == ub, path
    assert canary.stat().st_uid == 0 and canary.read_text() == "host\n", "the guest's link was not followed"

    # A snapshot and a volume restored from it are the host's copies; booting hands the copy over.
    compute.stop_instance(b)
    compute.detach_volume(vol)
    snap = compute.create_volume_snapshot(vol, description="log")
    assert (root / "compute" / "snapshots" / snap.id / "log.txt").stat().st_uid == 0
    copy = compute.create_volume(1, snapshot=snap)
    compute.attach_volume(copy, a, "/dev/sdf")
    compute.start_instance(a)
    assert "APPENDED" in finished(compute, a)
    assert (root / "compute" / "volumes" / copy.id / "log.txt").lstat().st_uid == host_uid(compute, a)

    # An image holds root-owned copies; an instance launched from it owns its own root.
    image = compute.create_image(b, "from-b")
    assert (root / "compute" / "images" / image.id / "etc" / "hostname").stat().st_uid == 0
    c = compute.create_instance("vol-c", image=image, instance_type="local.nano",
                                user_data="#!/bin/sh\necho more >> /etc/hostname && echo EDITED\n")
    assert "EDITED" in finished(compute, c)
    uc = host_uid(compute, c)
    assert uc not in (ub, host_uid(compute, a))
    assert (root / "compute" / "instances" / c.id / "rootfs" / "etc" / "hostname").stat().st_uid == uc


@pytest.mark.skipif(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text().strip() != "1024",
                    reason="the host's net.ipv4.ip_unprivileged_port_start is not the default 1024")
def test_a_port_a_guest_cannot_bind_is_kept_and_reported(compute: ComputeService) -> None:
    """A low-port rule (ssh 22, as in most seed templates) is accepted as on every provider, and reported."""
    ssh = compute.create_security_group("ssh", description="ssh", rules=[SecurityRule("tcp", 22)])
    inst = compute.create_instance("web", image=IMAGE, instance_type="local.nano", security_groups=[ssh], wait=False)
    assert inst.extra["network"] == "host"
    assert inst.extra["unservable_rules"] == ["ssh: tcp 22-22"]
    # a range reaching the unprivileged ports is servable; a low rule added later is reported too
    wide = compute.create_security_group("wide", description="all", rules=[SecurityRule("tcp", 0, 65535)])
    other = compute.create_instance("app", image=IMAGE, instance_type="local.nano", security_groups=[wide], wait=False)
    assert other.extra["unservable_rules"] == []
    compute.authorize_ingress(wide, [SecurityRule("udp", 53)])
    assert compute.get_instance(other).extra["unservable_rules"] == ["wide: udp 53-53"]
    assert compute.reboot_instance(other).state in ("pending", "running")
    # inside, binding the low port fails (the guest is not root on the host); above it works
    script = ("import socket\nfor port in (22, 20022):\n    s = socket.socket()\n    try:\n"
              "        s.bind(('127.0.0.1', port)); print('bound', port)\n"
              "    except OSError as exc:\n        print('refused', port, exc.errno)\n")
    probe = compute.create_instance("probe", image=IMAGE, instance_type="local.nano", security_groups=[ssh],
                                    user_data="#!/bin/sh\npython3 -c \"$(cat <<'EOF'\n" + script + "EOF\n)\"\n")
    out = finished(compute, probe)
    assert "refused 22 13" in out and "bound 20022" in out


def test_chown_tree_never_follows_a_link(tmp_path: Path) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing owners needs root")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "file").write_text("x")
    tree = tmp_path / "tree"
    (tree / "a" / "b").mkdir(parents=True)
    (tree / "a" / "b" / "f").write_text("y")
    os.mkfifo(tree / "fifo")
    (tree / "to-dir").symlink_to(outside)
    (tree / "a" / "to-file").symlink_to(outside / "file")
    _guestfs.chown_tree(tmp_path, "tree", 4242, 4343)
    for path in (tree, tree / "a", tree / "a" / "b", tree / "a" / "b" / "f", tree / "fifo", tree / "to-dir",
                 tree / "a" / "to-file"):
        assert (path.lstat().st_uid, path.lstat().st_gid) == (4242, 4343), path
    for path in (outside, outside / "file"):
        assert path.lstat().st_uid == 0, path


def test_chown_tree_refuses_a_tree_nested_too_deep(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if os.geteuid() != 0:
        pytest.skip("changing owners needs root")
    monkeypatch.setattr(_guestfs, "MAX_DEPTH", 3)
    (tmp_path / "t" / "1" / "2" / "3" / "4").mkdir(parents=True)
    with pytest.raises(_guestfs.GuestPathError, match="nested more than 3"):
        _guestfs.chown_tree(tmp_path, "t", 4242, 4242)
    assert (tmp_path / "t").stat().st_uid == 0, "the top is handed over last, so an interrupted hand-over is redone"


def test_bwrap_argv_without_uid_is_unchanged_and_with_uid_drops_privileges(tmp_path: Path) -> None:
    plain = _sandbox.bwrap_argv(tmp_path, ["true"], hostname="h", share_net=False, boot_dir=tmp_path)
    assert "setpriv" not in " ".join(plain) and plain[0].endswith("bwrap")
    if os.geteuid() != 0:
        with pytest.raises(ValueError):
            _sandbox.bwrap_argv(tmp_path, ["true"], hostname="h", share_net=False, boot_dir=tmp_path, uid=1)
        return
    argv = _sandbox.bwrap_argv(tmp_path, ["true"], hostname="h", share_net=True, boot_dir=tmp_path, uid=1879048300,
                               binds={"/mnt/sdf": tmp_path / "vol"})
    drop = argv.index(next(a for a in argv if a.endswith("setpriv")))
    assert argv[drop + 1:drop + 5] == ["--reuid=1879048300", "--regid=1879048300", "--clear-groups", "--nnp"]
    inner = argv[drop:]
    assert "--unshare-user" in inner and inner[inner.index("--uid") + 1] == "0" and "--share-net" in inner
    # The first stage binds only host-owned paths of the instance, and never runs the command itself.
    outer = argv[:drop]
    assert str(tmp_path / "vol") in outer and "true" not in outer
    assert str(tmp_path / "vol") not in inner, "the sandbox binds the staged copy, not the host path"


@as_root
def test_a_volume_too_deep_to_hand_over_stops_the_boot_with_a_clear_reason(
    compute: ComputeService, root: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    inst = compute.create_instance("deep", image=IMAGE, instance_type="local.nano", wait=False)
    compute.stop_instance(inst)
    vol = compute.create_volume(1)
    (root / "compute" / "volumes" / vol.id / "a" / "b" / "c" / "d").mkdir(parents=True)
    compute.attach_volume(vol, inst, "/dev/sdf")
    monkeypatch.setattr(_guestfs, "MAX_DEPTH", 3)
    with pytest.raises(Conflict, match=rf"will not boot: volumes/{vol.id}/a/b/c is nested more than 3"):
        compute.start_instance(inst)
    assert compute.get_instance(inst).state == "stopped"
