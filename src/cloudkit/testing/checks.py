"""Checks every model a service returns against its declaration (used by every conformance suite).

:func:`check_model` verifies one value: each field holds the declared type, every ``datetime`` is
timezone-aware UTC, and every state field's value is inside its documented enumeration
(:data:`cloudkit.models.STATE_FIELDS`). :class:`ModelChecker` is a ``cloudkit_call`` hook wrapper
that applies it to everything an operation returns -- a model, a list or tuple of models, and each
item a returned iterator yields -- so a suite checks every returned model without asking. The
conformance suites register it for each test (see :class:`cloudkit.testing.helpers.Conformance`).
"""

from __future__ import annotations

import types
import typing
from collections.abc import Generator, Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

import cloudkit
from cloudkit.models import STATE_FIELDS


class ModelCheckFailed(AssertionError):
    """A returned value breaks its model's declaration."""


def _type_ok(value: Any, hint: Any, where: str) -> None:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any or hint is object:
        return
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            _type_ok(value, options[0], where)
            return
        for option in options:
            try:
                _type_ok(value, option, where)
                return
            except ModelCheckFailed:
                continue
        raise ModelCheckFailed(f"{where}: {value!r} is none of {hint}")
    if hint is type(None):
        if value is not None:
            raise ModelCheckFailed(f"{where}: expected None, got {value!r}")
        return
    if origin is typing.Literal:
        if value not in args:
            raise ModelCheckFailed(f"{where}: {value!r} is not one of {args}")
        return
    if origin is tuple:
        if not isinstance(value, tuple):
            raise ModelCheckFailed(f"{where}: expected a tuple, got {type(value).__name__}")
        if len(args) == 2 and args[1] is Ellipsis:
            for i, item in enumerate(value):
                _type_ok(item, args[0], f"{where}[{i}]")
        return
    if origin in (Mapping, dict) or hint in (Mapping, dict):
        if not isinstance(value, Mapping):
            raise ModelCheckFailed(f"{where}: expected a mapping, got {type(value).__name__}")
        if len(args) == 2:
            for k, v in value.items():
                _type_ok(k, args[0], f"{where} key")
                _type_ok(v, args[1], f"{where}[{k!r}]")
        return
    if hint is datetime:
        if not isinstance(value, datetime):
            raise ModelCheckFailed(f"{where}: expected a datetime, got {type(value).__name__} {value!r}")
        if value.tzinfo is None or value.utcoffset() != timedelta(0) or value.tzinfo is not UTC:
            raise ModelCheckFailed(f"{where}: {value!r} is not an aware UTC datetime (tzinfo {value.tzinfo!r})")
        return
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelCheckFailed(f"{where}: expected a number, got {type(value).__name__}")
        return
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ModelCheckFailed(f"{where}: expected an int, got {type(value).__name__} {value!r}")
        return
    if isinstance(hint, type):
        if not isinstance(value, hint):
            raise ModelCheckFailed(f"{where}: expected {hint.__name__}, got {type(value).__name__} {value!r}")
        if attrs.has(hint):
            check_model(value, where)
        return


def check_model(value: Any, where: str = "") -> None:
    """Raise :class:`ModelCheckFailed` unless ``value`` (an attrs model) matches its declaration."""
    cls = type(value)
    if not attrs.has(cls):
        return
    hints = typing.get_type_hints(cls)
    name = f"{where} {cls.__name__}" if where else cls.__name__
    for field in attrs.fields(cls):
        item = getattr(value, field.name)
        if field.name == "extra":
            if not isinstance(item, Mapping):
                raise ModelCheckFailed(f"{name}.extra: expected a mapping, got {type(item).__name__}")
            continue
        _type_ok(item, hints.get(field.name, Any), f"{name}.{field.name}")
        choices = STATE_FIELDS.get((cls, field.name))
        if choices is not None and item not in choices:
            raise ModelCheckFailed(f"{name}.{field.name}: {item!r} is not one of the documented values {choices}")
    try:
        hash(value)
    except TypeError as exc:
        raise ModelCheckFailed(f"{name}: a frozen model must be hashable ({exc})") from None


def check_result(value: Any, where: str) -> Any:
    """Check a returned value; iterators are wrapped so that each yielded item is checked."""
    if attrs.has(type(value)):
        check_model(value, where)
        return value
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            check_model(item, f"{where}[{i}]")
        return value
    if isinstance(value, Iterator) and not hasattr(value, "read"):  # a lazy listing, not a byte stream
        return _checked_iter(value, where)
    return value


def _checked_iter(items: Iterable[Any], where: str) -> Iterator[Any]:
    for i, item in enumerate(items):
        check_model(item, f"{where}[{i}]")
        yield item


class ModelChecker:
    """A ``cloudkit_call`` hook wrapper checking everything a service operation returns."""

    @cloudkit.hookimpl(wrapper=True)
    def cloudkit_call(self, service: Any, operation: str, call: Any) -> Generator[None, Any, Any]:
        """Check the result of ``operation`` (see :func:`check_result`)."""
        result = yield
        return check_result(result, f"{getattr(service, 'family', '?')}.{operation}()")
