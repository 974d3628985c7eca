"""DNS on any libcloud DNS driver, with PowerDNS batches applied atomically.

cloudkit works with record *sets* (all values of one name and type); libcloud works with single
records. Reading groups libcloud's records by name and type. Writing depends on the driver:

* PowerDNS (``libcloud:powerdns``): a whole batch becomes one ``PATCH`` of the zone's rrsets
  through the driver's own connection, which PowerDNS applies atomically; a record set with
  several values is one rrset with several records.
* Every other driver: a record set with several values becomes several libcloud records. Changes
  are applied one record at a time; when one fails, the records already changed are put back as
  they were (best effort) before the error is raised, since libcloud has no batch API.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from cloudkit import validation as v
from cloudkit.errors import Conflict, InvalidInput, NotFound
from cloudkit.models.dns import ChangeInfo, RecordChange, RecordSet, Zone
from cloudkit.services.dns import DNSService
from cloudkit_libcloud._driver import LazyDriver, driver_name
from cloudkit_libcloud.errors import LibcloudErrors, mapped

_MANAGED = (("@", "SOA"), ("@", "NS"))
#: cloudkit operation -> the libcloud DNSDriver methods it needs.
_NEEDS: dict[str, tuple[str, ...]] = {
    "create_zone": ("create_zone",),
    "get_zone": ("get_zone", "list_zones"),
    "list_zones": ("list_zones",),
    "delete_zone": ("delete_zone", "list_records"),
    "list_records": ("list_records",),
    "change_records": ("list_records", "create_record", "delete_record"),
}
#: Record types whose libcloud data carries the priority in ``extra["priority"]`` on most drivers.
_PRIORITY_TYPES = ("MX", "SRV")


def _change_id(zone: Zone, changes: list[RecordChange]) -> str:
    digest = hashlib.sha256(zone.id.encode())
    for ch in changes:
        digest.update(f"|{ch.action} {ch.record.name} {ch.record.type} {ch.record.ttl} {' '.join(ch.record.values)}".encode())
    return digest.hexdigest()[:20]


class LibcloudDNS(LibcloudErrors, LazyDriver, DNSService):
    """The DNS family on a libcloud DNS driver (record-by-record, with rollback on failure)."""

    def __init__(self, provider: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(provider, settings)
        self._setup_driver("dns")
        from libcloud.dns.base import DNSDriver

        cls = self._driver_cls
        for op, methods in _NEEDS.items():
            lacking = [m for m in methods if getattr(cls, m, None) is getattr(DNSDriver, m, None)]
            if lacking:
                self.unsupported[op] = f"libcloud's {cls.__name__} does not implement {', '.join(lacking)}"
        ns = self.settings.get("nameservers")
        if ns is not None and (isinstance(ns, str) or not all(isinstance(n, str) and n for n in ns)):
            raise InvalidInput("nameservers", "must be a list of host names")
        self._nameservers: tuple[str, ...] | None = None if ns is None else tuple(ns)

    @property
    def native(self) -> Any:
        """The libcloud ``DNSDriver``."""
        return self._driver

    # ---------------------------------------------------------------- conversions
    def _to_zone(self, lz: Any) -> Zone:
        extra = {k: val for k, val in (lz.extra or {}).items() if isinstance(val, (str, int, float, bool)) or val is None}
        ns = (lz.extra or {}).get("nameservers") or ()
        return Zone(
            id=str(lz.id),
            name=str(lz.domain).rstrip(".").lower(),
            name_servers=tuple(str(n).rstrip(".") for n in ns) if not isinstance(ns, str) else (ns,),
            extra=extra,
        )

    def _lzone(self, zone: Zone) -> Any:
        """A libcloud ``Zone`` handle for ``zone`` without a round trip."""
        from libcloud.dns.base import Zone as LZone

        return LZone(id=zone.id, domain=self._domain(zone.name), type="master", ttl=None, driver=self._driver)  # type: ignore[arg-type]

    def _domain(self, name: str) -> str:
        return name

    def _relative(self, rname: Any, zone: str) -> str:
        text = "" if rname is None else str(rname)
        if text in ("", "@"):
            return "@"
        if text.endswith("."):
            return v.record_name(text, zone)
        if text.lower() == zone or text.lower().endswith("." + zone):
            return v.record_name(text + ".", zone)
        return v.record_name(text, zone)

    def _value(self, rec: Any, rtype: str, zone: str) -> str:
        data = str(rec.data)
        prio = (rec.extra or {}).get("priority")
        if rtype in _PRIORITY_TYPES and prio is not None and not data.split(" ", 1)[0].isdigit():
            data = f"{prio} {data}"
        try:
            return v.record_value(rtype, data, zone)
        except InvalidInput:
            return data

    def _group(self, zone: Zone, records: Any) -> dict[tuple[str, str], tuple[RecordSet, list[Any]]]:
        """libcloud records grouped into record sets, with the native records behind each."""
        groups: dict[tuple[str, str], tuple[int, list[str], list[Any]]] = {}
        for rec in records:
            rtype = str(getattr(rec.type, "value", rec.type)).upper()
            if rtype not in v.RECORD_TYPES:
                continue
            name = self._relative(rec.name, zone.name)
            ttl = rec.ttl if rec.ttl is not None else (rec.extra or {}).get("ttl", 300)
            entry = groups.setdefault((name, rtype), (int(ttl or 0), [], []))
            value = self._value(rec, rtype, zone.name)
            if value not in entry[1]:
                entry[1].append(value)
            entry[2].append(rec)
        return {
            key: (RecordSet(name=key[0], type=key[1], ttl=ttl, values=tuple(sorted(values))), natives)
            for key, (ttl, values, natives) in sorted(groups.items())
        }

    def _fetch(self, zone: Zone) -> dict[tuple[str, str], tuple[RecordSet, list[Any]]]:
        with mapped(self.provider, "dns.list_records"):
            return self._group(zone, self._driver.list_records(self._lzone(zone)))

    # ---------------------------------------------------------------- zones
    def _create_zone(self, name: str, comment: str | None) -> Zone:
        extra: dict[str, Any] = {}
        if self._nameservers is not None:
            extra["nameservers"] = list(self._nameservers)
        lz = self._driver.create_zone(domain=self._domain(name), type="master", ttl=None, extra=extra or None)
        zone = self._to_zone(lz)
        return Zone(id=zone.id, name=name, comment=comment, name_servers=zone.name_servers, extra=zone.extra)

    def _get_zone(self, zone_id_or_name: str) -> Zone:
        from libcloud.dns.types import ZoneDoesNotExistError

        wanted = zone_id_or_name.rstrip(".").lower()
        for lz in self._driver.list_zones():
            if str(lz.id) == zone_id_or_name or str(lz.domain).rstrip(".").lower() == wanted:
                return self._to_zone(lz)
        raise ZoneDoesNotExistError(  # type: ignore[no-untyped-call]
            value=f"zone {zone_id_or_name!r} does not exist", driver=self._driver,
                                    zone_id=zone_id_or_name)

    def _list_zones(self) -> Iterator[Zone]:
        zones = list(self._driver.list_zones())
        for lz in zones:
            yield self._to_zone(lz)

    def _delete_zone(self, zone_id: str) -> None:
        zone = self._get_zone(zone_id)
        own = [key for key in self._fetch(zone) if key not in _MANAGED]
        if own:
            raise Conflict(f"dns.delete_zone: zone {zone.name} still holds {len(own)} record sets (use force=True)",
                           provider=self.provider)
        if not self._driver.delete_zone(self._lzone(zone)):
            raise NotFound(f"dns.delete_zone: zone {zone.name} was not deleted", provider=self.provider)

    # ---------------------------------------------------------------- records
    def _list_records(self, zone_id: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
        zone = self._get_zone(zone_id)
        for (rname, rtype), (rset, _natives) in self._fetch(zone).items():
            if (name is None or rname == name) and (type is None or rtype == type):
                yield rset

    def _check_deletes(self, zone: Zone, changes: list[RecordChange],
                       have: Mapping[tuple[str, str], tuple[RecordSet, list[Any]]]) -> None:
        for i, ch in enumerate(changes):
            if ch.action != "DELETE":
                continue
            cur = have.get((ch.record.name, ch.record.type))
            if cur is None:
                raise NotFound(f"dns.change_records: changes[{i}]: no {ch.record.type} record set named "
                               f"{ch.record.name!r} in zone {zone.name}", provider=self.provider)
            # as Route 53 and local: the TTL must match too, where the driver reports one
            reports_ttl = any(n.ttl is not None or "ttl" in (n.extra or {}) for n in cur[1])
            if sorted(cur[0].values) != sorted(ch.record.values) or (reports_ttl and cur[0].ttl != ch.record.ttl):
                raise Conflict(f"dns.change_records: changes[{i}]: the TTL and values of {ch.record.type} "
                               f"{ch.record.name} do not match what the zone holds", provider=self.provider)

    def _native_name(self, name: str, zone: Zone) -> str:
        return "" if name == "@" else name

    def _native_data(self, rtype: str, value: str) -> tuple[str, dict[str, Any]]:
        if rtype in _PRIORITY_TYPES:
            prio, rest = value.split(" ", 1)
            return rest, {"priority": int(prio)}
        return value, {}

    def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        have = self._fetch(zone)
        self._check_deletes(zone, changes, have)
        lzone = self._lzone(zone)
        undo: list[tuple[str, Any]] = []  # ("created", native record) or ("deleted", native record)
        try:
            with mapped(self.provider, "dns.change_records"):
                for ch in changes:
                    rec = ch.record
                    cur = have.get((rec.name, rec.type))
                    natives = [] if cur is None else cur[1]
                    keep: set[str] = set()
                    if ch.action == "UPSERT" and cur is not None and cur[0].ttl == rec.ttl:
                        keep = set(rec.values)
                    for native in natives:
                        if self._value(native, rec.type, zone.name) in keep:
                            continue
                        self._driver.delete_record(native)
                        undo.append(("deleted", native))
                    if ch.action == "UPSERT":
                        present = {self._value(n, rec.type, zone.name) for n in natives} & keep
                        for value in rec.values:
                            if value in present:
                                continue
                            data, extra = self._native_data(rec.type, value)
                            extra["ttl"] = rec.ttl
                            created = self._driver.create_record(self._native_name(rec.name, zone), lzone, rec.type, data, extra=extra)
                            undo.append(("created", created))
        except BaseException:
            self._rollback(lzone, undo)
            raise
        return ChangeInfo(id=_change_id(zone, changes), status="INSYNC", change_count=len(changes),
                          submitted_at=datetime.now(UTC))

    def _rollback(self, lzone: Any, undo: list[tuple[str, Any]]) -> None:
        for what, native in reversed(undo):
            try:
                if what == "created":
                    self._driver.delete_record(native)
                else:
                    extra = dict(native.extra or {})
                    if native.ttl is not None:
                        extra.setdefault("ttl", native.ttl)
                    self._driver.create_record(native.name, lzone, native.type, native.data, extra=extra)
            except Exception:
                continue


class PowerDNS(LibcloudDNS):
    """PowerDNS through libcloud's driver; a batch is one atomic ``PATCH`` of the zone's rrsets."""

    def _domain(self, name: str) -> str:
        return name + "."

    def _create_zone(self, name: str, comment: str | None) -> Zone:
        if self._nameservers is None:
            # PowerDNS wants NS records for a new zone; default to one inside the zone.
            self._nameservers = (f"ns1.{name}.",)
            try:
                zone = super()._create_zone(name, comment)
            finally:
                self._nameservers = None
        else:
            zone = super()._create_zone(name, comment)
        # libcloud appends a dot to the (already absolute) domain; PowerDNS's zone id is "name."
        return Zone(id=name + ".", name=name, comment=comment, name_servers=zone.name_servers, extra=zone.extra)

    def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        import json

        have = self._fetch(zone)
        self._check_deletes(zone, changes, have)
        rrsets: list[dict[str, Any]] = []
        for ch in changes:
            rec = ch.record
            fqdn = zone.name + "." if rec.name == "@" else f"{rec.name}.{zone.name}."
            if ch.action == "DELETE":
                rrsets.append({"name": fqdn, "type": rec.type, "changetype": "DELETE"})
            else:
                rrsets.append({
                    "name": fqdn,
                    "type": rec.type,
                    "ttl": rec.ttl,
                    "changetype": "REPLACE",
                    "records": [{"content": value, "disabled": False} for value in rec.values],
                })
        drv = self._driver
        action = f"{drv.api_root}/servers/{drv.ex_server}/zones/{zone.id}"
        drv.connection.request(action=action, data=json.dumps({"rrsets": rrsets}), method="PATCH")
        return ChangeInfo(id=_change_id(zone, changes), status="INSYNC", change_count=len(changes),
                          submitted_at=datetime.now(UTC))


def make_service(provider: str, settings: Mapping[str, Any]) -> LibcloudDNS:
    """The DNS service of ``provider`` (``libcloud:<name>`` or a bare libcloud name)."""
    if driver_name(provider) == "powerdns":
        from cloudkit.settings import Settings

        if settings.get("api_version") is None:  # libcloud's default is the PowerDNS 3 API
            settings = Settings(settings).with_(api_version="v1")
        return PowerDNS(provider, settings)
    return LibcloudDNS(provider, settings)
