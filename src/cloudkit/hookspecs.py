"""The hooks a cloudkit provider plugin implements (pluggy project name ``cloudkit``).

A plugin is any object with methods marked ``@cloudkit.hookimpl``; it is registered with
:func:`cloudkit.register_plugin` or found through the ``cloudkit`` entry-point group. Built-in
providers are plugins exactly like third-party ones.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("cloudkit")
hookimpl = pluggy.HookimplMarker("cloudkit")


@hookspec
def cloudkit_providers() -> Sequence[Any]:
    """Announce the providers this plugin serves.

    Called once per plugin when cloudkit first needs the list of providers (``connect``,
    ``cloudkit providers``). Return a sequence of :class:`cloudkit.ProviderInfo`. Providers whose
    names are open-ended (``libcloud:<anything libcloud knows>``) are answered by
    :func:`cloudkit_resolve_provider` instead.
    """
    return ()


@hookspec(firstresult=True)
def cloudkit_resolve_provider(name: str) -> Any:
    """Claim a provider name that no plugin announced.

    Called by ``connect`` when ``name`` is not among the announced providers. Return a
    :class:`cloudkit.ProviderInfo` to serve it, or ``None`` to let other plugins answer. The first
    non-``None`` answer wins; when nobody answers, ``connect`` raises ``InvalidInput`` listing the
    installed providers.
    """


@hookspec(firstresult=True)
def cloudkit_make_service(provider: str, family: str, settings: Mapping[str, Any]) -> Any:
    """Build the service of ``family`` for ``provider``.

    Called lazily, the first time a program touches ``cloud.<family>``. ``settings`` is a read-only
    :class:`cloudkit.Settings` (profile settings, then ``connect`` keyword arguments). Return an
    instance of the family's interface (for example a :class:`cloudkit.StorageService`) or ``None``
    when the plugin does not serve that provider and family. The first non-``None`` answer wins;
    fallback plugins mark their implementation ``trylast``. When nobody answers, the family is
    served by a stand-in whose every operation raises ``NotSupported``.
    """


@hookspec(firstresult=True)
def cloudkit_call(service: Any, operation: str, call: Any) -> Any:
    """Run one public operation of a service.

    Called for every public method call on a family service (``storage.put_object``...), after
    nothing else: ``call()`` validates the input and runs the driver. cloudkit's own
    implementation (``trylast``) returns ``call()``. Cross-cutting concerns (logging, audit,
    metrics, tracing) are hook wrappers (``@cloudkit.hookimpl(wrapper=True)``) that ``yield`` to get
    the result or see the exception; ``service.provider`` and ``service.family`` say where the call
    went. Arguments are not passed, so wrappers cannot leak secrets by accident.
    """


@hookspec
def cloudkit_provider_catalogue() -> Sequence[Any]:
    """List the providers this plugin can serve on demand without announcing them.

    Called only when a user asks for the full list (``cloudkit providers --all``), never by
    ``connect``: a plugin whose names are open-ended (the libcloud fallback) may import heavy
    libraries here. Return a sequence of :class:`cloudkit.ProviderInfo` (families filled in).
    """
    return ()
