"""A minimal third-party plugin used by the core tests: an in-memory storage driver."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import IO, Any

import cloudkit
from cloudkit import Bucket, ObjectInfo, StorageService
from cloudkit.streams import ObjectReader


class MemoryStorage(StorageService):
    """A minimal in-memory storage driver: enough to exercise the contract."""

    def __init__(self, provider: str, settings: Mapping[str, Any]) -> None:
        super().__init__(provider, settings)
        self.buckets: dict[str, dict[str, bytes]] = {}

    def _create_bucket(self, name: str, region: str | None) -> Bucket:
        self.buckets[name] = {}
        return Bucket(name, region)

    def _put_object(self, bucket: str, key: str, reader: IO[bytes], size: int | None, content_type: str | None,
                    metadata: dict[str, str]) -> ObjectInfo:
        data = reader.read()
        self.buckets[bucket][key] = data
        return ObjectInfo(bucket, key, len(data), content_type=content_type, metadata=metadata)

    def _get_object(self, bucket: str, key: str, range: tuple[int, int | None] | None) -> ObjectReader:
        data = self.buckets[bucket][key]
        return ObjectReader(ObjectInfo(bucket, key, len(data)), io.BytesIO(data))


class AcmePlugin:
    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        return [cloudkit.ProviderInfo(name="acme", families={"storage"}, description="test double")]

    @cloudkit.hookimpl
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        if provider == "acme" and family == "storage":
            return MemoryStorage(provider, settings)
        return None


class WildcardPlugin:
    """Claims any ``wild:*`` name through the resolve hook, like the libcloud fallback does."""

    @cloudkit.hookimpl
    def cloudkit_resolve_provider(self, name: str) -> Any:
        if name.startswith("wild:"):
            return cloudkit.ProviderInfo(name=name, families={"storage"})
        return None

    @cloudkit.hookimpl(trylast=True)
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        if family == "storage" and provider.startswith(("wild:", "acme")):
            return MemoryStorage("fallback", settings)
        return None
