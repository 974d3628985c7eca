"""Pins TTL-only DNS changes on the record-by-record libcloud path (issue 11).

libcloud drivers keep one record per value, each with its own TTL: an upsert that changes only the
TTL must rewrite every record of the set (and nothing when neither changes), a failure half-way
must put the old records back with their old TTL, and the TTL read back comes from the record, its
``extra``, or the 300 s default. On the in-memory driver of ``test_libcloud_generic_dns.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from libcloud.dns.providers import DRIVERS, set_driver
from test_libcloud_generic_dns import NAME, MemoryDNSDriver

import cloudkit
from cloudkit import RecordChange, RecordSet
from cloudkit.errors import ProviderError

WWW = ("192.0.2.1", "192.0.2.2")


@pytest.fixture
def dns() -> Iterator[cloudkit.Cloud]:
    if NAME not in DRIVERS:
        set_driver(NAME, "test_libcloud_generic_dns", "MemoryDNSDriver")
    MemoryDNSDriver.zones.clear()
    MemoryDNSDriver.fail_on.clear()
    MemoryDNSDriver.calls.clear()
    with cloudkit.connect(f"libcloud:{NAME}", key="k") as cloud:
        yield cloud.dns


def _natives(dns: cloudkit.Cloud, zone_id: str) -> list[tuple[str, str, str, int | None, int | None]]:
    native = dns.native  # type: ignore[attr-defined]
    return sorted((r.name, r.type, r.data, r.ttl, (r.extra or {}).get("priority"))
                  for r in native.list_records(native.get_zone(zone_id)))


def test_a_ttl_only_upsert_rewrites_every_record(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    MemoryDNSDriver.calls.clear()
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=300, values=WWW)])  # type: ignore[attr-defined]
    assert MemoryDNSDriver.calls == ["delete www A 192.0.2.1", "delete www A 192.0.2.2",
                                     "create www A 192.0.2.1", "create www A 192.0.2.2"]
    assert _natives(dns, zone.id) == [("www", "A", "192.0.2.1", 300, None), ("www", "A", "192.0.2.2", 300, None)]
    assert dns.get_record(zone, "www", "A") == RecordSet(name="www", type="A", ttl=300, values=WWW)  # type: ignore[attr-defined]


def test_an_unchanged_upsert_sends_nothing(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    MemoryDNSDriver.calls.clear()
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    assert MemoryDNSDriver.calls == []


def test_a_ttl_change_with_new_values_rewrites_them_all(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    MemoryDNSDriver.calls.clear()
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=120, values=("192.0.2.2", "192.0.2.3"))])  # type: ignore[attr-defined]
    assert MemoryDNSDriver.calls == ["delete www A 192.0.2.1", "delete www A 192.0.2.2",
                                     "create www A 192.0.2.2", "create www A 192.0.2.3"]
    assert [r[3] for r in _natives(dns, zone.id)] == [120, 120]


def test_a_ttl_only_change_keeps_mx_priorities(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    mx = ("10 mx1.example.net.", "20 mx2.example.org.")
    dns.upsert_records(zone, [RecordSet(name="@", type="MX", ttl=300, values=mx)])  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="@", type="MX", ttl=900, values=mx)])  # type: ignore[attr-defined]
    assert _natives(dns, zone.id) == [("", "MX", "mx1.example.net.", 900, 10), ("", "MX", "mx2.example.org.", 900, 20)]
    assert dns.get_record(zone, "@", "MX").ttl == 900  # type: ignore[attr-defined]


def test_a_failed_ttl_change_puts_the_old_ttl_back(dns: cloudkit.Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    original = MemoryDNSDriver.create_record
    refused: list[str] = []

    def create_once(self: MemoryDNSDriver, name: str, zone: Any, type: str, data: str, extra: Any = None) -> Any:
        if data == "192.0.2.2" and not refused:  # the new record fails; putting the old one back works
            refused.append(data)
            raise ValueError("refusing once")
        return original(self, name, zone, type, data, extra=extra)

    monkeypatch.setattr(MemoryDNSDriver, "create_record", create_once)
    with pytest.raises(ProviderError):
        dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=300, values=WWW)])  # type: ignore[attr-defined]
    assert _natives(dns, zone.id) == [("www", "A", "192.0.2.1", 60, None), ("www", "A", "192.0.2.2", 60, None)]
    assert dns.get_record(zone, "www", "A").ttl == 60  # type: ignore[attr-defined]


def test_a_rollback_goes_on_after_a_step_fails(dns: cloudkit.Cloud) -> None:
    """Undo runs newest first; a record the driver refuses to put back does not stop the others."""
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW),  # type: ignore[attr-defined]
                              RecordSet(name="api", type="A", ttl=60, values=("192.0.2.5",))])
    MemoryDNSDriver.fail_on.update({"192.0.2.9"})
    MemoryDNSDriver.calls.clear()
    with pytest.raises(ProviderError):
        dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=30, values=("192.0.2.1",)),  # type: ignore[attr-defined]
                                  RecordSet(name="api", type="A", ttl=30, values=("192.0.2.9",))])
    # the batch: www's two records deleted and .1 created again at 30 s, api's record deleted, .9 refused;
    # the undo, newest first: api's record back, the new .1 deleted, .2 and .1 back at 60 s
    assert MemoryDNSDriver.calls[-4:] == ["create api A 192.0.2.5", "delete www A 192.0.2.1",
                                          "create www A 192.0.2.2", "create www A 192.0.2.1"]
    assert _natives(dns, zone.id) == [("api", "A", "192.0.2.5", 60, None),
                                      ("www", "A", "192.0.2.1", 60, None), ("www", "A", "192.0.2.2", 60, None)]


def test_the_ttl_read_back(dns: cloudkit.Cloud) -> None:
    """From the record, else its ``extra["ttl"]``, else 300; the first record of a set gives the set's TTL."""
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    native = dns.native  # type: ignore[attr-defined]
    lzone = native.get_zone(zone.id)
    native.create_record("a", lzone, "A", "192.0.2.1", extra={"ttl": 45})
    native.create_record("b", lzone, "A", "192.0.2.1")
    native.create_record("c", lzone, "A", "192.0.2.1", extra={"ttl": 0})
    record = native.create_record("d", lzone, "A", "192.0.2.1")
    record.extra["ttl"] = 77  # no record TTL: the one in extra
    native.create_record("e", lzone, "A", "192.0.2.1", extra={"ttl": 10})
    native.create_record("e", lzone, "A", "192.0.2.2", extra={"ttl": 20})
    ttls = {r.name: r.ttl for r in dns.list_records(zone)}  # type: ignore[attr-defined]
    assert ttls == {"a": 45, "b": 300, "c": 0, "d": 77, "e": 10}


