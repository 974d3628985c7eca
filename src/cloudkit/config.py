"""Configuration: ``cloudkit.toml`` profiles, environment overrides, per-family routing.

Files are looked up in the current folder and its parents, then in the user config folder
(platformdirs). A profile names a provider and its settings, and may route a family elsewhere::

    default_profile = "dev"

    [profiles.dev]
    provider = "local"

    [profiles.prod]
    provider = "aws"
    region = "us-west-2"

    [profiles.prod.dns]
    provider = "libcloud:powerdns"
    host = "127.0.0.1"

``CLOUDKIT_PROFILE`` picks the profile, ``CLOUDKIT_PROVIDER`` overrides its provider. With no
profile at all, the provider is ``local``. Credentials belong to each provider's own chain, not here.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from cloudkit.errors import ConfigError, InvalidInput
from cloudkit.settings import Settings

FILE_NAME = "cloudkit.toml"
DEFAULT_PROVIDER = "local"
FAMILY_NAMES = ("compute", "storage", "dns", "notification", "database", "platform", "loadbalancer")


@attrs.frozen
class Route:
    """Where one family goes: a provider and its settings."""

    provider: str
    settings: Settings


@attrs.frozen
class Resolved:
    """The outcome of configuration: the main route and per-family overrides."""

    profile: str | None
    main: Route
    families: Mapping[str, Route]
    source: str | None = None

    def route(self, family: str) -> Route:
        """The route of ``family``."""
        return self.families.get(family, self.main)


def user_config_dir() -> Path:
    """The user config folder cloudkit reads ``cloudkit.toml`` from."""
    from platformdirs import user_config_path

    return user_config_path("cloudkit", appauthor=False)


def find_config(start: Path | None = None) -> Path | None:
    """The first ``cloudkit.toml`` in ``start`` or its parents, else in the user config folder."""
    env = os.environ.get("CLOUDKIT_CONFIG")
    if env:
        return Path(env)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / FILE_NAME
        if candidate.is_file():
            return candidate
    candidate = user_config_dir() / FILE_NAME
    return candidate if candidate.is_file() else None


def load_file(path: Path) -> dict[str, Any]:
    """Parse a config file; malformed TOML raises ``ConfigError`` naming the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(str(path), f"cannot be read ({exc.strerror})") from None
    import tomllib  # only when a config file is read: keeps connect() without one light

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"at line (\d+)", str(exc))
        rule = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(str(path), f"is not valid TOML: {rule}", line=int(m[1]) if m else None) from None
    if "profiles" in data and not isinstance(data["profiles"], dict):
        raise ConfigError(str(path), "'profiles' must be a table")
    for name, prof in data.get("profiles", {}).items():
        if not isinstance(prof, dict):
            raise ConfigError(str(path), f"profile {name!r} must be a table")
    return data


def _split(path: str, name: str, table: Mapping[str, Any]) -> tuple[str | None, dict[str, Any], dict[str, dict[str, Any]]]:
    provider = table.get("provider")
    if provider is not None and not isinstance(provider, str):
        raise ConfigError(path, f"profiles.{name}.provider must be a string")
    settings: dict[str, Any] = {}
    families: dict[str, dict[str, Any]] = {}
    for key, value in table.items():
        if key == "provider":
            continue
        if key in FAMILY_NAMES and isinstance(value, dict):
            if not isinstance(value.get("provider", ""), str):
                raise ConfigError(path, f"profiles.{name}.{key}.provider must be a string")
            families[key] = dict(value)
        else:
            settings[key] = value
    return provider, settings, families


def resolve(
    provider: str | None = None,
    *,
    profile: str | None = None,
    region: str | None = None,
    settings: Mapping[str, Any] | None = None,
    config_path: Path | None = None,
) -> Resolved:
    """Work out provider, settings and family routes from arguments, environment and file."""
    extra = dict(settings or {})
    if region is not None:
        extra["region"] = region
    profile = profile or os.environ.get("CLOUDKIT_PROFILE") or None
    path = config_path or (find_config() if (profile or provider is None) else None)
    data: dict[str, Any] = load_file(path) if path else {}
    source = str(path) if path else None
    if profile is None and provider is None:
        default = data.get("default_profile")
        if default is not None and not isinstance(default, str):
            raise ConfigError(source or FILE_NAME, "default_profile must be a string")
        profile = default
    base_settings: dict[str, Any] = {}
    routes: dict[str, Route] = {}
    chosen = provider
    if profile is not None:
        profiles = data.get("profiles", {})
        if profile not in profiles:
            where = source or "no cloudkit.toml found"
            have = ", ".join(sorted(profiles)) or "none"
            raise InvalidInput("profile", f"no profile {profile!r} ({where}); profiles: {have}")
        p_provider, base_settings, fam = _split(source or FILE_NAME, profile, profiles[profile])
        chosen = chosen or os.environ.get("CLOUDKIT_PROVIDER") or p_provider
        for family, table in fam.items():
            f_provider = table.pop("provider", None)
            if f_provider is None:
                merged = {**base_settings, **table, **extra}
                routes[family] = Route(chosen or DEFAULT_PROVIDER, Settings(merged))
            else:
                routes[family] = Route(f_provider, Settings(table))
    chosen = chosen or os.environ.get("CLOUDKIT_PROVIDER") or DEFAULT_PROVIDER
    main = Route(chosen, Settings({**base_settings, **extra}))
    return Resolved(profile=profile, main=main, families=routes, source=source)
