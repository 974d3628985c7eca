"""The DNS conformance suite: what every provider's zones and record sets must do.

Subclass :class:`DNSConformance` in a provider's tests (with a ``cloudkit_cloud`` fixture), or run
``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. Zones are named
``<unique>.example.com`` and removed after each test. An operation the provider's capabilities
exclude is skipped with that reason.

Class attribute a provider may set:

``zone_suffix``
    The parent domain test zones are created under (default ``example.com``).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models.dns import ChangeInfo, RecordChange, RecordSet, Zone
from cloudkit.services.dns import DNSService
from cloudkit.testing.helpers import Conformance, requires, unique_name

MANAGED = {("@", "SOA"), ("@", "NS")}


def _own(records: Any) -> dict[tuple[str, str], RecordSet]:
    """Record sets other than the zone's own SOA and apex NS, keyed by (name, type)."""
    return {(r.name, r.type): r for r in records if (r.name, r.type) not in MANAGED}


class DNSConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.DNSService`."""

    zone_suffix: ClassVar[str] = "example.com"

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def dns(self, cloudkit_cloud: Cloud) -> DNSService:
        """The DNS service under test."""
        return cloudkit_cloud.dns

    def _zone_name(self) -> str:
        return f"{unique_name('ck')}.{self.zone_suffix}"

    @pytest.fixture
    def zone(self, cloudkit_cloud: Cloud, dns: DNSService) -> Iterator[Zone]:
        """A fresh zone, deleted with its records after the test."""
        requires(cloudkit_cloud, "dns", "create_zone", "delete_zone")
        z = dns.create_zone(self._zone_name())
        yield z
        try:
            dns.delete_zone(z, force=True)
        except CloudkitError:
            pass

    @pytest.fixture
    def records(self, cloudkit_cloud: Cloud) -> None:
        """Skip unless the provider can read and change record sets."""
        requires(cloudkit_cloud, "dns", "list_records", "change_records", "upsert_records")

    # ------------------------------------------------------------ capabilities
    def test_capabilities_are_known_operations(self, dns: DNSService) -> None:
        caps = dns.capabilities()
        assert caps <= set(DNSService.OPERATIONS)
        for op in DNSService.OPERATIONS:
            assert dns.supports(op) == (op in caps)

    # ------------------------------------------------------------ zones
    def test_zone_crud(self, cloudkit_cloud: Cloud, dns: DNSService) -> None:
        requires(cloudkit_cloud, "dns", "create_zone", "get_zone", "list_zones", "delete_zone")
        name = self._zone_name()
        z = dns.create_zone(name.upper() + ".", comment="conformance")
        try:
            assert isinstance(z, Zone)
            assert z.name == name
            assert z.id
            assert dns.get_zone(z.id).name == name
            assert dns.get_zone(name).id == z.id
            assert dns.get_zone(name + ".").id == z.id
            assert dns.get_zone(z).id == z.id
            listing = dns.list_zones()
            assert isinstance(listing, Iterator)
            assert z.id in [x.id for x in listing]
        finally:
            dns.delete_zone(z)
        with pytest.raises(NotFound):
            dns.get_zone(z.id)
        assert z.id not in [x.id for x in dns.list_zones()]

    def test_new_zone_has_soa_and_ns(self, cloudkit_cloud: Cloud, dns: DNSService, zone: Zone) -> None:
        requires(cloudkit_cloud, "dns", "list_records")
        got = {(r.name, r.type): r for r in dns.list_records(zone)}
        assert ("@", "SOA") in got
        assert ("@", "NS") in got
        assert len(got[("@", "SOA")].values) == 1
        assert got[("@", "NS")].values
        assert all(v.endswith(".") for v in got[("@", "NS")].values)

    def test_create_existing_zone_raises_already_exists(self, dns: DNSService, zone: Zone) -> None:
        with pytest.raises(AlreadyExists):
            dns.create_zone(zone.name)

    def test_missing_zone_raises_not_found(self, cloudkit_cloud: Cloud, dns: DNSService) -> None:
        requires(cloudkit_cloud, "dns", "get_zone")
        with pytest.raises(NotFound):
            dns.get_zone(self._zone_name())

    def test_delete_zone_with_records_conflicts_unless_forced(self, cloudkit_cloud: Cloud, dns: DNSService, records: None) -> None:
        requires(cloudkit_cloud, "dns", "create_zone", "get_zone", "delete_zone")
        z = dns.create_zone(self._zone_name())
        try:
            dns.upsert_records(z, [RecordSet("www", "A", 300, ("192.0.2.1",))])
            with pytest.raises(Conflict):
                dns.delete_zone(z)
            assert dns.get_zone(z.id).id == z.id
            dns.delete_zone(z, force=True)
            with pytest.raises(NotFound):
                dns.get_zone(z.id)
        finally:
            try:
                dns.delete_zone(z, force=True)
            except NotFound:
                pass

    # ------------------------------------------------------------ records
    def test_every_record_type_round_trips(self, dns: DNSService, zone: Zone, records: None) -> None:
        origin = zone.name + "."
        wanted = [
            RecordSet("www", "A", 300, ("192.0.2.1", "192.0.2.2")),
            RecordSet("v6", "AAAA", 300, ("2001:db8::1",)),
            RecordSet("alias", "CNAME", 300, ("www",)),
            RecordSet("@", "MX", 3600, ("10 mail", "20 backup.example.net.")),
            RecordSet("@", "TXT", 300, ("v=spf1 -all", '"quoted" "strings"')),
            RecordSet("_sip._tcp", "SRV", 300, ("10 60 5060 sip",)),
            RecordSet("sub", "NS", 3600, ("ns1.example.net.", "ns2.example.net.")),
            RecordSet("@", "CAA", 300, ('0 issue "letsencrypt.org"',)),
            RecordSet("ptr", "PTR", 300, ("host.example.net.",)),
        ]
        info = dns.upsert_records(zone, wanted)
        assert isinstance(info, ChangeInfo)
        assert info.status in ("PENDING", "INSYNC")
        assert info.change_count == len(wanted)
        got = _own(dns.list_records(zone))
        expected = {
            ("www", "A"): ["192.0.2.1", "192.0.2.2"],
            ("v6", "AAAA"): ["2001:db8::1"],
            ("alias", "CNAME"): [f"www.{origin}"],
            ("@", "MX"): [f"10 mail.{origin}", "20 backup.example.net."],
            ("@", "TXT"): ['"quoted" "strings"', '"v=spf1 -all"'],
            ("_sip._tcp", "SRV"): [f"10 60 5060 sip.{origin}"],
            ("sub", "NS"): ["ns1.example.net.", "ns2.example.net."],
            ("@", "CAA"): ['0 issue "letsencrypt.org"'],
            ("ptr", "PTR"): ["host.example.net."],
        }
        assert set(got) == set(expected)
        for key, values in expected.items():
            assert sorted(got[key].values) == sorted(values), key
        assert got[("@", "MX")].ttl == 3600
        assert got[("www", "A")].ttl == 300

    def test_absolute_names_are_returned_relative(self, dns: DNSService, zone: Zone, records: None) -> None:
        dns.upsert_records(zone, [RecordSet(f"api.{zone.name}.", "A", 60, ("192.0.2.10",))])
        got = _own(dns.list_records(zone))
        assert list(got) == [("api", "A")]
        assert got[("api", "A")].ttl == 60

    def test_upsert_replaces_record_set(self, dns: DNSService, zone: Zone, records: None) -> None:
        dns.upsert_records(zone, [RecordSet("www", "A", 300, ("192.0.2.1",))])
        dns.upsert_records(zone, [RecordSet("www", "A", 600, ("192.0.2.7", "192.0.2.8"))])
        got = _own(dns.list_records(zone))
        assert sorted(got[("www", "A")].values) == ["192.0.2.7", "192.0.2.8"]
        assert got[("www", "A")].ttl == 600

    def test_list_records_filters(self, cloudkit_cloud: Cloud, dns: DNSService, zone: Zone, records: None) -> None:
        dns.upsert_records(zone, [
            RecordSet("www", "A", 300, ("192.0.2.1",)),
            RecordSet("www", "AAAA", 300, ("2001:db8::2",)),
            RecordSet("mail", "A", 300, ("192.0.2.3",)),
        ])
        assert {(r.name, r.type) for r in dns.list_records(zone, name="www")} == {("www", "A"), ("www", "AAAA")}
        assert {(r.name, r.type) for r in dns.list_records(zone, type="A")} == {("www", "A"), ("mail", "A")}
        assert [(r.name, r.type) for r in dns.list_records(zone, name="www", type="aaaa")] == [("www", "AAAA")]
        requires(cloudkit_cloud, "dns", "get_record")
        assert dns.get_record(zone, "mail", "A").values == ("192.0.2.3",)
        with pytest.raises(NotFound):
            dns.get_record(zone, "nothing", "A")

    def test_delete_records(self, cloudkit_cloud: Cloud, dns: DNSService, zone: Zone, records: None) -> None:
        requires(cloudkit_cloud, "dns", "delete_records")
        rs = RecordSet("gone", "TXT", 300, ("bye",))
        dns.upsert_records(zone, [rs, RecordSet("stays", "TXT", 300, ("hi",))])
        dns.delete_records(zone, [rs])
        assert list(_own(dns.list_records(zone))) == [("stays", "TXT")]

    def test_batch_is_atomic_when_a_delete_is_missing(self, dns: DNSService, zone: Zone, records: None) -> None:
        with pytest.raises(NotFound):
            dns.change_records(zone, [
                RecordChange("UPSERT", RecordSet("new", "A", 300, ("192.0.2.5",))),
                RecordChange("DELETE", RecordSet("missing", "A", 300, ("192.0.2.6",))),
            ])
        assert _own(dns.list_records(zone)) == {}

    def test_cname_beside_other_data_conflicts(self, dns: DNSService, zone: Zone, records: None) -> None:
        dns.upsert_records(zone, [RecordSet("www", "A", 300, ("192.0.2.1",))])
        with pytest.raises(Conflict):
            dns.change_records(zone, [
                RecordChange("UPSERT", RecordSet("other", "A", 300, ("192.0.2.9",))),
                RecordChange("UPSERT", RecordSet("www", "CNAME", 300, ("target.example.net.",))),
            ])
        assert list(_own(dns.list_records(zone))) == [("www", "A")]

    def test_mixed_batch_applies_together(self, dns: DNSService, zone: Zone, records: None) -> None:
        old = RecordSet("old", "A", 300, ("192.0.2.1",))
        dns.upsert_records(zone, [old])
        info = dns.change_records(zone, [
            RecordChange("DELETE", old),
            RecordChange("UPSERT", RecordSet("new", "A", 300, ("192.0.2.2",))),
            RecordChange("UPSERT", RecordSet("new", "TXT", 300, ("fresh",))),
        ], wait=True, timeout=120)
        assert info.status == "INSYNC"
        assert info.change_count == 3
        assert set(_own(dns.list_records(zone))) == {("new", "A"), ("new", "TXT")}

    def test_plan_sync(self, cloudkit_cloud: Cloud, dns: DNSService, zone: Zone, records: None) -> None:
        requires(cloudkit_cloud, "dns", "plan_sync")
        dns.upsert_records(zone, [RecordSet("keep", "A", 300, ("192.0.2.1",)), RecordSet("drop", "A", 300, ("192.0.2.2",))])
        desired = [RecordSet("keep", "A", 300, ("192.0.2.1",)), RecordSet("add", "A", 300, ("192.0.2.3",))]
        assert [(c.action, c.record.name) for c in dns.plan_sync(zone, desired).changes] == [("UPSERT", "add")]
        plan = dns.plan_sync(zone, desired, delete_missing=True, min_existing=1)
        assert sorted((c.action, c.record.name) for c in plan.changes) == [("DELETE", "drop"), ("UPSERT", "add")]
        assert (len(plan.creates), len(plan.updates), len(plan.deletes), plan.existing) == (1, 0, 1, 2)
        unsafe = dns.plan_sync(zone, [], delete_missing=True, min_existing=1)
        with pytest.raises(Conflict, match="2 deletes of 2"):  # UnsafePlan is a Conflict
            dns.apply_plan(unsafe)
        with pytest.raises(Conflict, match="1 deletes of 2"):
            plan.raise_if_unsafe()
        dns.apply_plan(plan, force=True)
        assert set(_own(dns.list_records(zone))) == {("keep", "A"), ("add", "A")}

    # ------------------------------------------------------------ zone files
    def test_export_import_round_trip(self, cloudkit_cloud: Cloud, dns: DNSService, zone: Zone, records: None) -> None:
        requires(cloudkit_cloud, "dns", "export_zone", "import_zone")
        dns.upsert_records(zone, [
            RecordSet("www", "A", 300, ("192.0.2.1", "192.0.2.2")),
            RecordSet("alias", "CNAME", 600, ("www",)),
            RecordSet("@", "MX", 3600, ("10 mail",)),
            RecordSet("mail", "A", 300, ("192.0.2.25",)),
            RecordSet("@", "TXT", 300, ("hello world",)),
            RecordSet("_xmpp._tcp", "SRV", 300, ("5 0 5222 www",)),
            RecordSet("@", "CAA", 300, ('0 issue "ca.example.net"',)),
            RecordSet("v6", "AAAA", 300, ("2001:db8::1",)),
        ])
        text = dns.export_zone(zone)
        assert text.startswith(f"$ORIGIN {zone.name}.")
        assert "192.0.2.25" in text
        # Importing a zone's own export changes nothing.
        again = dns.import_zone(zone, text)
        assert again.change_count == 0
        # The export, with its origin line dropped, loads into another zone; in-zone names follow it.
        other = dns.create_zone(self._zone_name())
        try:
            body = "\n".join(line for line in text.splitlines() if not line.startswith("$ORIGIN"))
            info = dns.import_zone(other, body)
            assert info.change_count == 8
            src, dst = _own(dns.list_records(zone)), _own(dns.list_records(other))
            assert set(src) == set(dst)
            for key, rec in src.items():
                moved = sorted(v.replace(zone.name + ".", other.name + ".") for v in rec.values)
                assert sorted(dst[key].values) == moved, key
                assert dst[key].ttl == rec.ttl, key
            # replace=True removes what the file does not hold.
            dns.upsert_records(other, [RecordSet("extra", "A", 300, ("192.0.2.99",))])
            dns.import_zone(other, body, replace=True)
            assert set(_own(dns.list_records(other))) == set(src)
        finally:
            dns.delete_zone(other, force=True)

    def test_import_rejects_garbage(self, cloudkit_cloud: Cloud, dns: DNSService, zone: Zone) -> None:
        requires(cloudkit_cloud, "dns", "import_zone")
        with pytest.raises(InvalidInput):
            dns.import_zone(zone, "www 300 IN A not-an-address\n")
        with pytest.raises(InvalidInput):
            dns.import_zone(zone, "   ")

    # ------------------------------------------------------------ bad input
    @pytest.mark.parametrize("name", ["", "com", "-bad-.example.com", "under_score.example.com", "a..b.com", "x" * 64 + ".com"])
    def test_bad_zone_names_raise_invalid_input(self, dns: DNSService, name: str) -> None:
        with pytest.raises(InvalidInput):
            dns.create_zone(name)

    @pytest.mark.parametrize(
        ("record", "field"),
        [
            (RecordSet("www", "A", 300, ("not-an-ip",)), "changes[0].record.values"),
            (RecordSet("www", "A", 300, ("2001:db8::1",)), "changes[0].record.values"),
            (RecordSet("www", "AAAA", 300, ("192.0.2.1",)), "changes[0].record.values"),
            (RecordSet("@", "MX", 300, ("mail.example.net.",)), "changes[0].record.values"),
            (RecordSet("@", "CNAME", 300, ("www.example.net.",)), "changes[0].record.name"),
            (RecordSet("www", "CNAME", 300, ("a.example.net.", "b.example.net.")), "changes[0].record.values"),
            # out-of-range TTLs are refused when the RecordSet is built (field "RecordSet.ttl"); kept
            # here, built inside the test, so that the cases keep their ids (and recorded traffic)
            pytest.param(lambda: RecordSet("www", "A", -1, ("192.0.2.1",)), "changes[0].record.ttl",
                         id="record6-changes[0].record.ttl"),
            pytest.param(lambda: RecordSet("www", "A", 2**31, ("192.0.2.1",)), "changes[0].record.ttl",
                         id="record7-changes[0].record.ttl"),
            (RecordSet("www", "A", 300, ()), "changes[0].record.values"),
            (RecordSet("www", "A", 300, ("192.0.2.1", "192.0.2.1")), "changes[0].record.values"),
            (RecordSet("www", "BOGUS", 300, ("x",)), "changes[0].record.type"),
            (RecordSet("www.elsewhere.net.", "A", 300, ("192.0.2.1",)), "changes[0].record.name"),
            (RecordSet("bad name", "A", 300, ("192.0.2.1",)), "changes[0].record.name"),
            (RecordSet("www", "SRV", 300, ("10 sip",)), "changes[0].record.values"),
            (RecordSet("www", "TXT", 300, ("line\nbreak",)), "changes[0].record.values"),
        ],
    )
    def test_bad_records_raise_invalid_input(self, dns: DNSService, zone: Zone, record: Any, field: str) -> None:
        with pytest.raises(InvalidInput) as err:
            dns.upsert_records(zone, [record() if callable(record) else record])
        assert err.value.field == ("RecordSet.ttl" if callable(record) else field)

    @pytest.mark.parametrize("ttl", [-1, 2**31, "3OO", 1.5, True, None])
    def test_record_sets_refuse_bad_ttls_at_construction(self, ttl: object) -> None:
        with pytest.raises(InvalidInput) as err:
            RecordSet("www", "A", ttl, ("192.0.2.1",))  # type: ignore[arg-type]
        assert err.value.field == "RecordSet.ttl"

    def test_bad_batches_raise_invalid_input(self, dns: DNSService, zone: Zone) -> None:
        rs = RecordSet("www", "A", 300, ("192.0.2.1",))
        with pytest.raises(InvalidInput):
            dns.change_records(zone, [])
        with pytest.raises(InvalidInput):
            dns.change_records(zone, [RecordChange("UPSERT", rs), RecordChange("DELETE", rs)])
        with pytest.raises(InvalidInput):
            dns.change_records(zone, [RecordChange("REPLACE", rs)])  # type: ignore[arg-type]
        with pytest.raises(InvalidInput):
            dns.delete_records(zone, [RecordSet("@", "SOA", 900, ("ns1.example.net. host.example.net. 1 2 3 4 5",))])
        with pytest.raises(InvalidInput):
            dns.upsert_records(zone, "www A 192.0.2.1")  # type: ignore[arg-type]
        if dns.supports("list_records"):
            assert _own(dns.list_records(zone)) == {}
