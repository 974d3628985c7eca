"""The AWS provider's plugin: ``cloudkit_aws.<family>.make_service(settings)`` builds each family.

Importing this module (cloudkit does it through the ``cloudkit`` entry point) stays light: boto3 is
imported only when a family service makes its first client.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from typing import Any

import cloudkit

ALL_FAMILIES = ("compute", "storage", "dns", "notification", "database", "platform")


def _families() -> frozenset[str]:
    return frozenset(f for f in ALL_FAMILIES if importlib.util.find_spec(f"cloudkit_aws.{f}") is not None)


class AwsPlugin:
    """Serves the ``aws`` provider. boto3 is imported only when a service is built."""

    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        """Announce ``aws`` with the families whose module is installed."""
        return [cloudkit.ProviderInfo(name="aws", families=_families(),  # type: ignore[arg-type]  # attrs converter
                                      description="Amazon Web Services through boto3.", distribution="cloudkit-aws")]

    @cloudkit.hookimpl
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        """Build the aws service of ``family`` (``None`` for other providers)."""
        if provider != "aws" or family not in _families():
            return None
        return importlib.import_module(f"cloudkit_aws.{family}").make_service(settings)


plugin = AwsPlugin()
