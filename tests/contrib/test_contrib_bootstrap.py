"""Bootstrap user data on the local provider: YAML, presigned URLs, the fetch script run for real, a booted instance."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import attrs
import pytest
import yaml
from cloudkit_contrib.bootstrap import Bootstrap, BucketKey, FileSpec, launch_bootstrapped, prepare_bootstrap

import cloudkit
from cloudkit.errors import InvalidInput, NotFound, NotSupported
from cloudkit.models import SecurityRule

HAS_FETCHER = bool(shutil.which("curl") or shutil.which("wget"))
SCRIPT = b"""#!/bin/sh
set -eu
echo "bootstrap ran in $(pwd) with [$1] [$2]" > "$OUT/ran.txt"
cat "$CONF" >> "$OUT/ran.txt"
"""


def run_user_data(text: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["/bin/sh", "-c", text], capture_output=True, text=True, timeout=60, env={**os.environ, **env})


@pytest.fixture
def local_files(tmp_path: Path) -> Path:
    folder = tmp_path / "payload"
    folder.mkdir()
    (folder / "setup.sh").write_bytes(SCRIPT)
    (folder / "client.rb").write_bytes(b"log_level :info\nchef_server_url 'https://chef.example.com'\n")
    return folder


def test_cloud_config_is_yaml_and_its_urls_serve_the_hashed_bytes(cloud: cloudkit.Cloud, local_files: Path) -> None:
    cloud.storage.put_object("vault", "shared/validation.pem", b"-----BEGIN KEY-----\nabc\n-----END KEY-----\n")
    boot = prepare_bootstrap(
        cloud, "vault", local_files / "setup.sh",
        files={
            "/etc/chef/client.rb": local_files / "client.rb",
            "/etc/chef/validation.pem": FileSpec(BucketKey("shared/validation.pem"), mode=0o600),
            "/etc/chef/first-boot.json": b'{"run_list": ["role[web]"]}',
        },
        args=["--role", "web server"],
        expires_in=900,
    )
    assert boot.expires_at - datetime.now(UTC) <= timedelta(seconds=900)
    text = boot.cloud_config()
    assert text.startswith("#cloud-config\n")
    doc = yaml.safe_load(text)
    assert set(doc) == {"write_files", "runcmd"}
    (entry,) = doc["write_files"]
    assert entry["path"] == "/var/lib/cloudkit-bootstrap/fetch.sh" and entry["permissions"] == "0700"
    assert entry["content"] == boot.shell_script()
    assert doc["runcmd"] == [["/bin/sh", "/var/lib/cloudkit-bootstrap/fetch.sh"]]
    assert boot.user_data("shell").startswith("#!/bin/sh\n")

    sources = {
        "/var/lib/cloudkit-bootstrap/bootstrap": SCRIPT,
        "/etc/chef/client.rb": (local_files / "client.rb").read_bytes(),
        "/etc/chef/validation.pem": b"-----BEGIN KEY-----\nabc\n-----END KEY-----\n",
        "/etc/chef/first-boot.json": b'{"run_list": ["role[web]"]}',
    }
    for f in (boot.script, *boot.files):
        with urllib.request.urlopen(f.url, timeout=10) as resp:
            data = resp.read()
        assert data == sources[f.path]
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size
        assert f.url in text, "every URL is in the user data"
        assert f"{f.sha256}" in text
    assert {f.path: f.mode for f in boot.files}["/etc/chef/validation.pem"] == 0o600
    assert boot.files[0].key.startswith(f"bootstrap/{boot.files[0].sha256}/"), "uploads are content-addressed"
    assert boot.files[1].key == "shared/validation.pem", "existing objects are used where they are"


def test_urls_stay_out_of_reprs(cloud: cloudkit.Cloud, local_files: Path) -> None:
    boot = prepare_bootstrap(cloud, "vault", local_files / "setup.sh", files={"/etc/x.conf": b"x"})
    shown = repr(boot) + repr(boot.files) + str(boot)
    for f in (boot.script, *boot.files):
        assert f.url not in shown
    assert "signature" not in shown


@pytest.mark.skipif(not HAS_FETCHER, reason="neither curl nor wget is installed")
@pytest.mark.parametrize("format", ["shell", "cloud-config"])
def test_fetch_script_installs_verified_files_and_runs_the_script(cloud: cloudkit.Cloud, local_files: Path, tmp_path: Path,
                                                                   format: str) -> None:
    target = tmp_path / "instance"
    conf = target / "etc" / "chef" / "client.rb"
    boot = prepare_bootstrap(
        cloud, "vault", local_files / "setup.sh",
        files={str(conf): local_files / "client.rb", str(target / "etc" / "secret.pem"): FileSpec(b"s3cr3t", mode=0o600)},
        args=["one", "two words"],
        workdir=str(target / "work"),
    )
    if format == "shell":
        script = boot.shell_script()
    else:
        # Do what cloud-init does with the cloud-config: write the file, then run the command.
        doc = yaml.safe_load(boot.cloud_config())
        entry = doc["write_files"][0]
        Path(entry["path"]).parent.mkdir(parents=True)
        Path(entry["path"]).write_text(entry["content"])
        script = " ".join(doc["runcmd"][0])
    proc = run_user_data(script, {"OUT": str(tmp_path), "CONF": str(conf)})
    assert proc.returncode == 0, proc.stderr
    assert conf.read_bytes() == (local_files / "client.rb").read_bytes()
    assert (target / "etc" / "secret.pem").stat().st_mode & 0o777 == 0o600
    assert (target / "work" / "bootstrap").stat().st_mode & 0o777 == 0o700
    ran = (tmp_path / "ran.txt").read_text()
    assert ran.startswith(f"bootstrap ran in {target / 'work'} with [one] [two words]\n")
    assert ran.endswith((local_files / "client.rb").read_text())
    assert not list(target.rglob("*.part")), "no partial downloads are left behind"


@pytest.mark.skipif(not HAS_FETCHER, reason="neither curl nor wget is installed")
def test_a_changed_object_is_refused_and_the_script_never_runs(cloud: cloudkit.Cloud, local_files: Path, tmp_path: Path) -> None:
    conf = tmp_path / "instance" / "client.rb"
    boot = prepare_bootstrap(cloud, "vault", local_files / "setup.sh", files={str(conf): local_files / "client.rb"},
                             workdir=str(tmp_path / "work"))
    cloud.storage.put_object("vault", boot.files[0].key, b"chef_server_url 'https://evil.example'\n")
    proc = run_user_data(boot.shell_script(), {"OUT": str(tmp_path), "CONF": str(conf)})
    assert proc.returncode != 0
    assert "SHA-256 mismatch" in proc.stderr
    assert boot.files[0].url not in proc.stderr + proc.stdout, "URLs never reach the console"
    assert not conf.exists() and not (conf.parent / "client.rb.part").exists()
    assert not (tmp_path / "ran.txt").exists()


@pytest.mark.skipif(not HAS_FETCHER, reason="neither curl nor wget is installed")
def test_an_existing_script_without_shebang_runs_through_sh(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    cloud.storage.put_object("vault", "scripts/plain", b'echo "plain ran" > "$OUT/ran.txt"\n')
    boot = prepare_bootstrap(cloud, "vault", BucketKey("scripts/plain"), workdir=str(tmp_path / "work"))
    assert boot.shebang is False and boot.script.key == "scripts/plain"
    proc = run_user_data(boot.shell_script(), {"OUT": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "ran.txt").read_text() == "plain ran\n"


def test_bad_arguments_are_refused_before_anything_is_uploaded(cloud: cloudkit.Cloud, local_files: Path) -> None:
    script = local_files / "setup.sh"
    for call, field in [
        (lambda: prepare_bootstrap(cloud, "vault", str(script)), "script"),
        (lambda: prepare_bootstrap(cloud, "vault", local_files / "missing.sh"), "script"),
        (lambda: prepare_bootstrap(cloud, "vault", script, files={"etc/relative": b"x"}), "files"),
        (lambda: prepare_bootstrap(cloud, "vault", script, files={"/etc/../x": b"x"}), "files"),
        (lambda: prepare_bootstrap(cloud, "vault", script, files={"/etc/x\n": b"x"}), "files"),
        (lambda: prepare_bootstrap(cloud, "vault", script, files={"/etc/x": FileSpec(b"x", mode=0o17777)}), "files['/etc/x'].mode"),
        (lambda: prepare_bootstrap(cloud, "vault", script, files={"/var/lib/cloudkit-bootstrap/fetch.sh": b"x"}),
         "files['/var/lib/cloudkit-bootstrap/fetch.sh']"),
        (lambda: prepare_bootstrap(cloud, "vault", script, files={"/etc/a": b"x", "/etc//a": b"y"}), "files"),
        (lambda: prepare_bootstrap(cloud, "vault", script, expires_in=0), "expires_in"),
        (lambda: prepare_bootstrap(cloud, "vault", script, expires_in=8 * 86400), "expires_in"),
        (lambda: prepare_bootstrap(cloud, "vault", script, args="--role web"), "args"),
        (lambda: prepare_bootstrap(cloud, "vault", script, prefix="boot"), "prefix"),
        (lambda: prepare_bootstrap(cloud, "Vault!", script), "bucket"),
    ]:
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.field == field, err.value
    assert list(cloud.storage.list_objects("vault")) == []
    with pytest.raises(NotFound):
        prepare_bootstrap(cloud, "vault", BucketKey("no/such/key"))
    with pytest.raises(NotSupported, match="presign_url"):
        prepare_bootstrap(cloudkit.StorageService("bare", {}), "vault", script)


def test_launch_refuses_an_expired_bootstrap_and_bad_formats(cloud: cloudkit.Cloud, local_files: Path) -> None:
    boot = prepare_bootstrap(cloud, "vault", local_files / "setup.sh")
    stale = attrs.evolve(boot, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert stale.expired() and not boot.expired()
    with pytest.raises(InvalidInput, match="expired"):
        launch_bootstrapped(cloud, "web-1", stale, image="local:debian-host", instance_type="local.nano")
    with pytest.raises(InvalidInput) as err:
        launch_bootstrapped(cloud, "web-1", boot, image="local:debian-host", instance_type="local.nano", format="ps1")
    assert err.value.field == "format"
    with pytest.raises(InvalidInput) as err:
        launch_bootstrapped(cloud, "web-1", boot, image="local:debian-host", instance_type="local.nano", user_data="x")
    assert err.value.field == "user_data"
    with pytest.raises(NotSupported, match="create_instance"):
        launch_bootstrapped(cloudkit.ComputeService("bare", {}), "web-1", boot, image="img", instance_type="t")
    assert list(cloud.compute.list_instances()) == []
    assert isinstance(boot, Bootstrap)


@pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed")
@pytest.mark.skipif(not HAS_FETCHER, reason="neither curl nor wget is installed")
def test_a_local_instance_bootstraps_itself_from_the_bucket(cloud: cloudkit.Cloud, local_files: Path) -> None:
    script = b"""#!/bin/sh
echo "proof: $(cat /etc/chef/client.rb | head -n 1) / $(stat -c %a /etc/chef/validation.pem) / $1"
"""
    boot = prepare_bootstrap(cloud, "vault", script,
                             files={"/etc/chef/client.rb": local_files / "client.rb",
                                    "/etc/chef/validation.pem": FileSpec(b"pem", mode=0o600)},
                             args=["role-web"], expires_in=300)
    # The instance reaches the bucket's presigned URLs on 127.0.0.1 only with the host network,
    # which the local provider gives instances whose security group opens a port.
    group = cloud.compute.create_security_group("web", description="bootstrap test", rules=[SecurityRule("tcp", 8080)])
    inst = launch_bootstrapped(cloud, "boot-1", boot, image="local:debian-host", instance_type="local.small",
                               security_groups=[group])
    try:
        deadline = time.monotonic() + 30
        while "proof:" not in (out := cloud.compute.get_console_output(inst)):
            assert time.monotonic() < deadline, out
            time.sleep(0.1)
        assert "proof: log_level :info / 600 / role-web" in out
    finally:
        cloud.compute.terminate_instance(inst)
