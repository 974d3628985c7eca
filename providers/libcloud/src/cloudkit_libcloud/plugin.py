"""The libcloud fallback plugin (placeholder until its issue lands: serves nothing yet)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cloudkit


class LibcloudPlugin:
    """Serves ``libcloud:<provider>`` names and, as a fallback, names libcloud knows."""

    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        return []

    @cloudkit.hookimpl(trylast=True)
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        return None


plugin = LibcloudPlugin()
