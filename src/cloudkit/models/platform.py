"""Models of the platform family (the Elastic Beanstalk model)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import check_utc, datetime_field, extra_field, frozen_map, to_utc

#: Neutral environment states (``Environment.status``).
ENVIRONMENT_STATES = ("launching", "updating", "ready", "terminating", "terminated")

#: Neutral environment health colours (``Environment.health``).
HEALTH_STATES = ("green", "yellow", "red", "grey")


@attrs.frozen
class Application:
    """A named collection of versions, environments and configuration templates."""

    name: str
    description: str | None = None
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class AppVersion:
    """A labelled, deployable bundle of an application's code."""

    application: str
    label: str
    description: str | None = None
    source: str | None = None
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Stack:
    """A platform an environment runs on (an Elastic Beanstalk solution stack)."""

    name: str
    language: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class EnvironmentSettings:
    """Neutral environment settings.

    ``env_vars`` become the process environment; ``options`` holds provider-specific settings as
    ``"namespace:option" -> value``; ``instance_type`` is the size of each instance.

    How many instances run is one model on every provider: ``min_instances`` / ``max_instances``
    are the scaling range, and ``instance_count`` is the number the environment runs at rest, which
    is its minimum. Given alone, ``instance_count=n`` means a fixed size (``n`` to ``n``); given with
    the range it must equal ``min_instances``. Settings read back from a provider always fill all
    three (``instance_count == min_instances``), whichever way they were set.
    """

    env_vars: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    instance_count: int | None = None
    instance_type: str | None = None
    options: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    min_instances: int | None = None
    max_instances: int | None = None

    def scaling(self) -> tuple[int | None, int | None]:
        """The ``(minimum, maximum)`` these settings ask for (``None`` where they leave it as it is)."""
        low = self.min_instances if self.min_instances is not None else self.instance_count
        high = self.max_instances
        if high is None and self.instance_count is not None and self.min_instances is None:
            high = self.instance_count
        return low, high

    def with_scaling(self, low: int | None, high: int | None) -> EnvironmentSettings:
        """A copy whose range is ``low``..``high`` and whose ``instance_count`` is ``low`` (the read-back form)."""
        return attrs.evolve(self, instance_count=low, min_instances=low, max_instances=high)


@attrs.frozen
class Environment:
    """A running deployment of one version of an application.

    ``status`` is one of :data:`ENVIRONMENT_STATES` (``launching``, ``updating``, ``ready``,
    ``terminating``, ``terminated``); ``health`` one of :data:`HEALTH_STATES` (``green``,
    ``yellow``, ``red``, ``grey``).
    """

    id: str
    name: str
    application: str
    status: str
    health: str = "grey"
    version: str | None = None
    stack: str | None = None
    url: str | None = None
    created_at: datetime | None = datetime_field()
    updated_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class ConfigurationTemplate:
    """Saved environment settings to create environments from."""

    application: str
    name: str
    stack: str | None = None
    settings: EnvironmentSettings = attrs.field(factory=EnvironmentSettings)
    description: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Event:
    """Something that happened to an application or environment."""

    timestamp: datetime = attrs.field(converter=to_utc, validator=check_utc)
    message: str
    severity: str = "INFO"
    application: str | None = None
    environment: str | None = None
    version: str | None = None


@attrs.frozen
class InstanceLog:
    """The last lines of one instance's logs, as :meth:`PlatformService.logs` returns them.

    ``instance`` is the instance's id (an EC2 instance id on aws, a worker id on local);
    ``text`` the last lines (at most the ``tail`` asked for, each ending in a newline);
    ``timestamp`` when the lines were taken (aware UTC).
    """

    instance: str
    text: str
    timestamp: datetime = attrs.field(converter=to_utc, validator=check_utc)
    extra: Mapping[str, object] = extra_field()

    @property
    def lines(self) -> list[str]:
        """``text`` split into lines (without their line ends)."""
        return self.text.splitlines()
