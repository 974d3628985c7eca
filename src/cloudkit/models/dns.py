"""Models of the DNS family (zones and record sets)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

import attrs

from cloudkit.models._base import extra_field, frozen_tuple


@attrs.frozen
class Zone:
    """A hosted zone. ``name`` is the absolute domain without the trailing dot (``example.com``)."""

    id: str
    name: str
    record_count: int | None = None
    comment: str | None = None
    name_servers: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
    created_at: datetime | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class RecordSet:
    """All records of one name and type.

    ``name`` is relative to the zone (``www``; ``@`` is the apex) or absolute with a trailing dot.
    ``values`` are in zone-file presentation format (``"10 mail.example.com."`` for MX); services
    return them normalised: names relative to the zone, domain names in values absolute.
    """

    name: str
    type: str
    ttl: int = 300
    values: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class RecordChange:
    """One change of a batch: upsert (create or replace) or delete a record set."""

    action: Literal["UPSERT", "DELETE"]
    record: RecordSet


@attrs.frozen
class ChangeInfo:
    """A submitted batch of changes. ``status`` is ``PENDING`` or ``INSYNC``."""

    id: str
    status: str
    change_count: int
    submitted_at: datetime | None = None
    extra: Mapping[str, object] = extra_field()
