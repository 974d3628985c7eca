"""Route 53 through cloudkit's aws provider, replayed from cassettes (re-record: CLOUDKIT_RECORD=1)."""

from __future__ import annotations

from typing import Any

import _harness as h
import pytest
from cloudkit_aws.dns import plan_batches

import cloudkit
from cloudkit import errors
from cloudkit.models.dns import RecordChange, RecordSet

ZONE = "ck-aws-dns.example"
CHANGES = r"/rrset/?$"


def _count_sends(cloud: cloudkit.Cloud, operation: str) -> list[int]:
    """Counts every HTTP send of ``operation`` (retries included), whatever answers it."""
    sent = [0]

    def bump(**_: Any) -> None:
        sent[0] += 1

    cloud.dns.native.meta.events.register(f"before-send.route-53.{operation}", bump)
    return sent


def test_zone_life_cycle_and_errors(aws_cloud: cloudkit.Cloud) -> None:
    dns = aws_cloud.dns
    zone = dns.create_zone(ZONE, comment="made by cloudkit")
    assert zone.name == ZONE and zone.comment == "made by cloudkit" and zone.name_servers
    assert zone.extra["CallerReference"].startswith("cloudkit-")
    with pytest.raises(errors.AlreadyExists):
        dns.create_zone(ZONE)
    assert dns.get_zone(zone.id) == dns.get_zone(ZONE) == dns.get_zone(ZONE + ".")
    assert [z.name for z in dns.list_zones()] == [ZONE]
    apex = {r.type for r in dns.list_records(zone)}
    assert apex == {"SOA", "NS"}

    dns.upsert_records(zone, [RecordSet("www", "A", 300, ["192.0.2.1"])])
    with pytest.raises(errors.Conflict):
        dns.delete_zone(zone)
    with pytest.raises(errors.NotFound):
        dns.delete_records(zone, [RecordSet("nope", "A", 300, ["192.0.2.9"])])
    dns.delete_zone(zone, force=True)
    assert list(dns.list_zones()) == []
    with pytest.raises(errors.NotFound):
        dns.get_zone(ZONE)
    with pytest.raises(errors.NotFound) as missing:
        dns.get_zone("Z0000000NOSUCHZONE")
    assert missing.value.code == "NoSuchHostedZone"


def test_common_record_types_round_trip(aws_cloud: cloudkit.Cloud) -> None:
    dns = aws_cloud.dns
    zone = dns.create_zone(ZONE)
    records = [
        RecordSet("@", "A", 300, ["192.0.2.1", "192.0.2.2"]),
        RecordSet("www", "AAAA", 300, ["2001:db8::1"]),
        RecordSet("alias", "CNAME", 60, ["www"]),
        RecordSet("@", "MX", 3600, ["10 mail.example.net.", "20 mail2"]),
        RecordSet("@", "TXT", 300, ["v=spf1 -all", '"two" "strings"']),
        RecordSet("_sip._tcp", "SRV", 300, ["10 60 5060 sip.example.net."]),
        RecordSet("@", "CAA", 300, ['0 issue "letsencrypt.org"']),
        RecordSet("*.wild", "A", 300, ["192.0.2.7"]),
        RecordSet("sub", "NS", 300, ["ns1.example.net."]),
        RecordSet("1", "PTR", 300, ["host.example.net."]),
    ]
    info = dns.upsert_records(zone, records, wait=True)
    assert info.status == "INSYNC" and info.change_count == len(records) and info.extra["requests"] == 1
    got = {(r.name, r.type): r for r in dns.list_records(zone)}
    assert got[("alias", "CNAME")].values == (f"www.{ZONE}.",)
    assert sorted(got[("@", "MX")].values) == ["10 mail.example.net.", f"20 mail2.{ZONE}."]
    assert sorted(got[("@", "TXT")].values) == ['"two" "strings"', '"v=spf1 -all"']
    assert got[("*.wild", "A")].values == ("192.0.2.7",)
    for record in records:
        normal = cloudkit.validation.record_set(record, ZONE)
        assert got[(normal.name, normal.type)].values == normal.values or sorted(got[(normal.name, normal.type)].values) == sorted(normal.values)
        assert got[(normal.name, normal.type)].ttl == normal.ttl
    assert dns.get_record(zone, "www", "AAAA").values == ("2001:db8::1",)
    assert [r.type for r in dns.list_records(zone, name="@", type="MX")] == ["MX"]

    text = dns.export_zone(zone)
    assert f"$ORIGIN {ZONE}." in text and "192.0.2.2" in text
    dns.delete_records(zone, [got[("1", "PTR")]])
    assert ("1", "PTR") not in {(r.name, r.type) for r in dns.list_records(zone)}
    dns.import_zone(zone, text)
    assert dns.get_record(zone, "1", "PTR").values == ("host.example.net.",)


