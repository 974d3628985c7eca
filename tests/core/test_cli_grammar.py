"""The command line's conventions: one grammar, -o/--query anywhere, one confirmation policy, errors naming arguments."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

import cloudkit
from cloudkit.cli import hoist_global_options, main

Cli = Callable[..., Result]

#: Verbs (the first word of a command name) that destroy something that cannot be had back. Removing a
#: listener or deregistering a target changes configuration the same command can put back.
DESTRUCTIVE = ("delete", "terminate", "unsubscribe", "rb", "rm")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def cli(root: Path) -> Cli:
    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--provider", "local", "--set", f"root={root}", *args], input=input)

    return run


def _walk(group: click.Group, ctx: click.Context, path: str = "") -> Iterator[tuple[str, click.Command]]:
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        if isinstance(cmd, click.Group):
            yield from _walk(cmd, ctx, f"{path} {name}".strip())
        else:
            yield f"{path} {name}".strip(), cmd


def test_one_grammar_family_then_an_operation_named_as_in_the_python_api() -> None:
    ctx = click.Context(main)
    seen = dict(_walk(main, ctx))
    families = {"storage", "dns", "notification", "compute", "loadbalancer", "platform", "database"}
    for path in seen:
        family, _, verb = path.partition(" ")
        if family not in families:
            continue
        assert re.fullmatch(r"[a-z]+(-[a-z0-9]+)*", verb), path
        assert " " not in verb, f"{path}: no nested groups, one level of verbs"
    from cloudkit.services import FAMILIES

    service = {family: FAMILIES[family] for family in families}
    for family, cls in service.items():
        verbs = [p.partition(" ")[2] for p in seen if p.startswith(family + " ")]
        named_like_api = [v for v in verbs if hasattr(cls, v.replace("-", "_"))]
        # cp / sync / put-object / get-object are transfer verbs; every other command is an API operation
        assert len(named_like_api) >= len(verbs) - 4, (family, sorted(set(verbs) - set(named_like_api)))


def test_every_destructive_command_takes_yes() -> None:
    ctx = click.Context(main)
    missing = [path for path, cmd in _walk(main, ctx)
               if path.split(" ")[-1].split("-")[0] in DESTRUCTIVE and "yes" not in {p.name for p in cmd.params}]
    assert missing == []


def test_old_names_still_work_with_a_note_and_are_hidden(cli: Cli) -> None:
    r = cli("storage", "mb", "old-style")
    assert r.exit_code == 0, r.output
    assert "'main storage mb' is now 'main storage create-bucket'" in r.stderr
    r = cli("-o", "json", "storage", "ls")
    assert [b["name"] for b in json.loads(r.stdout)] == ["old-style"]
    assert "storage list-buckets" in r.stderr
    r = cli("-o", "json", "compute", "keys", "list")
    assert r.exit_code == 0 and json.loads(r.stdout) == []
    assert "is now 'main compute list-key-pairs'" in r.stderr
    help_text = cli("storage", "--help").output
    assert "create-bucket" in help_text and " mb " not in help_text and " ls " not in help_text
    assert " keys " not in cli("compute", "--help").output


def test_output_and_query_anywhere_on_the_line(cli: Cli) -> None:
    for name in ("alpha", "beta"):
        assert cli("storage", "create-bucket", name).exit_code == 0
    for args in (["storage", "list-buckets", "-o", "json"], ["storage", "-o", "json", "list-buckets"],
                 ["storage", "list-buckets", "--output=json"], ["storage", "list-buckets", "-ojson"]):
        r = cli(*args)
        assert r.exit_code == 0, (args, r.output)
        assert [b["name"] for b in json.loads(r.stdout)] == ["alpha", "beta"], args
    r = cli("storage", "list-buckets", "--query", "[].name", "-o", "json")
    assert json.loads(r.stdout) == ["alpha", "beta"]
    r = cli("storage", "list-buckets", "--query", "[?name=='beta'].{n: name}")  # a table of the result's keys
    assert r.exit_code == 0 and "beta" in r.stdout and "alpha" not in r.stdout and " n " in r.stdout
    r = cli("storage", "list-buckets", "-o", "text", "--query", "[].[name, region]")
    assert r.stdout.splitlines() == ["alpha\t", "beta\t"]  # local buckets have no region
    r = cli("storage", "list-buckets", "-o", "text", "--query", "[].name")
    assert r.stdout == "alpha\tbeta\n"
    r = cli("storage", "list-buckets", "--query", "[")
    assert r.exit_code == 2 and "'--query'" in r.output


def test_text_output_is_tab_separated_rows(cli: Cli) -> None:
    assert cli("storage", "create-bucket", "alpha").exit_code == 0
    r = cli("-o", "text", "storage", "list-buckets")
    (line,) = r.stdout.splitlines()
    assert line.split("\t")[0] == "alpha" and len(line.split("\t")) == 3


def test_hoisting_stops_at_double_dash_and_moves_values() -> None:
    assert hoist_global_options(["storage", "get-object", "b/k", "-o", "json"]) == ["-o", "json", "storage", "get-object", "b/k"]
    assert hoist_global_options(["storage", "put-object", "--", "-o", "json"]) == ["storage", "put-object", "--", "-o", "json"]
    assert hoist_global_options(["x", "--query", "[].a", "y"]) == ["--query", "[].a", "x", "y"]


def test_destructive_commands_refuse_without_a_terminal_and_ask_on_one(cli: Cli, root: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    assert cli("storage", "create-bucket", "keep").exit_code == 0
    r = cli("storage", "delete-bucket", "keep")
    assert r.exit_code == 2 and "refused without --yes" in r.output
    with cloudkit.connect("local", root=str(root)) as cloud:
        assert [b.name for b in cloud.storage.list_buckets()] == ["keep"]
    monkeypatch.setattr("cloudkit.cli._common._interactive", lambda: True)  # as on a terminal
    r = cli("storage", "delete-bucket", "keep", input="n\n")
    assert r.exit_code == 1 and "Delete bucket keep?" in r.output
    with cloudkit.connect("local", root=str(root)) as cloud:
        assert [b.name for b in cloud.storage.list_buckets()] == ["keep"]
    r = cli("storage", "delete-bucket", "keep", input="y\n")
    assert r.exit_code == 0, r.output
    r = cli("storage", "create-bucket", "gone")
    assert cli("storage", "delete-bucket", "--yes", "gone").exit_code == 0
    with cloudkit.connect("local", root=str(root)) as cloud:
        assert list(cloud.storage.list_buckets()) == []


def test_errors_name_the_command_line_argument_and_show_the_subcommands_usage(cli: Cli) -> None:
    assert cli("dns", "create-zone", "example.com").exit_code == 0
    r = cli("dns", "upsert-records", "example.com", "www", "A", "192.0.2.1", "--ttl", "-5")
    assert r.exit_code == 2
    assert "'--ttl'" in r.output and "changes[0]" not in r.output
    assert "Usage: main dns upsert-records [OPTIONS] ZONE NAME TYPE VALUES..." in r.output
    r = cli("dns", "upsert-records", "example.com", "www", "NOPE", "192.0.2.1")
    assert r.exit_code == 2 and "'TYPE'" in r.output


def test_long_values_are_never_cut_off_in_tables(cli: Cli, root: Path) -> None:
    key = "k" * 40 + "/" + "x" * 120 + ".bin"
    with cloudkit.connect("local", root=str(root)) as cloud:
        cloud.storage.create_bucket("bkt")
        cloud.storage.put_object("bkt", key, b"x")
    r = CliRunner(env={"COLUMNS": "60"}).invoke(
        main, ["--provider", "local", "--set", f"root={root}", "storage", "list-objects", "bkt", "--recursive"])
    assert r.exit_code == 0 and "…" not in r.stdout
    cells = [line.split("│")[1].strip() for line in r.stdout.splitlines() if line.count("│") > 2]
    assert key in "".join(cells)


def test_providers_honours_profile_and_set(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def local_row(*args: str) -> dict[str, object]:
        r = CliRunner().invoke(main, [*args, "-o", "json", "providers"])
        assert r.exit_code == 0, r.output
        return next(row for row in json.loads(r.stdout) if row["provider"] == "local")

    monkeypatch.chdir(tmp_path)
    ok = local_row("--set", f"root={tmp_path / 'r'}")
    assert all("(" not in c for c in ok["capabilities"])  # type: ignore[union-attr]
    bad = local_row("--set", "no_such_setting=1")
    assert bad["capabilities"] and all("(InvalidInput)" in c for c in bad["capabilities"])  # type: ignore[union-attr]
    (tmp_path / "cloudkit.toml").write_text('[profiles.odd]\nprovider = "local"\nno_such_setting = 1\n')
    bad = local_row("--profile", "odd")
    assert bad["capabilities"] and all("(InvalidInput)" in c for c in bad["capabilities"])  # type: ignore[union-attr]
