"""The provider toolkit: what every provider plugin (built-in or third-party) shares.

* **Error translation at one point.** A service class sets :attr:`TranslatedService.translate_error`
  (or inherits :class:`TranslatedService` and passes a translator): the core boundary
  (:mod:`cloudkit.calls`) calls it with every non-cloudkit exception a driver method raises, and
  with every one raised while a listing it returned is consumed, before falling back on a generic
  :class:`~cloudkit.ProviderError`. A driver therefore needs no ``try``/``except`` just to translate;
  it maps explicitly only where the message needs local context.
* **One wait rule** (:func:`poll_until`, :func:`wait_timeout`): a wait that runs out of time raises
  :class:`~cloudkit.Timeout` naming the resource and the state it was last seen in, and *never*
  deletes or rolls back anything: the resource is left as it is, still progressing where the
  provider keeps working on it. ``wait=False`` returns the resource at once, in its current
  (usually pending) state.
* **One events-follow loop** (:func:`follow`) for ``events(follow=True, timeout=...)``.
* **One plugin factory** (:class:`FamilyPlugin`) for a provider laid out one module per family,
  each exposing ``make_service(settings)``.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import time
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping
from typing import Any, TypeVar

from cloudkit.errors import CloudkitError, Timeout
from cloudkit.hookspecs import hookimpl

__all__ = [
    "ErrorTranslator",
    "FamilyPlugin",
    "TranslatedService",
    "apply_translator",
    "follow",
    "installed_families",
    "load_family",
    "poll_until",
    "wait_timeout",
]

T = TypeVar("T")

log = logging.getLogger("cloudkit")

#: ``translate(exc, operation)``: the cloudkit error for a native exception raised during
#: ``operation`` (``"<family>.<operation>"``), or ``None`` when the exception is not the provider's
#: (a bug in the driver, say), which the core then reports as a generic ``ProviderError``.
ErrorTranslator = Callable[[BaseException, str], CloudkitError | None]


class TranslatedService:
    """Mixin for a provider's service classes: the provider's error translator, applied by the core.

    Put it first among the bases and override :meth:`translate_error` (the built-in providers
    each do so once, in their ``errors.py``)::

        class AcmeErrors(TranslatedService):
            def translate_error(self, exc, operation):
                if isinstance(exc, acme.ApiError):
                    return NotFound(f"{operation}: ...", provider="acme") if exc.status == 404 else None
                return None

        class AcmeStorage(AcmeErrors, cloudkit.StorageService): ...
    """

    def translate_error(self, exc: BaseException, operation: str) -> CloudkitError | None:
        """The cloudkit error for native ``exc`` raised during ``operation``; ``None`` when not the provider's."""
        return None


def apply_translator(service: Any, exc: BaseException, operation: str) -> CloudkitError | None:
    """What ``service``'s translator makes of ``exc`` (``None``: no translator, it declined, or it failed).

    The translator's own failure never escapes: it is logged (type only) and treated as declining.
    The native exception becomes the result's ``__cause__``.
    """
    translate = getattr(service, "translate_error", None)
    if translate is None or not callable(translate):
        return None
    try:
        err = translate(exc, operation)
    except Exception as failure:  # a broken translator must not hide the original error
        log.warning("the error translator of %s failed on %s: %s", getattr(service, "provider", "?"),
                    type(exc).__name__, type(failure).__name__)
        return None
    if not isinstance(err, CloudkitError):
        return None
    if err is not exc and err.__cause__ is None:
        err.__cause__ = exc
    if err.provider is None:
        err.provider = getattr(service, "provider", None)
    return err


def wait_timeout(what: str, target: str, timeout: float, state: str | None, *, provider: str | None = None) -> Timeout:
    """The :class:`~cloudkit.Timeout` of a wait: names the resource, the awaited and the last seen state.

    ``what`` names the resource (``"instance i-123"``), ``target`` the state waited for. The text
    says the resource was left as it is: a timeout never deletes or rolls back.
    """
    seen = f"it was last seen {state}" if state else "its state is unknown"
    return Timeout(f"{what} did not become {target} within {timeout:g}s; {seen} and is left as it is "
                   "(a timeout deletes nothing)", provider=provider)


