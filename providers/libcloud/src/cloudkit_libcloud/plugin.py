"""The libcloud fallback plugin.

* ``libcloud:<name>`` reaches libcloud's driver ``<name>`` directly (``libcloud:azure_blobs``,
  ``libcloud:s3``, ``libcloud:powerdns``, ``libcloud:ec2``).
* A bare provider name no other plugin announced that libcloud knows (``gce``, ``digitalocean``)
  falls back to libcloud: :meth:`LibcloudPlugin.cloudkit_make_service` is ``trylast``.
* Which families a libcloud provider serves is read from libcloud's driver maps; the other
  families (notification, database, platform) get ``None`` here, so the core's stand-in raises
  ``NotSupported`` naming the provider and the family.

Names are resolved on demand (:meth:`cloudkit_resolve_provider`) rather than announced: libcloud
knows about a hundred provider names, and announcing them would import libcloud (about 0.1 s) in
every program that merely lists providers or connects to another one. :func:`available` lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cloudkit
from cloudkit.provider import load_family
from cloudkit_libcloud._driver import FAMILIES, PREFIX, all_providers, driver_name, families_of

DISTRIBUTION = "cloudkit-libcloud"

#: Why ``libcloud:*`` providers do not serve the loadbalancer family (docs/libcloud.md).
LOADBALANCER_REASON = (
    "libcloud's load balancer drivers are not used: none can be proven against a server that runs here "
    "(its elb and alb drivers always talk to elasticloadbalancing.<region>.amazonaws.com and take no endpoint, so "
    "they cannot be pointed at moto; gce, slb, brightbox and the rest need their clouds), and its alb driver has no "
    "target deregistration or listener removal"
)

S = cloudkit.Setting
#: The settings every libcloud provider takes; the driver's own constructor arguments are added per provider.
SETTINGS = (
    S("key", "str", "Driver key / account name (else CLOUDKIT_LIBCLOUD_KEY; never shown)."),
    S("secret", "str", "Driver secret (else CLOUDKIT_LIBCLOUD_SECRET; never shown)."),
    S("host", "str", "Server host name (self-hosted and emulated services)."),
    S("port", "int", "Server TCP port."),
    S("secure", "bool", "Use TLS."),
    S("region", "str", "Region, for drivers that have regions."),
    S("api_version", "str", "API version, for drivers that have several."),
    S("timeout", "float", "Socket timeout in seconds.", 60.0),
    S("retry_timeout", "float", "Seconds transient failures are retried for (0: no retries).", 30.0),
    S("retry_delay", "float", "Seconds before the first retry.", 0.5),
    S("retry_backoff", "float", "Factor the delay grows by after each retry.", 2.0),
    S("poll_interval", "float", "Compute: seconds between polls while waiting for a state.", 2.0),
    S("nameservers", "list", "DNS: name servers reported for zones when the driver does not say."),
    S("signature_version", "str", "EC2: AWS signature version.", "4"),
    S("ex_*", "any", "Driver-specific options, passed to the driver's constructor as given."),
)


def _driver_settings(name: str, families: frozenset[str]) -> tuple[cloudkit.Setting, ...]:
    """The settings of ``name``: the common ones plus every argument its drivers' constructors take."""
    import inspect

    from cloudkit_libcloud._driver import driver_class

    known = {s.name for s in SETTINGS}
    extra: dict[str, cloudkit.Setting] = {}
    for family in sorted(families):
        try:
            params = inspect.signature(driver_class(family, name).__init__).parameters  # type: ignore[misc]
        except Exception:  # a driver libcloud cannot import or introspect: common settings only
            continue
        for param in params.values():
            if param.name in known or param.name in extra or param.name == "self" or param.kind in (
                    param.VAR_POSITIONAL, param.VAR_KEYWORD):
                continue
            extra[param.name] = S(param.name, "any", f"Argument of libcloud's {family} driver constructor.")
    return (*SETTINGS, *extra.values())


def _info(name: str, families: frozenset[str], *, declare: bool = False) -> cloudkit.ProviderInfo:
    return cloudkit.ProviderInfo(
        name=name,
        families=families,  # type: ignore[arg-type]
        description=f"Apache Libcloud driver {driver_name(name)!r} ({', '.join(sorted(families))})",
        distribution=DISTRIBUTION,
        settings=_driver_settings(name, families) if declare else None,
    )


def available() -> list[cloudkit.ProviderInfo]:
    """Every ``libcloud:<name>`` provider with the families libcloud serves for it (imports libcloud)."""
    return [_info(PREFIX + name, fams) for name, fams in all_providers().items()]


def _announced_elsewhere(name: str) -> bool:
    from cloudkit.plugins import providers

    return name in providers()


class LibcloudPlugin:
    """Serves ``libcloud:<provider>`` names and, as a fallback, bare names libcloud knows."""

    @cloudkit.hookimpl
    def cloudkit_provider_catalogue(self) -> list[cloudkit.ProviderInfo]:
        return available()

    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        """Nothing is announced up front; names resolve on demand (see the module docstring)."""
        return []

    @cloudkit.hookimpl
    def cloudkit_resolve_provider(self, name: str) -> cloudkit.ProviderInfo | None:
        """Claim ``libcloud:<name>`` and bare names that libcloud knows."""
        if not isinstance(name, str) or not name or name == PREFIX:
            return None
        families = families_of(name)
        if not families:
            return None
        return _info(name, families, declare=True)

    @cloudkit.hookimpl(trylast=True)
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        """Build the family's service on libcloud's driver, or ``None`` when libcloud does not serve it."""
        if family == "loadbalancer" and isinstance(provider, str) and provider.startswith(PREFIX):
            from cloudkit.services import LoadBalancerService, unserved

            return unserved(LoadBalancerService, provider, LOADBALANCER_REASON)
        if family not in FAMILIES or not isinstance(provider, str):
            return None
        if not provider.startswith(PREFIX) and _announced_elsewhere(provider):
            return None  # a native plugin owns this name; never shadow it with a same-named libcloud driver
        if family not in families_of(provider):
            return None
        return load_family("cloudkit_libcloud", family).make_service(provider, settings)


plugin = LibcloudPlugin()
