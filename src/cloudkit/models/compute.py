"""Models of the compute family (instances, images, key pairs, security groups, volumes)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import datetime_field, extra_field, frozen_map, frozen_tuple

#: Neutral instance states, in life-cycle order (``Instance.state``). Providers map their native
#: states onto these (rebooting -> ``pending``, shutting-down -> ``stopping``...); the native value
#: goes to ``extra``.
INSTANCE_STATES = ("pending", "running", "stopping", "stopped", "terminated")

#: Neutral volume states (``Volume.state``): ``creating``, ``available`` (not attached),
#: ``in-use`` (attached), ``deleting``, ``deleted``, ``error``; ``unknown`` when the provider
#: reports no state or one without a neutral meaning (the native value is in
#: ``extra["native_state"]`` where the provider gives one).
VOLUME_STATES = ("creating", "available", "in-use", "deleting", "deleted", "error", "unknown")

#: Neutral volume snapshot states (``VolumeSnapshot.state``): ``pending`` while the copy is being
#: made, ``completed`` once it can be restored from, ``deleting``, ``error`` if it failed,
#: ``unknown`` as for volumes. (libcloud's ``available`` and EC2's ``completed`` are both
#: ``completed``; the native value is in ``extra["native_state"]``.)
SNAPSHOT_STATES = ("pending", "completed", "deleting", "error", "unknown")


@attrs.frozen
class Image:
    """A machine image instances boot from."""

    id: str
    name: str
    owner: str | None = None
    description: str | None = None
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class InstanceType:
    """A size instances can have."""

    name: str
    vcpus: float | None = None
    memory_mb: int | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Location:
    """A region or availability zone."""

    id: str
    name: str
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Instance:
    """A virtual machine (or a sandbox on the local provider).

    ``state`` is one of :data:`INSTANCE_STATES`. ``tags`` are the user's tags on every provider,
    including ``Name`` when the provider stores the name as a tag (EC2): the neutral ``name`` field
    always holds the name as well.
    """

    id: str
    name: str
    state: str
    image_id: str | None = None
    instance_type: str | None = None
    key_pair: str | None = None
    security_groups: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
    private_ip: str | None = None
    public_ip: str | None = None
    zone: str | None = None
    tags: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    launched_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class KeyPair:
    """An SSH key pair. ``private_key`` is set only by create, once; never logged or shown in repr."""

    name: str
    fingerprint: str | None = None
    public_key: str | None = None
    private_key: str | None = attrs.field(default=None, repr=False)
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class SecurityRule:
    """An ingress rule: protocol (``tcp``, ``udp``, ``icmp``, ``-1`` for all), ports, source CIDR."""

    protocol: str = "tcp"
    from_port: int | None = None
    to_port: int | None = None
    cidr: str = "0.0.0.0/0"


@attrs.frozen
class SecurityGroup:
    """A named set of ingress rules."""

    id: str
    name: str
    description: str = ""
    rules: tuple[SecurityRule, ...] = attrs.field(default=(), converter=frozen_tuple)
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Volume:
    """A block storage volume. ``state`` is one of :data:`VOLUME_STATES`."""

    id: str
    size_gb: int
    state: str
    name: str | None = None
    zone: str | None = None
    attached_to: str | None = None
    device: str | None = None
    snapshot_id: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class VolumeSnapshot:
    """A point-in-time copy of a volume. ``state`` is one of :data:`SNAPSHOT_STATES`."""

    id: str
    volume_id: str | None
    size_gb: int
    state: str
    description: str = ""
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()
