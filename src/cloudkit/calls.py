"""Every public service operation runs through the ``cloudkit_call`` hook.

The built-in plugin here runs the call and, as a hook wrapper, logs each operation on the
``cloudkit`` logger at DEBUG level: provider, family, operation, duration, and the error type on
failure. Arguments and results are never logged (they may hold secrets).
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Generator
from typing import Any, TypeVar

from cloudkit.hookspecs import hookimpl

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("cloudkit")


class RunCall:
    """Runs the call: the innermost ``cloudkit_call`` implementation."""

    @hookimpl(trylast=True)
    def cloudkit_call(self, service: Any, operation: str, call: Callable[[], Any]) -> Any:
        return call()


class LogCalls:
    """Logs every operation at DEBUG on the ``cloudkit`` logger (never arguments or results)."""

    @hookimpl(wrapper=True)
    def cloudkit_call(self, service: Any, operation: str, call: Callable[[], Any]) -> Generator[None, Any, Any]:
        if not log.isEnabledFor(logging.DEBUG):
            return (yield)
        start = time.perf_counter()
        try:
            result = yield
        except BaseException as exc:
            log.debug("%s %s.%s failed after %.2f ms: %s", service.provider, service.family, operation,
                      (time.perf_counter() - start) * 1000, type(exc).__name__)
            raise
        log.debug("%s %s.%s ok in %.2f ms", service.provider, service.family, operation, (time.perf_counter() - start) * 1000)
        return result


def instrument(operation: str, method: F) -> F:
    """Wrap a public service method so that it runs through the ``cloudkit_call`` hook."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        from cloudkit.plugins import plugin_manager

        return plugin_manager().hook.cloudkit_call(
            service=self, operation=operation, call=functools.partial(method, self, *args, **kwargs)
        )

    wrapper.__cloudkit_instrumented__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
