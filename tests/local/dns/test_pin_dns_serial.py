"""Pins the local DNS SOA serial: +1 per applied batch, modulo 2**32, skipping 0 on wrap-around.

RFC 1982 serial arithmetic wraps at 2**32; the local provider never writes serial 0 (some
secondaries treat 0 as "unset"), so 4294967295 is followed by 1. The rest of the SOA is kept
exactly as it was.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_local.dns import LocalDNS, soa_serial

from cloudkit.models.dns import RecordSet, Zone

SOA_REST = ("ns1.cloudkit.invalid.", "hostmaster.example.com.")
SOA_TIMERS = "7200 900 1209600 300"


@pytest.fixture
def dns(tmp_path: Path) -> Iterator[LocalDNS]:
    svc = LocalDNS({"root": str(tmp_path / "root")})
    yield svc
    svc.close()


@pytest.fixture
def zone(dns: LocalDNS) -> Zone:
    return dns.create_zone("example.com")


def _soa(serial: int) -> str:
    return f"{SOA_REST[0]} {SOA_REST[1]} {serial} {SOA_TIMERS}"


def _set_serial(dns: LocalDNS, zone: Zone, serial: int) -> None:
    """Write an SOA with ``serial``; the batch that writes it is bumped once, like any other."""
    dns.upsert_records(zone, [RecordSet("@", "SOA", 900, (_soa(serial),))])


def _touch(dns: LocalDNS, zone: Zone, i: int) -> None:
    dns.upsert_records(zone, [RecordSet(f"h{i}", "A", 300, (f"192.0.2.{i}",))])


def test_new_zone_soa_is_pinned_whole(dns: LocalDNS, zone: Zone) -> None:
    assert dns.get_record(zone, "@", "SOA") == RecordSet("@", "SOA", 900, (_soa(1),))


@pytest.mark.parametrize(
    ("written", "after_write", "after_next"),
    [
        (4294967293, 4294967294, 4294967295),
        (4294967294, 4294967295, 1),  # 0 is skipped on wrap-around
        (4294967295, 1, 2),
        (0, 1, 2),
    ],
)
def test_serial_wraps_around_past_2_to_the_32_skipping_zero(dns: LocalDNS, zone: Zone, written: int, after_write: int, after_next: int) -> None:
    _set_serial(dns, zone, written)
    assert dns.get_record(zone, "@", "SOA") == RecordSet("@", "SOA", 900, (_soa(after_write),))
    _touch(dns, zone, 1)
    assert dns.get_record(zone, "@", "SOA") == RecordSet("@", "SOA", 900, (_soa(after_next),))


def test_each_batch_adds_exactly_one(dns: LocalDNS, zone: Zone) -> None:
    serials = []
    for i in range(3):
        _touch(dns, zone, i)
        serials.append(soa_serial(dns.get_record(zone, "@", "SOA")))
    assert serials == [2, 3, 4]


def test_serial_bump_keeps_names_absolute_and_the_timers(dns: LocalDNS) -> None:
    other = dns.create_zone("sub.example.org")
    dns.upsert_records(other, [RecordSet("@", "SOA", 600, ("a.ns.test. admin.sub.example.org. 41 3600 600 86400 60",))])
    assert dns.get_record(other, "@", "SOA") == RecordSet("@", "SOA", 600, ("a.ns.test. admin.sub.example.org. 42 3600 600 86400 60",))
    _touch(dns, other, 2)
    assert dns.get_record(other, "@", "SOA") == RecordSet("@", "SOA", 600, ("a.ns.test. admin.sub.example.org. 43 3600 600 86400 60",))


def test_only_the_zones_own_soa_is_bumped(dns: LocalDNS, zone: Zone) -> None:
    other = dns.create_zone("example.net")
    _touch(dns, zone, 1)
    _touch(dns, zone, 2)
    assert soa_serial(dns.get_record(zone, "@", "SOA")) == 3
    assert soa_serial(dns.get_record(other, "@", "SOA")) == 1


def test_a_zone_whose_soa_was_removed_by_hand_still_takes_changes(dns: LocalDNS, zone: Zone) -> None:
    conn = sqlite3.connect(dns.root / "dns" / "dns.sqlite3")
    try:
        with conn:
            conn.execute("DELETE FROM records WHERE type = 'SOA'")
    finally:
        conn.close()
    _touch(dns, zone, 1)
    assert {(r.name, r.type) for r in dns.list_records(zone)} == {("@", "NS"), ("h1", "A")}


def test_soa_serial_reads_the_third_field() -> None:
    assert soa_serial(RecordSet("@", "SOA", 900, (_soa(77),))) == 77


def test_a_relative_soa_stored_by_hand_is_read_in_the_zones_origin(dns: LocalDNS, zone: Zone) -> None:
    conn = sqlite3.connect(dns.root / "dns" / "dns.sqlite3")
    try:
        with conn:
            conn.execute("UPDATE records SET vals = ? WHERE type = 'SOA'", ('["ns1 hostmaster 5 7200 900 1209600 300"]',))
    finally:
        conn.close()
    _touch(dns, zone, 1)
    assert dns.get_record(zone, "@", "SOA").values == ("ns1.example.com. hostmaster.example.com. 6 7200 900 1209600 300",)
