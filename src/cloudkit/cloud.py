"""``connect()`` and the :class:`Cloud` it returns."""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar, cast

from cloudkit import config
from cloudkit.errors import CloudkitError, ProviderError
from cloudkit.plugins import make_service, resolve_provider
from cloudkit.services import FAMILIES
from cloudkit.settings import check_settings

# The family interfaces are imported when a family is first used (through FAMILIES), not here:
# a program that uses storage never loads the compute or DNS interfaces and their models.
if TYPE_CHECKING:
    from cloudkit.services.base import Service
    from cloudkit.services.compute import ComputeService
    from cloudkit.services.database import DatabaseService
    from cloudkit.services.dns import DNSService
    from cloudkit.services.loadbalancer import LoadBalancerService
    from cloudkit.services.notification import NotificationService
    from cloudkit.services.platform import PlatformService
    from cloudkit.services.storage import StorageService

S = TypeVar("S", bound="Service")


class Cloud:
    """A connection to one provider (with optional per-family routes).

    Family services are built on first use through the ``cloudkit_make_service`` hook and cached.
    Use it as a context manager, or call :meth:`close`, to release what the services hold.
    """

    def __init__(self, resolved: config.Resolved) -> None:
        self._resolved = _checked(resolved)
        self._services: dict[str, Service] = {}
        self._lock = threading.Lock()

    @property
    def provider(self) -> str:
        """The main provider's name."""
        return self._resolved.main.provider

    @property
    def profile(self) -> str | None:
        """The profile in use, if any."""
        return self._resolved.profile

    def provider_of(self, family: str) -> str:
        """The provider serving ``family`` (routes may send a family elsewhere)."""
        return self._resolved.route(family).provider

    def __repr__(self) -> str:
        routes = {f: r.provider for f, r in self._resolved.families.items()}
        more = f" routes={routes!r}" if routes else ""
        return f"<Cloud provider={self.provider!r} profile={self.profile!r}{more}>"

    def service(self, family: str) -> Service:
        """The service of ``family`` (``storage``, ``dns``, ...), built on first use."""
        if family not in FAMILIES:
            from cloudkit.errors import InvalidInput

            raise InvalidInput("family", f"must be one of {', '.join(FAMILIES)}")
        with self._lock:
            svc = self._services.get(family)
            if svc is None:
                route = self._resolved.route(family)
                try:
                    svc = make_service(route.provider, family, route.settings)
                except CloudkitError:
                    raise
                except Exception as exc:  # a plugin failing to build its service
                    raise ProviderError(f"{route.provider} failed to start its {family} service: {exc}",
                                        provider=route.provider) from exc
                if svc is None:
                    from cloudkit.services.base import unserved

                    svc = unserved(FAMILIES[family], route.provider, f"{route.provider} does not serve the {family} family")
                self._services[family] = svc
            return svc

    def _get(self, family: str, kind: type[S]) -> S:
        """``service(family)`` typed as ``kind`` (the properties below cast instead, so that they need
        not import the interface classes)."""
        return cast(S, self.service(family))

    @property
    def compute(self) -> ComputeService:
        """Instances, images, key pairs, security groups, volumes."""
        return cast("ComputeService", self.service("compute"))

    @property
    def storage(self) -> StorageService:
        """Buckets and objects."""
        return cast("StorageService", self.service("storage"))

    @property
    def dns(self) -> DNSService:
        """Zones and record sets."""
        return cast("DNSService", self.service("dns"))

    @property
    def notification(self) -> NotificationService:
        """Topics, subscriptions, queues."""
        return cast("NotificationService", self.service("notification"))

    @property
    def database(self) -> DatabaseService:
        """Managed database servers."""
        return cast("DatabaseService", self.service("database"))

    @property
    def platform(self) -> PlatformService:
        """Applications, versions, environments."""
        return cast("PlatformService", self.service("platform"))

    @property
    def loadbalancer(self) -> LoadBalancerService:
        """Load balancers, listeners, targets and their health."""
        return cast("LoadBalancerService", self.service("loadbalancer"))

    def capabilities(self) -> dict[str, frozenset[str]]:
        """For each family, the operations this connection supports."""
        return {family: self.service(family).capabilities() for family in FAMILIES}

    def close(self) -> None:
        """Close every service built so far."""
        with self._lock:
            services, self._services = list(self._services.values()), {}
        for svc in services:
            svc.close()

    def __enter__(self) -> Cloud:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _checked_route(route: config.Route, where: str | None) -> config.Route:
    info = resolve_provider(route.provider)
    if info.settings is None:
        return route
    return config.Route(route.provider, check_settings(route.provider, info.settings, route.settings, where=where))


def _checked(resolved: config.Resolved) -> config.Resolved:
    """``resolved`` with every route's provider known and its settings checked against the provider's declarations."""
    where = None
    if resolved.profile is not None:
        where = f"profile {resolved.profile!r}" + (f" in {resolved.source}" if resolved.source else "")
    return config.Resolved(
        profile=resolved.profile,
        main=_checked_route(resolved.main, where),
        families={family: _checked_route(route, where) for family, route in resolved.families.items()},
        source=resolved.source,
    )


def connect(
    provider: str | None = None,
    *,
    profile: str | None = None,
    region: str | None = None,
    config_file: str | Path | None = None,
    **settings: Any,
) -> Cloud:
    """Connect to a provider.

    ``connect()`` uses the profile from ``cloudkit.toml`` (or ``CLOUDKIT_PROFILE``), else the local
    provider. ``connect("aws", region="us-west-2")`` names the provider directly; keyword
    arguments become provider settings. An unknown provider raises ``InvalidInput`` listing the
    installed ones.
    """
    resolved = config.resolve(
        provider,
        profile=profile,
        region=region,
        settings=settings,
        config_path=None if config_file is None else Path(config_file),
    )
    return Cloud(resolved)
