"""DNS backups on the local provider: every zone exported to a bucket of another cloud, and restored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloudkit_contrib import IntegrityError
from cloudkit_contrib.backup import backup_zones, list_zone_backups, restore_zone

import cloudkit
from cloudkit.errors import InvalidInput, NotFound
from cloudkit.models import RecordSet

T0 = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def dns_cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    """The cloud whose DNS is backed up (its own root: the bucket lives elsewhere)."""
    with cloudkit.connect("local", root=str(tmp_path / "dns-root")) as c:
        yield c


def own_records(cloud: cloudkit.Cloud, zone: str) -> set[tuple[str, str, int, tuple[str, ...]]]:
    return {(r.name, r.type, r.ttl, tuple(sorted(r.values))) for r in cloud.dns.list_records(zone)
            if (r.name, r.type) not in (("@", "SOA"), ("@", "NS"))}


def fill(cloud: cloudkit.Cloud) -> None:
    cloud.dns.create_zone("example.com")
    cloud.dns.upsert_records("example.com", [
        RecordSet(name="www", type="A", ttl=300, values=("192.0.2.10", "192.0.2.11")),
        RecordSet(name="@", type="MX", ttl=3600, values=("10 mail.example.com.", "20 backup.example.net.")),
        RecordSet(name="@", type="TXT", ttl=600, values=('"v=spf1 mx -all"',)),
        RecordSet(name="blog", type="CNAME", ttl=300, values=("www.example.com.",)),
        RecordSet(name="ipv6", type="AAAA", ttl=300, values=("2001:db8::1",)),
    ])
    cloud.dns.create_zone("other.org")
    cloud.dns.upsert_records("other.org", [RecordSet(name="api", type="A", ttl=60, values=("198.51.100.7",))])


def test_every_zone_round_trips_through_a_bucket_of_another_cloud(dns_cloud: cloudkit.Cloud, cloud: cloudkit.Cloud,
                                                                  tmp_path: Path) -> None:
    fill(dns_cloud)
    before = {z: own_records(dns_cloud, z) for z in ("example.com", "other.org")}
    info = backup_zones(dns_cloud, cloud, "vault", now=T0)
    assert [z.zone for z in info.zones] == ["example.com", "other.org"]
    assert info.provider == "local"
    assert [b.id for b in list_zone_backups(cloud, "vault")] == [info.id]
    with cloud.storage.get_object("vault", info.manifest_key) as reader:
        assert [z["zone"] for z in json.loads(reader.read())["zones"]] == ["example.com", "other.org"]

    # Disaster: records changed and a zone lost.
    dns_cloud.dns.upsert_records("example.com", [RecordSet(name="www", type="A", ttl=300, values=("203.0.113.66",))])
    dns_cloud.dns.upsert_records("example.com", [RecordSet(name="rogue", type="A", ttl=300, values=("203.0.113.99",))])
    dns_cloud.dns.delete_zone("other.org", force=True)

    merged = restore_zone(dns_cloud, cloud, "vault", "example.com")
    assert merged.created is False and merged.backup_id == info.id
    assert own_records(dns_cloud, "example.com") == before["example.com"] | {("rogue", "A", 300, ("203.0.113.99",))}
    exact = restore_zone(dns_cloud, cloud, "vault", "example.com", replace=True)
    assert exact.change.change_count == 1, "only the rogue record is left to delete"
    assert own_records(dns_cloud, "example.com") == before["example.com"]
    recreated = restore_zone(dns_cloud, cloud, "vault", "other.org")
    assert recreated.created is True and recreated.zone.name == "other.org"
    assert own_records(dns_cloud, "other.org") == before["other.org"]

    # And into a third cloud: the bucket is all a rebuild needs.
    with cloudkit.connect("local", root=str(tmp_path / "dr-root")) as dr:
        restore_zone(dr, cloud, "vault", "example.com")
        assert own_records(dr, "example.com") == before["example.com"]


def test_point_in_time_picks_the_backup_and_tampering_is_caught(dns_cloud: cloudkit.Cloud, cloud: cloudkit.Cloud) -> None:
    fill(dns_cloud)
    first = backup_zones(dns_cloud, cloud, "vault", zones=["example.com"], now=T0)
    dns_cloud.dns.upsert_records("example.com", [RecordSet(name="www", type="A", ttl=300, values=("203.0.113.5",))])
    second = backup_zones(dns_cloud, cloud, "vault", zones=["example.com"], now=T0 + timedelta(days=1))
    assert [z.zone for z in second.zones] == ["example.com"]

    restore_zone(dns_cloud, cloud, "vault", "example.com", at=T0 + timedelta(hours=12))
    assert dns_cloud.dns.get_record("example.com", "www", "A").values == ("192.0.2.10", "192.0.2.11")
    restore_zone(dns_cloud, cloud, "vault", "example.com", backup_id=second.id)
    assert dns_cloud.dns.get_record("example.com", "www", "A").values == ("203.0.113.5",)

    with pytest.raises(NotFound):
        restore_zone(dns_cloud, cloud, "vault", "example.com", at=T0 - timedelta(days=1))
    with pytest.raises(NotFound):
        restore_zone(dns_cloud, cloud, "vault", "other.org", backup_id=first.id)

    copy = first.zones[0]
    with cloud.storage.get_object("vault", copy.key) as reader:
        text = reader.read().replace(b"192.0.2.10", b"192.0.2.99")
    cloud.storage.put_object("vault", copy.key, text)
    with pytest.raises(IntegrityError):
        restore_zone(dns_cloud, cloud, "vault", "example.com", backup_id=first.id)
    assert dns_cloud.dns.get_record("example.com", "www", "A").values == ("203.0.113.5",), "nothing was imported"


def test_a_missing_zone_is_not_created_unless_asked(dns_cloud: cloudkit.Cloud, cloud: cloudkit.Cloud) -> None:
    fill(dns_cloud)
    backup_zones(dns_cloud, cloud, "vault", now=T0)
    dns_cloud.dns.delete_zone("other.org", force=True)
    with pytest.raises(NotFound):
        restore_zone(dns_cloud, cloud, "vault", "other.org", create=False)
    assert [z.name for z in dns_cloud.dns.list_zones()] == ["example.com"]


def test_bad_arguments_are_refused_first(dns_cloud: cloudkit.Cloud, cloud: cloudkit.Cloud) -> None:
    for call, field in [
        (lambda: backup_zones(dns_cloud, cloud, "vault", zones="example.com"), "zones"),
        (lambda: backup_zones(dns_cloud, cloud, "vault", zones=["bad..name"]), "zones[0]"),
        (lambda: backup_zones(dns_cloud, cloud, "vault", prefix="dns"), "prefix"),
        (lambda: backup_zones(cloud.storage, cloud, "vault"), "dns"),
        (lambda: restore_zone(dns_cloud, cloud, "vault", "example.com", backup_id="yesterday"), "backup_id"),
        (lambda: restore_zone(dns_cloud, cloud, "vault", "example.com", create="yes"), "create"),
    ]:
        with pytest.raises(InvalidInput) as err:
            call()  # type: ignore[no-untyped-call]
        assert err.value.field == field
    assert list(cloud.storage.list_objects("vault")) == []
