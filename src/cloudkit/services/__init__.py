"""The service interfaces of the seven families."""

# LAZY EXPORTS (PEP 562): a family's interface (and with it its models and validation) is imported
# the first time it is used. To add a family: import its interface under TYPE_CHECKING below, add
# it to _EXPORTS, to _FAMILY_INTERFACES (family name -> interface name) and to __all__.
from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudkit.services.base import Service, unserved
    from cloudkit.services.compute import ComputeService
    from cloudkit.services.database import DatabaseService
    from cloudkit.services.dns import DNSService
    from cloudkit.services.loadbalancer import LoadBalancerService
    from cloudkit.services.notification import NotificationService
    from cloudkit.services.platform import PlatformService
    from cloudkit.services.storage import StorageService

_EXPORTS: dict[str, str] = {
    "ComputeService": "cloudkit.services.compute",
    "DNSService": "cloudkit.services.dns",
    "DatabaseService": "cloudkit.services.database",
    "LoadBalancerService": "cloudkit.services.loadbalancer",
    "NotificationService": "cloudkit.services.notification",
    "PlatformService": "cloudkit.services.platform",
    "Service": "cloudkit.services.base",
    "StorageService": "cloudkit.services.storage",
    "unserved": "cloudkit.services.base",
}

#: family name -> name of its interface class (in :data:`_EXPORTS`)
_FAMILY_INTERFACES: dict[str, str] = {
    "compute": "ComputeService",
    "storage": "StorageService",
    "dns": "DNSService",
    "notification": "NotificationService",
    "database": "DatabaseService",
    "platform": "PlatformService",
    "loadbalancer": "LoadBalancerService",
}


class _Families(Mapping[str, "type[Service]"]):
    """family name -> interface class, each interface imported when first looked up."""

    def __getitem__(self, family: str) -> type[Service]:
        interface: type[Service] = __getattr__(_FAMILY_INTERFACES[family])
        return interface

    def __iter__(self) -> Iterator[str]:
        return iter(_FAMILY_INTERFACES)

    def __len__(self) -> int:
        return len(_FAMILY_INTERFACES)

    def __contains__(self, family: object) -> bool:
        return family in _FAMILY_INTERFACES

    def __repr__(self) -> str:
        return f"FAMILIES({', '.join(_FAMILY_INTERFACES)})"


#: family name -> interface class (a read-only mapping; iterating it imports nothing)
FAMILIES: Mapping[str, type[Service]] = _Families()


def __getattr__(name: str) -> Any:
    """Import an interface the first time it is asked for, and keep it."""
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "FAMILIES",
    "ComputeService",
    "DNSService",
    "DatabaseService",
    "LoadBalancerService",
    "NotificationService",
    "PlatformService",
    "Service",
    "StorageService",
    "unserved",
]
