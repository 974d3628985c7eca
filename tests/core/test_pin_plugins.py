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
    listed = ", ".join(sorted(plugins.providers()))
    assert info.value.rule == f"unknown provider 'no-such-provider'; installed providers: {listed}"
    assert "local" in listed
    for bad in ("", None, 3):
        with pytest.raises(InvalidInput) as refused:
            plugins.resolve_provider(bad)  # type: ignore[arg-type]
        assert (refused.value.field, refused.value.rule) == ("provider", "must be a non-empty provider name")


def test_no_provider_installed_says_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "providers", dict)
    with pytest.raises(InvalidInput) as info:
        plugins.resolve_provider("nothing-here")
    assert info.value.rule == "unknown provider 'nothing-here'; installed providers: none"


def test_a_fresh_manager_is_set_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit.calls import LogCalls, RunCall

    monkeypatch.setattr(plugins, "_pm", None)
    monkeypatch.setattr(plugins, "_loaded", False)
    pm = plugins.plugin_manager()
    assert pm.project_name == "cloudkit"
    assert isinstance(pm.get_plugin("cloudkit.run-call"), RunCall)
    assert isinstance(pm.get_plugin("cloudkit.log-calls"), LogCalls)
    assert pm.hook.cloudkit_make_service.spec is not None
    assert plugins._loaded is True
    assert "local" in {info.name for batch in pm.hook.cloudkit_providers() for info in batch or ()}
    assert plugins.plugin_manager() is pm


class _Catalogued:
    @cloudkit.hookimpl
    def cloudkit_provider_catalogue(self) -> list[cloudkit.ProviderInfo]:
        return [cloudkit.ProviderInfo(name="pin-catalogued", families={"dns"}, description="on demand")]


class _Maker:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str, object]] = []

    @cloudkit.hookimpl(tryfirst=True)
    def cloudkit_make_service(self, provider: str, family: str, settings: object) -> object | None:
        if provider != "pin-maker":
            return None
        self.seen.append((provider, family, settings))
        return self


def test_catalogue_adds_on_demand_providers_and_make_service_passes_settings(registered: list[object]) -> None:
    catalogued, maker = _Catalogued(), _Maker()
    plugins.register_plugin(catalogued, name="pin-catalogued-plugin")
    plugins.register_plugin(maker)
    registered.extend([catalogued, maker])
    assert plugins.plugin_manager().get_plugin("pin-catalogued-plugin") is catalogued
    assert plugins.catalogue()["pin-catalogued"].description == "on demand"
    assert "pin-catalogued" not in plugins.providers()
    assert list(plugins.catalogue()) == sorted(plugins.catalogue())
    settings = {"region": "here"}
    assert plugins.make_service("pin-maker", "dns", settings) is maker
    assert maker.seen == [("pin-maker", "dns", settings)]


def test_provider_info_converts_its_fields() -> None:
    info = cloudkit.ProviderInfo(name="x", families=["a", "a"], settings=[])
    assert info.families == frozenset({"a"})
    assert info.settings == ()
    assert cloudkit.ProviderInfo(name="x", families=[]).settings is None
