"""``cloudkit database`` end to end on the local provider (sqlite engine: no server needed)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cloudkit.cli import main

Cli = Callable[..., Result]
SECRET = "Cli-Secret-Pass-9"


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    root = tmp_path / "root"

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
        return CliRunner().invoke(main, ["--provider", "local", "--set", f"root={root}", "--set", "backup_check_interval=0",
                                         *args], input=input, env=env)

    return run


def test_instance_snapshot_restore_round_trip(cli: Cli) -> None:
    r = cli("-o", "json", "database", "create", "shop", "--engine", "sqlite", "--retention", "0",
            input=f"{SECRET}\n{SECRET}\n")
    assert r.exit_code == 0, r.output
    assert SECRET not in r.output
    assert json.loads(r.output[r.output.index("{"):])["status"] == "available"
    r = cli("-o", "json", "database", "create", "audit", "--engine", "sqlite", env={"CLOUDKIT_DB_PASSWORD": SECRET})
    assert r.exit_code == 0, r.output
    r = cli("-o", "json", "database", "instances")
    assert [i["id"] for i in json.loads(r.output)] == ["audit", "shop"]
    assert cli("database", "modify", "shop", "--storage", "50").exit_code == 0
    assert json.loads(cli("-o", "json", "database", "show", "shop").output)["storage_gb"] == 50
    assert cli("database", "snapshot", "shop", "shop-snap").exit_code == 0
    r = cli("-o", "json", "database", "restore", "shop-snap", "shop-copy")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["engine"] == "sqlite"
    r = cli("database", "delete", "shop", "--final-snapshot", "shop-final", "--yes")
    assert r.exit_code == 0, r.output
    r = cli("-o", "json", "database", "snapshots", "--kind", "manual")
    assert sorted(s["id"] for s in json.loads(r.output)) == ["shop-final", "shop-snap"]
    r = cli("database", "stop", "audit")
    assert r.exit_code == 0 and "stopped" in r.output


def test_errors_and_unsupported_engines(cli: Cli) -> None:
    r = cli("database", "create", "my", "--engine", "oracle", env={"CLOUDKIT_DB_PASSWORD": SECRET})
    assert r.exit_code == 1
    assert "NotSupported" in r.output and "oracle" in r.output
    r = cli("database", "create", "x", "--engine", "sqlite", env={"CLOUDKIT_DB_PASSWORD": "short"})
    assert r.exit_code == 2
    assert "master_password" in r.output and "short" not in r.output.split("master_password")[1]
    r = cli("database", "restore-to-time", "nothing", "copy", "--time", "yesterday")
    assert r.exit_code == 2 and "time:" in r.output
