"""The plugin manager: discovery through entry points (once, lazily) and provider resolution."""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Iterable, Iterator, Mapping
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
            _load_entry_points(_pm)
        return _pm


def _entry_point_files() -> Iterator[str] | None:
    """Every ``entry_points.txt`` of the distributions installed as folders on ``sys.path``, in path order.

    ``None`` when some ``sys.path`` entry is a file (a zip or egg), which only
    :mod:`importlib.metadata` knows how to read.
    """
    files = []
    for entry in sys.path:
        folder = entry or "."
        if os.path.isfile(folder):
            return None
        try:
            names = sorted(os.listdir(folder))
        except OSError:
            continue
        for name in names:
            if name.endswith((".dist-info", ".egg-info")):
                path = os.path.join(folder, name, "entry_points.txt")
                if os.path.isfile(path):
                    files.append(path)
    return iter(files)


def _group_entries(text: str, group: str) -> list[tuple[str, str]]:
    """(name, ``module:attr``) of each entry point of ``group`` in one ``entry_points.txt``."""
    found, inside = [], False
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            inside = line[1:-1].strip() == group
        elif inside and "=" in line:
            name, _, value = line.partition("=")
            found.append((name.strip(), value.split("[", 1)[0].strip()))
    return found


def _load_entry_points(pm: pluggy.PluginManager) -> None:
    """Register the plugins of the ``cloudkit`` entry-point group, first installed copy of each name first.

    Importing :mod:`importlib.metadata` (and parsing every distribution's metadata) costs about as
    much as the rest of ``connect("local")`` together, so the ``entry_points.txt`` files of
    folder-installed distributions are read directly; anything else on ``sys.path`` (a zip, an
    egg) falls back to pluggy's reader. Either way a plugin already registered or blocked under
    its entry-point name is left alone.
    """
    files = _entry_point_files()
    if files is None:
        pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
        return
    import importlib

    for path in files:
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        if f"[{ENTRY_POINT_GROUP}]" not in text:
            continue
        for name, target in _group_entries(text, ENTRY_POINT_GROUP):
            if pm.has_plugin(name) or pm.is_blocked(name):
                continue
            module, _, attr = target.partition(":")
            plugin: Any = importlib.import_module(module.strip())
            for part in attr.strip().split(".") if attr.strip() else ():
                plugin = getattr(plugin, part)
            pm.register(plugin, name=name)


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
