"""Puppet and Chef bootstrap recipes: cloud-init schema, the runner scripts run for real, local instances."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cloudkit_contrib.bootstrap import BucketKey, chef_user_data, puppet_user_data

import cloudkit
from cloudkit.errors import InvalidInput, NotFound, NotSupported
from cloudkit.models import SecurityRule

HAS_FETCHER = bool(shutil.which("curl") or shutil.which("wget"))
needs_bwrap = pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed")
needs_fetcher = pytest.mark.skipif(not HAS_FETCHER, reason="neither curl nor wget is installed")

KEY = b"-----BEGIN RSA PRIVATE KEY-----\nvalidator\n-----END RSA PRIVATE KEY-----\n"

#: A stand-in Puppet agent: prints its arguments and the configuration it finds in --confdir.
PUPPET_STANDIN = """#!/bin/sh
echo "standin-puppet args: $*"
confdir=""
while [ $# -gt 0 ]; do
  case "$1" in --confdir) confdir=$2; shift ;; esac
  shift
done
echo "--- puppet.conf"
cat "$confdir/puppet.conf"
echo "--- csr_attributes.yaml $(stat -c %a "$confdir/csr_attributes.yaml")"
cat "$confdir/csr_attributes.yaml"
echo "--- end"
"""

#: A stand-in chef-client: prints its arguments, the files it was given and the key's hash and
#: mode, then registers (writes client.pem next to client.rb).
CHEF_STANDIN = """#!/bin/sh
echo "standin-chef args: $*"
conf=$2
dir=$(dirname "$conf")
echo "--- client.rb"
cat "$conf"
echo "--- first-boot.json"
cat "$4"
echo "--- validation.pem $(stat -c %a "$dir/validation.pem") $(sha256sum "$dir/validation.pem" | cut -d ' ' -f 1)"
echo "client key" > "$dir/client.pem"
echo "--- end"
"""


def realize(text: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Do what cloud-init does with the recipe's cloud-config: write the files, then run runcmd."""
    doc = yaml.safe_load(text)
    assert set(doc) == {"write_files", "runcmd"}
    for entry in doc["write_files"]:
        path = Path(entry["path"])
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(entry["content"])
        path.chmod(int(entry["permissions"], 8))
    (cmd,) = doc["runcmd"]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


def standin(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    path.chmod(0o755)
    return path


def with_extra(text: str, files: list[dict[str, str]], runcmd: list[Any] = ()) -> str:  # type: ignore[assignment]
    """The recipe's cloud-config with extra write_files entries first and extra runcmd entries last."""
    doc = yaml.safe_load(text)
    doc["write_files"] = files + doc["write_files"]
    doc["runcmd"] = doc["runcmd"] + list(runcmd)
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False)


def wait_console(cloud: cloudkit.Cloud, inst: object, marker: str) -> str:
    deadline = time.monotonic() + 60
    while marker not in (out := cloud.compute.get_console_output(inst)):
        assert time.monotonic() < deadline, out
        time.sleep(0.2)
    return out


# --------------------------------------------------------------------------- schema and content


def _variants(cloud: cloudkit.Cloud) -> list[str]:
    cloud.storage.put_object("vault", "keys/acme-validator.pem", KEY)
    return [
        puppet_user_data(server="puppet.example.com"),
        puppet_user_data(server="10.0.0.5", certname="web-1.example.com", environment="production",
                         extension_requests={"pp_role": "web", "1.3.6.1.4.1.34380.1.2.1": "x: 'y'"},
                         custom_attributes={"challengePassword": "autosign \"me\""}, server_port=8141,
                         ca_server="ca.example.com", service=True),
        puppet_user_data(server="puppet.example.com", install="script", installer_url="https://example.com/install.sh",
                         installer_sha256="0" * 64, installer_args=["-v", "8"]),
        chef_user_data(cloud, "vault", BucketKey("keys/acme-validator.pem"),
                       server_url="https://chef.example.com/organizations/acme", run_list=["role[web]"]),
        chef_user_data(cloud, "vault", b"uploaded key", server_url="https://chef.example.com", validation_client_name="v",
                       node_name="web-1", environment="prod", first_boot={"nginx": {"port": 80}}, accept_license=True,
                       install="package", installer_url=None),
    ]


