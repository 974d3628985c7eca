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

    Called once for every public method call a user makes on a family service
    (``storage.put_object``...); a public method that another one of the same service calls in the
    same thread (``dns.upsert_records`` -> ``change_records``) runs inside the outer call, not as a
    second hook call. ``call()`` validates the input and runs the driver; whatever the driver
    raises that is not a :class:`cloudkit.CloudkitError` comes out of ``call()`` as a
    :class:`cloudkit.ProviderError` (the original as ``__cause__``), and a result of the wrong type
    as a ``ProviderError`` naming the driver method. cloudkit's own implementation (``trylast``)
    returns ``call()``. Cross-cutting concerns (logging, audit, metrics, tracing) are hook wrappers
    (``@cloudkit.hookimpl(wrapper=True)``) that ``yield`` to get the result or see the exception;
    ``service.provider`` and ``service.family`` say where the call went. Arguments are not passed,
    so wrappers cannot leak secrets by accident.

    A listing (``list_*``, ``events``...) returns a lazy iterator: this hook covers only its
    creation (input validation, and whatever the driver does before the first item is asked for).
    Pages are fetched later, while the caller consumes the iterator; to see the duration and the
    failure of the whole listing, implement :func:`cloudkit_call_finished`.
    """


@hookspec
def cloudkit_call_finished(service: Any, operation: str, duration: float, error: BaseException | None,
                           items: int | None, status: str) -> None:
    """Observe the end of one public operation (logging, metrics, tracing).

    Called exactly once per :func:`cloudkit_call`, when the operation is over: at once for a plain
    call, and for a listing when the caller has consumed its iterator -- exhausted it
    (``status="ok"``), met an error while fetching (``status="failed"``), or stopped early by closing
    it, leaving a ``with`` block or dropping it (``status="closed"``). ``duration`` is the wall time in
    seconds from the call to that moment (for a listing it includes the time the caller spent
    between items). ``error`` is the :class:`cloudkit.CloudkitError` the caller got (``None`` unless
    ``status == "failed"``); ``items`` is the number of items a listing yielded (``None`` for a plain
    call). Implementations must not raise: an exception is logged on the ``cloudkit`` logger and dropped.
    """


@hookspec
def cloudkit_provider_catalogue() -> Sequence[Any]:
    """List the providers this plugin can serve on demand without announcing them.

    Called only when a user asks for the full list (``cloudkit providers --all``), never by
    ``connect``: a plugin whose names are open-ended (the libcloud fallback) may import heavy
    libraries here. Return a sequence of :class:`cloudkit.ProviderInfo` (families filled in).
    """
    return ()
