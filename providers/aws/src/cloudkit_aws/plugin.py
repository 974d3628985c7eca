"""The AWS provider's plugin (families are added module by module)."""

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
        return [cloudkit.ProviderInfo("aws", _families(), "Amazon Web Services through boto3.", "cloudkit-aws")]

    @cloudkit.hookimpl
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        if provider != "aws" or family not in _families():
            return None
        return importlib.import_module(f"cloudkit_aws.{family}").make_service(settings)


plugin = AwsPlugin()
