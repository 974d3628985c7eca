"""The libcloud provider on real servers (Azurite, moto, PowerDNS), replayed from cassettes by default."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

import cloudkit
from cloudkit import RecordSet
from cloudkit.errors import AuthenticationError, CloudkitError, Conflict, NotFound, PermissionDenied
from cloudkit.models.storage import CommonPrefix, ObjectInfo
from cloudkit.testing import unique_name


@contextmanager
def counted(service: Any) -> Iterator[list[str]]:
    """Count the HTTP requests a libcloud-backed service sends (``METHOD path`` each)."""
    session = service.native.connection.connection.session
    sent: list[str] = []
    original = session.send

    def send(request: Any, **kw: Any) -> Any:
        sent.append(f"{request.method} {request.path_url.split('?')[0]}")
        return original(request, **kw)

    session.send = send
    try:
        yield sent
    finally:
        session.send = original


@pytest.fixture(params=["azure", "s3"])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[str, cloudkit.Cloud]]:
    """Each storage backend in turn, with a fresh bucket."""
    cloud: cloudkit.Cloud = request.getfixturevalue(f"{request.param}_cloud")
    bucket = unique_name("ck")
    cloud.storage.create_bucket(bucket)
    try:
        yield bucket, cloud
    finally:
        cloud.storage.delete_bucket(bucket, force=True)


# ---------------------------------------------------------------- storage
def test_streams_an_object_of_unknown_size_in_chunks(store: tuple[str, cloudkit.Cloud]) -> None:
    bucket, cloud = store
    block = bytes(range(256)) * 4096  # 1 MiB
    chunks = (block for _ in range(6))  # 6 MiB, size unknown up front: Azure blocks / S3 multipart
    info = cloud.storage.put_object(bucket, "big/blob.bin", chunks, metadata={"kind": "test"})
    whole = hashlib.md5(block * 6).hexdigest()
    head = cloud.storage.head_object(bucket, "big/blob.bin")
    assert head.size == 6 * len(block)
    assert head.metadata == {"kind": "test"}
    if cloud.provider == "libcloud:azure_blobs":
        assert info.etag == head.etag == whole  # the content MD5 libcloud computed while streaming
    with cloud.storage.get_object(bucket, "big/blob.bin", range=(6 * len(block) - 10, None)) as tail:
        assert tail.read() == block[-10:]


def test_a_failed_upload_leaves_nothing_behind(store: tuple[str, cloudkit.Cloud]) -> None:
    bucket, cloud = store
    block = b"x" * (5 * 1024 * 1024)

    def broken() -> Iterator[bytes]:
        yield block  # more than one Azure block / S3 part goes out first
        yield block
        raise OSError("source disk went away")

    cloud.storage.put_object(bucket, "keep", b"old bytes")
    with pytest.raises(CloudkitError) as err:
        cloud.storage.put_object(bucket, "keep", broken())
    assert isinstance(err.value.__cause__, OSError)
    with cloud.storage.get_object(bucket, "keep") as r:
        assert r.read() == b"old bytes"  # readers still see the old object, never a part
    with pytest.raises(CloudkitError, match="source disk went away"):
        cloud.storage.put_object(bucket, "new", broken())
    with pytest.raises(NotFound):
        cloud.storage.head_object(bucket, "new")


def test_listing_walks_libcloud_iterators_with_prefix_and_delimiter(store: tuple[str, cloudkit.Cloud]) -> None:
    bucket, cloud = store
    for key in ("a/1", "a/2", "a/sub/3", "b/4", "top"):
        cloud.storage.put_object(bucket, key, key.encode())
    listing = list(cloud.storage.list_objects(bucket, prefix="a/", delimiter="/"))
    assert [x.key if isinstance(x, ObjectInfo) else x.prefix for x in listing] == ["a/1", "a/2", "a/sub/"]
    assert isinstance(listing[-1], CommonPrefix)
    assert [o.key for o in cloud.storage.list_objects(bucket, start_after="a/sub/3")] == ["b/4", "top"]
    lazy = cloud.storage.list_objects(bucket)
    assert next(lazy).key == "a/1"


def test_requests_per_operation(store: tuple[str, cloudkit.Cloud]) -> None:
    """cloudkit adds no request to what libcloud needs for each operation."""
    bucket, cloud = store
    s = cloud.storage
    azure = cloud.provider == "libcloud:azure_blobs"
    with counted(s) as sent:
        s.put_object(bucket, "k", b"small")
    # One PUT on both (libcloud's own stream upload would be two requests on Azure, three on S3).
    assert sent == [f"PUT /devstoreaccount1/{bucket}/k" if azure else f"PUT /{bucket}/k"]
    with counted(s) as sent, s.get_object(bucket, "k") as r:
        assert r.read() == b"small"
    # libcloud's get_object checks the container, then the object (two HEADs); the GET streams it.
    assert [m.split()[0] for m in sent] == ["HEAD", "HEAD", "GET"]
    with counted(s) as sent:
        s.head_object(bucket, "k")
        s.delete_object(bucket, "k")
        assert list(s.list_objects(bucket)) == []
    assert [m.split()[0] for m in sent] == ["HEAD", "HEAD", "DELETE", "GET"]


def test_errors_are_mapped_with_the_native_cause(store: tuple[str, cloudkit.Cloud]) -> None:
    bucket, cloud = store
    with pytest.raises(NotFound) as err:
        cloud.storage.head_object(bucket, "missing")
    assert type(err.value.__cause__).__module__.startswith("libcloud.")
    cloud.storage.put_object(bucket, "x", b"x")
    with pytest.raises(Conflict):
        cloud.storage.delete_bucket(bucket)


def test_a_wrong_azure_key_is_an_authentication_error(azurite_backend: Any, lc_cassette: Any) -> None:
    import base64

    wrong = base64.b64encode(b"not the account key, but well formed").decode()
    settings = {**azurite_backend.settings, "secret": wrong}
    if azurite_backend.replaying:
        settings["retry_timeout"] = 0
    cloud = cloudkit.connect("libcloud:azure_blobs", **settings)
    with pytest.raises((AuthenticationError, PermissionDenied)) as err:
        list(cloud.storage.list_buckets())
    assert wrong not in str(err.value)


# ---------------------------------------------------------------- dns
@pytest.fixture
def zone(pdns_cloud: cloudkit.Cloud) -> Iterator[Any]:
    z = pdns_cloud.dns.create_zone(f"{unique_name('ck')}.example.org")
    try:
        yield z
    finally:
        pdns_cloud.dns.delete_zone(z, force=True)


def test_upserted_records_resolve_over_dns(pdns_cloud: cloudkit.Cloud, pdns_backend: Any, zone: Any) -> None:
    import dns.message
    import dns.query
    import dns.rdatatype

    def resolve() -> list[str]:
        query = dns.message.make_query(f"www.{zone.name}", "A")
        answer = dns.query.udp(query, "127.0.0.1", port=pdns_backend.server.extra["dns_port"], timeout=5)
        return sorted(rd.address for rrset in answer.answer if rrset.rdtype == dns.rdatatype.A for rd in rrset)

    live = not pdns_backend.replaying
    # The HTTP exchanges are the same live and replayed; only the DNS queries need the running server.
    pdns_cloud.dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=120, values=("192.0.2.10", "192.0.2.11"))])
    if live:
        assert resolve() == ["192.0.2.10", "192.0.2.11"]
    pdns_cloud.dns.upsert_records(zone, [RecordSet(name="www", type="A", ttl=120, values=("192.0.2.99",))])
    if live:
        assert resolve() == ["192.0.2.99"]
    else:
        pytest.skip("DNS answers come from a running PowerDNS (live mode); the HTTP side was replayed")


def test_record_sets_map_to_libcloud_records(pdns_cloud: cloudkit.Cloud, zone: Any) -> None:
    dns_ = pdns_cloud.dns
    dns_.upsert_records(zone, [
        RecordSet(name="mail", type="MX", ttl=300, values=("10 mx1", "20 mx2.example.net.")),
        RecordSet(name="@", type="TXT", ttl=60, values=("v=spf1 -all",)),
    ])
    natives = [r for r in dns_.native.list_records(dns_.native.get_zone(zone.id)) if r.type == "MX"]
    assert sorted(r.data for r in natives) == [f"10 mx1.{zone.name}.", "20 mx2.example.net."]  # one record per value
    assert dns_.get_record(zone, "mail", "MX").values == (f"10 mx1.{zone.name}.", "20 mx2.example.net.")
    assert dns_.get_record(zone, "@", "TXT").values == ('"v=spf1 -all"',)
    text = dns_.export_zone(zone)
    assert "mail 300 IN MX 10 mx1" in text


def test_a_batch_applies_all_or_nothing(pdns_cloud: cloudkit.Cloud, zone: Any) -> None:
    dns_ = pdns_cloud.dns
    dns_.upsert_records(zone, [RecordSet(name="www", type="A", values=("192.0.2.1",))])
    with pytest.raises(Conflict):
        dns_.upsert_records(zone, [
            RecordSet(name="api", type="A", values=("192.0.2.2",)),
            RecordSet(name="www", type="CNAME", values=("elsewhere.example.net.",)),  # clashes with www A
        ])
    assert [r.name for r in dns_.list_records(zone, type="A")] == ["www"]  # api was not applied either
    with pytest.raises(NotFound):
        dns_.delete_records(zone, [RecordSet(name="nope", type="A", values=("192.0.2.3",))])


# ---------------------------------------------------------------- compute
def test_compute_life_cycle_on_moto(ec2_cloud: cloudkit.Cloud) -> None:
    c = ec2_cloud.compute
    image = next(iter(c.list_images(name="ubuntu/images/*")))
    assert any(t.name == "t2.micro" for t in c.list_instance_types())
    zone = next(iter(c.list_locations())).id
    key = c.create_key_pair(unique_name("kp"))
    assert key.private_key and "PRIVATE KEY" in key.private_key
    inst = c.create_instance(unique_name("web"), image=image, instance_type="t2.micro", key_pair=key, zone=zone,
                             user_data="#!/bin/sh\necho hello\n", tags={"team": "ops"})
    try:
        assert inst.state == "running" and inst.key_pair == key.name and inst.zone == zone
        assert inst.tags["team"] == "ops"
        assert [i.id for i in c.list_instances(tags={"team": "ops"}) if i.state == "running"] == [inst.id]
        assert c.stop_instance(inst).state == "stopped"  # libcloud's EC2 map would say "unknown"
        assert c.start_instance(inst).state == "running"
        assert c.reboot_instance(inst).state == "running"
        vol = c.create_volume(1, name="data", zone=zone)  # libcloud tags the name (fixed 1-based indexes)
        assert vol.name == "data" and vol.state == "available"
        assert c.attach_volume(vol, inst, "/dev/sdg").attached_to == inst.id
        assert c.detach_volume(vol).attached_to is None  # moto needs the InstanceId libcloud leaves out
        c.delete_volume(vol)
    finally:
        assert c.terminate_instance(inst).state == "terminated"
        c.delete_key_pair(key)
    assert key.name not in {k.name for k in c.list_key_pairs()}
    with pytest.raises(NotFound):
        c.get_instance("i-0123456789abcdef0")

