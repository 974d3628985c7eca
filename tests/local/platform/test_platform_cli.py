"""``cloudkit platform ...`` end to end on the local provider."""

from __future__ import annotations

import json
from pathlib import Path

import requests
from click.testing import CliRunner

import cloudkit
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
    ck("platform", "create-application", "cli-app")
    ck("platform", "create-version", "cli-app", "v1", str(tmp_path / "v1.zip"))
    ck("platform", "create-version", "cli-app", "v2", str(tmp_path / "v2.zip"))
    ck("platform", "create-version", "cli-app", "bad", str(bad))
    out = ck("platform", "create-environment", "cli-app", "cli-env", "--version", "v1", "--stack", "python", "--env", "GREETING=hi")
    assert "createEnvironment completed successfully" in out
    status = json.loads(ck("-o", "json", "platform", "get-environment", "cli-env"))
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
    assert "cli-env" in ck("platform", "list-environments")
    out = json.loads(ck("-o", "json", "platform", "terminate-environment", "--yes", "cli-env"))
    assert out["status"] == "terminated"
    ck("platform", "delete-application", "--yes", "cli-app")
    missing = runner.invoke(main, [*base, "platform", "get-environment", "nope"])
    assert missing.exit_code != 0 and "NotFound" in missing.output


def test_platform_cli_logs_rebuild_settings_json_events(tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--set", f"root={tmp_path / 'root'}"]

    def ck(*args: str, code: int = 0) -> str:
        result = runner.invoke(main, [*base, *args], catch_exceptions=False)
        assert result.exit_code == code, result.output
        return result.output

    app = tmp_path / "app"
    app.mkdir()
    (app / "application.py").write_text(
        "print('worker up', flush=True)\n"
        "def application(environ, start_response):\n"
        "    print('hit', environ['PATH_INFO'], flush=True)\n"
        "    start_response('200 OK', [])\n"
        "    return [b'ok']\n")
    ck("platform", "create-application", "cli-logs")
    ck("platform", "create-version", "cli-logs", "v1", str(app))
    ck("platform", "create-environment", "cli-logs", "cli-logs-env", "--version", "v1", "--stack", "python")
    url = json.loads(ck("-o", "json", "platform", "get-environment", "cli-logs-env"))["url"]
    requests.get(url + "one", timeout=10)
    out = ck("platform", "logs", "cli-logs-env", "--tail", "1")
    assert out.startswith("==== ") and out.rstrip().endswith("hit /one")
    (entry,) = json.loads(ck("-o", "json", "platform", "logs", "cli-logs-env", "--tail", "3"))
    assert entry["text"].splitlines()[-1] == "hit /one" and entry["instance"]
    bundle = tmp_path / "logs.zip"
    assert "wrote" in ck("platform", "logs", "cli-logs-env", "--bundle", str(bundle))
    assert bundle.stat().st_size > 0 and not (tmp_path / "logs.zip.part").exists()

    out = ck("platform", "update-settings", "cli-logs-env", "--instance-type", "local.small", "--option", "cloudkit:deploy:DrainSeconds=0")
    assert "local.small" in out and "DrainSeconds" in out
    settings = json.loads(ck("-o", "json", "platform", "get-settings", "cli-logs-env"))
    assert settings["instance_type"] == "local.small" and settings["options"]["cloudkit:deploy:DrainSeconds"] == "0"
    scaled = json.loads(ck("-o", "json", "platform", "update-settings", "cli-logs-env", "--min-instances", "2", "--max-instances", "3"))
    assert (scaled["instance_count"], scaled["min_instances"], scaled["max_instances"]) == (2, 2, 3)
    ck("platform", "update-settings", "cli-logs-env", "--instances", "1")
    bad = runner.invoke(main, [*base, "platform", "update-settings", "cli-logs-env", "--option", "novalue"])
    assert bad.exit_code != 0 and "--option" in bad.output

    out = ck("platform", "rebuild", "cli-logs-env")
    assert "rebuildEnvironment is starting" in out and "Rebuild completed successfully" in out

    events = json.loads(ck("-o", "json", "platform", "events", "--env", "cli-logs-env"))
    assert isinstance(events, list) and events
    assert {"timestamp", "severity", "message", "environment"} <= set(events[0])
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:  # (the CLI's terminate asks for --yes)
        cloud.platform.terminate_environment("cli-logs-env")
    after = json.loads(ck("-o", "json", "platform", "events", "--env", "cli-logs-env"))  # found by name once terminated
    assert after[-1]["message"].startswith("terminateEnvironment completed successfully")
