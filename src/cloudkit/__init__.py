"""cloudkit: one provider-neutral API for compute, storage, DNS, notifications, databases and app platforms.

>>> import cloudkit
>>> with cloudkit.connect() as cloud:            # the local provider unless configured otherwise
...     cloud.storage.create_bucket("backups")   # doctest: +SKIP
"""

# LAZY EXPORTS (PEP 562): ``import cloudkit`` imports nothing but this table; each name is
# imported from its module the first time it is used (services, models, validation and entry
# points stay unread until a program needs them). To export a new name: import it under
# TYPE_CHECKING below (for type checkers), add it to _EXPORTS (name -> module) and to __all__.
# Models are exported through cloudkit.models, whose own table lists them.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from cloudkit.models import __all__ as _models_all

if TYPE_CHECKING:
    from cloudkit.cloud import Cloud, connect
    from cloudkit.errors import (
        AlreadyExists,
        AuthenticationError,
        CloudkitError,
        ConfigError,
        Conflict,
        InvalidInput,
        NotFound,
        NotSupported,
        PermissionDenied,
        ProviderError,
        QuotaExceeded,
        Throttled,
        Timeout,
    )
    from cloudkit.hookspecs import hookimpl
    from cloudkit.models import *  # noqa: F403
    from cloudkit.plugins import ProviderInfo, providers, register_plugin, unregister_plugin
    from cloudkit.services import (
        ComputeService,
        DatabaseService,
        DNSService,
        LoadBalancerService,
        NotificationService,
        PlatformService,
        Service,
        StorageService,
    )
    from cloudkit.settings import Setting, Settings
    from cloudkit.streams import ObjectReader

_EXPORTS: dict[str, str] = {
    "AlreadyExists": "cloudkit.errors",
    "AuthenticationError": "cloudkit.errors",
    "Cloud": "cloudkit.cloud",
    "CloudkitError": "cloudkit.errors",
    "ComputeService": "cloudkit.services",
    "ConfigError": "cloudkit.errors",
    "Conflict": "cloudkit.errors",
    "DNSService": "cloudkit.services",
    "DatabaseService": "cloudkit.services",
    "InvalidInput": "cloudkit.errors",
    "LoadBalancerService": "cloudkit.services",
    "NotFound": "cloudkit.errors",
    "NotSupported": "cloudkit.errors",
    "NotificationService": "cloudkit.services",
    "ObjectReader": "cloudkit.streams",
    "PermissionDenied": "cloudkit.errors",
    "PlatformService": "cloudkit.services",
    "ProviderError": "cloudkit.errors",
    "ProviderInfo": "cloudkit.plugins",
    "QuotaExceeded": "cloudkit.errors",
    "Service": "cloudkit.services",
    "Setting": "cloudkit.settings",
    "Settings": "cloudkit.settings",
    "StorageService": "cloudkit.services",
    "Throttled": "cloudkit.errors",
    "Timeout": "cloudkit.errors",
    "connect": "cloudkit.cloud",
    "hookimpl": "cloudkit.hookspecs",
    "providers": "cloudkit.plugins",
    "register_plugin": "cloudkit.plugins",
    "unregister_plugin": "cloudkit.plugins",
}

__version__ = "0.1.0"

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "Cloud",
    "CloudkitError",
    "ComputeService",
    "ConfigError",
    "Conflict",
    "DNSService",
    "DatabaseService",
    "InvalidInput",
    "LoadBalancerService",
    "NotFound",
    "NotSupported",
    "NotificationService",
    "ObjectReader",
    "PermissionDenied",
    "PlatformService",
    "ProviderError",
    "ProviderInfo",
    "QuotaExceeded",
    "Service",
    "Setting",
    "Settings",
    "StorageService",
    "Throttled",
    "Timeout",
    "connect",
    "hookimpl",
    "providers",
    "register_plugin",
    "unregister_plugin",
    *_models_all,
]


def __getattr__(name: str) -> Any:
    """Import an exported name the first time it is asked for, and keep it."""
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _models_all:
        value = getattr(importlib.import_module("cloudkit.models"), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
