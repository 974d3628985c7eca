"""docs/stacks.md is true: its walk-through runs on the local provider from the page's own template,
and its resource reference is the generated one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from cloudkit_contrib.stacks.resources import reference_markdown

import cloudkit
from cloudkit import cli as core_cli

DOC = Path(__file__).resolve().parents[3] / "docs" / "stacks.md"


def _block(text: str, info: str) -> str:
    m = re.search(r"```" + re.escape(info) + r"\n(.*?)```", text, re.DOTALL)
    assert m, f"no ```{info} block in docs/stacks.md"
    return m.group(1)


def _console(text: str, command: str) -> list[str]:
    """The lines the page shows after ``$ command``."""
    lines = text.splitlines()
    i = lines.index(f"$ {command}")
    out = []
    for line in lines[i + 1:]:
        if line.startswith(("$ ", "```")):
            break
        out.append(line)
    return out


def test_the_walk_through_runs_on_local(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = DOC.read_text()
    template = tmp_path / "basic.json"
    template.write_text(_block(text, "json basic.json"))
    root = tmp_path / "root"

    def run(*args: str, input: str | None = None) -> str:
        result = CliRunner().invoke(core_cli.main, ["--set", f"root={root}", "stack", *args], input=input)
        assert result.exit_code == 0, result.output
        return result.output

    monkeypatch.chdir(tmp_path)
    assert run("validate", "basic.json").splitlines() == _console(text, "cloudkit stack validate basic.json")
    assert run("plan", "basic-test-1", "--template", "basic.json").splitlines() == \
        _console(text, "cloudkit stack plan basic-test-1 --template basic.json")

    def shape(lines: list[str]) -> list[tuple[str, ...]]:
        """Status, logical id and type of each event line; ids and times vary."""
        return [tuple(ln.split()[1:4]) for ln in lines if re.match(r"\d{4}-", ln)]

    created = run("create", "basic-test-1", "--template", "basic.json").splitlines()
    shown = _console(text, "cloudkit stack create basic-test-1 --template basic.json")
    assert shape(created) == shape(shown)
    assert [ln.split(" = ")[0] for ln in created if " = " in ln] == [ln.split(" = ")[0] for ln in shown if " = " in ln]
    events = run("events", "basic-test-1").splitlines()
    assert [ln.split()[3:6] for ln in events] == [ln.split()[3:6] for ln in _console(text, "cloudkit stack events basic-test-1")]
    outputs = run("outputs", "basic-test-1").splitlines()
    assert outputs[1] == "AvailabilityZone = local-1a  (Where it runs)"
    with cloudkit.connect("local", root=str(root)) as cloud:
        instance_id = outputs[0].split(" = ")[1].split()[0]
        assert cloud.compute.get_instance(instance_id).instance_type == "local.micro"
        deleted = run("delete", "basic-test-1", "--yes")
        assert "DELETE_COMPLETE" in deleted
        assert cloud.compute.get_instance(instance_id).state == "terminated"
    as_json = json.loads(CliRunner().invoke(core_cli.main, ["--set", f"root={root}", "-o", "json", "stack", "list",
                                                            "--all"]).output)
    assert [(s["name"], s["status"]) for s in as_json] == [("basic-test-1", "DELETE_COMPLETE")]


def test_the_reference_is_current() -> None:
    text = DOC.read_text()
    start = text.index("-->", text.index("<!-- reference:start")) + 3
    end = text.index("<!-- reference:end -->")
    assert text[start:end].strip() == reference_markdown().strip(), \
        "docs/stacks.md is stale: regenerate the reference with python -m cloudkit_contrib.stacks.resources docs/stacks.md"
