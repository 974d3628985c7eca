"""The plugin manager: discovery through entry points (once, lazily) and provider resolution."""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

import attrs
import pluggy

from cloudkit import hookspecs
from cloudkit.errors import InvalidInput
from cloudkit.settings import Setting

ENTRY_POINT_GROUP = "cloudkit"

_lock = threading.Lock()
_pm: pluggy.PluginManager | None = None
_loaded = False


def _families(value: Iterable[str]) -> frozenset[str]:
    return frozenset(value)


def _settings(value: Iterable[Setting] | None) -> tuple[Setting, ...] | None:
    return None if value is None else tuple(value)


@attrs.frozen
class ProviderInfo:
    """What a plugin announces about one provider.

    ``families`` is the set of families it serves; ``distribution`` names the Python
    distribution that ships it (for version reporting). ``settings`` declares every setting the
    provider reads (:class:`cloudkit.Setting`: name, type, doc): ``connect`` then refuses unknown
    names (naming the closest declared one) and converts text values to the declared types. A
    provider that declares nothing (``None``) gets its settings unchecked, as given.
    """

    name: str
    families: frozenset[str] = attrs.field(converter=_families)
    description: str = ""
    distribution: str | None = None
    settings: tuple[Setting, ...] | None = attrs.field(default=None, converter=_settings)


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide plugin manager, with entry-point plugins loaded on first use."""
    global _pm, _loaded
    pm = _pm
    if pm is not None and _loaded:  # fast path: every service call comes through here
        return pm
    with _lock:
        if _pm is None:
            from cloudkit.calls import LogCalls, RunCall

            _pm = pluggy.PluginManager("cloudkit")
            _pm.add_hookspecs(hookspecs)
            _pm.register(RunCall(), name="cloudkit.run-call")
            _pm.register(LogCalls(), name="cloudkit.log-calls")
        if not _loaded:
            _loaded = True
            _pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        return _pm


def register_plugin(plugin: object, name: str | None = None) -> None:
    """Register a plugin object (its ``@cloudkit.hookimpl`` methods) with cloudkit."""
    pm = plugin_manager()
    if pm.is_registered(plugin):
        return
    pm.register(plugin, name=name)


def unregister_plugin(plugin: object) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    pm = plugin_manager()
    if pm.is_registered(plugin):
        pm.unregister(plugin)


def providers() -> dict[str, ProviderInfo]:
    """Every announced provider, by name."""
    out: dict[str, ProviderInfo] = {}
    for batch in plugin_manager().hook.cloudkit_providers():
        for info in batch or ():
            out.setdefault(info.name, info)
    return out


def catalogue() -> dict[str, ProviderInfo]:
    """Announced providers plus those plugins can serve on demand (may import heavy libraries)."""
    out = providers()
    for batch in plugin_manager().hook.cloudkit_provider_catalogue():
        for info in batch or ():
            out.setdefault(info.name, info)
    return dict(sorted(out.items()))


def resolve_provider(name: str) -> ProviderInfo:
    """The :class:`ProviderInfo` serving ``name``, or ``InvalidInput`` listing what is installed."""
    if not isinstance(name, str) or not name:
        raise InvalidInput("provider", "must be a non-empty provider name")
    known = providers()
    if name in known:
        return known[name]
    info = plugin_manager().hook.cloudkit_resolve_provider(name=name)
    if info is not None:
        return info  # type: ignore[no-any-return]
    listed = ", ".join(sorted(known)) or "none"
    raise InvalidInput("provider", f"unknown provider {name!r}; installed providers: {listed}")


def make_service(provider: str, family: str, settings: Mapping[str, Any]) -> Any:
    """Ask the plugins for a service (``None`` when no plugin serves it)."""
    return plugin_manager().hook.cloudkit_make_service(provider=provider, family=family, settings=settings)