@pytest.mark.skipif(not shutil.which("cloud-init"), reason="cloud-init (Debian package 'cloud-init') is not installed")
def test_every_recipe_passes_cloud_init_schema(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    for i, text in enumerate(_variants(cloud)):
        path = tmp_path / f"user-data-{i}"
        path.write_text(text)
        proc = subprocess.run(["cloud-init", "schema", "--config-file", str(path)], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, (text, proc.stdout, proc.stderr)
        assert "Valid cloud-config" in proc.stdout
    bad = tmp_path / "bad"
    bad.write_text("#cloud-config\nwrite_files: 3\n")
    proc = subprocess.run(["cloud-init", "schema", "--config-file", str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0, "the schema check can fail"


def test_recipes_use_only_keys_the_local_cloud_init_runs(cloud: cloudkit.Cloud) -> None:
    for text in _variants(cloud):
        doc = yaml.safe_load(text)
        assert set(doc) == {"write_files", "runcmd"}
        assert len(doc["runcmd"]) == 1 and doc["runcmd"][0][0] == "/bin/sh"
        assert len(text.encode()) < 16384


def test_puppet_configuration_files(tmp_path: Path) -> None:
    text = puppet_user_data(server="Puppet.Example.com", certname="web-1.example.com", environment="production",
                            extension_requests={"pp_role": "web"}, custom_attributes={"challengePassword": "a: 'b' \"c\""},
                            server_port=8141, ca_server="ca.example.com")
    files = {e["path"]: e for e in yaml.safe_load(text)["write_files"]}
    conf = files["/etc/puppetlabs/puppet/puppet.conf"]["content"]
    assert conf.splitlines()[1:] == ["[main]", "server = puppet.example.com", "serverport = 8141", "ca_server = ca.example.com",
                                     "certname = web-1.example.com", "", "[agent]", "environment = production"]
    csr = files["/etc/puppetlabs/puppet/csr_attributes.yaml"]
    assert csr["permissions"] == "0640", "the challenge password is not world-readable"
    assert yaml.safe_load(csr["content"]) == {"custom_attributes": {"challengePassword": "a: 'b' \"c\""},
                                              "extension_requests": {"pp_role": "web"}}
    plain = {e["path"] for e in yaml.safe_load(puppet_user_data(server="p.example.com"))["write_files"]}
    assert plain == {"/etc/puppetlabs/puppet/puppet.conf", "/var/lib/cloudkit-bootstrap/puppet-bootstrap.sh"}


# --------------------------------------------------------------------------- runner scripts run for real


def test_puppet_runner_calls_the_agent_with_its_configuration(tmp_path: Path) -> None:
    agent = standin(tmp_path / "bin", "puppet", PUPPET_STANDIN)
    confdir = tmp_path / "etc" / "puppet"
    text = puppet_user_data(server="puppet.example.com", certname="web-1", environment="staging",
                            extension_requests={"pp_role": "web"}, waitforcert=30, install="none", agent=str(agent),
                            confdir=str(confdir), workdir=str(tmp_path / "work"))
    proc = realize(text)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == (f"standin-puppet args: agent --confdir {confdir} --onetime --no-daemonize --verbose --no-splay "
                        "--no-usecacheonfailure --waitforcert 30")
    assert "server = puppet.example.com" in lines and "certname = web-1" in lines and "environment = staging" in lines
    assert "--- csr_attributes.yaml 640" in lines and '  "pp_role": "web"' in lines


def test_puppet_install_none_fails_clearly_when_the_agent_is_missing(tmp_path: Path) -> None:
    text = puppet_user_data(server="puppet.example.com", install="none", agent=str(tmp_path / "no-such-agent"),
                            confdir=str(tmp_path / "etc"), workdir=str(tmp_path / "work"))
    proc = realize(text)
    assert proc.returncode != 0
    assert "no-such-agent is not installed (install='none')" in proc.stderr


def test_package_install_runs_the_package_manager_when_the_agent_is_missing(tmp_path: Path) -> None:
    fake = tmp_path / "fakebin"
    agent_text = PUPPET_STANDIN.replace("standin-puppet", "installed-puppet")
    standin(fake, "apt-get", f"""#!/bin/sh
echo "apt-get $*" >> {tmp_path}/apt.log
if [ "$1" = install ]; then
  cat > {fake}/ck-standin-puppet <<'AGENT'
{agent_text}AGENT
  chmod 755 {fake}/ck-standin-puppet
fi
""")
    text = puppet_user_data(server="puppet.example.com", package="puppet-agent", agent="ck-standin-puppet",
                            confdir=str(tmp_path / "etc"), workdir=str(tmp_path / "work"))
    proc = realize(text, {"PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "apt.log").read_text().splitlines() == [
        "apt-get update -q", "apt-get install -y -q --no-install-recommends puppet-agent"]
    assert proc.stdout.startswith("installed-puppet args: agent --confdir")
    # Present already: no package manager call.
    (tmp_path / "apt.log").unlink()
    proc = realize(text, {"PATH": f"{fake}:{os.environ['PATH']}"})
    assert proc.returncode == 0 and not (tmp_path / "apt.log").exists()


@needs_fetcher
def test_script_install_checks_the_installer_hash(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    agent = tmp_path / "opt" / "bin" / "chef-standin"
    installer = f"""#!/bin/sh
mkdir -p {agent.parent}
cat > {agent} <<'AGENT'
{CHEF_STANDIN}AGENT
chmod 755 {agent}
echo "installer ran with $*"
""".encode()
    cloud.storage.put_object("vault", "tools/install.sh", installer)
    url = cloud.storage.presign_url("vault", "tools/install.sh", method="GET", expires_in=300)
    common: dict[str, Any] = dict(server_url="https://chef.example.com/organizations/acme", install="script", installer_url=url,
                                  installer_args=["-v", "18.2"], agent=str(agent), confdir=str(tmp_path / "etc" / "chef"),
                                  workdir=str(tmp_path / "work"))
    wrong = chef_user_data(cloud, "vault", KEY, installer_sha256="0" * 64, **common)
    proc = realize(wrong)
    assert proc.returncode != 0 and "SHA-256 mismatch for the installer" in proc.stderr
    assert not agent.exists(), "a tampered installer never runs"
    right = chef_user_data(cloud, "vault", KEY, installer_sha256=hashlib.sha256(installer).hexdigest(), **common)
    proc = realize(right)
    assert proc.returncode == 0, proc.stderr
    assert "installer ran with -v 18.2" in proc.stdout and "standin-chef args:" in proc.stdout


@needs_fetcher
def test_chef_runner_fetches_the_key_runs_the_client_and_deletes_the_key(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    cloud.storage.put_object("vault", "keys/acme-validator.pem", KEY)
    agent = standin(tmp_path / "bin", "chef-client", CHEF_STANDIN)
    confdir = tmp_path / "etc" / "chef"
    text = chef_user_data(cloud, "vault", BucketKey("keys/acme-validator.pem"),
                          server_url="https://chef.example.com/organizations/acme", node_name="web-1", environment="prod",
                          run_list=["role[web]", "recipe[base::default]"], first_boot={"nginx": {"port": 80}},
                          accept_license=True, install="none", agent=str(agent), confdir=str(confdir),
                          workdir=str(tmp_path / "work"), expires_in=300)
    proc = realize(text)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.splitlines()[0] == f"standin-chef args: -c {confdir}/client.rb -j {confdir}/first-boot.json"
    for line in ["chef_server_url 'https://chef.example.com/organizations/acme'", "validation_client_name 'acme-validator'",
                 f"validation_key '{confdir}/validation.pem'", "node_name 'web-1'", "environment 'prod'", "chef_license 'accept'"]:
        assert line in out.splitlines()
    boot_json = yaml.safe_load(out.split("--- first-boot.json\n")[1].split("--- validation.pem")[0])
    assert boot_json == {"nginx": {"port": 80}, "run_list": ["role[web]", "recipe[base::default]"]}
    assert f"--- validation.pem 600 {hashlib.sha256(KEY).hexdigest()}" in out
    assert not (confdir / "validation.pem").exists(), "the validation key is deleted once the node has its own"
    assert (confdir / "client.pem").exists()


@needs_fetcher
def test_chef_keeps_the_key_when_asked_or_when_registration_failed(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    failing = standin(tmp_path / "bin", "failing-chef", "#!/bin/sh\necho 'cannot register' >&2\nexit 3\n")
    confdir = tmp_path / "etc" / "chef"
    text = chef_user_data(cloud, "vault", KEY, server_url="https://chef.example.com/organizations/acme", install="none",
                          agent=str(failing), confdir=str(confdir), workdir=str(tmp_path / "w"))
    proc = realize(text)
    assert proc.returncode != 0 and "the first Chef run failed (status 3)" in proc.stderr
    assert (confdir / "validation.pem").read_bytes() == KEY
    agent = standin(tmp_path / "bin", "chef-client", CHEF_STANDIN)
    keep = chef_user_data(cloud, "vault", KEY, server_url="https://chef.example.com/organizations/acme", install="none",
                          agent=str(agent), confdir=str(tmp_path / "etc2"), workdir=str(tmp_path / "w2"),
                          delete_validation_key=False)
    assert realize(keep).returncode == 0
    assert (tmp_path / "etc2" / "validation.pem").read_bytes() == KEY


@needs_fetcher
def test_a_changed_key_is_refused_and_the_url_never_shows(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    cloud.storage.put_object("vault", "keys/v.pem", KEY)
    agent = standin(tmp_path / "bin", "chef-client", CHEF_STANDIN)
    confdir = tmp_path / "etc" / "chef"
    text = chef_user_data(cloud, "vault", BucketKey("keys/v.pem"), server_url="https://chef.example.com/organizations/acme",
                          install="none", agent=str(agent), confdir=str(confdir), workdir=str(tmp_path / "work"))
    cloud.storage.put_object("vault", "keys/v.pem", b"someone else's key")
    proc = realize(text)
    assert proc.returncode != 0 and "SHA-256 mismatch for" in proc.stderr
    assert "signature" not in proc.stderr + proc.stdout and "127.0.0.1" not in proc.stderr + proc.stdout
    assert not (confdir / "validation.pem").exists() and not (confdir / "validation.pem.part").exists()
    assert "standin-chef" not in proc.stdout, "the client never runs without a verified key"


# --------------------------------------------------------------------------- hostile input


def test_hostile_input_is_refused_with_field_and_rule(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    org = "https://chef.example.com/organizations/acme"
    puppet: list[tuple[Callable[[], object], str]] = [
        (lambda: puppet_user_data(server="puppet.example.com\nrunas = root"), "server"),
        (lambda: puppet_user_data(server="-oProxyCommand=x"), "server"),
        (lambda: puppet_user_data(server=""), "server"),
        (lambda: puppet_user_data(server=3), "server"),  # type: ignore[arg-type]
        (lambda: puppet_user_data(server="p.example.com", certname="Web-1"), "certname"),
        (lambda: puppet_user_data(server="p.example.com", certname="a\n[main]"), "certname"),
        (lambda: puppet_user_data(server="p.example.com", environment="prod env"), "environment"),
        (lambda: puppet_user_data(server="p.example.com", extension_requests={"role": "web"}), "extension_requests['role']"),
        (lambda: puppet_user_data(server="p.example.com", extension_requests={"pp_role": "a\nb"}), "extension_requests['pp_role']"),
        (lambda: puppet_user_data(server="p.example.com", extension_requests=["pp_role"]), "extension_requests"),  # type: ignore[arg-type]
        (lambda: puppet_user_data(server="p.example.com", custom_attributes={"password": "x"}), "custom_attributes['password']"),
        (lambda: puppet_user_data(server="p.example.com", server_port=70000), "server_port"),
        (lambda: puppet_user_data(server="p.example.com", waitforcert=-1), "waitforcert"),
        (lambda: puppet_user_data(server="p.example.com", install="curl|sh"), "install"),
        (lambda: puppet_user_data(server="p.example.com", install="script"), "installer_url"),
        (lambda: puppet_user_data(server="p.example.com", install="script", installer_url="file:///etc/passwd"), "installer_url"),
        (lambda: puppet_user_data(server="p.example.com", install="script", installer_url="http://169.254.169.254/x"),
         "installer_url"),
        (lambda: puppet_user_data(server="p.example.com", installer_url="https://example.com/i.sh"), "installer_url"),
        (lambda: puppet_user_data(server="p.example.com", install="script", installer_url="https://example.com/i.sh",
                                  installer_sha256="abc"), "installer_sha256"),
        (lambda: puppet_user_data(server="p.example.com", install="script", installer_url="https://example.com/i.sh",
                                  installer_args="-v 8"), "installer_args"),
        (lambda: puppet_user_data(server="p.example.com", package="puppet; rm -rf /"), "package"),
        (lambda: puppet_user_data(server="p.example.com", agent="puppet $(reboot)"), "agent"),
        (lambda: puppet_user_data(server="p.example.com", confdir="etc/puppet"), "confdir"),
        (lambda: puppet_user_data(server="p.example.com", workdir="/var/../tmp"), "workdir"),
        (lambda: puppet_user_data(server="p.example.com", service="yes"), "service"),  # type: ignore[arg-type]
    ]
    chef: list[tuple[Callable[[], object], str]] = [
        (lambda: chef_user_data(cloud, "vault", "keys/v.pem", server_url=org), "validation_key"),  # type: ignore[arg-type]
        (lambda: chef_user_data(cloud, "Vault!", KEY, server_url=org), "bucket"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url="ftp://chef.example.com"), "server_url"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url="https://admin:hunter2@chef.example.com/organizations/a"),
         "server_url"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org + "?x=1"), "server_url"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url="https://chef.example.com/"), "validation_client_name"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, validation_client_name="a'\nsystem('x')"),
         "validation_client_name"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, node_name="web 1"), "node_name"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, environment="#{`id`}"), "environment"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, run_list="role[web]"), "run_list"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, run_list=["role[web]; x"]), "run_list[0]"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, run_list=["role[a]"], first_boot={"run_list": []}),
         "run_list"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, first_boot={"x": object()}), "first_boot"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, first_boot={"x": float("nan")}), "first_boot"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, first_boot={1: "x"}), "first_boot"),  # type: ignore[dict-item]
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, expires_in=0), "expires_in"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, prefix="keys"), "prefix"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, confdir="/etc/chef/"), "confdir"),
        (lambda: chef_user_data(cloud, "vault", KEY, server_url=org, delete_validation_key=None), "delete_validation_key"),  # type: ignore[arg-type]
    ]
    for call, field in puppet + chef:
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.field == field, err.value
        assert "hunter2" not in str(err.value)
    assert list(cloud.storage.list_objects("vault")) == [], "nothing is uploaded before the arguments are checked"
    with pytest.raises(NotFound):
        chef_user_data(cloud, "vault", BucketKey("keys/missing.pem"), server_url=org)
    with pytest.raises(NotSupported, match="presign_url"):
        chef_user_data(cloudkit.StorageService("bare", {}), "vault", KEY, server_url=org)
    with pytest.raises(InvalidInput) as err:
        chef_user_data(tmp_path, "vault", KEY, server_url=org)  # type: ignore[arg-type]
    assert err.value.field == "storage"


