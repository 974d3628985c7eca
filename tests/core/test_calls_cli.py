"""Cross-cutting hook wrappers see every operation; the CLI reports errors and renders output."""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Iterator
from typing import Any

import pytest
from acme_plugin import AcmePlugin
from click.testing import CliRunner

import cloudkit
from cloudkit.cli import main


class Audit:
    """A third-party audit wrapper, as a plugin author would write it."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str]] = []

    @cloudkit.hookimpl(wrapper=True)
    def cloudkit_call(self, service: Any, operation: str, call: Any) -> Generator[None, Any, Any]:
        try:
            result = yield
        except cloudkit.CloudkitError as exc:
            self.seen.append((service.provider, service.family, operation, type(exc).__name__))
            raise
        self.seen.append((service.provider, service.family, operation, "ok"))
        return result


@pytest.fixture
def acme() -> Iterator[None]:
    plugin = AcmePlugin()
    cloudkit.register_plugin(plugin)
    yield
    cloudkit.unregister_plugin(plugin)


@pytest.fixture
def audit() -> Iterator[Audit]:
    a = Audit()
    cloudkit.register_plugin(a)
    yield a
    cloudkit.unregister_plugin(a)


def test_wrappers_see_every_operation(acme: None, audit: Audit) -> None:
    cloud = cloudkit.connect("acme")
    cloud.storage.create_bucket("audited")
    with pytest.raises(cloudkit.InvalidInput):
        cloud.storage.put_object("audited", "", b"x")
    with pytest.raises(cloudkit.NotSupported):
        cloud.storage.head_object("audited", "k")
    assert audit.seen == [
        ("acme", "storage", "create_bucket", "ok"),
        ("acme", "storage", "put_object", "InvalidInput"),
        ("acme", "storage", "head_object", "NotSupported"),
    ]


def test_debug_log_names_operations_not_arguments(acme: None, caplog: pytest.LogCaptureFixture) -> None:
    cloud = cloudkit.connect("acme")
    with caplog.at_level(logging.DEBUG, logger="cloudkit"):
        cloud.storage.create_bucket("logged")
        cloud.storage.put_object("logged", "secret-key-name", b"top secret body")
    text = caplog.text
    assert "acme storage.create_bucket ok" in text and "acme storage.put_object ok" in text
    assert "secret-key-name" not in text and "top secret body" not in text


def test_cli_reports_invalid_input_as_usage_error(acme: None) -> None:
    result = CliRunner().invoke(main, ["--provider", "acme", "storage", "create-bucket", "Not_Valid"])
    assert result.exit_code == 2
    assert "name: may contain only lower-case letters" in result.output


def test_cli_reports_not_supported_with_exit_code_1(acme: None) -> None:
    result = CliRunner().invoke(main, ["--provider", "acme", "dns", "list-zones"])
    assert result.exit_code == 1
    assert "NotSupported: acme does not support dns.list_zones" in result.output


def test_cli_providers_lists_local_with_json() -> None:
    result = CliRunner().invoke(main, ["-o", "json", "providers"])
    assert result.exit_code == 0, result.output
    rows = {row["provider"]: row for row in json.loads(result.output)}
    assert rows["local"]["distribution"] == "cloudkit-local"
    assert rows["local"]["version"] == "0.1.0"
