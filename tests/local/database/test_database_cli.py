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
    r = cli("-o", "json", "database", "create-instance", "shop", "--engine", "sqlite", "--retention", "0",
            input=f"{SECRET}\n{SECRET}\n")
    assert r.exit_code == 0, r.output
    assert SECRET not in r.output
    assert json.loads(r.output[r.output.index("{"):])["status"] == "available"
    r = cli("-o", "json", "database", "create-instance", "audit", "--engine", "sqlite", env={"CLOUDKIT_DB_PASSWORD": SECRET})
    assert r.exit_code == 0, r.output
    r = cli("-o", "json", "database", "list-instances")
    assert [i["id"] for i in json.loads(r.output)] == ["audit", "shop"]
    assert cli("database", "modify-instance", "shop", "--storage", "50").exit_code == 0
    assert json.loads(cli("-o", "json", "database", "get-instance", "shop").output)["storage_gb"] == 50
    assert cli("database", "create-snapshot", "shop", "shop-snap").exit_code == 0
    r = cli("-o", "json", "database", "restore-snapshot", "shop-snap", "shop-copy")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["engine"] == "sqlite"
    r = cli("database", "delete-instance", "shop", "--final-snapshot", "shop-final", "--yes")
    assert r.exit_code == 0, r.output
    r = cli("-o", "json", "database", "list-snapshots", "--kind", "manual")
    assert sorted(s["id"] for s in json.loads(r.output)) == ["shop-final", "shop-snap"]
    r = cli("database", "stop-instance", "audit")
    assert r.exit_code == 0 and "stopped" in r.output


def test_errors_and_unsupported_engines(cli: Cli) -> None:
    r = cli("database", "create-instance", "my", "--engine", "oracle", env={"CLOUDKIT_DB_PASSWORD": SECRET})
    assert r.exit_code == 1
    assert "NotSupported" in r.output and "oracle" in r.output
    r = cli("database", "create-instance", "x", "--engine", "sqlite", env={"CLOUDKIT_DB_PASSWORD": "short"})
    assert r.exit_code == 2
    assert "'--master-password'" in r.output and "short" not in r.output  # the option, never the value
    r = cli("database", "restore-to-point-in-time", "nothing", "copy", "--time", "yesterday")
    assert r.exit_code == 2 and "time:" in r.output


def test_parameter_groups_and_snapshot_copies(cli: Cli, tmp_path: Path) -> None:
    import cloudkit

    with cloudkit.connect("local", root=str(tmp_path / "probe"), backup_check_interval=0) as probe:
        families = [e.family() for e in probe.database.engines.values() if e.available and e.family()]  # type: ignore[attr-defined]
    if not families:
        pytest.skip("neither PostgreSQL nor MariaDB is installed: no parameter group family")
    r = cli("-o", "json", "database", "create-parameter-group", "tuned", "--family", families[0], "--description", "cli")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["family"] == families[0]
    key = "max_connections"
    r = cli("-o", "json", "database", "modify-parameter-group", "tuned", f"{key}=60", "--apply", "pending-reboot")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["parameters"] == {key: "60"}
    assert cli("database", "modify-parameter-group", "tuned", "novalue").exit_code == 2
    r = cli("-o", "json", "database", "list-parameter-groups")
    assert [g["name"] for g in json.loads(r.output)] == ["tuned"]
    r = cli("-o", "json", "database", "reset-parameter-group", "tuned")
    assert r.exit_code == 0 and json.loads(r.output)["parameters"] == {}
    assert cli("database", "delete-parameter-group", "--yes", "tuned").exit_code == 0
    assert cli("database", "create-instance", "lite", "--engine", "sqlite", "--retention", "0",
               env={"CLOUDKIT_DB_PASSWORD": SECRET}).exit_code == 0
    assert cli("database", "create-snapshot", "lite", "lite-snap").exit_code == 0
    r = cli("-o", "json", "database", "copy-snapshot", "lite-snap", "lite-snap-copy")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["kind"] == "manual"


def test_deferred_modify_and_restore_parameter_group_flags(cli: Cli) -> None:
    r = cli("database", "create-instance", "later", "--engine", "sqlite", "--retention", "0",
            env={"CLOUDKIT_DB_PASSWORD": SECRET})
    assert r.exit_code == 0, r.output
    r = cli("-o", "json", "database", "modify-instance", "later", "--storage", "70", "--no-apply-immediately")
    assert r.exit_code == 0, r.output
    got = json.loads(cli("-o", "json", "database", "get-instance", "later").output)
    assert (got["storage_gb"], got["pending_modifications"]) == (20, {"storage_gb": 70})
    assert cli("database", "modify-instance", "later", "--class", "db.t3.small").exit_code == 0  # applies now, pending too
    got = json.loads(cli("-o", "json", "database", "get-instance", "later").output)
    assert (got["storage_gb"], got["pending_modifications"]) == (70, {})
    assert cli("database", "create-snapshot", "later", "later-snap").exit_code == 0
    r = cli("database", "restore-snapshot", "later-snap", "later-2", "--parameter-group", "no-such-group")
    assert r.exit_code == 1 and "no-such-group" in r.output
    r = cli("database", "restore-to-point-in-time", "later", "later-3", "--parameter-group", "bad--name")
    assert r.exit_code == 2 and "'--parameter-group'" in r.output
