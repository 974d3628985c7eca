"""``may_have_been_applied`` on the libcloud provider behind the fault proxy (Azurite, PowerDNS).

Scripted faults, one call each: the error says the call may have been applied exactly when an
attempt failed after the server may have acted on it, and the effect is checked on the server. The
unit pins are in ``tests/libcloud/test_pin_libcloud_maybe_applied.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import lc_scenario as lc
import lc_servers as servers
import pytest
from proxy import FaultProxy

from cloudkit.errors import CloudkitError, ProviderError, Throttled
from cloudkit.models import RecordSet

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def azurite() -> Iterator[servers.Server]:
    """Azurite's blob service on 127.0.0.1 (skipped when ``azurite-blob`` is not installed)."""
    if servers.have_azurite() is None:
        pytest.skip("azurite-blob is not installed (npm install -g azurite)")
    server = servers.start_azurite()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def pdns() -> Iterator[servers.Server]:
    """PowerDNS on 127.0.0.1 (skipped when ``pdns_server`` or its SQLite backend is not installed)."""
    if servers.have_pdns() is None:
        pytest.skip("pdns_server with pdns-backend-sqlite3 is not installed")
    server = servers.start_pdns()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def clock() -> Iterator[list[float]]:
    """libcloud's retry sleeps on a virtual clock."""
    with lc.virtual_clock() as slept:
        yield slept


@pytest.mark.parametrize(
    ("script", "kind", "flagged", "stored"),
    [
        (["500-after"], ProviderError, True, True),  # Azurite stored it, then the answer became a 500
        (["500-before"], ProviderError, True, False),  # a server error: the client cannot tell it was not applied
        (["503-before"], Throttled, False, False),  # ServerBusy: not processed
        (["429-before"], Throttled, False, False),
    ],
)
def test_azure_put(azurite: servers.Server, clock: list[float], script: list[str], kind: type[CloudkitError],
                   flagged: bool, stored: bool) -> None:
    direct = lc.connect("libcloud:azure_blobs", azurite)
    bucket = "applied-" + re.sub(r"[^a-z0-9]", "", "".join(script))
    if bucket not in [b.name for b in direct.storage.list_buckets()]:
        direct.storage.create_bucket(bucket)
    with FaultProxy(f"http://127.0.0.1:{azurite.port}", 0.0) as proxy:
        cloud = lc.connect("libcloud:azure_blobs", azurite, proxy.url)
        proxy.script = list(script)
        with pytest.raises(CloudkitError) as caught:
            cloud.storage.put_object(bucket, "key", b"payload")
    assert type(caught.value) is kind
    assert caught.value.may_have_been_applied is flagged
    assert caught.value.message.endswith("check the resource before repeating a call that is not idempotent.") is flagged
    assert [o.key for o in direct.storage.list_objects(bucket)] == (["key"] if stored else [])


def _upsert_through(pdns: servers.Server, zone_id: str, script: list[str | None], name: str) -> CloudkitError:
    with FaultProxy(f"http://127.0.0.1:{pdns.port}", 0.0) as proxy:
        cloud = lc.connect("libcloud:powerdns", pdns, proxy.url, retry_timeout=5)
        proxy.only = re.compile(r"^PATCH ")
        proxy.script = list(script)
        with pytest.raises(CloudkitError) as caught:
            cloud.dns.upsert_records(zone_id, [RecordSet(name=name, type="A", ttl=60, values=("192.0.2.9",))])
        proxy.script = []
    return caught.value


def test_powerdns_reset_after_then_throttled_is_flagged(pdns: servers.Server, clock: list[float]) -> None:
    """The first PATCH is applied and its answer lost; the retries are throttled until the window ends:
    the Throttled error says the call may have been applied, and the record is there."""
    zone = lc.connect("libcloud:powerdns", pdns).dns.create_zone("flagged.example.com")
    err = _upsert_through(pdns, zone.id, ["reset-after", *["429-before"] * 60], "www")
    assert (type(err), err.may_have_been_applied) == (Throttled, True)
    records = lc.connect("libcloud:powerdns", pdns).dns.list_records(zone.id, name="www", type="A")
    assert [r.values for r in records] == [("192.0.2.9",)]


def test_powerdns_throttled_only_is_not_flagged(pdns: servers.Server, clock: list[float]) -> None:
    zone = lc.connect("libcloud:powerdns", pdns).dns.create_zone("unflagged.example.com")
    err = _upsert_through(pdns, zone.id, ["429-before"] * 60, "www")
    assert (type(err), err.may_have_been_applied) == (Throttled, False)
    assert list(lc.connect("libcloud:powerdns", pdns).dns.list_records(zone.id, name="www", type="A")) == []