def test_quotes_in_values_cannot_break_out_of_their_files(cloud: cloudkit.Cloud) -> None:
    text = puppet_user_data(server="p.example.com", extension_requests={"pp_role": "web\" }: {x: [y"},
                            custom_attributes={"challengePassword": "p\\\": ' #x"})
    files = {e["path"]: e["content"] for e in yaml.safe_load(text)["write_files"]}
    csr = yaml.safe_load(files["/etc/puppetlabs/puppet/csr_attributes.yaml"])
    assert csr == {"custom_attributes": {"challengePassword": "p\\\": ' #x"}, "extension_requests": {"pp_role": "web\" }: {x: [y"}}
    text = chef_user_data(cloud, "vault", KEY, server_url="https://chef.example.com/organizations/acme",
                          first_boot={"motd": "it's \\ \"#{`id`}\""})
    files = {e["path"]: e["content"] for e in yaml.safe_load(text)["write_files"]}
    assert yaml.safe_load(files["/etc/chef/first-boot.json"]) == {"motd": "it's \\ \"#{`id`}\""}


def test_the_presigned_url_appears_only_inside_the_runner_script(cloud: cloudkit.Cloud) -> None:
    text = chef_user_data(cloud, "vault", KEY, server_url="https://chef.example.com/organizations/acme", expires_in=120)
    doc = yaml.safe_load(text)
    runner = doc["write_files"][-1]
    assert runner["permissions"] == "0700" and "signature=" in runner["content"]
    assert all("signature=" not in e["content"] for e in doc["write_files"][:-1])
    assert "signature=" not in repr(doc["runcmd"]), "runcmd is logged; it only names the runner"
    (key,) = [o.key for o in cloud.storage.list_objects("vault")]
    assert key == f"bootstrap/{hashlib.sha256(KEY).hexdigest()}/validation.pem"


