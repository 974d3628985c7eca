"""Compare what one scenario returned on two providers: the kit's proof of portability.

A portability test runs one function taking a :class:`cloudkit.Cloud` on two profiles and compares
the results with :func:`neutral_diff`. The results are reduced to their *neutral* part first
(:func:`neutral`): models become mappings of their fields without ``extra`` (the provider's native
fields), and what is expected to differ between providers is left out -- identifiers (fields named
``id``, ``*_id`` or ``receipt``) and times (every ``datetime``). Anything else a provider legitimately
decides by itself (an IP address, an engine's minor version) is named by the caller in ``ignore``,
as dotted paths where ``*`` matches any one step (``"compute.instance.private_ip"``,
``"dns.records.*.extra"``).

::

    from cloudkit.testing.portability import assert_portable

    def nightly(cloud): ...        # written once against the neutral API
    assert_portable(nightly(local), nightly(aws), ignore={"compute.instance.zone": "placement"})
"""

from __future__ import annotations

import fnmatch
import typing
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

__all__ = ["IDENTIFIER_FIELDS", "assert_portable", "neutral", "neutral_diff"]

#: Field names that hold identifiers a provider assigns (compared nowhere).
IDENTIFIER_FIELDS = ("id", "*_id", "receipt")

_OMITTED = object()


def _is_identifier(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, pattern) for pattern in IDENTIFIER_FIELDS)


def _is_time(hint: Any) -> bool:
    """Whether a field's declared type is ``datetime`` (or ``datetime | None``)."""
    return hint is datetime or datetime in typing.get_args(hint)


def neutral(value: Any) -> Any:
    """``value`` reduced to what must be equal on every provider.

    attrs models become dicts of their fields without ``extra``, identifier fields and time fields
    (declared ``datetime``, whether set or ``None``: one provider may not know a time the other has);
    mappings, lists and tuples are reduced item by item (tuples become lists); other values are
    returned as they are.
    """
    if attrs.has(type(value)):
        out: dict[str, Any] = {"__model__": type(value).__name__}
        hints = typing.get_type_hints(type(value))
        for field in attrs.fields(type(value)):
            if field.name == "extra" or _is_identifier(field.name) or _is_time(hints.get(field.name)):
                continue
            item = getattr(value, field.name)
            if isinstance(item, datetime):
                continue
            out[field.name] = neutral(item)
        return out
    if isinstance(value, datetime):
        return _OMITTED
    if isinstance(value, Mapping):
        return {str(k): v for k, v in ((k, neutral(v)) for k, v in value.items()) if v is not _OMITTED}
    if isinstance(value, (list, tuple)):
        return [v for v in (neutral(i) for i in value) if v is not _OMITTED]
    return value


def _ignored(path: str, ignore: Mapping[str, str]) -> bool:
    steps = path.split(".")
    for pattern in ignore:
        wanted = pattern.split(".")
        if len(wanted) <= len(steps) and all(fnmatch.fnmatchcase(s, w) for s, w in zip(steps, wanted, strict=False)):
            return True
    return False


def _diff(a: Any, b: Any, path: str, ignore: Mapping[str, str], out: list[str]) -> None:
    if path and _ignored(path, ignore):
        return
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            sub = f"{path}.{key}" if path else str(key)
            if key not in a or key not in b:
                if not _ignored(sub, ignore):
                    out.append(f"{sub}: only on {'the first' if key in a else 'the second'} provider "
                               f"({a.get(key, b.get(key))!r})")
                continue
            _diff(a[key], b[key], sub, ignore, out)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items != {len(b)} items ({a!r} != {b!r})")
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _diff(x, y, f"{path}.{i}" if path else str(i), ignore, out)
        return
    if a != b or type(a) is not type(b):
        out.append(f"{path}: {a!r} != {b!r}")


def neutral_diff(first: Any, second: Any, ignore: Mapping[str, str] | None = None) -> list[str]:
    """Every difference between the neutral parts of two results, one line per field path.

    ``ignore`` maps dotted paths (``*`` matching one step) to the reason they may differ; a path
    ignores everything below it.
    """
    out: list[str] = []
    _diff(neutral(first), neutral(second), "", ignore or {}, out)
    return out


def assert_portable(first: Any, second: Any, ignore: Mapping[str, str] | None = None,
                    names: tuple[str, str] = ("first", "second")) -> None:
    """Fail (``AssertionError``) listing every neutral field where two providers' results differ."""
    differences = neutral_diff(first, second, ignore)
    if differences:
        raise AssertionError(f"{names[0]} and {names[1]} differ in {len(differences)} neutral fields:\n  "
                             + "\n  ".join(differences))
