"""The local provider's plugin: announces ``local`` and builds its family services on demand.

Each family lives in its own module (``storage.py``, ``dns.py``, ...) exposing ``make_service``;
a module is imported only when its family is first used, so ``connect("local")`` stays light.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any

import cloudkit

ALL_FAMILIES = ("compute", "storage", "dns", "notification", "database", "platform")


def _families() -> frozenset[str]:
    """The families whose module this distribution ships."""
    return frozenset(f for f in ALL_FAMILIES if importlib.util.find_spec(f"cloudkit_local.{f}") is not None)


class LocalPlugin:
    """Serves the ``local`` provider."""

    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        return [
            cloudkit.ProviderInfo(
                name="local",
                families=_families(),
                description="Everything on this machine: no account, no network (the default).",
                distribution="cloudkit-local",
            )
        ]

    @cloudkit.hookimpl
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        if provider != "local" or family not in _families():
            return None
        module = importlib.import_module(f"cloudkit_local.{family}")
        return module.make_service(settings)


plugin = LocalPlugin()
