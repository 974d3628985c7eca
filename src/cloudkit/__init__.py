"""cloudkit: one provider-neutral API for compute, storage, DNS, notifications, databases and app platforms.

>>> import cloudkit
>>> with cloudkit.connect() as cloud:            # the local provider unless configured otherwise
...     cloud.storage.create_bucket("backups")   # doctest: +SKIP
"""

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
from cloudkit.models import __all__ as _models_all
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
