"""``cloudkit platform ...`` end to end on the local provider."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from click.testing import CliRunner

from cloudkit.cli import main
from cloudkit.testing.platform import sample_app


def test_platform_cli_create_deploy_events_status_terminate(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--set", f"root={tmp_path / 'root'}"]

    def ck(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    (tmp_path / "v1.zip").write_bytes(sample_app("first"))
    (tmp_path / "v2.zip").write_bytes(sample_app("second"))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "application.py").write_text("raise SystemExit(2)\n")
    ck("platform", "create-app", "cli-app")
    ck("platform", "upload", "cli-app", "v1", str(tmp_path / "v1.zip"))
    ck("platform", "upload", "cli-app", "v2", str(tmp_path / "v2.zip"))
    ck("platform", "upload", "cli-app", "bad", str(bad))
    out = ck("platform", "create", "cli-app", "cli-env", "--version", "v1", "--stack", "python", "--env", "GREETING=hi")
    assert "createEnvironment completed successfully" in out
    status = json.loads(ck("-o", "json", "platform", "status", "cli-env"))
    assert status["status"] == "ready" and status["version"] == "v1"
    assert requests.get(status["url"], timeout=10).text == "first greeting=hi\n"
    out = ck("platform", "deploy", "cli-env", "v2")
    assert "Switched traffic to version 'v2'" in out
    assert requests.get(status["url"], timeout=10).text == "second greeting=hi\n"
    out = ck("platform", "deploy", "cli-env", "bad", code=1)
    assert "Health check failed for version 'bad'" in out
    assert requests.get(status["url"], timeout=10).text == "second greeting=hi\n"
    events = ck("platform", "events", "--env", "cli-env")
    assert "ERROR" in events and "rolled back" in events
    assert "cli-env" in ck("platform", "list")
    out = json.loads(ck("-o", "json", "platform", "terminate", "--yes", "cli-env"))
    assert out["status"] == "terminated"
    ck("platform", "delete-app", "--yes", "cli-app")
    missing = runner.invoke(main, [*base, "platform", "status", "nope"])
    assert missing.exit_code != 0 and "NotFound" in missing.output
