"""The boundary between a user and a provider's driver: every public service operation runs here.

:func:`instrument` wraps each public method of a family interface. One user call is:

1. **one** ``cloudkit_call`` hook call (a public method that another public method of the same
   service calls in the same thread runs directly, inside the outer call, without a second hook call);
2. the interface's validation and the driver, where anything raised that is not a
   :class:`~cloudkit.CloudkitError` is given to the provider's error translator
   (``service.translate_error(exc, "<family>.<operation>")``, see :mod:`cloudkit.provider`) and,
   when that declines, becomes :class:`~cloudkit.ProviderError` (the original kept as
   ``__cause__`` either way), and a result that is not of the type the public method is annotated with is a
   ``ProviderError`` naming the provider, the driver class and the operation;
3. for a listing (a method annotated ``-> Iterator[...]``), an iterator the core wraps: each item is
   type-checked and errors raised while it is consumed are translated the same way;
4. one ``cloudkit_call_finished`` hook call when the operation is over: at once for a plain call,
   and for a listing when its iterator is exhausted, fails, or is closed (or dropped) early.

The built-in :class:`LogCalls` plugin implements ``cloudkit_call_finished`` and logs each operation
on the ``cloudkit`` logger at DEBUG level: provider, family, operation, duration, item count for
listings, and the error type on failure. Arguments and results are never logged (they may hold secrets).
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
import time
import types
import typing
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar, Union

from cloudkit.errors import CloudkitError, InvalidInput, ProviderError
from cloudkit.hookspecs import hookimpl
from cloudkit.provider import apply_translator

F = TypeVar("F", bound=Callable[..., Any])

log = logging.getLogger("cloudkit")

#: ids of the services that have a public call running in this thread (or asyncio task).
_active: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar("cloudkit_active_calls", default=frozenset())


class RunCall:
    """Runs the call: the innermost ``cloudkit_call`` implementation."""

    @hookimpl(trylast=True)
    def cloudkit_call(self, service: Any, operation: str, call: Callable[[], Any]) -> Any:
        """Return ``call()``."""
        return call()


class LogCalls:
    """Logs every finished operation at DEBUG on the ``cloudkit`` logger (never arguments or results)."""

    @hookimpl
    def cloudkit_call_finished(self, service: Any, operation: str, duration: float, error: BaseException | None,
                               items: int | None, status: str) -> None:
        """Log one line: ``<provider> <family>.<operation> ok in 1.23 ms`` (or ``failed``/``closed``)."""
        if not log.isEnabledFor(logging.DEBUG):
            return
        count = "" if items is None else f" ({items} items)"
        if error is not None:
            log.debug("%s %s.%s failed after %.2f ms%s: %s", service.provider, service.family, operation,
                      duration * 1000, count, type(error).__name__)
        elif status == "closed":
            log.debug("%s %s.%s closed after %.2f ms%s", service.provider, service.family, operation, duration * 1000, count)
        else:
            log.debug("%s %s.%s ok in %.2f ms%s", service.provider, service.family, operation, duration * 1000, count)


# ---------------------------------------------------------------------------------------------- checks

Check = Callable[[Any], bool]


def _isinstance_check(hint: Any) -> tuple[type, ...] | None:
    """The classes ``isinstance`` can test ``hint`` with (a class, ``None`` or a union of them)."""
    if hint is None or hint is type(None):
        return (type(None),)
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return (hint,)
    if typing.get_origin(hint) in (Union, types.UnionType):
        out: list[type] = []
        for arg in typing.get_args(hint):
            sub = _isinstance_check(arg)
            if sub is None:
                return None
            out.extend(sub)
        return tuple(out)
    return None


def _checker(hint: Any) -> Check:
    """A predicate telling whether a value matches ``hint`` (plain classes by ``isinstance``, the rest by typeguard)."""
    if hint is Any:
        return lambda value: True
    classes = _isinstance_check(hint)
    if classes is not None:
        return lambda value: isinstance(value, classes)

    def deep(value: Any) -> bool:
        import typeguard

        try:
            typeguard.check_type(value, hint, collection_check_strategy=typeguard.CollectionCheckStrategy.ALL_ITEMS)
        except typeguard.TypeCheckError:
            return False
        return True

    return deep


class _Contract:
    """What one public method promises: its return type (resolved once, on first call) and its signature."""

    __slots__ = ("_method", "_resolved", "check", "expected", "item_check", "listing", "signature")

    def __init__(self, method: Callable[..., Any]) -> None:
        self._method = method
        self._resolved = False
        self.check: Check = lambda value: True
        self.item_check: Check = lambda value: True
        self.listing = False
        self.expected = "anything"
        self.signature: inspect.Signature | None = None

    def resolve(self) -> _Contract:
        if self._resolved:
            return self
        try:
            hint = typing.get_type_hints(self._method).get("return", Any)
        except Exception:  # an annotation that cannot be resolved is not checked
            hint = Any
        if typing.get_origin(hint) in (Iterator, typing.Iterator):
            (item,) = typing.get_args(hint) or (Any,)
            self.listing = True
            self.item_check = _checker(item)
            self.expected = _describe(item)
        else:
            self.check = _checker(hint)
            self.expected = _describe(hint)
        self._resolved = True
        return self

    def binds(self, service: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> TypeError | None:
        """``None`` when the arguments fit the signature, else the ``TypeError`` Python would raise."""
        if self.signature is None:
            self.signature = inspect.signature(self._method)
        try:
            self.signature.bind(service, *args, **kwargs)
        except TypeError as exc:
            return exc
        return None


def _describe(hint: Any) -> str:
    if hint is None or hint is type(None):
        return "None"
    if isinstance(hint, type) and typing.get_origin(hint) is None:
        return hint.__name__
    return str(hint).replace("typing.", "").replace("collections.abc.", "")


def _where(service: Any, operation: str) -> str:
    """``provider (module.DriverClass._operation)``: the provider and the driver method for messages."""
    cls = type(service)
    derived = getattr(cls, "DERIVED", {}).get(operation)
    method = f"{operation} (built on {', '.join('_' + d for d in derived)})" if derived else f"_{operation}"
    return f"{service.provider} ({cls.__module__}.{cls.__qualname__}.{method})"


def _translate(service: Any, operation: str, exc: Exception, stage: str = "", *, provider: bool = True) -> CloudkitError:
    """The cloudkit error a non-cloudkit exception becomes.

    The provider's translator (``service.translate_error``, see :mod:`cloudkit.provider`) is asked
    first; when it declines, a ``ProviderError`` naming the driver method (message without the
    exception's text, which may hold anything).
    """
    family = getattr(service, "family", "?")

    translated = apply_translator(service, exc, f"{family}.{operation}") if provider else None
    if translated is not None:
        return translated
    err = ProviderError(f"{family}.{operation} failed{stage} in {_where(service, operation)}: {type(exc).__name__}",
                        provider=getattr(service, "provider", None))
    err.__cause__ = exc
    return err


def _wrong_type(service: Any, operation: str, value: Any, expected: str, what: str = "returned") -> ProviderError:
    family = getattr(service, "family", "?")
    return ProviderError(
        f"{family}.{operation}: {_where(service, operation)} {what} {type(value).__name__}, not {expected}",
        provider=getattr(service, "provider", None),
    )


def _finished(service: Any, operation: str, start: float, error: BaseException | None, items: int | None, status: str) -> None:
    """Tell ``cloudkit_call_finished`` implementations; their own failures are logged, never raised."""
    from cloudkit.plugins import plugin_manager

    try:
        plugin_manager().hook.cloudkit_call_finished(
            service=service, operation=operation, duration=time.perf_counter() - start, error=error, items=items, status=status
        )
    except Exception as exc:
        log.warning("a cloudkit_call_finished implementation failed for %s.%s: %s",
                    getattr(service, "family", "?"), operation, type(exc).__name__)


class Listing(Iterator[Any]):
    """The iterator a listing returns: items type-checked, errors translated, the end reported.

    It is lazy like the driver's iterator it wraps. While it fetches an item, nested public calls on
    the same service run inside this operation (no extra hook call). When it is exhausted, fails,
    or is closed (explicitly, by ``with``, or when dropped) ``cloudkit_call_finished`` is called once.
    """

    __slots__ = ("_contract", "_done", "_inner", "_items", "_operation", "_service", "_start")

    def __init__(self, service: Any, operation: str, inner: Iterator[Any], contract: _Contract, start: float) -> None:
        self._service = service
        self._operation = operation
        self._inner = inner
        self._contract = contract
        self._start = start
        self._items = 0
        self._done = False

    def __iter__(self) -> Listing:
        return self

    def __next__(self) -> Any:
        if self._done:
            raise StopIteration
        key = id(self._service)
        active = _active.get()
        token = None if key in active else _active.set(active | {key})
        try:
            item = next(self._inner)
        except StopIteration:
            self._end(None, "ok")
            raise
        except CloudkitError as exc:
            self._end(exc, "failed")
            raise
        except Exception as exc:
            err = _translate(self._service, self._operation, exc, f" after {self._items} items")
            self._end(err, "failed")
            raise err from exc
        finally:
            if token is not None:
                _active.reset(token)
        if not self._contract.item_check(item):
            err = _wrong_type(self._service, self._operation, item, self._contract.expected, f"yielded (item {self._items})")
            self._close_inner()
            self._end(err, "failed")
            raise err
        self._items += 1
        return item

    def close(self) -> None:
        """Stop early: close the driver's iterator and report the operation as ``closed``."""
        if not self._done:
            self._close_inner()
            self._end(None, "closed")

    def __enter__(self) -> Listing:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # never raise from a finaliser
            pass

    def _close_inner(self) -> None:
        close = getattr(self._inner, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:
                log.debug("closing the iterator of %s failed: %s", self._operation, type(exc).__name__)

    def _end(self, error: BaseException | None, status: str) -> None:
        self._done = True
        _finished(self._service, self._operation, self._start, error, self._items, status)


def instrument(operation: str, method: F) -> F:
    """Wrap a public service method so that it runs through the boundary described in this module."""
    contract = _Contract(method)

    def guarded(self: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            result = method(self, *args, **kwargs)
        except CloudkitError:
            raise
        except TypeError as exc:
            misuse = contract.binds(self, args, kwargs)
            if misuse is not None:  # the caller's arguments do not fit the method: the caller's error
                raise InvalidInput(f"{self.family}.{operation}", f"bad arguments ({misuse})") from None
            raise _translate(self, operation, exc) from exc
        except Exception as exc:
            raise _translate(self, operation, exc) from exc
        c = contract.resolve()
        if c.listing:
            if isinstance(result, (str, bytes)) or not isinstance(result, Iterable):
                raise _wrong_type(self, operation, result, f"an iterator of {c.expected}")
        elif not c.check(result):
            raise _wrong_type(self, operation, result, c.expected)
        return result

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        key = id(self)
        active = _active.get()
        if key in active:  # nested public call on the same service: part of the outer call
            return method(self, *args, **kwargs)
        from cloudkit.plugins import plugin_manager

        start = time.perf_counter()
        token = _active.set(active | {key})
        try:
            result = plugin_manager().hook.cloudkit_call(
                service=self, operation=operation, call=functools.partial(guarded, self, args, kwargs)
            )
        except CloudkitError as exc:
            _finished(self, operation, start, exc, None, "failed")
            raise
        except Exception as exc:  # a hook wrapper's own failure
            err = _translate(self, operation, exc, " in a cloudkit_call hook", provider=False)
            _finished(self, operation, start, err, None, "failed")
            raise err from exc
        finally:
            _active.reset(token)
        if contract.resolve().listing and isinstance(result, Iterable) and not isinstance(result, (str, bytes)):
            return Listing(self, operation, iter(result), contract, start)
        _finished(self, operation, start, None, None, "ok")
        return result

    wrapper.__cloudkit_instrumented__ = True  # type: ignore[attr-defined]
    return wrapper  # type: ignore[return-value]
