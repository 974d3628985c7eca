"""Settings -> libcloud driver: which libcloud provider serves which family, and the driver's arguments.

The families a libcloud provider serves are read from libcloud's own driver maps
(``libcloud.storage.providers.DRIVERS``, ``libcloud.dns.providers.DRIVERS``,
``libcloud.compute.providers.DRIVERS``), never from a list kept here.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Mapping
from typing import Any

from cloudkit.errors import AuthenticationError, InvalidInput
from cloudkit.settings import Settings
from cloudkit_libcloud.errors import noting_attempts

PREFIX = "libcloud:"
FAMILIES = ("compute", "storage", "dns")

#: Settings that become driver arguments of the same name.
_DIRECT = ("host", "port", "secure", "region", "api_version")
#: Settings this package reads itself (everything else that is not ``ex_*`` is ignored).
_OWN = ("key", "secret", "timeout", "retry_timeout", "retry_delay", "retry_backoff", "nameservers")

#: Environment variables read when the settings hold no ``key`` / ``secret``.
KEY_ENV = "CLOUDKIT_LIBCLOUD_KEY"
SECRET_ENV = "CLOUDKIT_LIBCLOUD_SECRET"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRY_TIMEOUT = 30.0
DEFAULT_RETRY_DELAY = 0.5
DEFAULT_RETRY_BACKOFF = 2.0


def driver_name(provider: str) -> str:
    """The libcloud provider constant behind a cloudkit provider name (``libcloud:s3`` -> ``s3``)."""
    return provider[len(PREFIX):] if provider.startswith(PREFIX) else provider


def _maps() -> dict[str, dict[str, Any]]:
    """libcloud's driver maps by provider name, read afresh (drivers registered later count too)."""
    from libcloud.compute.providers import DRIVERS as COMPUTE
    from libcloud.dns.providers import DRIVERS as DNS
    from libcloud.storage.providers import DRIVERS as STORAGE

    def names(drivers: Mapping[Any, Any]) -> dict[str, Any]:
        return {str(getattr(k, "value", k)): k for k in drivers}

    return {"compute": names(COMPUTE), "storage": names(STORAGE), "dns": names(DNS)}


def families_of(name: str) -> frozenset[str]:
    """The cloudkit families libcloud serves for its provider ``name`` (empty when unknown)."""
    name = driver_name(name)
    return frozenset(f for f, known in _maps().items() if name in known)


def all_providers() -> dict[str, frozenset[str]]:
    """Every libcloud provider name with the families libcloud serves for it."""
    out: dict[str, set[str]] = {}
    for family, known in _maps().items():
        for name in known:
            out.setdefault(name, set()).add(family)
    return {name: frozenset(fams) for name, fams in sorted(out.items())}


def _bool(field: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "yes", "1", "on", "false", "no", "0", "off"):
        return value.lower() in ("true", "yes", "1", "on")
    raise InvalidInput(field, "must be a boolean")


