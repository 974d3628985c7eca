"""The libcloud provider behind the fault-injecting proxy (issue 11): typed errors only, nothing lost.

Azurite (``libcloud:azure_blobs``), PowerDNS (``libcloud:powerdns``) and moto (``libcloud:s3``) on
127.0.0.1, each behind a :class:`proxy.FaultProxy`. libcloud's retry sleeps run on a virtual clock
(:func:`lc_scenario.virtual_clock`): every call gets the attempts of the real policy without the
waiting. The 50% measurement is not a test: see ``tests/faults/measure_libcloud.py`` and
docs/libcloud.md, "Retries and faults".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import lc_scenario as lc
import lc_servers as servers
import pytest
from proxy import FaultProxy

from cloudkit.errors import ProviderError, Throttled, Timeout
from cloudkit.models import RecordSet

#: A regression that makes a call retry forever (a fake retry clock never runs out) fails here
#: instead of stalling the run.
pytestmark = pytest.mark.timeout(120)

SEED = 20261201
RATE = 0.2


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
def s3(moto: Any) -> servers.Server:
    """The session's moto server, emptied, as a ``libcloud:s3`` backend."""
    moto.reset()
    return lc.moto_server(moto.port)


@pytest.fixture
def clock() -> Iterator[list[float]]:
    """libcloud's retry sleeps on a virtual clock (yields the seconds slept)."""
    with lc.virtual_clock() as slept:
        yield slept


def _scenario(name: str, server: servers.Server, sizes: lc.Sizes, **retry: Any) -> tuple[lc.Result, FaultProxy]:
    proxies: list[FaultProxy] = []

    def make_proxy(backend: servers.Server) -> FaultProxy:
        proxies.append(FaultProxy(f"http://127.0.0.1:{backend.port}", RATE, seed=SEED).start())
        return proxies[-1]

    try:
        return lc.run({name: server}, make_proxy, sizes, **retry), proxies[0]
    finally:
        for proxy in proxies:
            proxy.stop()


def _check(result: lc.Result, proxy: FaultProxy, retried_op: str, calls: dict[str, int]) -> None:
    report = {op: vars(st) for op, st in result.stats.items()} | {"retried": result.retried, "faults": proxy.stats.faults}
    for op, st in result.stats.items():
        assert st.calls >= calls[op] or (op.endswith(" get") and st.calls > 0), report
        assert st.untyped == 0, report  # every failure is a cloudkit error
        assert set(st.errors) <= {"ProviderError", "Throttled"}, report
        assert st.lost == 0, report  # nothing reported as done is missing
        assert st.corrupt == 0, report  # no get returned other bytes, no put left other bytes behind
        assert st.unflagged == 0, report  # a failed call that took effect said it may have been applied
    # every call hit only by faults libcloud retries (dropped connections; PowerDNS's 429) succeeded
    retried = result.retried.get(retried_op, lc.Retried())
    assert retried.missed == 0 and retried.absorbed >= 3, report
    assert sum(proxy.stats.faults.values()) >= 20, report  # the proxy did inject (about 20%)


@pytest.mark.parametrize("backend", ["azure", "s3"])
def test_storage_at_20_percent_typed_and_nothing_lost(backend: str, request: pytest.FixtureRequest, clock: list[float]) -> None:
    """60 puts and gets of a few KiB at 20% faults: every failure typed, no success missing, nothing corrupt,
    and every get hit only by dropped connections retried to success."""
    server = request.getfixturevalue("azurite" if backend == "azure" else "s3")
    result, proxy = _scenario(backend, server, lc.Sizes(objects=60, upserts=0))
    _check(result, proxy, f"{backend} get", {f"{backend} put": 60, f"{backend} get": 1})


def test_powerdns_upserts_at_20_percent_typed_and_nothing_lost(pdns: servers.Server, clock: list[float]) -> None:
    """90 upserts at 20% faults: every failure typed, no success missing, and every upsert hit only by
    dropped connections or 429s retried to success."""
    result, proxy = _scenario("powerdns", pdns, lc.Sizes(objects=0, upserts=90))
    _check(result, proxy, "powerdns upsert", {"powerdns upsert": 90})
    assert proxy.stats.faults["429-before"] > 0, proxy.stats.faults


@pytest.fixture
def azure_proxy(azurite: servers.Server) -> Iterator[FaultProxy]:
    """A proxy in front of Azurite that injects nothing until scripted."""
    with FaultProxy(f"http://127.0.0.1:{azurite.port}", 0.0, seed=SEED) as proxy:
        yield proxy


