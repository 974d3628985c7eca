"""Local instances are real bubblewrap sandboxes: user data runs inside them, with their limits."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_local import _sandbox

import cloudkit
from cloudkit.errors import InvalidInput, NotSupported
from cloudkit.models.compute import Instance, SecurityRule
from cloudkit.services.compute import ComputeService

pytestmark = pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed")

IMAGE = "local:debian-host"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def cloud(root: Path) -> Iterator[cloudkit.Cloud]:
    cloud = cloudkit.connect("local", root=str(root))
    yield cloud
    compute = cloudkit.connect("local", root=str(root)).compute
    for inst in compute.list_instances():
        if inst.state != "terminated":
            compute.terminate_instance(inst)
    compute.close()
    cloud.close()


@pytest.fixture
def compute(cloud: cloudkit.Cloud) -> ComputeService:
    return cloud.compute


def rootfs(root: Path, inst: Instance) -> Path:
    return root / "compute" / "instances" / inst.id / "rootfs"


def wait_console(compute: ComputeService, inst: Instance, text: str, timeout: float = 15) -> str:
    deadline = time.monotonic() + timeout
    while True:
        out = compute.get_console_output(inst)
        if text in out:
            return out
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared on the console:\n{out}")
        time.sleep(0.02)


def test_boot_script_runs_inside_the_sandbox(compute: ComputeService, root: Path) -> None:
    script = """#!/bin/sh
echo "proof from $(hostname) pid $$" > /root/proof.txt
echo "console says hello"
ls /home | wc -l > /root/home-count.txt
grep -c : /proc/net/dev > /root/net-count.txt
touch /usr/should-fail 2>/dev/null && echo usr-writable || echo usr-read-only
mount -t tmpfs none /mnt 2>/dev/null && echo mount-allowed || echo mount-denied
mount -o remount,bind,rw /usr 2>/dev/null && echo remount-allowed || echo remount-denied
ulimit -v
"""
    inst = compute.create_instance("box-1", image=IMAGE, instance_type="local.nano", user_data=script)
    assert inst.state == "running"
    out = wait_console(compute, inst, "Cloud-init finished")
    assert "console says hello" in out
    assert "usr-read-only" in out, "the host's /usr is bound read-only"
    assert "mount-denied" in out and "remount-denied" in out, "no mount capability inside the sandbox"
    assert str(256 * 1024) in out, "the nano type's memory limit is the address-space rlimit (KiB)"
    files = rootfs(root, inst) / "root"
    proof = (files / "proof.txt").read_text()
    assert proof.startswith("proof from box-1 pid "), "the host name is the instance name"
    assert int(proof.split()[-1]) < 10, "the sandbox has its own PID namespace"
    assert (files / "home-count.txt").read_text().strip() == "0", "the sandbox's /home is private and empty"
    assert (files / "net-count.txt").read_text().strip() == "1", "only a loopback device: its own network namespace"
    assert not Path("/usr/should-fail").exists()
    assert compute.get_instance(inst).extra["boot_finished"] is True


def test_cloud_config_write_files_runcmd_bootcmd(compute: ComputeService, root: Path) -> None:
    user_data = """#cloud-config
bootcmd:
  - echo booted >> /var/log/boots.log
write_files:
  - path: /etc/app/config.ini
    content: |
      [app]
      colour = blue
    permissions: '0600'
  - path: /opt/data.bin
    encoding: b64
    content: aGVsbG8gd29ybGQ=
runcmd:
  - [sh, -c, "cat /etc/app/config.ini > /root/seen.txt"]
  - echo runcmd-done
