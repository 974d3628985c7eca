"""The sandbox boundary: a hostile guest cannot make the host write, read, block on or delete host files.

Each test boots a real sandbox whose user data attacks one path the host touches: the boot script,
the boot markers, volume mount points, image capture, instances launched from a tampered image and
volume snapshots. The attacks point at canary files in the test's own folder, outside the local
root, and the tests check that the canaries are untouched, that no host call blocks, and that the
instance's state stays sane.
"""

from __future__ import annotations

import os
import shutil
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cloudkit.errors import CloudkitError, Conflict
from cloudkit.models.compute import Instance
from cloudkit.services.compute import ComputeService

pytestmark = [
    pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed"),
    pytest.mark.timeout(120),
]

IMAGE = "local:debian-host"
MARKERS = "/var/lib/cloud/instance"
#: Generous bound for a host call that must not block (they take milliseconds).
NO_HANG = 20.0


@pytest.fixture
def host(tmp_path: Path) -> Path:
    """A folder of host files the guest aims at (outside the local root)."""
    folder = tmp_path / "host"
    folder.mkdir()
    return folder


def wait_console(compute: ComputeService, inst: Instance | str, text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    while True:
        out = compute.get_console_output(inst)
        if text in out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared on the console:\n{out}")
        time.sleep(0.02)


def bounded(call: Callable[[], Any], seconds: float = NO_HANG) -> Any:
    """Run ``call`` in a thread; fail (instead of hanging the suite) if it has not returned in time."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:  # handed back to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"the host call blocked for more than {seconds:g}s"
    if "error" in box:
        raise box["error"]
    return box["value"]


def canary(host: Path, name: str = "canary", text: str = "host data\n") -> tuple[Path, bytes, int]:
    path = host / name
    path.write_text(text)
    path.chmod(0o600)
    return path, path.read_bytes(), stat.S_IMODE(path.stat().st_mode)


def untouched(path: Path, content: bytes, mode: int) -> None:
    assert path.read_bytes() == content, f"the host wrote {path}"
    assert stat.S_IMODE(path.stat().st_mode) == mode, f"the host changed the mode of {path}"


# ------------------------------------------------------------------ the boot script
def test_a_linked_boot_script_path_is_never_written_through(compute: ComputeService, host: Path) -> None:
    """The old boot script path linked to a host file, then a reboot: the host file is untouched."""
    target, content, mode = canary(host)
    script = f"""#!/bin/sh
mkdir -p /var/lib/cloud
rm -f /var/lib/cloud/boot.sh
ln -s {target} /var/lib/cloud/boot.sh
echo x >> /run/cloudkit/boot.sh 2>/dev/null && echo BOOT-WRITABLE || echo BOOT-READ-ONLY
echo PLANTED
"""
    inst = compute.create_instance("evil-boot", image=IMAGE, instance_type="local.nano", user_data=script)
    out = wait_console(compute, inst, "PLANTED")
    assert "BOOT-READ-ONLY" in out, "the boot script inside the sandbox is read-only"
    inst = bounded(lambda: compute.reboot_instance(inst, timeout=60))
    assert inst.state == "running"
    untouched(target, content, mode)
    inst = bounded(lambda: compute.stop_instance(inst))
    inst = bounded(lambda: compute.start_instance(inst, timeout=60))
    assert inst.state == "running"
    untouched(target, content, mode)


# ------------------------------------------------------------------ boot markers
#: User data that tampers only once the boot has finished (so the host has seen the instance
#: running): tampering earlier makes the boot itself never count as started, which is the point of
#: the protection but would stop ``create_instance`` from returning.
SWAP = """#!/bin/sh
( while [ ! -f {markers}/boot-finished ]; do sleep 0.05; done
  rm -rf {markers}/{marker}
  {plant}
  echo "TAMPERED $?" ) &
"""

ATTACKS = {
    # a link to a host file holding this boot's id: following it would read the host file
    "symlink": "ln -s {target} {markers}/{marker}",
    # a FIFO nobody writes: a plain read on the host blocks forever
    "fifo": "mkfifo {markers}/{marker}",
    "directory": "mkdir {markers}/{marker}",
    # a sparse file of 2 GiB: a plain read would load it all
    "huge": "truncate -s 2G {markers}/{marker}",
}


@pytest.mark.parametrize("kind", sorted(ATTACKS))
def test_a_tampered_boot_marker_never_blocks_or_leaks(compute: ComputeService, host: Path, kind: str) -> None:
    """The host reads a boot's progress from the console, never from the guest's marker files."""
    target = host / "not-this-boot"
    target.write_text("some other boot\n")  # what a followed link would read: "not finished"
    plant = ATTACKS[kind].format(target=target, markers=MARKERS, marker="boot-finished")
    inst = compute.create_instance("evil-marker", image=IMAGE, instance_type="local.nano",
                                   user_data=SWAP.format(markers=MARKERS, marker="boot-finished", plant=plant))
    out = wait_console(compute, inst, "TAMPERED")
    assert "TAMPERED 0" in out, out
    got = bounded(lambda: compute.get_instance(inst))
    assert got.state == "running"
    assert got.extra["boot_finished"] is True, "the boot finished; the guest's marker files do not decide it"
    listed = bounded(lambda: [i for i in compute.list_instances() if i.id == inst.id])
    assert listed[0].state == "running" and listed[0].extra["boot_finished"] is True
    assert target.read_text() == "some other boot\n"
    bounded(lambda: compute.terminate_instance(inst))


def test_a_linked_marker_folder_neither_misleads_nor_stalls_the_host(compute: ComputeService, host: Path) -> None:
    """The marker folder replaced by a link to a host folder of forged markers: the next boot runs normally."""
    host_markers = host / "markers"
    host_markers.mkdir()
    for name in ("boot-started", "boot-finished"):
        (host_markers / name).write_text("forged\n")
    plant = f"rm -rf {MARKERS}; ln -s {host_markers} {MARKERS}"
    inst = compute.create_instance("evil-started", image=IMAGE, instance_type="local.nano",
                                   user_data=SWAP.format(markers=MARKERS, marker="", plant=plant))
    wait_console(compute, inst, "TAMPERED 0")
    inst = bounded(lambda: compute.reboot_instance(inst, timeout=NO_HANG / 2))
    assert inst.state == "running"
    assert sorted(os.listdir(host_markers)) == ["boot-finished", "boot-started"]
    assert all((host_markers / name).read_text() == "forged\n" for name in os.listdir(host_markers))


# ------------------------------------------------------------------ volumes
def every_boot(command: str) -> str:
    """Cloud-config user data running ``command`` at every boot (bootcmd).

    The console logs each command's text before running it: output the tests wait for is computed
    (``$((1+1))``) so that the logged text never matches it.
    """
    return "#cloud-config\nbootcmd:\n  - |\n" + "".join(f"    {line}\n" for line in command.strip().splitlines())


def test_volume_mount_points_are_not_made_in_the_guest_tree(compute: ComputeService, root: Path, host: Path) -> None:
    user_data = every_boot(f"""
if [ -d /mnt/sdf ]; then echo hello > /mnt/sdf/proof && echo "VOLUME MOUNTED $((1+1))"; exit 0; fi
rm -rf /mnt 2>/dev/null; ln -sfn {host} /mnt 2>/dev/null
[ -L /mnt ] && echo "MNT LINKED $((1+1))" || echo "MNT IS NOT THE GUEST'S $((1+1))"
echo "PLANTED $((1+1))"
""")
    inst = compute.create_instance("evil-mnt", image=IMAGE, instance_type="local.nano", user_data=user_data)
    out = wait_console(compute, inst, "PLANTED 2")
    assert "MNT IS NOT THE GUEST'S 2" in out
    vol = compute.create_volume(1)
    compute.attach_volume(vol, inst, "/dev/sdf")
    inst = bounded(lambda: compute.reboot_instance(inst, timeout=60))
    wait_console(compute, inst, "VOLUME MOUNTED 2")
    assert os.listdir(host) == [], "the host made a mount point in a host folder the guest linked"
    assert (root / "compute" / "volumes" / vol.id / "proof").read_text() == "hello\n"


def test_a_volume_snapshot_of_a_hostile_volume_does_not_block(compute: ComputeService, root: Path, host: Path) -> None:
    target, content, mode = canary(host)
    user_data = every_boot(f"""
if [ -d /mnt/sdf ]; then mkfifo /mnt/sdf/pipe; ln -s {target} /mnt/sdf/link; echo data > /mnt/sdf/file; echo "PLANTED $((1+1))"; fi
""")
    inst = compute.create_instance("evil-vol", image=IMAGE, instance_type="local.nano", user_data=user_data)
    vol = compute.create_volume(1)
    compute.attach_volume(vol, inst, "/dev/sdf")  # takes effect at the next boot
    inst = compute.reboot_instance(inst, timeout=60)
    wait_console(compute, inst, "PLANTED 2")
    snap = bounded(lambda: compute.create_volume_snapshot(vol))
    copy = root / "compute" / "snapshots" / snap.id
    assert (copy / "file").read_text() == "data\n"
    assert os.readlink(copy / "link") == str(target), "links are copied as links"
    assert not (copy / "pipe").exists(), "FIFOs are not copied"
    restored = bounded(lambda: compute.create_volume(1, snapshot=snap))
    assert (root / "compute" / "volumes" / restored.id / "file").read_text() == "data\n"
    untouched(target, content, mode)


# ------------------------------------------------------------------ images
def test_capturing_a_hostile_instance_neither_blocks_nor_deletes_host_files(
    compute: ComputeService, root: Path, host: Path
) -> None:
    keep = host / "cloud" / "instance" / "keep"
    keep.parent.mkdir(parents=True)
    keep.write_text("keep me\n")
    plant = f"mkfifo /root/pipe; mkdir -p /var/evil && mv /var/lib /var/evil/lib && ln -s {host} /var/lib"
    inst = compute.create_instance("evil-image", image=IMAGE, instance_type="local.nano",
                                   user_data=SWAP.format(markers=MARKERS, marker="", plant=plant))
    wait_console(compute, inst, "TAMPERED 0")
    image = bounded(lambda: compute.create_image(inst, "evil-image"))
    assert keep.read_text() == "keep me\n", "capturing the image deleted a host folder through the guest's link"
    captured = root / "compute" / "images" / image.id
    assert os.readlink(captured / "var" / "lib") == str(host)
    assert not (captured / "root" / "pipe").exists()
    # An instance of that image would boot on a tree whose /var/lib is a link: refused, with the reason.
    with pytest.raises(Conflict, match="/var/lib"):
        compute.create_instance("from-evil", image=image, instance_type="local.nano")
    assert keep.read_text() == "keep me\n"
    assert [i.name for i in compute.list_instances() if i.state != "terminated"] == ["evil-image"]


def test_an_image_with_planted_links_is_never_written_through(compute: ComputeService, host: Path) -> None:
    hostname, h_content, h_mode = canary(host, "hostname")
    passwd, p_content, p_mode = canary(host, "passwd")
    ssh = host / "ssh"
    ssh.mkdir()
    script = f"""#!/bin/sh
rm -f /etc/hostname /etc/passwd /etc/resolv.conf && ln -s {hostname} /etc/hostname && ln -s {passwd} /etc/passwd
ln -s {host}/resolv /etc/resolv.conf
rm -rf /root/.ssh && ln -s {ssh} /root/.ssh
rm -rf /etc/ssl && ln -s {host} /etc/ssl
echo PLANTED
"""
    inst = compute.create_instance("evil-links", image=IMAGE, instance_type="local.nano", user_data=script)
    wait_console(compute, inst, "PLANTED")
    image = compute.create_image(inst, "evil-links")
    key = compute.create_key_pair("k1")
    try:
        child = bounded(lambda: compute.create_instance("child", image=image, instance_type="local.nano", key_pair=key,
                                                        user_data="#!/bin/sh\ncat /etc/hostname\n"))
    except Conflict as exc:  # refusing is allowed, as long as the reason is clear and nothing leaked
        assert "symbolic link" in str(exc) or "plain folder" in str(exc)
    else:
        out = wait_console(compute, child, "Cloud-init finished")
        assert "child" in out
    untouched(hostname, h_content, h_mode)
    untouched(passwd, p_content, p_mode)
    assert os.listdir(ssh) == [], "authorized_keys was written through the guest's link"
    assert sorted(os.listdir(host)) == ["hostname", "passwd", "ssh"], "the host created files in a linked folder"


def test_every_refusal_is_a_cloudkit_error(compute: ComputeService, host: Path) -> None:
    """A tampered instance that cannot boot says so with a cloudkit error, not an OSError."""
    plant = f"rm -rf /var/lib && ln -s {host} /var/lib"
    inst = compute.create_instance("evil-err", image=IMAGE, instance_type="local.nano",
                                   user_data=SWAP.format(markers=MARKERS, marker="", plant=plant))
    wait_console(compute, inst, "TAMPERED 0")
    image = compute.create_image(inst, "evil-err")
    with pytest.raises(CloudkitError) as info:
        compute.create_instance("from-evil-err", image=image, instance_type="local.nano")
    assert not isinstance(info.value, OSError)
