"""Zone backups: every zone of a DNS service exported as zone files into a bucket, and restored."""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import attrs

from cloudkit import validation
from cloudkit.errors import CloudkitError, InvalidInput, NotFound
from cloudkit.models import ChangeInfo, ObjectInfo, Zone
from cloudkit_contrib import IntegrityError
from cloudkit_contrib.backup._common import (
    DNSRef,
    StorageRef,
    _dns,
    _from_iso,
    _iso,
    _prefix,
    _read_json,
    _require,
    _stamp,
    _storage,
    _when,
)

ZONE_FORMAT = "cloudkit-zone-backup/1"
DEFAULT_ZONE_PREFIX = "dns-backups/"
_ZONE_ID = re.compile(r"^(\d{8}T\d{12})Z$")


@attrs.frozen
class ZoneCopy:
    """One zone file inside a DNS backup."""

    zone: str
    key: str
    size: int
    sha256: str
    record_count: int


@attrs.frozen
class ZoneBackupInfo:
    """One complete DNS backup: the zone files of one DNS service at one moment."""

    bucket: str
    id: str
    created_at: datetime
    provider: str
    zones: tuple[ZoneCopy, ...]
    manifest_key: str


@attrs.frozen
class ZoneRestoreResult:
    """What :func:`restore_zone` did."""

    zone: Zone
    backup_id: str
    created: bool
    change: ChangeInfo

# --------------------------------------------------------------------------- DNS


def _zone_manifest_key(prefix: str, bid: str) -> str:
    return f"{prefix}manifests/{bid}.json"


def _zone_info(bucket: str, doc: Mapping[str, Any], key: str) -> ZoneBackupInfo:
    try:
        if doc.get("format") != ZONE_FORMAT:
            raise IntegrityError(f"{key} is not a {ZONE_FORMAT} manifest")
        return ZoneBackupInfo(
            bucket=bucket,
            id=doc["id"],
            created_at=_from_iso(doc["created_at"]),
            provider=doc["provider"],
            zones=tuple(ZoneCopy(zone=z["zone"], key=z["key"], size=int(z["size"]), sha256=z["sha256"],
                                 record_count=int(z["record_count"])) for z in doc["zones"]),
            manifest_key=key,
        )
    except IntegrityError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise IntegrityError(f"{key} is not a valid DNS backup manifest ({type(exc).__name__}: {exc})") from exc


def backup_zones(
    dns: DNSRef,
    storage: StorageRef,
    bucket: str,
    *,
    zones: Sequence[str | Zone] | None = None,
    prefix: str = DEFAULT_ZONE_PREFIX,
    now: datetime | None = None,
) -> ZoneBackupInfo:
    """Export every zone of ``dns`` (or those in ``zones``) as zone files into ``bucket``.

    ``dns`` and ``storage`` may belong to different clouds (keep DNS backups away from the DNS
    they protect). Each zone file goes to ``<prefix>zones/<id>/<zone>.zone``; the manifest
    ``<prefix>manifests/<id>.json`` (zone names, SHA-256, sizes, record counts) is written last.
    """
    zone_svc, store = _dns(dns), _storage(storage)
    bucket = validation.bucket_name(bucket)
    prefix = _prefix(prefix)
    when = datetime.now(UTC) if now is None else _when(now, "now")
    if zones is not None:
        if isinstance(zones, (str, Zone)) or not isinstance(zones, Iterable):
            raise InvalidInput("zones", "must be a sequence of zones or zone names")
        zones = list(zones)
        for i, z in enumerate(zones):
            if not isinstance(z, Zone):
                validation.zone_name(z, f"zones[{i}]")
    _require(zone_svc, ("export_zone",) + (("list_zones",) if zones is None else ("get_zone",)), "a DNS backup")
    _require(store, ("put_object",), "a DNS backup")

    bid = f"{_stamp(when)}Z"
    targets = list(zone_svc.list_zones()) if zones is None else [z if isinstance(z, Zone) else zone_svc.get_zone(z) for z in zones]
    copies = []
    written = []
    try:
        for zone in sorted(targets, key=lambda z: z.name):
            text = zone_svc.export_zone(zone).encode()
            key = f"{prefix}zones/{bid}/{zone.name}.zone"
            store.put_object(bucket, key, text, content_type="text/dns")
            written.append(key)
            records = sum(1 for line in text.decode().splitlines() if line and not line.startswith(("$", ";", " ", "\t")))
            copies.append({"zone": zone.name, "key": key, "size": len(text), "sha256": hashlib.sha256(text).hexdigest(),
                           "record_count": records})
        doc = {"format": ZONE_FORMAT, "id": bid, "created_at": _iso(when), "provider": zone_svc.provider, "zones": copies}
        key = _zone_manifest_key(prefix, bid)
        store.put_object(bucket, key, json.dumps(doc, sort_keys=True, indent=1).encode(), content_type="application/json")
    except BaseException:
        if store.supports("delete_object"):
            for k in written:
                with contextlib.suppress(CloudkitError):
                    store.delete_object(bucket, k)
        raise
    return _zone_info(bucket, doc, key)


