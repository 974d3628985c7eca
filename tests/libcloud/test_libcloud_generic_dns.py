"""The record-by-record DNS path (every libcloud DNS driver but PowerDNS), on an in-memory driver.

The driver below is a real libcloud ``DNSDriver`` registered with libcloud's ``set_driver``, so
``libcloud:ckmemory`` goes through the same plugin, resolution and mapping as any other driver.
It models records the way most libcloud drivers do: names relative to the zone (``""`` for the
apex), one record per value, MX priority in ``extra["priority"]``.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from libcloud.dns.base import DNSDriver, Record, Zone
from libcloud.dns.providers import DRIVERS, set_driver
from libcloud.dns.types import ZoneAlreadyExistsError, ZoneDoesNotExistError

import cloudkit
from cloudkit import RecordSet
from cloudkit.errors import AlreadyExists, Conflict, NotFound, ProviderError

NAME = "ckmemory"


class MemoryDNSDriver(DNSDriver):  # type: ignore[misc]
    """A libcloud DNS driver keeping zones in memory; ``fail_on`` makes create_record fail for a value."""

    name = "cloudkit test memory DNS"
    zones: dict[str, dict[str, Any]] = {}
    fail_on: set[str] = set()
    calls: list[str] = []
    _ids = itertools.count(1)

    def __init__(self, key: str = "", secret: str | None = None, **kwargs: Any) -> None:
        self.key = key
        self.connection = None

    def list_zones(self) -> list[Zone]:
        return [z["zone"] for z in self.zones.values()]

    def get_zone(self, zone_id: str) -> Zone:
        if zone_id not in self.zones:
            raise ZoneDoesNotExistError(value="", driver=self, zone_id=zone_id)
        return self.zones[zone_id]["zone"]

    def create_zone(self, domain: str, type: str = "master", ttl: int | None = None, extra: Any = None) -> Zone:
        if any(z["zone"].domain == domain for z in self.zones.values()):
            raise ZoneAlreadyExistsError(value="", driver=self, zone_id=domain)
        zone = Zone(id=f"z{next(self._ids)}", domain=domain, type=type, ttl=ttl, driver=self)
        self.zones[zone.id] = {"zone": zone, "records": {}}
        return zone

    def delete_zone(self, zone: Zone) -> bool:
        return self.zones.pop(zone.id, None) is not None

    def list_records(self, zone: Zone) -> list[Record]:
        return list(self.zones[zone.id]["records"].values())

    def create_record(self, name: str, zone: Zone, type: str, data: str, extra: Any = None) -> Record:
        self.calls.append(f"create {name} {type} {data}")
        if data in self.fail_on:
            raise ValueError(f"refusing {data}")
        extra = dict(extra or {})
        record = Record(id=f"r{next(self._ids)}", name=name, type=type, data=data, zone=zone, driver=self,
                        ttl=extra.pop("ttl", None), extra=extra)
        self.zones[zone.id]["records"][record.id] = record
        return record

    def delete_record(self, record: Record) -> bool:
        self.calls.append(f"delete {record.name} {record.type} {record.data}")
        return self.zones[record.zone.id]["records"].pop(record.id, None) is not None


@pytest.fixture
def memory() -> Iterator[cloudkit.Cloud]:
    if NAME not in DRIVERS:
        set_driver(NAME, __name__, "MemoryDNSDriver")
    MemoryDNSDriver.zones.clear()
    MemoryDNSDriver.fail_on.clear()
    MemoryDNSDriver.calls.clear()
    with cloudkit.connect(f"libcloud:{NAME}", key="k") as cloud:
        yield cloud


def test_record_sets_become_one_record_per_value(memory: cloudkit.Cloud) -> None:
    dns = memory.dns
    zone = dns.create_zone("example.net")
    with pytest.raises(AlreadyExists):
        dns.create_zone("example.net")
    dns.upsert_records(zone, [
        RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1", "192.0.2.2")),
        RecordSet(name="@", type="MX", ttl=300, values=("10 mx1", "20 mx2.example.org.")),
    ])
    natives = sorted((r.name, r.type, r.data, r.extra.get("priority")) for r in dns.native.list_records(dns.native.get_zone(zone.id)))
    assert natives == [("", "MX", "mx1.example.net.", 10), ("", "MX", "mx2.example.org.", 20),
                       ("www", "A", "192.0.2.1", None), ("www", "A", "192.0.2.2", None)]
    assert dns.get_record(zone, "@", "MX").values == ("10 mx1.example.net.", "20 mx2.example.org.")
    assert dns.get_record(zone, "www", "A") == RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1", "192.0.2.2"))


def test_upsert_touches_only_what_changed(memory: cloudkit.Cloud) -> None:
    dns = memory.dns
    zone = dns.create_zone("example.net")
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1", "192.0.2.2"))])
    MemoryDNSDriver.calls.clear()
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.2", "192.0.2.3"))])
    assert MemoryDNSDriver.calls == ["delete www A 192.0.2.1", "create www A 192.0.2.3"]
    assert dns.get_record(zone, "www", "A").values == ("192.0.2.2", "192.0.2.3")


def test_a_failed_batch_is_rolled_back(memory: cloudkit.Cloud) -> None:
    dns = memory.dns
    zone = dns.create_zone("example.net")
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1",))])
    MemoryDNSDriver.fail_on.add("192.0.2.66")
    with pytest.raises(ProviderError, match="refusing") as err:
        dns.upsert_records(zone, [
            RecordSet(name="www", type="A", ttl=60, values=("192.0.2.9",)),
            RecordSet(name="api", type="A", ttl=60, values=("192.0.2.66",)),
        ])
    assert isinstance(err.value.__cause__, ValueError)
    assert [(r.name, r.values) for r in dns.list_records(zone)] == [("www", ("192.0.2.1",))]


def test_deletes_check_values_and_zones_refuse_to_go_with_records(memory: cloudkit.Cloud) -> None:
    dns = memory.dns
    zone = dns.create_zone("example.net")
    dns.upsert_records(zone, [RecordSet(name="www", type="A", values=("192.0.2.1",))])
    with pytest.raises(Conflict, match="do not match"):
        dns.delete_records(zone, [RecordSet(name="www", type="A", values=("192.0.2.7",))])
    ttl = dns.get_record(zone, "www", "A").ttl
    with pytest.raises(Conflict, match="TTL and values"):  # the right values with another TTL
        dns.delete_records(zone, [RecordSet(name="www", type="A", ttl=ttl + 1, values=("192.0.2.1",))])
    assert dns.get_record(zone, "www", "A").values == ("192.0.2.1",)
    with pytest.raises(NotFound):
        dns.delete_records(zone, [RecordSet(name="ftp", type="A", values=("192.0.2.7",))])
    with pytest.raises(Conflict):
        dns.delete_zone(zone)
    dns.delete_zone(zone, force=True)
    with pytest.raises(NotFound):
        dns.get_zone("example.net")