def test_2500_single_value_upserts_take_five_requests(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    dns = aws_cloud.dns
    zone = dns.create_zone(ZONE)
    sent = _count_sends(aws_cloud, "ChangeResourceRecordSets")
    records = [RecordSet(f"h{i:04d}", "A", 300, [f"10.{i // 250}.{i % 250}.1"]) for i in range(2500)]
    info = dns.upsert_records(zone, records)
    assert info.change_count == 2500 and info.extra["requests"] == 5 and len(info.extra["change_ids"]) == 5
    assert sent[0] == 5
    assert h.recorded_requests(aws_cassette, "POST", path=CHANGES) == 5
    assert dns.get_zone(zone.id).record_count == 2502  # with SOA and NS
    assert dns.get_record(zone, "h2499", "A").values == ("10.9.249.1",)


def test_a_failed_later_batch_rolls_back_the_earlier_ones(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    dns = aws_cloud.dns
    zone = dns.create_zone(ZONE)
    dns.upsert_records(zone, [RecordSet("keep", "A", 300, ["192.0.2.1"])])
    changes = [RecordChange("UPSERT", RecordSet(f"n{i:03d}", "A", 300, ["192.0.2.10"])) for i in range(500)]
    changes.insert(0, RecordChange("UPSERT", RecordSet("keep", "A", 60, ["192.0.2.99"])))
    changes.append(RecordChange("DELETE", RecordSet("ghost", "A", 300, ["192.0.2.55"])))  # lands in batch 2 and fails
    assert len(plan_batches(changes)) == 2
    with pytest.raises(errors.NotFound):
        dns.change_records(zone, changes)
    left = {(r.name, r.type): r for r in dns.list_records(zone)}
    assert set(left) == {("@", "SOA"), ("@", "NS"), ("keep", "A")}
    assert (left[("keep", "A")].ttl, left[("keep", "A")].values) == (300, ("192.0.2.1",))
    assert h.recorded_requests(aws_cassette, "POST", path=CHANGES) == 4  # setup, batch 1, failed batch 2, undo


def test_quota_arithmetic() -> None:
    upserts = [RecordChange("UPSERT", RecordSet(f"n{i}", "A", 300, ["10.0.0.1"])) for i in range(1000)]
    assert [len(b) for b in plan_batches(upserts)] == [500, 500]
    deletes = [RecordChange("DELETE", RecordSet(f"n{i}", "A", 300, ["10.0.0.1"])) for i in range(1500)]
    assert [len(b) for b in plan_batches(deletes)] == [1000, 500]
    long_txt = [RecordChange("UPSERT", RecordSet(f"t{i}", "TXT", 300, ['"' + "x" * 998 + '"'])) for i in range(40)]
    assert [len(b) for b in plan_batches(long_txt)] == [16, 16, 8]  # 32,000 characters, UPSERT counting twice
    with pytest.raises(errors.InvalidInput, match="changes"):
        plan_batches([RecordChange("UPSERT", RecordSet("big", "A", 300, [f"10.0.{i // 250}.{i % 250}" for i in range(501)]))])


def test_bad_input_never_reaches_route53(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    dns = aws_cloud.dns
    with pytest.raises(errors.InvalidInput, match="name"):
        dns.create_zone("not a zone")
    with pytest.raises(errors.InvalidInput, match="values"):
        dns.upsert_records("Z1", [RecordSet("www", "A", 300, ["not-an-ip"])])
    assert len(aws_cassette) == 0


def test_a_retried_create_zone_resends_its_caller_reference(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    import re

    import botocore.exceptions

    references: list[str] = []

    def drop_first_attempt(request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        references.append(re.search(r"<CallerReference>([^<]+)</CallerReference>", body).group(1))  # type: ignore[union-attr]
        if len(references) == 1:  # the connection drops before Route 53 answers: botocore retries the same request
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)

    aws_cloud.dns.native.meta.events.register("before-send.route-53.CreateHostedZone", drop_first_attempt)
    zone = aws_cloud.dns.create_zone(ZONE)
    assert len(references) == 2 and references[0] == references[1] and references[0].startswith("cloudkit-")
    assert h.recorded_requests(aws_cassette, "POST", path=r"/hostedzone$") == 1  # one reached Route 53
    assert [z.id for z in aws_cloud.dns.list_zones()] == [zone.id]
