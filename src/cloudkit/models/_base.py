"""Shared helpers for the frozen models: hashable read-only maps, aware-UTC datetimes, enumerations.

Every model is an ``attrs`` frozen class that validates and normalises at construction:

- mappings (``extra``, ``tags``, ``metadata``, ``attributes``...) become :class:`immutabledict`
  values, read-only and hashable, so every frozen model is hashable (``extra`` never takes part in
  equality or hashing);
- every ``datetime`` field holds a timezone-aware UTC ``datetime``: aware values are converted to
  UTC, ISO 8601 strings (``2026-12-01T15:10:21.000Z``) are parsed, and a *naive* ``datetime`` is
  refused with :class:`~cloudkit.errors.InvalidInput`: a naive time from a driver is a driver bug
  (its zone is unknowable), so it fails loudly instead of being guessed;
- ``state``/``status`` fields take their values from an enumeration documented in the model's
  module; the provider's native value goes to ``extra``. The conformance kit checks every
  returned model against its declaration (field types, aware-UTC datetimes, states).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

import attrs
from immutabledict import immutabledict

from cloudkit.errors import InvalidInput


def frozen_map(value: Mapping[str, Any] | Iterable[tuple[str, Any]] | None) -> Mapping[str, Any]:
    """Return a read-only, hashable copy of ``value`` (an empty mapping for ``None``)."""
    if isinstance(value, immutabledict):
        return value
    return immutabledict(value or {})


def frozen_tuple(value: Any) -> tuple[Any, ...]:
    """Return ``value`` as a tuple (a single string stays one element)."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)):
        return (value,)
    return tuple(value)


def extra_field() -> Any:
    """The ``extra`` field every model carries: the provider's native fields, read-only."""
    return attrs.field(factory=dict, converter=frozen_map, repr=False, eq=False, kw_only=True)


def _field_name(instance: Any, attribute: attrs.Attribute[Any]) -> str:
    return f"{type(instance).__name__}.{attribute.name}"


def to_utc(value: object) -> object:
    """Normalise a datetime value: aware -> UTC, ISO 8601 string -> aware UTC; anything else unchanged.

    Values that cannot be normalised (naive datetimes, unparsable strings, other types) are left
    for :func:`check_utc` to refuse with the field's name.
    """
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None and value.utcoffset() is not None:
        return value.astimezone(UTC)
    return value


def check_utc(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    """Validator: ``value`` is ``None`` or an aware UTC ``datetime`` (see :func:`to_utc`)."""
    if value is None:
        return
    name = _field_name(instance, attribute)
    if isinstance(value, str):
        raise InvalidInput(name, f"must be a datetime or an ISO 8601 string with a time zone (got {value!r})")
    if not isinstance(value, datetime):
        raise InvalidInput(name, f"must be a datetime (got {type(value).__name__})")
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput(name, "must be timezone-aware (a naive datetime has no knowable zone)")


def datetime_field() -> Any:
    """An optional datetime field (default ``None``): normalised to aware UTC, naive values refused.

    A required one is ``attrs.field(converter=to_utc, validator=check_utc)``.
    """
    return attrs.field(default=None, converter=to_utc, validator=check_utc)

