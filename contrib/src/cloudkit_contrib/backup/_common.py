"""Parts shared by folder backups and zone backups: argument checks, time stamps, JSON manifests."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, Union

from cloudkit import Cloud, validation
from cloudkit.errors import InvalidInput, NotSupported
from cloudkit.services import DNSService, StorageService
from cloudkit_contrib import IntegrityError
from cloudkit_contrib._services import service_of

StorageRef = Union[Cloud, StorageService]
DNSRef = Union[Cloud, DNSService]
Progress = Callable[[int, Union[int, None]], None]


# --------------------------------------------------------------------------- argument checks


def _storage(ref: object, field: str = "storage") -> StorageService:
    return service_of(ref, "storage", StorageService, field)


def _dns(ref: object, field: str = "dns") -> DNSService:
    return service_of(ref, "dns", DNSService, field)


def _require(service: StorageService | DNSService, ops: Iterable[str], job: str) -> None:
    """Raise ``NotSupported`` naming the first operation ``job`` needs that the provider lacks."""
    have = service.capabilities()
    for op in ops:
        if op not in have:
            raise NotSupported(service.provider, f"{service.family}.{op}", f"{job} needs it")


def _prefix(value: object, field: str = "prefix") -> str:
    value = validation.key_prefix(value, field)
    if value and not value.endswith("/"):
        raise InvalidInput(field, "must be empty or end with '/'")
    if any(seg in (".", "..") for seg in value.split("/")[:-1]):
        raise InvalidInput(field, "must not contain '.' or '..' path segments")
    return value


def _when(value: object, field: str) -> datetime:
    return validation.aware_datetime(field, value).astimezone(UTC)


def _optional_int(field: str, value: object, low: int, high: int | None = None) -> int | None:
    return None if value is None else validation.int_range(field, value, low, high)


def _patterns(value: object, field: str = "exclude") -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput(field, "must be a sequence of glob patterns, not a single string")
    out = []
    for i, pat in enumerate(value):
        out.append(validation.require_str(f"{field}[{i}]", pat))
    return tuple(out)


def _progress(value: object) -> Progress | None:
    if value is not None and not callable(value):
        raise InvalidInput("progress", "must be a callable taking (bytes_done, total_or_None)")
    return value


# --------------------------------------------------------------------------- ids and keys


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y%m%dT%H%M%S%f")


def _parse_stamp(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _from_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


# --------------------------------------------------------------------------- manifests

def _read_json(storage: StorageService, bucket: str, key: str, limit: int = 1 << 30) -> dict[str, Any]:
    with storage.get_object(bucket, key) as reader:
        data = bytearray()
        for chunk in reader.iter_chunks():
            data += chunk
            if len(data) > limit:
                raise IntegrityError(f"{key} is larger than {limit} bytes; not a manifest")
    try:
        doc = json.loads(bytes(data))
    except ValueError as exc:
        raise IntegrityError(f"{key} is not valid JSON ({exc})") from exc
    if not isinstance(doc, dict):
        raise IntegrityError(f"{key} is not a JSON object")
    return doc


