"""``cloudkit notification`` end to end on the local provider."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cloudkit.cli import main

Cli = Callable[..., Result]


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    root = tmp_path / "root"

    def run(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, ["--provider", "local", "--set", f"root={root}", *args], input=input)

    return run


def test_topic_queue_publish_receive_round_trip(cli: Cli) -> None:
    assert cli("notification", "create-topic", "deploys").exit_code == 0
    assert cli("notification", "create-queue", "worker").exit_code == 0
    r = cli("-o", "json", "notification", "subscribe", "deploys", "queue", "worker")
    assert r.exit_code == 0, r.output
    assert json.loads(r.output)["status"] == "confirmed"
    assert cli("notification", "subscribe", "deploys", "sms", "+14155550100").exit_code == 0
    r = cli("-o", "json", "notification", "publish", "deploys", "-", "--subject", "Deployed", "--attr", "env=prod",
            input="version 42 is live")
    assert r.exit_code == 0, r.output
    message_id = json.loads(r.output)["message_id"]
    r = cli("-o", "json", "notification", "receive-messages", "worker", "--wait", "2", "--ack")
    assert r.exit_code == 0, r.output
    [msg] = json.loads(r.output)
    assert (msg["message_id"], msg["body"], msg["subject"]) == (message_id, "version 42 is live", "Deployed")
    assert json.loads(cli("-o", "json", "notification", "receive-messages", "worker").output) == []  # acknowledged
    r = cli("-o", "json", "notification", "list-deliveries", "--status", "sent")
    assert sorted(d["protocol"] for d in json.loads(r.output)) == ["queue", "sms"]
    r = cli("-o", "json", "notification", "list-topics")
    assert [t["name"] for t in json.loads(r.output)] == ["deploys"]
    r = cli("notification", "list-subscriptions", "deploys")
    assert "+14155550100" in r.output


def test_errors_are_one_line_and_exit_non_zero(cli: Cli) -> None:
    r = cli("notification", "publish", "missing-topic", "hello")
    assert r.exit_code == 1
    assert "NotFound" in r.output
    r = cli("notification", "create-topic", "bad name")
    assert r.exit_code == 2
    assert "'NAME':" in r.output and "create-topic [OPTIONS] NAME" in r.output  # the argument, the subcommand's usage
    r = cli("notification", "publish", "t", "hi", "--attr", "novalue")
    assert r.exit_code == 2
    assert "attr" in r.output