def test_the_change_answer(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    first = dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    again = dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    assert (first.status, first.change_count, again.id) == ("INSYNC", 1, first.id)
    assert isinstance(first.id, str) and first.id
    assert isinstance(first.submitted_at, datetime) and first.submitted_at.tzinfo is not None
    other = dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=61, values=WWW)])  # type: ignore[attr-defined]
    assert other.id != first.id


def test_kept_records_come_first_and_the_rest_still_go(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=WWW)])  # type: ignore[attr-defined]
    MemoryDNSDriver.calls.clear()
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1", "192.0.2.3"))])  # type: ignore[attr-defined]
    assert MemoryDNSDriver.calls == ["delete www A 192.0.2.2", "create www A 192.0.2.3"]


def test_relative_native_data_is_read_in_the_zone(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    native = dns.native  # type: ignore[attr-defined]
    native.create_record("alias", native.get_zone(zone.id), "CNAME", "host", extra={"ttl": 60})
    assert dns.get_record(zone, "alias", "CNAME").values == ("host.example.net.",)  # type: ignore[attr-defined]
    MemoryDNSDriver.calls.clear()
    dns.upsert_records(zone, [RecordSet(name="alias", type="CNAME", ttl=60, values=("host.example.net.",))])  # type: ignore[attr-defined]
    assert MemoryDNSDriver.calls == []  # the same record: kept


def test_grouping_skips_unknown_types_reads_enum_types_and_merges_equal_values(dns: cloudkit.Cloud) -> None:
    import enum

    class Kind(enum.Enum):
        A = "a"

    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    native = dns.native  # type: ignore[attr-defined]
    lzone = native.get_zone(zone.id)
    native.create_record("odd", lzone, "XYZ", "whatever", extra={"ttl": 60})  # not a record type cloudkit knows
    native.create_record("e", lzone, Kind.A, "192.0.2.8", extra={"ttl": 60})
    native.create_record("www", lzone, "A", "192.0.2.1", extra={"ttl": 60})
    native.create_record("www", lzone, "A", "192.0.2.1", extra={"ttl": 60})  # the same value twice
    listed = [(r.name, r.type, r.values) for r in dns.list_records(zone)]  # type: ignore[attr-defined]
    assert ("e", "A", ("192.0.2.8",)) in listed
    assert ("www", "A", ("192.0.2.1",)) in listed
    assert all(name != "odd" for name, _, _ in listed)


def test_a_failed_change_names_the_operation_and_provider(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    MemoryDNSDriver.fail_on.add("192.0.2.66")
    with pytest.raises(ProviderError) as caught:
        dns.upsert_records(zone, [RecordSet(name="api", type="A", ttl=60, values=("192.0.2.66",))])  # type: ignore[attr-defined]
    assert (caught.value.message, caught.value.provider) == ("dns.change_records: refusing 192.0.2.66", f"libcloud:{NAME}")


def test_a_rollback_puts_mx_priorities_back(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    mx = ("10 mx1.example.net.", "20 mx2.example.org.")
    dns.upsert_records(zone, [RecordSet(name="@", type="MX", ttl=300, values=mx)])  # type: ignore[attr-defined]
    MemoryDNSDriver.fail_on.add("192.0.2.66")
    with pytest.raises(ProviderError):
        dns.change_records(zone, [RecordChange("DELETE", RecordSet(name="@", type="MX", ttl=300, values=mx)),  # type: ignore[attr-defined]
                                  RecordChange("UPSERT", RecordSet(name="api", type="A", ttl=60, values=("192.0.2.66",)))])
    assert _natives(dns, zone.id) == [("", "MX", "mx1.example.net.", 300, 10), ("", "MX", "mx2.example.org.", 300, 20)]


def test_a_rollback_step_the_driver_refuses_does_not_stop_the_others(dns: cloudkit.Cloud) -> None:
    zone = dns.create_zone("example.net")  # type: ignore[attr-defined]
    dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1",)),  # type: ignore[attr-defined]
                              RecordSet(name="api", type="A", ttl=60, values=("192.0.2.5",))])
    MemoryDNSDriver.fail_on.update({"192.0.2.66", "192.0.2.5"})  # api's new value, and putting its old one back
    with pytest.raises(ProviderError):
        dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.9",)),  # type: ignore[attr-defined]
                                  RecordSet(name="api", type="A", ttl=60, values=("192.0.2.66",))])
    # undo, newest first: api's .5 refused (lost), www's new .9 deleted, www's .1 back
    assert _natives(dns, zone.id) == [("www", "A", "192.0.2.1", 60, None)]
