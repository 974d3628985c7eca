"""Provider settings: a read-only mapping whose repr never shows a secret, and the settings providers declare."""

from __future__ import annotations

import fnmatch
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import attrs

from cloudkit.errors import InvalidInput

_SECRET = re.compile(r"(secret|password|passwd|token|credential|private|(^|_)key$)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Whether a setting called ``name`` holds a secret (its value is never shown)."""
    return bool(_SECRET.search(name))


class Settings(Mapping[str, Any]):
    """Settings handed to a provider. Values of secret-looking keys are redacted in ``repr``."""

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any] | None = None, **more: Any) -> None:
        merged = dict(data or {})
        merged.update(more)
        self._data = merged

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def redacted(self) -> dict[str, Any]:
        """A plain dict copy with secret values replaced by ``'***'``."""
        return {k: ("***" if is_secret_name(k) and v is not None else v) for k, v in self._data.items()}

    def __repr__(self) -> str:
        return f"Settings({self.redacted()!r})"

    def with_(self, **changes: Any) -> Settings:
        """A copy with ``changes`` applied (``None`` values are dropped)."""
        data = dict(self._data)
        for k, v in changes.items():
            if v is None:
                data.pop(k, None)
            else:
                data[k] = v
        return Settings(data)


#: The value kinds a provider can declare for a setting.
SettingType = Literal["str", "int", "float", "bool", "path", "list", "any"]

_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


@attrs.frozen
class Setting:
    """One setting a provider declares in its :class:`cloudkit.ProviderInfo`.

    ``name`` is the setting's name, or a pattern with ``*`` for a documented namespace of settings
    passed through (``ex_*`` for libcloud driver arguments, ``*_endpoint_url`` for per-service AWS
    endpoints). ``type`` decides the conversion of text values (``cloudkit --set port=5481``,
    environment, files): ``str``, ``int``, ``float``, ``bool`` (true/false, yes/no, on/off, 1/0),
    ``path`` (text or ``os.PathLike``, kept as given), ``list`` (of strings; text is split on
    commas) or ``any`` (kept as given). ``refused`` marks names that are never accepted, with the reason.
    """

    name: str
    type: SettingType = "str"
    doc: str = ""
    default: Any = None
    refused: str | None = None

    def matches(self, name: str) -> bool:
        """Whether ``name`` is this setting (or falls in its ``*`` pattern)."""
        return fnmatch.fnmatchcase(name, self.name) if "*" in self.name else name == self.name

    def convert(self, value: Any, name: str | None = None) -> Any:
        """``value`` converted to this setting's type, or ``InvalidInput`` naming the setting (``name``) and the rule."""
        if value is None or self.type == "any":
            return value
        field, kind = name or self.name, self.type
        text = value.strip() if isinstance(value, str) else None
        if kind == "str":
            if isinstance(value, str):
                return value
        elif kind == "path":
            if isinstance(value, (str, os.PathLike)):
                return value
        elif kind == "bool":
            if isinstance(value, bool):
                return value
            if text is not None and text.lower() in _TRUE + _FALSE:
                return text.lower() in _TRUE
        elif kind == "int":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if text is not None and re.fullmatch(r"[+-]?\d+", text):
                return int(text)
        elif kind == "float":
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return value
            if text is not None:
                try:
                    number = float(text)
                except ValueError:
                    pass
                else:
                    if math.isfinite(number):
                        return number
        elif kind == "list":
            if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
                return list(value)
            if text is not None:
                return [part.strip() for part in text.split(",") if part.strip()]
        shown = "a secret value" if is_secret_name(field) else f"{type(value).__name__}"
        raise InvalidInput(field, f"must be {_KIND_TEXT[kind]} (got {shown})")


_KIND_TEXT = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "a boolean (true or false)",
    "path": "a path",
    "list": "a list of strings (or comma-separated text)",
    "any": "anything",
}


def check_settings(provider: str, declared: Sequence[Setting], settings: Mapping[str, Any], *,
                   where: str | None = None) -> Settings:
    """``settings`` checked against ``declared``: names known, values converted to their declared types.

    An unknown name raises ``InvalidInput`` naming the setting and the closest declared name
    (``difflib``); ``where`` (a profile and file) is added to the message when the settings came from one.
    """
    exact = {s.name: s for s in declared if "*" not in s.name}
    patterns = [s for s in declared if "*" in s.name]
    out: dict[str, Any] = {}
    suffix = f" ({where})" if where else ""
    for name, value in settings.items():
        if not isinstance(name, str):
            raise InvalidInput("settings", f"setting names must be strings{suffix}")
        setting = exact.get(name) or next((p for p in patterns if p.matches(name)), None)
        if setting is None:
            import difflib  # only when a name is unknown: keeps connect() light

            close = difflib.get_close_matches(name, list(exact), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted([*exact, *(p.name for p in patterns if not p.refused)])) or "none"
            raise InvalidInput(name, f"unknown setting for provider {provider!r}{hint} (settings: {known}){suffix}",
                               provider=provider)
        if setting.refused:
            raise InvalidInput(name, f"{setting.refused}{suffix}", provider=provider)
        out[name] = setting.convert(value, name)
    return Settings(out)
