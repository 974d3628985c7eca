"""The service interfaces of the seven families."""

from cloudkit.services.base import Service, unserved
from cloudkit.services.compute import ComputeService
from cloudkit.services.database import DatabaseService
from cloudkit.services.dns import DNSService
from cloudkit.services.loadbalancer import LoadBalancerService
from cloudkit.services.notification import NotificationService
from cloudkit.services.platform import PlatformService
from cloudkit.services.storage import StorageService

#: family name -> interface class
FAMILIES: dict[str, type[Service]] = {
    "compute": ComputeService,
    "storage": StorageService,
    "dns": DNSService,
    "notification": NotificationService,
    "database": DatabaseService,
    "platform": PlatformService,
    "loadbalancer": LoadBalancerService,
}

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