def poll_until(
    fetch: Callable[[], T],
    done: Callable[[T], bool],
    *,
    timeout: float,
    what: str,
    target: str,
    state: Callable[[T], str | None] = lambda current: None,
    failed: Callable[[T], CloudkitError | None] = lambda current: None,
    interval: float = 2.0,
    initial: float | None = None,
    provider: str | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Call ``fetch()`` until ``done(result)``; return that result.

    Polls start ``initial`` seconds apart (default ``interval``) and double up to ``interval``;
    ``fetch`` is called at least once, and once more at the deadline. ``failed(result)`` returns
    the error to raise at once when the resource reached a state it cannot leave for ``target``.
    When ``timeout`` seconds pass first, :func:`wait_timeout` is raised with ``state(result)``;
    nothing is deleted or undone.
    """
    deadline = clock() + max(0.0, timeout)
    delay = interval if initial is None else min(initial, interval)
    while True:
        current = fetch()
        if done(current):
            return current
        problem = failed(current)
        if problem is not None:
            raise problem
        remaining = deadline - clock()
        if remaining <= 0:
            raise wait_timeout(what, target, timeout, state(current), provider=provider)
        sleep(max(0.0, min(delay, remaining)))
        delay = min(delay * 2 or interval, interval)


def follow(
    fetch: Callable[[], Iterable[T]],
    *,
    follow: bool,
    timeout: float,
    interval: float,
    key: Callable[[T], Hashable] | None = None,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[T]:
    """Yield what each ``fetch()`` round returns; with ``follow``, poll again every ``interval`` until ``timeout``.

    ``fetch`` keeps its own cursor (for example the last event id or time it returned). With
    ``key``, an item whose key was already yielded is skipped (for sources whose cursor is
    inclusive, such as a timestamp). Ending at the deadline is not an error: following is bounded
    by ``timeout`` by design.
    """
    deadline = clock() + max(0.0, timeout)
    seen: set[Hashable] = set()
    while True:
        for item in fetch():
            if key is not None:
                k = key(item)
                if k in seen:
                    continue
                seen.add(k)
            yield item
        remaining = deadline - clock()
        if not follow or remaining <= 0:
            return
        sleep(max(0.0, min(interval, remaining)))


class FamilyPlugin:
    """A provider plugin for a package laid out one module per family.

    ``FamilyPlugin("acme", "acme_cloudkit", families=("storage", "dns"), ...)`` announces ``acme``
    with the families whose module ``acme_cloudkit.<family>`` is installed, and builds a service by
    importing that module (only when first used) and calling its ``make_service(settings)``.
    Register the instance with :func:`cloudkit.register_plugin` or the ``cloudkit`` entry point.
    """

    def __init__(self, name: str, package: str, *, families: Iterable[str], description: str,
                 distribution: str | None = None, settings: tuple[Any, ...] | None = None) -> None:
        self.name = name
        self.package = package
        self.all_families = tuple(families)
        self.description = description
        self.distribution = distribution
        self.settings = settings

    def __repr__(self) -> str:
        return f"<FamilyPlugin {self.name!r} ({self.package})>"

    def families(self) -> frozenset[str]:
        """The families whose module is installed (found without importing it)."""
        return installed_families(self.package, self.all_families)

    @hookimpl
    def cloudkit_providers(self) -> list[Any]:
        """Announce the provider with its installed families and declared settings."""
        from cloudkit.plugins import ProviderInfo

        return [ProviderInfo(name=self.name, families=self.families(),  # type: ignore[arg-type]  # attrs converter
                             description=self.description, distribution=self.distribution, settings=self.settings)]

    @hookimpl
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        """Build the service of ``family`` (``None`` for another provider or a family not installed)."""
        if provider != self.name or family not in self.families():
            return None
        return load_family(self.package, family).make_service(settings)


def installed_families(package: str, families: Iterable[str]) -> frozenset[str]:
    """Those of ``families`` for which ``<package>.<family>`` can be imported (without importing it)."""
    return frozenset(f for f in families if importlib.util.find_spec(f"{package}.{f}") is not None)


def load_family(package: str, family: str) -> Any:
    """The module ``<package>.<family>``, imported on first use."""
    return importlib.import_module(f"{package}.{family}")
