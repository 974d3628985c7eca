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

import importlib
from collections.abc import Mapping
from typing import Any

import cloudkit
from cloudkit_libcloud._driver import FAMILIES, PREFIX, all_providers, driver_name, families_of

DISTRIBUTION = "cloudkit-libcloud"


def _info(name: str, families: frozenset[str]) -> cloudkit.ProviderInfo:
    return cloudkit.ProviderInfo(
        name=name,
        families=families,  # type: ignore[arg-type]
        description=f"Apache Libcloud driver {driver_name(name)!r} ({', '.join(sorted(families))})",
        distribution=DISTRIBUTION,
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
        return _info(name, families)

    @cloudkit.hookimpl(trylast=True)
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        """Build the family's service on libcloud's driver, or ``None`` when libcloud does not serve it."""
        if family not in FAMILIES or not isinstance(provider, str):
            return None
        if not provider.startswith(PREFIX) and _announced_elsewhere(provider):
            return None  # a native plugin owns this name; never shadow it with a same-named libcloud driver
        if family not in families_of(provider):
            return None
        module = importlib.import_module(f"cloudkit_libcloud.{family}")
        return module.make_service(provider, settings)


plugin = LibcloudPlugin()
