"""Local-only DNS behaviour: SOA serials, stored state, atomic batches, concurrency, WAL."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_local.dns import LocalDNS, soa_serial

import cloudkit
from cloudkit.errors import Conflict, InvalidInput, NotFound
from cloudkit.models.dns import RecordChange, RecordSet, Zone


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def dns(root: Path) -> Iterator[LocalDNS]:
    svc = LocalDNS({"root": str(root)})
    yield svc
    svc.close()


@pytest.fixture
def zone(dns: LocalDNS) -> Zone:
    return dns.create_zone("example.com")


def _serial(dns: LocalDNS, zone: Zone) -> int:
    return soa_serial(dns.get_record(zone, "@", "SOA"))


def _own(dns: LocalDNS, zone: Zone) -> set[tuple[str, str]]:
    return {(r.name, r.type) for r in dns.list_records(zone) if (r.name, r.type) not in {("@", "SOA"), ("@", "NS")}}


def test_connect_local_serves_dns(root: Path) -> None:
    with cloudkit.connect("local", root=str(root)) as cloud:
        assert isinstance(cloud.dns, LocalDNS)
        assert {"change_records", "export_zone", "import_zone"} <= cloud.capabilities()["dns"]


def test_database_uses_wal(dns: LocalDNS, zone: Zone) -> None:
    conn = sqlite3.connect(dns.root / "dns" / "dns.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_new_zone_soa_and_ns(dns: LocalDNS, zone: Zone) -> None:
    soa = dns.get_record(zone, "@", "SOA")
    assert soa.values[0].split()[:3] == ["ns1.cloudkit.invalid.", "hostmaster.example.com.", "1"]
    assert zone.name_servers == ("ns1.cloudkit.invalid", "ns2.cloudkit.invalid")
    assert zone.record_count == 2
    assert zone.id.startswith("Z")


def test_name_servers_setting(root: Path) -> None:
    svc = LocalDNS({"root": str(root), "name_servers": "a.ns.test, b.ns.test."})
    try:
        z = svc.create_zone("example.org")
        assert z.name_servers == ("a.ns.test", "b.ns.test")
        assert svc.get_record(z, "@", "SOA").values[0].startswith("a.ns.test. ")
    finally:
        svc.close()


def test_soa_serial_bumps_once_per_applied_batch(dns: LocalDNS, zone: Zone) -> None:
    assert _serial(dns, zone) == 1
    info = dns.upsert_records(zone, [RecordSet(f"h{i}", "A", 300, (f"192.0.2.{i}",)) for i in range(5)])
    assert info.status == "INSYNC"
    assert info.change_count == 5
    assert _serial(dns, zone) == 2
    dns.delete_records(zone, [RecordSet("h0", "A", 300, ("192.0.2.0",))])
    assert _serial(dns, zone) == 3
    with pytest.raises(NotFound):
        dns.delete_records(zone, [RecordSet("h0", "A", 300, ("192.0.2.0",))])
    assert _serial(dns, zone) == 3  # a failed batch changes nothing, not even the serial
    # Export and import of an unchanged zone applies nothing.
    assert dns.import_zone(zone, dns.export_zone(zone)).change_count == 0
    assert _serial(dns, zone) == 3


def test_delete_must_match_stored_values(dns: LocalDNS, zone: Zone) -> None:
    dns.upsert_records(zone, [RecordSet("www", "A", 300, ("192.0.2.1", "192.0.2.2"))])
    with pytest.raises(Conflict):
        dns.delete_records(zone, [RecordSet("www", "A", 300, ("192.0.2.1",))])
    with pytest.raises(Conflict):
        dns.delete_records(zone, [RecordSet("www", "A", 60, ("192.0.2.1", "192.0.2.2"))])
    assert _own(dns, zone) == {("www", "A")}
    dns.delete_records(zone, [RecordSet("www", "A", 300, ("192.0.2.2", "192.0.2.1"))])
    assert _own(dns, zone) == set()


def test_apex_ns_cannot_be_deleted_but_can_be_replaced(dns: LocalDNS, zone: Zone) -> None:
    ns = dns.get_record(zone, "@", "NS")
    with pytest.raises(Conflict):
        dns.delete_records(zone, [ns])
    dns.upsert_records(zone, [RecordSet("@", "NS", 3600, ("ns.example.net.",))])
    assert dns.get_zone(zone.id).name_servers == ("ns.example.net",)


def test_cname_conflict_in_either_order(dns: LocalDNS, zone: Zone) -> None:
    dns.upsert_records(zone, [RecordSet("alias", "CNAME", 300, ("target.example.net.",))])
    with pytest.raises(Conflict):
        dns.upsert_records(zone, [RecordSet("alias", "TXT", 300, ("hi",))])
    # Replacing the CNAME by other data in one batch is fine.
    dns.change_records(zone, [
        RecordChange("DELETE", RecordSet("alias", "CNAME", 300, ("target.example.net.",))),
        RecordChange("UPSERT", RecordSet("alias", "TXT", 300, ("hi",))),
    ])
    assert _own(dns, zone) == {("alias", "TXT")}


def test_state_persists_across_instances(dns: LocalDNS, zone: Zone, root: Path) -> None:
    dns.upsert_records(zone, [RecordSet("www", "A", 300, ("192.0.2.1",))])
    again = LocalDNS({"root": str(root)})
    try:
        assert again.get_zone("example.com.").id == zone.id
        assert again.get_record(zone, "www", "A").values == ("192.0.2.1",)
    finally:
        again.close()


def test_list_records_pages_in_order(dns: LocalDNS, zone: Zone, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit_local import dns as local_dns

    monkeypatch.setattr(local_dns, "PAGE", 3)
    names = ["a", "b", "c", "d", "e", "0", "*", "_srv", "a.b"]
    dns.upsert_records(zone, [RecordSet(n, t, 300, (v,)) for n in names for t, v in (("A", "192.0.2.1"), ("TXT", "t"))])
    got = [(r.name, r.type) for r in dns.list_records(zone)]
    assert got[:2] == [("@", "NS"), ("@", "SOA")]
    rest = got[2:]
    assert rest == sorted(rest)
    assert len(rest) == 2 * len(names)


def test_concurrent_batches_all_apply(dns: LocalDNS, zone: Zone) -> None:
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(5):
                dns.upsert_records(zone, [RecordSet(f"w{n}-{i}", "A", 300, ("192.0.2.1",))])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(_own(dns, zone)) == 20
    assert _serial(dns, zone) == 21


def test_large_batch_is_one_transaction(dns: LocalDNS, zone: Zone) -> None:
    good = [RecordSet(f"host{i}", "A", 300, ("192.0.2.1",)) for i in range(500)]
    with pytest.raises(NotFound):
        dns.change_records(zone, [RecordChange("UPSERT", r) for r in good] + [RecordChange("DELETE", RecordSet("nope", "A", 300, ("192.0.2.1",)))])
    assert _own(dns, zone) == set()
    dns.upsert_records(zone, good)
    assert len(_own(dns, zone)) == 500
    assert dns.get_zone(zone.id).record_count == 502


def test_bad_input_is_rejected_before_touching_the_disk(tmp_path: Path) -> None:
    root = tmp_path / "never-created"
    dns = LocalDNS({"root": str(root)})
    zone = Zone(id="Z1", name="example.com")
    calls = [
        lambda: dns.create_zone("not a zone"),
        lambda: dns.create_zone("example.com", comment="x" * 300),
        lambda: dns.upsert_records(zone, [RecordSet("www", "A", 300, ("300.1.1.1",))]),
        lambda: dns.upsert_records(zone, [RecordSet("@", "CNAME", 300, ("x.example.net.",))]),
        lambda: dns.list_records(zone, type="SPF"),
        lambda: dns.change_records(zone, [], timeout=-1),
        lambda: dns.upsert_records("example.com", [RecordSet("www", "MX", 300, ("mail",))]),
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()
    assert not root.exists()
    dns.close()


def test_missing_zone(dns: LocalDNS) -> None:
    ghost = Zone(id="ZNOSUCHZONE", name="ghost.example.com")
    with pytest.raises(NotFound):
        list(dns.list_records(ghost))
    with pytest.raises(NotFound):
        dns.upsert_records(ghost, [RecordSet("www", "A", 300, ("192.0.2.1",))])
    with pytest.raises(NotFound):
        dns.delete_zone("ghost.example.com")
