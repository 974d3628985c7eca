"""Shared helpers for the frozen models."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

import attrs


def frozen_map(value: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Return a read-only copy of ``value`` (an empty mapping for ``None``)."""
    return MappingProxyType(dict(value or {}))


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