def _number(field: str, value: Any, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < low:
        raise InvalidInput(field, f"must be a number >= {low}")
    return float(value)


def driver_kwargs(settings: Mapping[str, Any]) -> dict[str, Any]:
    """libcloud driver constructor arguments from cloudkit settings (validated, no network).

    ``key`` and ``secret`` fall back to ``CLOUDKIT_LIBCLOUD_KEY`` / ``CLOUDKIT_LIBCLOUD_SECRET``.
    """
    kwargs: dict[str, Any] = {}
    for name, env in (("key", KEY_ENV), ("secret", SECRET_ENV)):
        value = settings.get(name)
        if value is None:
            value = os.environ.get(env) or None
        if value is not None:
            kwargs[name] = str(value)
    for name in _DIRECT:
        value = settings.get(name)
        if value is None:
            continue
        if name == "port":
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
                raise InvalidInput("port", "must be a TCP port number (1-65535)")
        elif name == "secure":
            value = _bool("secure", value)
        elif not isinstance(value, str) or not value:
            raise InvalidInput(name, "must be a non-empty string")
        kwargs[name] = value
    kwargs["timeout"] = _number("timeout", settings.get("timeout", DEFAULT_TIMEOUT), 0.1)
    for name, value in settings.items():
        if name.startswith("ex_"):
            kwargs[name] = value
    return kwargs


def _declared(cls: type, settings: Mapping[str, Any], taken: Mapping[str, Any]) -> dict[str, Any]:
    """Other settings named like a parameter of the driver's constructor (``signature_version``, ``token``...)."""
    import inspect

    try:
        params = inspect.signature(cls.__init__).parameters  # type: ignore[misc]
    except (TypeError, ValueError):
        return {}
    skip = set(_OWN) | set(taken) | {"self", "args", "kwargs"}
    return {k: val for k, val in settings.items() if k in params and k not in skip and val is not None}


def _bounded_retry(window: float) -> type:
    """libcloud's ``Retry`` with its own window (libcloud otherwise reuses the socket timeout)."""
    import http.client

    import requests
    from libcloud.common.exceptions import RateLimitReachedError
    from libcloud.utils.retry import Retry, TransientSSLError

    transient = (
        RateLimitReachedError,
        TransientSSLError,
        http.client.NotConnected,
        http.client.ImproperConnectionState,
        ConnectionResetError,
        requests.exceptions.ConnectionError,
    )

    class BoundedRetry(Retry):
        def __init__(self, retry_delay: float | None = None, timeout: float | None = None,
                     backoff: float | None = None) -> None:
            super().__init__(  # type: ignore[no-untyped-call]
                retry_exceptions=transient, retry_delay=retry_delay, timeout=window, backoff=backoff
            )

        def __call__(self, func: Any) -> Any:
            return super().__call__(noting_attempts(func))  # type: ignore[no-untyped-call]

    return BoundedRetry


def _replayable(body: Any) -> bool:
    """Whether a request body can be sent again as it is (bytes, text, a dict, nothing).

    A stream (a file-like or an iterator, as object uploads send) is used up by the first attempt:
    libcloud's retry would send the same ``Content-Length`` with no body left behind it, and wait
    for an answer the server never gives. Such requests are not retried.
    """
    return body is None or isinstance(body, (bytes, bytearray, memoryview, str, dict, list, tuple))


def driver_class(family: str, provider: str) -> type:
    """libcloud's driver class of ``family`` for ``provider`` (imports libcloud; no network)."""
    name = driver_name(provider)
    known = _maps()[family]
    if name not in known:
        raise InvalidInput("provider", f"libcloud has no {family} driver called {name!r}")
    if family == "storage":
        from libcloud.storage.providers import get_driver
    elif family == "dns":
        from libcloud.dns.providers import get_driver  # type: ignore[assignment]
    else:
        from libcloud.compute.providers import get_driver  # type: ignore[assignment]
    return get_driver(known[name])  # type: ignore[no-any-return, unused-ignore]


def concrete_class(cls: Any, settings: Mapping[str, Any]) -> Any:
    """The class a driver really instantiates: some (DigitalOcean, Linode) pick a versioned class in ``__new__``."""
    if getattr(cls, "__new__", object.__new__) is object.__new__:
        return cls
    kwargs = {"api_version": settings["api_version"]} if settings.get("api_version") else {}
    try:
        probe = cls.__new__(cls, str(settings.get("key") or "probe"), **kwargs)  # __new__ only: no __init__, no network
    except Exception:
        return cls
    return type(probe)


def build_driver(family: str, provider: str, settings: Mapping[str, Any]) -> Any:
    """A libcloud driver of ``family`` for ``provider`` with retries switched on.

    Transient failures (HTTP 429 with its ``Retry-After``, dropped connections) are retried by
    libcloud's own ``Retry`` for at most ``retry_timeout`` seconds (default 30), starting at
    ``retry_delay`` seconds and multiplying by ``retry_backoff``; ``retry_timeout=0`` turns retries off.
    Requests whose body is a stream (single-request object uploads) are not retried: see :func:`_replayable`.
    """
    cls = driver_class(family, provider)
    kwargs = driver_kwargs(settings)
    kwargs.update(_declared(cls, settings, kwargs))
    window = _number("retry_timeout", settings.get("retry_timeout", DEFAULT_RETRY_TIMEOUT), 0)
    delay = _number("retry_delay", settings.get("retry_delay", DEFAULT_RETRY_DELAY), 0)
    backoff = _number("retry_backoff", settings.get("retry_backoff", DEFAULT_RETRY_BACKOFF), 1)
    kwargs["retry_delay"] = delay
    kwargs["backoff"] = backoff
    key = kwargs.pop("key", None)
    args: list[Any] = [] if key is None else [key]
    try:
        driver = cls(*args, **kwargs)
    except TypeError as exc:
        if key is None and "'key'" in str(exc):
            raise AuthenticationError(
                f"{provider} needs credentials: set the 'key' setting (and 'secret' where the driver wants one) "
                f"or {KEY_ENV} / {SECRET_ENV}",
                provider=provider,
            ) from None
        raise
    conn = getattr(driver, "connection", None)
    if window <= 0 or conn is None or not hasattr(conn, "request"):
        return driver  # retry_timeout=0: retries off; drivers without HTTP (dummy, local) have none
    conn.retryCls = _bounded_retry(window)
    request = conn.request

    @functools.wraps(request)
    def request_with_retries(*a: Any, **kw: Any) -> Any:
        data = kw.get("data", a[2] if len(a) > 2 else None)
        kw.setdefault("retry_failed", _replayable(data))
        return request(*a, **kw)

    conn.request = request_with_retries
    return driver


class LazyDriver:
    """Mixin of the family services: the libcloud driver is built on first use, not on connect.

    Capabilities come from the driver *class*, so ``capabilities()`` needs no credentials and no
    network; a missing key raises ``AuthenticationError`` on the first call that needs the driver.
    """

    provider: str
    settings: Settings

    def _setup_driver(self, family: str) -> None:
        from cloudkit_libcloud.errors import mapped

        self._driver_family = family
        with mapped(self.provider, f"{family}.connect"):
            self._driver_cls: Any = concrete_class(driver_class(family, self.provider), self.settings)
        driver_kwargs(self.settings)  # bad settings raise InvalidInput now, before any call
        self._driver_obj: Any = None
        self._driver_lock = threading.Lock()

    @property
    def _driver(self) -> Any:
        driver = self._driver_obj
        if driver is None:
            from cloudkit_libcloud.errors import mapped

            with self._driver_lock:
                if self._driver_obj is None:
                    with mapped(self.provider, f"{self._driver_family}.connect"):
                        built = build_driver(self._driver_family, self.provider, self.settings)
                        self._prepare_driver(built)
                    self._driver_obj = built
                driver = self._driver_obj
        return driver

    def _prepare_driver(self, driver: Any) -> None:
        """Adjust a freshly built driver (per-driver compatibility fixes)."""

    def close(self) -> None:
        """Close the driver's HTTP session (if it was ever built)."""
        session = getattr(getattr(getattr(self._driver_obj, "connection", None), "connection", None), "session", None)
        if session is not None:
            session.close()
