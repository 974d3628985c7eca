"""Provider settings: a read-only mapping whose repr never shows a secret."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

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