"""
    inst = compute.create_instance("cfg-1", image=IMAGE, instance_type="local.micro", user_data=user_data)
    wait_console(compute, inst, "Cloud-init finished")
    fs = rootfs(root, inst)
    assert (fs / "etc/app/config.ini").read_text() == "[app]\ncolour = blue\n"
    assert (fs / "etc/app/config.ini").stat().st_mode & 0o777 == 0o600
    assert (fs / "opt/data.bin").read_bytes() == b"hello world"
    assert (fs / "root/seen.txt").read_text() == "[app]\ncolour = blue\n"
    assert "runcmd-done" in compute.get_console_output(inst)
    # bootcmd runs at every boot; write_files and runcmd only at the first.
    (fs / "root/seen.txt").unlink()
    compute.reboot_instance(inst)
    deadline = time.monotonic() + 10
    while (fs / "var/log/boots.log").read_text().count("booted") < 2:
        assert time.monotonic() < deadline, "bootcmd did not run on the second boot"
        time.sleep(0.02)
    assert not (fs / "root/seen.txt").exists(), "runcmd runs once per instance"


def test_unsupported_cloud_config_is_rejected_before_anything_starts(compute: ComputeService, root: Path) -> None:
    with pytest.raises(InvalidInput) as info:
        compute.create_instance("bad-1", image=IMAGE, instance_type="local.nano",
                                user_data="#cloud-config\npackages:\n  - nginx\n")
    assert "packages" in str(info.value) and info.value.field == "user_data.packages"
    with pytest.raises(InvalidInput, match="#!"):
        compute.create_instance("bad-2", image=IMAGE, instance_type="local.nano", user_data="just some text")
    with pytest.raises(InvalidInput, match="write_files"):
        compute.create_instance("bad-3", image=IMAGE, instance_type="local.nano",
                                user_data="#cloud-config\nwrite_files:\n  - path: relative/path\n")
    with pytest.raises(InvalidInput, match="instance_type"):
        compute.create_instance("bad-4", image=IMAGE, instance_type="t2.micro")
    assert list(compute.list_instances()) == []
    assert list((root / "compute" / "instances").iterdir()) == []


def test_stop_keeps_the_root_folder_and_terminate_removes_it(compute: ComputeService, root: Path) -> None:
    inst = compute.create_instance("keep-1", image=IMAGE, instance_type="local.nano",
                                   user_data="#!/bin/sh\necho kept > /srv/state.txt\n")
    wait_console(compute, inst, "Cloud-init finished")
    assert compute.stop_instance(inst).state == "stopped"
    assert (rootfs(root, inst) / "srv/state.txt").read_text() == "kept\n"
    assert compute.start_instance(inst).state == "running"
    assert (rootfs(root, inst) / "srv/state.txt").read_text() == "kept\n"
    assert compute.terminate_instance(inst).state == "terminated"
    assert not rootfs(root, inst).exists()


def test_instances_outlive_the_service_and_a_crash_shows_as_stopped(root: Path, compute: ComputeService) -> None:
    inst = compute.create_instance("live-1", image=IMAGE, instance_type="local.nano")
    compute.close()
    with cloudkit.connect("local", root=str(root)) as again:
        running = again.compute.get_instance(inst.id)
        assert running.state == "running", "closing the service does not stop instances"
        pid = running.extra["pid"]
        os.killpg(pid, signal.SIGKILL)  # the sandbox dies behind cloudkit's back
        deadline = time.monotonic() + 5
        while again.compute.get_instance(inst.id).state != "stopped":
            assert time.monotonic() < deadline, "a dead sandbox must show as stopped"
            time.sleep(0.02)
    with cloudkit.connect("local", root=str(root)) as third:
        assert third.compute.get_instance(inst.id).state == "stopped"
        assert third.compute.start_instance(inst.id).state == "running"
        third.compute.terminate_instance(inst.id)


def test_key_pair_is_installed_and_private_key_returned_once(compute: ComputeService, root: Path) -> None:
    kp = compute.create_key_pair("deploy")
    assert kp.private_key is not None and kp.private_key.startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert kp.fingerprint is not None and kp.fingerprint.startswith("SHA256:")
    assert all(k.private_key is None for k in compute.list_key_pairs())
    inst = compute.create_instance("ssh-1", image=IMAGE, instance_type="local.nano", key_pair="deploy")
    assert inst.key_pair == "deploy"
    keys = (rootfs(root, inst) / "root/.ssh/authorized_keys").read_text()
    assert kp.public_key is not None and kp.public_key in keys


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.skipif(not Path("/usr/bin/python3").exists(), reason="the sandbox serves with the host's /usr/bin/python3")
def test_security_group_opening_a_port_shares_the_network(compute: ComputeService) -> None:
    port = _free_port()
    group = compute.create_security_group("web", description="http", rules=[SecurityRule("tcp", port)])
    inst = compute.create_instance(
        "web-1", image=IMAGE, instance_type="local.small", security_groups=[group],
        user_data=f"#!/bin/sh\necho served-from-sandbox > /srv/index.html\ncd /srv && exec python3 -m http.server {port} "
                  "--bind 127.0.0.1\n",
    )
    assert inst.extra["network"] == "host"
    deadline = time.monotonic() + 15
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/index.html", timeout=2) as resp:
                assert resp.read() == b"served-from-sandbox\n"
                break
        except OSError:
            assert time.monotonic() < deadline, compute.get_console_output(inst)
            time.sleep(0.05)


def test_volume_is_bound_at_boot_and_snapshots_copy_it(compute: ComputeService, root: Path) -> None:
    user_data = "#cloud-config\nbootcmd:\n  - if [ -d /mnt/sdf ]; then echo on-the-volume > /mnt/sdf/file.txt; fi\n"
    inst = compute.create_instance("vol-1", image=IMAGE, instance_type="local.nano", user_data=user_data)
    vol = compute.create_volume(1, name="data")
    data = root / "compute" / "volumes" / vol.id / "file.txt"
    compute.stop_instance(inst)
    attached = compute.attach_volume(vol, inst, "/dev/sdf")
    assert attached.state == "in-use" and attached.extra["mount_point"] == "/mnt/sdf"
    compute.start_instance(inst)
    wait_console(compute, inst, "Cloud-init finished (boot " + str(compute.get_instance(inst).extra["boot_id"]))
    assert data.read_text() == "on-the-volume\n", "the volume is bind-mounted at /mnt/sdf at boot"
    compute.stop_instance(inst)
    compute.detach_volume(vol)
    snap = compute.create_volume_snapshot(vol, description="with file")
    copy = compute.create_volume(1, snapshot=snap)
    copied = root / "compute" / "volumes" / copy.id / "file.txt"
    assert copied.read_text() == "on-the-volume\n"
    data.write_text("changed")
    assert copied.read_text() == "on-the-volume\n", "a snapshot is a copy"
    with pytest.raises(InvalidInput, match="size_gb"):
        compute.create_volume(0, snapshot=snap)


def test_image_from_an_instance_carries_its_files(compute: ComputeService, root: Path) -> None:
    base = compute.create_instance("img-1", image=IMAGE, instance_type="local.nano",
                                   user_data="#!/bin/sh\necho baked > /opt/baked.txt\n")
    wait_console(compute, base, "Cloud-init finished")
    image = compute.create_image(base, "baked")
    assert image.id in {i.id for i in compute.list_images(name="bak*")}
    child = compute.create_instance("img-2", image=image, instance_type="local.nano",
                                    user_data="#!/bin/sh\ncat /opt/baked.txt\n")
    out = wait_console(compute, child, "Cloud-init finished")
    assert "baked" in out
    assert (rootfs(root, child) / "etc/hostname").read_text() == "img-2\n"


def test_missing_bubblewrap_names_the_package(compute: ComputeService, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit_local import _sandbox

    monkeypatch.setattr(_sandbox.shutil, "which", lambda name: None)
    monkeypatch.setattr(_sandbox.os, "access", lambda path, mode: False)
    with pytest.raises(NotSupported, match="bubblewrap"):
        compute.create_instance("nobwrap", image=IMAGE, instance_type="local.nano")
    assert list(compute.list_instances()) == []


def test_stop_is_a_graceful_shutdown(compute: ComputeService, root: Path) -> None:
    script = """#!/bin/sh
