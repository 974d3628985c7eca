"""Models of the DNS family (zones and record sets)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

import attrs

from cloudkit.errors import InvalidInput
from cloudkit.models._base import datetime_field, extra_field, frozen_tuple

#: Neutral change states (``ChangeInfo.status``), as in Route 53.
CHANGE_STATES = ("PENDING", "INSYNC")

#: Largest TTL (2^31 - 1, RFC 2181).
TTL_MAX = 2147483647

_RRTYPE = re.compile(r"^[A-Z][A-Z0-9]{0,15}$")


def _upper(value: object) -> object:
    return value.strip().upper() if isinstance(value, str) else value


def _ttl(value: object) -> object:
    """``"300"`` -> ``300``; anything that is not an integer is left for the validator to refuse."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def _check_name(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput("RecordSet.name", "must be a non-empty string")


def _check_type(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if not isinstance(value, str) or not _RRTYPE.match(value):
        raise InvalidInput("RecordSet.type", f"must be a record type such as A, AAAA, CNAME, MX, TXT (got {value!r})")


def _check_ttl(instance: Any, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= TTL_MAX:
        raise InvalidInput("RecordSet.ttl", f"must be an integer number of seconds from 0 to {TTL_MAX} (got {value!r})")


def _check_values(instance: Any, attribute: attrs.Attribute[Any], value: tuple[Any, ...]) -> None:
    for item in value:
        if not isinstance(item, str):
            raise InvalidInput("RecordSet.values", f"each value must be a string (got {type(item).__name__})")


@attrs.frozen
class Zone:
    """A hosted zone. ``name`` is the absolute domain without the trailing dot (``example.com``)."""

    id: str
    name: str
    record_count: int | None = None
    comment: str | None = None
    name_servers: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class RecordSet:
    """All records of one name and type.

    ``name`` is relative to the zone (``www``; ``@`` is the apex) or absolute with a trailing dot.
    ``values`` are in zone-file presentation format (``"10 mail.example.com."`` for MX); services
    return them normalised: names relative to the zone, domain names in values absolute.

    Checked and normalised at construction: ``type`` is upper-cased (``"a"`` -> ``"A"``), ``ttl``
    must be an integer from 0 to 2^31-1 (a string of digits such as ``"300"`` becomes ``300``),
    ``values`` must be strings; anything else raises :class:`~cloudkit.errors.InvalidInput`. Whether
    the values suit the type (and the zone) is checked when the record is written.
    """

    name: str = attrs.field(validator=_check_name)
    type: str = attrs.field(converter=_upper, validator=_check_type)
    ttl: int = attrs.field(default=300, converter=_ttl, validator=_check_ttl)
    values: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple, validator=_check_values)
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class RecordChange:
    """One change of a batch: upsert (create or replace) or delete a record set."""

    action: Literal["UPSERT", "DELETE"]
    record: RecordSet


@attrs.frozen
class ChangeInfo:
    """A submitted batch of changes. ``status`` is one of :data:`CHANGE_STATES` (``PENDING``, ``INSYNC``)."""

    id: str
    status: str
    change_count: int
    submitted_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()
