"""``cloudkit demo`` end to end: every step runs for real on the local provider and cleans up."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cloudkit
from cloudkit.cli import demo
from cloudkit.services import FAMILIES, unserved


def test_demo_runs_the_whole_tour_and_cleans_up(tmp_path: Path) -> None:
    root = tmp_path / "demo-root"
    result = CliRunner().invoke(demo.command, ["--root", str(root)], catch_exceptions=False)
    out = result.output
    assert result.exit_code == 0, out
    assert "GET http://127.0.0.1:" in out
    assert "Hello from the Initial Version" in out and "Hello from the Second Version" in out
    assert "(the page changed: True)" in out
    assert "Switched traffic to version 'Second Version'" in out
    assert "HTTP endpoint got: Deployed: Second Version is live on Default-Environment" in out
    assert "queue got: Second Version is live on Default-Environment" in out
    assert "lifecycle rule: db/* archive after 30 days, expire after 365 days" in out
    assert "$ORIGIN demo.example.com." in out and "www 300 IN A 192.0.2.10" in out
    assert "read back: [(1, 'hello from the demo')]" in out
    assert "Template parameter InstanceTypeInput (default local.micro): EC2 instance type" in out
    for status in ("CREATE_IN_PROGRESS   Ec2Instance", "CREATE_COMPLETE      demo-stack", "DELETE_COMPLETE      Ec2Instance"):
        assert status in out
    assert "output AvailabilityZone = local-1a  (Where it runs)" in out
    # compute: the Puppet recipe ran its stand-in agent at first boot, and the instance is gone
    assert "agent --confdir /etc/puppetlabs/puppet --onetime --no-daemonize" in out and "(terminated)" in out
    if __import__("shutil").which("mariadbd"):
        assert "Created mysql database demo-db on MariaDB" in out
    assert "unavailable" not in out and "failed" not in out
    with cloudkit.connect("local", root=str(root)) as cloud:
        assert list(cloud.platform.list_applications()) == []
        envs = list(cloud.platform.list_environments(include_terminated=True))
        assert envs and all(e.status == "terminated" for e in envs)
        assert "demo-backups" not in {b.name for b in cloud.storage.list_buckets()}
        assert list(cloud.dns.list_zones()) == []
        assert list(cloud.notification.list_topics()) == []
        assert list(cloud.database.list_instances()) == []
        assert all(i.state == "terminated" for i in cloud.compute.list_instances())


def test_a_missing_family_is_reported_as_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = cloudkit.Cloud.service

    def service(self: cloudkit.Cloud, family: str) -> object:
        if family == "dns":
            return unserved(FAMILIES["dns"], "local", "local does not serve the dns family")
        return real(self, family)

    monkeypatch.setattr(cloudkit.Cloud, "service", service)
    monkeypatch.setattr(demo, "STEPS", (("dns", "DNS"), ("storage", "Storage")))
    result = CliRunner().invoke(demo.command, ["--root", str(tmp_path / "r")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "step unavailable here: local does not support dns.create_zone" in result.output
    assert "Created bucket demo-backups" in result.output
    assert "removed bucket demo-backups" in result.output