def list_zone_backups(storage: StorageRef, bucket: str, *, prefix: str = DEFAULT_ZONE_PREFIX) -> Iterator[ZoneBackupInfo]:
    """The complete DNS backups in ``bucket``, oldest first."""
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    prefix = _prefix(prefix)
    _require(store, ("list_objects", "get_object"), "listing DNS backups")
    root = f"{prefix}manifests/"

    def generate() -> Iterator[ZoneBackupInfo]:
        keys = [o.key for o in store.list_objects(bucket, prefix=root) if isinstance(o, ObjectInfo)]
        for key in sorted(keys):
            if not (key.endswith(".json") and _ZONE_ID.fullmatch(key[len(root) : -5])):
                continue
            try:
                yield _zone_info(bucket, _read_json(store, bucket, key), key)
            except NotFound:
                continue
    return generate()


def restore_zone(
    dns: DNSRef,
    storage: StorageRef,
    bucket: str,
    zone: str,
    *,
    backup_id: str | None = None,
    at: datetime | None = None,
    prefix: str = DEFAULT_ZONE_PREFIX,
    create: bool = True,
    replace: bool = False,
) -> ZoneRestoreResult:
    """Import zone ``zone`` from a DNS backup into ``dns`` (which may be another cloud's).

    The backup is ``backup_id``, else the last one at or before ``at``, else the latest one holding
    the zone. The zone is created when missing (unless ``create`` is false). Record sets in the
    backup are upserted in one batch; with ``replace`` record sets not in the backup are deleted
    too (SOA and apex NS stay the provider's). The zone file's SHA-256 is checked first.
    """
    zone_svc, store = _dns(dns), _storage(storage)
    bucket = validation.bucket_name(bucket)
    zname = validation.zone_name(zone, "zone")
    prefix = _prefix(prefix)
    if backup_id is not None:
        validation.require_str("backup_id", backup_id)
        if not _ZONE_ID.fullmatch(backup_id):
            raise InvalidInput("backup_id", "must be a DNS backup id such as '20261126T143000123456Z'")
    when = None if at is None else _when(at, "at")
    if backup_id is not None and when is not None:
        raise InvalidInput("at", "give backup_id or at, not both")
    for flag, value in (("create", create), ("replace", replace)):
        if not isinstance(value, bool):
            raise InvalidInput(flag, "must be True or False")
    _require(zone_svc, ("get_zone", "import_zone") + (("create_zone",) if create else ()), "a zone restore")
    _require(store, ("list_objects", "get_object"), "a zone restore")

    chosen: tuple[ZoneBackupInfo, ZoneCopy] | None = None
    if backup_id is not None:
        key = _zone_manifest_key(prefix, backup_id)
        try:
            info = _zone_info(bucket, _read_json(store, bucket, key), key)
        except NotFound:
            raise NotFound(f"no complete DNS backup {backup_id!r} in bucket {bucket!r}", provider=store.provider) from None
        copy = next((c for c in info.zones if c.zone == zname), None)
        if copy is None:
            raise NotFound(f"DNS backup {backup_id} holds no zone {zname!r}", provider=store.provider)
        chosen = (info, copy)
    else:
        for info in list_zone_backups(store, bucket, prefix=prefix):
            if when is not None and info.created_at > when:
                break
            copy = next((c for c in info.zones if c.zone == zname), None)
            if copy is not None:
                chosen = (info, copy)
        if chosen is None:
            raise NotFound(f"no DNS backup in bucket {bucket!r} holds zone {zname!r}", provider=store.provider)
    info, copy = chosen

    with store.get_object(bucket, copy.key) as reader:
        data = b"".join(reader.iter_chunks())
    if hashlib.sha256(data).hexdigest() != copy.sha256 or len(data) != copy.size:
        raise IntegrityError(f"{copy.key} does not match the SHA-256 and size in {info.manifest_key}")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise IntegrityError(f"{copy.key} is not UTF-8 text") from exc

    created = False
    try:
        target = zone_svc.get_zone(zname)
    except NotFound:
        if not create:
            raise
        target = zone_svc.create_zone(zname, comment=f"restored from DNS backup {info.id}")
        created = True
    change = zone_svc.import_zone(target, text, replace=replace)
    return ZoneRestoreResult(zone=zone_svc.get_zone(target), backup_id=info.id, created=created, change=change)
