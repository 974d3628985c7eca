"""Pins plugin precedence: when two plugins announce the same provider, the one pluggy calls first wins."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import cloudkit
from cloudkit import InvalidInput, plugins


class _Announce:
    def __init__(self, description: str) -> None:
        self.description = description

    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        return [cloudkit.ProviderInfo(name="pin-dup", families={"storage"}, description=self.description)]


class _AnnounceLast(_Announce):
    @cloudkit.hookimpl(trylast=True)
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        return [cloudkit.ProviderInfo(name="pin-dup", families={"dns"}, description=self.description)]


@pytest.fixture
def registered() -> Iterator[list[object]]:
    done: list[object] = []
    yield done
    for plugin in done:
        plugins.unregister_plugin(plugin)


def test_the_later_registered_plugin_wins(registered: list[object]) -> None:
    first, second = _Announce("first"), _Announce("second")
    for plugin in (first, second):
        plugins.register_plugin(plugin)
        registered.append(plugin)
    assert plugins.providers()["pin-dup"].description == "second"
    assert plugins.resolve_provider("pin-dup").description == "second"
    assert plugins.catalogue()["pin-dup"].description == "second"
    plugins.unregister_plugin(second)
    assert plugins.providers()["pin-dup"].description == "first"


def test_a_trylast_plugin_loses_to_a_plain_one(registered: list[object]) -> None:
    plain, last = _Announce("plain"), _AnnounceLast("last")
    for plugin in (plain, last):
        plugins.register_plugin(plugin)
        registered.append(plugin)
    info = plugins.providers()["pin-dup"]
    assert info.description == "plain"
    assert info.families == frozenset({"storage"})


def test_registering_twice_is_a_no_op(registered: list[object]) -> None:
    plugin = _Announce("once")
    plugins.register_plugin(plugin)
    registered.append(plugin)
    plugins.register_plugin(plugin)
    assert plugins.plugin_manager().is_registered(plugin)
    plugins.unregister_plugin(plugin)
    assert not plugins.plugin_manager().is_registered(plugin)
    plugins.unregister_plugin(plugin)  # unknown now: no error


def test_unknown_provider_lists_the_installed_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        plugins.resolve_provider("no-such-provider")
    assert info.value.field == "provider"
    assert "unknown provider 'no-such-provider'; installed providers: " in str(info.value)
    assert "local" in str(info.value)
    for bad in ("", None, 3):
        with pytest.raises(InvalidInput, match="must be a non-empty provider name"):
            plugins.resolve_provider(bad)  # type: ignore[arg-type]


def test_provider_info_converts_its_fields() -> None:
    info = cloudkit.ProviderInfo(name="x", families=["a", "a"], settings=[])
    assert info.families == frozenset({"a"})
    assert info.settings == ()
    assert cloudkit.ProviderInfo(name="x", families=[]).settings is None