trap 'echo got-sigterm > /root/shutdown.txt; exit 0' TERM
echo waiting-for-shutdown
while :; do sleep 0.05; done
"""
    inst = compute.create_instance("grace-1", image=IMAGE, instance_type="local.nano", user_data=script)
    wait_console(compute, inst, "waiting-for-shutdown")
    assert compute.stop_instance(inst).state == "stopped"
    assert (rootfs(root, inst) / "root/shutdown.txt").read_text() == "got-sigterm\n"
    assert "sandbox exited with status" in compute.get_console_output(inst)


def test_kill_leaves_nothing_of_the_process_group_when_the_leader_goes_first() -> None:
    """A group member that ignores SIGTERM (as a pid namespace's first process does) outlives the
    supervisor; kill() must not return with it still running."""
    proc = subprocess.Popen(["/bin/sh", "-c", "(trap '' TERM; exec sleep 120) & echo $!; wait"],
                            stdout=subprocess.PIPE, start_new_session=True, text=True)
    assert proc.stdout is not None
    child = int(proc.stdout.readline())
    started = _sandbox.start_time(proc.pid)
    assert started is not None and _sandbox.start_time(child) is not None
    try:
        deadline = time.monotonic() + 10  # until the member runs sleep with SIGTERM ignored
        while not (Path(f"/proc/{child}/cmdline").read_bytes().startswith(b"sleep")
                   and int(Path(f"/proc/{child}/status").read_text().split("SigIgn:")[1].split()[0], 16)
                   & (1 << (signal.SIGTERM - 1))):
            assert time.monotonic() < deadline
            time.sleep(0.01)
        _sandbox.kill(proc.pid, started, grace=5)
        proc.wait(timeout=10)
        deadline = time.monotonic() + 10
        while _sandbox.start_time(child) is not None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert _sandbox.start_time(child) is None, "a member of the sandbox's process group survived kill()"
    finally:
        if _sandbox.start_time(child) is not None:
            os.kill(child, signal.SIGKILL)
