"""``cloudkit compute ...`` end to end on the local provider."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from cloudkit.cli import main

pytestmark = pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed")


def test_compute_cli_create_status_console_terminate(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--set", f"root={tmp_path / 'root'}"]

    def ck(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    script = tmp_path / "boot.sh"
    script.write_text("#!/bin/sh\necho hello-from-cli-instance\n")
    key = tmp_path / "id_ed25519"
    assert "private key written" in ck("compute", "create-key-pair", "cli-key", "--out", str(key))
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert key.stat().st_mode & 0o777 == 0o600
    created = json.loads(ck("-o", "json", "compute", "create-instance", "cli-1", "--image", "local:debian-host",
                            "--type", "local.nano", "--user-data", str(script), "--key", "cli-key", "--tag", "env=test"))
    assert created["state"] == "running" and created["tags"] == {"env": "test"}
    deadline = time.monotonic() + 15
    while "hello-from-cli-instance" not in ck("compute", "get-console-output", created["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads(ck("-o", "json", "compute", "get-instance", created["id"]))["state"] == "running"
    listed = json.loads(ck("-o", "json", "compute", "list-instances", "--tag", "env=test"))
    assert [i["id"] for i in listed] == [created["id"]]
    assert json.loads(ck("-o", "json", "compute", "stop-instance", created["id"]))["state"] == "stopped"
    assert json.loads(ck("-o", "json", "compute", "terminate-instance", "--yes", created["id"]))["state"] == "terminated"
    ck("compute", "create-security-group", "web", "--rule", "tcp:80", "--rule", "tcp:22:10.0.0.0/8")
    assert "tcp:22-22:10.0.0.0/8" in ck("compute", "list-security-groups")
    result = runner.invoke(main, [*base, "compute", "create-instance", "bad name!", "--image", "x", "--type", "y"])
    assert result.exit_code == 2 and "'NAME':" in result.output and "create-instance [OPTIONS] NAME" in result.output
