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
    assert "private key written" in ck("compute", "keys", "create", "cli-key", "--out", str(key))
    assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert key.stat().st_mode & 0o777 == 0o600
    created = json.loads(ck("-o", "json", "compute", "create", "cli-1", "--image", "local:debian-host",
                            "--type", "local.nano", "--user-data", str(script), "--key", "cli-key", "--tag", "env=test"))
    assert created["state"] == "running" and created["tags"] == {"env": "test"}
    deadline = time.monotonic() + 15
    while "hello-from-cli-instance" not in ck("compute", "console", created["id"]):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert json.loads(ck("-o", "json", "compute", "status", created["id"]))["state"] == "running"
    listed = json.loads(ck("-o", "json", "compute", "list", "--tag", "env=test"))
    assert [i["id"] for i in listed] == [created["id"]]
    assert json.loads(ck("-o", "json", "compute", "stop", created["id"]))["state"] == "stopped"
    assert json.loads(ck("-o", "json", "compute", "terminate", created["id"]))["state"] == "terminated"
    ck("compute", "groups", "create", "web", "--rule", "tcp:80", "--rule", "tcp:22:10.0.0.0/8")
    assert "tcp:22-22:10.0.0.0/8" in ck("compute", "groups", "list")
    result = runner.invoke(main, [*base, "compute", "create", "bad name!", "--image", "x", "--type", "y"])
    assert result.exit_code == 2 and "name:" in result.output
