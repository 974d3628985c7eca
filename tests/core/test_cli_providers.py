"""`cloudkit providers`: announced providers with capability counts; --all adds on-demand ones."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

import cloudkit
from cloudkit.cli import main


class Catalogue:
    @cloudkit.hookimpl
    def cloudkit_provider_catalogue(self) -> list[Any]:
        return [cloudkit.ProviderInfo("ondemand:thing", {"storage", "dns"}, "served on demand")]


@pytest.fixture
def catalogue() -> Iterator[None]:
    plugin = Catalogue()
    cloudkit.register_plugin(plugin)
    yield
    cloudkit.unregister_plugin(plugin)


def _rows(*args: str) -> dict[str, dict[str, Any]]:
    result = CliRunner().invoke(main, ["-o", "json", "providers", *args])
    assert result.exit_code == 0, result.output
    return {row["provider"]: row for row in json.loads(result.output)}


def test_on_demand_providers_only_with_all(catalogue: None) -> None:
    assert "ondemand:thing" not in _rows()
    rows = _rows("--all")
    assert rows["ondemand:thing"]["families"] == ["dns", "storage"]
    assert rows["ondemand:thing"]["capabilities"] == []
    assert "storage 17" in rows["local"]["capabilities"]


def test_all_lists_libcloud_drivers_with_families_read_from_libcloud() -> None:
    rows = _rows("--all")
    assert rows["libcloud:powerdns"]["families"] == ["dns"]
    assert rows["libcloud:azure_blobs"]["families"] == ["storage"]
    assert "compute" in rows["libcloud:ec2"]["families"]
    assert not any(name.startswith("libcloud:") for name in _rows())