def test_upload_stream_is_not_sent_again(azurite: servers.Server, azure_proxy: FaultProxy, clock: list[float]) -> None:
    """A put whose connection drops fails at once with a ProviderError: retrying it would resend a
    used-up stream (the request hangs until the socket timeout, then fails as a Timeout)."""
    lc.connect("libcloud:azure_blobs", azurite).storage.create_bucket("once")
    cloud = lc.connect("libcloud:azure_blobs", azurite, azure_proxy.url, timeout=3)
    azure_proxy.script = ["reset-before"]
    with pytest.raises(ProviderError) as caught:
        cloud.storage.put_object("once", "key", b"data" * 100)
    assert not isinstance(caught.value, Timeout)
    assert azure_proxy.stats.requests == 1
    assert [o.key for o in lc.connect("libcloud:azure_blobs", azurite).storage.list_objects("once")] == []
    cloud.storage.put_object("once", "key", b"data" * 100)  # the next call is clean
    assert cloud.storage.get_object("once", "key").read() == b"data" * 100


@pytest.mark.parametrize("fault", ["429-before", "503-before"])
@pytest.mark.parametrize("call", ["put", "get"])
def test_storage_throttling_is_throttled(azurite: servers.Server, azure_proxy: FaultProxy, clock: list[float],
                                         fault: str, call: str) -> None:
    """Azure's 429 and 503 ``ServerBusy`` (reported by libcloud as text) raise ``Throttled``."""
    direct = lc.connect("libcloud:azure_blobs", azurite)
    if "busy" not in [b.name for b in direct.storage.list_buckets()]:
        direct.storage.create_bucket("busy")
    direct.storage.put_object("busy", "key", b"data")
    cloud = lc.connect("libcloud:azure_blobs", azurite, azure_proxy.url)
    azure_proxy.script = [fault]
    with pytest.raises(Throttled):
        if call == "put":
            cloud.storage.put_object("busy", "key", b"other")
        else:
            cloud.storage.get_object("busy", "key").read()


def test_dropped_connections_are_retried(azurite: servers.Server, azure_proxy: FaultProxy, clock: list[float]) -> None:
    """A get whose requests lose their connection four times (before and after Azurite answered) succeeds."""
    direct = lc.connect("libcloud:azure_blobs", azurite)
    direct.storage.create_bucket("retried")
    direct.storage.put_object("retried", "key", b"data")
    cloud = lc.connect("libcloud:azure_blobs", azurite, azure_proxy.url)
    azure_proxy.script = ["reset-before", "reset-after", None, "reset-before", None, "reset-after"]
    assert cloud.storage.get_object("retried", "key").read() == b"data"
    assert azure_proxy.stats.requests == 7  # three requests, four of them sent twice
    assert clock[0] > 0  # libcloud backed off between attempts


def test_without_retries_a_dropped_connection_fails(azurite: servers.Server, azure_proxy: FaultProxy,
                                                    clock: list[float]) -> None:
    """``retry_timeout=0``: the same dropped connection is a ``ProviderError`` (the retries above are real)."""
    direct = lc.connect("libcloud:azure_blobs", azurite)
    direct.storage.create_bucket("noretry")
    direct.storage.put_object("noretry", "key", b"data")
    cloud = lc.connect("libcloud:azure_blobs", azurite, azure_proxy.url, retry_timeout=0)
    azure_proxy.script = ["reset-before"]
    with pytest.raises(ProviderError):
        cloud.storage.get_object("noretry", "key").read()
    assert azure_proxy.stats.requests == 1


def test_powerdns_429_is_retried_and_applied(pdns: servers.Server, clock: list[float]) -> None:
    """PowerDNS answering 429 (before applying) twice: the upsert is retried, succeeds and is there."""
    zone = lc.connect("libcloud:powerdns", pdns).dns.create_zone("retried.example.com")
    with FaultProxy(f"http://127.0.0.1:{pdns.port}", 0.0) as proxy:
        cloud = lc.connect("libcloud:powerdns", pdns, proxy.url)
        proxy.only = re.compile(r"^PATCH ")
        proxy.script = ["429-before", "429-before"]
        cloud.dns.upsert_records(zone.id, [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.7",))])
        assert proxy.stats.faults["429-before"] == 2
    records = lc.connect("libcloud:powerdns", pdns).dns.list_records(zone.id, name="www", type="A")
    assert [r.values for r in records] == [("192.0.2.7",)]