# --------------------------------------------------------------------------- local instances


@needs_bwrap
def test_a_local_instance_runs_the_puppet_recipe_with_a_stand_in_agent(cloud: cloudkit.Cloud) -> None:
    text = puppet_user_data(server="puppet.example.com", certname="web-1.example.com", environment="production",
                            custom_attributes={"challengePassword": "autosign-psk"}, install="none",
                            agent="/opt/standin/bin/puppet")
    text = with_extra(text, [{"path": "/opt/standin/bin/puppet", "permissions": "0755", "content": PUPPET_STANDIN}])
    inst = cloud.compute.create_instance("puppet-1", image="local:debian-host", instance_type="local.small", user_data=text)
    try:
        out = wait_console(cloud, inst, "--- end")
        assert ("standin-puppet args: agent --confdir /etc/puppetlabs/puppet --onetime --no-daemonize --verbose "
                "--no-splay --no-usecacheonfailure --waitforcert 120") in out
        assert "server = puppet.example.com" in out and "certname = web-1.example.com" in out
        assert "--- csr_attributes.yaml 640" in out and '"challengePassword": "autosign-psk"' in out
    finally:
        cloud.compute.terminate_instance(inst)


@needs_bwrap
@needs_fetcher
def test_a_local_instance_runs_the_chef_recipe_and_fetches_the_key(cloud: cloudkit.Cloud) -> None:
    cloud.storage.put_object("vault", "keys/acme-validator.pem", KEY)
    text = chef_user_data(cloud, "vault", BucketKey("keys/acme-validator.pem"),
                          server_url="https://chef.example.com/organizations/acme", run_list=["role[web]"],
                          node_name="chef-1", install="none", agent="/opt/standin/bin/chef-client", expires_in=300)
    text = with_extra(text, [{"path": "/opt/standin/bin/chef-client", "permissions": "0755", "content": CHEF_STANDIN}],
                      ["test -e /etc/chef/validation.pem && echo key-kept || echo key-deleted"])
    # The presigned URL is on 127.0.0.1: the sandbox reaches it only with the host network.
    group = cloud.compute.create_security_group("chef", description="recipe test", rules=[SecurityRule("tcp", 8080)])
    inst = cloud.compute.create_instance("chef-1", image="local:debian-host", instance_type="local.small",
                                         security_groups=[group], user_data=text)
    try:
        out = wait_console(cloud, inst, "key-")
        assert "standin-chef args: -c /etc/chef/client.rb -j /etc/chef/first-boot.json" in out
        assert "validation_client_name 'acme-validator'" in out and "node_name 'chef-1'" in out
        assert '"role[web]"' in out
        assert f"--- validation.pem 600 {hashlib.sha256(KEY).hexdigest()}" in out
        assert "key-deleted" in out
        assert "signature=" not in out, "the presigned URL never reaches the console"
    finally:
        cloud.compute.terminate_instance(inst)


def test_keys_the_local_cloud_init_lacks_are_refused_not_ignored(cloud: cloudkit.Cloud) -> None:
    doc = yaml.safe_load(puppet_user_data(server="puppet.example.com"))
    doc["packages"] = ["puppet-agent"]
    with pytest.raises(InvalidInput) as err:
        cloud.compute.create_instance("pkg-1", image="local:debian-host", instance_type="local.small",
                                      user_data="#cloud-config\n" + yaml.safe_dump(doc))
    assert err.value.field == "user_data.packages"
    assert "'packages' is not supported" in err.value.rule
    assert list(cloud.compute.list_instances()) == []
