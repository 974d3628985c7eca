"""Replaying the libcloud cassettes is strict, and every cassette holds one recording.

* Each cassette's requests went to one server (``host:port``): a cassette mixing two recordings
  would let code that sends other requests replay against the older half.
* Three short scenarios (S3 on moto, Azure Blobs on Azurite, PowerDNS) are recorded like every
  other libcloud test; the ``replayed`` tests then replay those cassettes whatever the run's mode
  (also under ``CLOUDKIT_CI=1``, where the rest of the suite runs live): unchanged they play every
  exchange; with a changed content type, metadata value or JSON field they fail, naming what
  differs; sending fewer requests fails :func:`lc_harness.assert_all_played`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import lc_harness as h
import pytest
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

import cloudkit
from cloudkit import RecordSet
from cloudkit.errors import CloudkitError

BUCKET = "ck-strict"
ZONE = "strict.example.org"


def _cassettes() -> list[Path]:
    return sorted(h.CASSETTES.rglob("*.yaml"))


# ---------------------------------------------------------------- one recording per cassette
@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: str(p.relative_to(h.CASSETTES)))
def test_cassette_holds_traffic_of_one_server(path: Path) -> None:
    requests = h.load_requests(path)
    servers = h.servers_in(requests)
    assert len(servers) <= 1, f"{path.name} mixes recordings from {sorted(servers)}: re-record it"
    assert "!!python/" not in path.read_text(encoding="utf-8"), f"{path.name} stores a Python object"


def test_a_cassette_with_two_servers_is_caught(tmp_path: Path) -> None:
    with h.use_cassette(True, "mixed.yaml", tmp_path) as cassette:
        for port in (40001, 40002):
            cassette.append(Request("GET", f"http://127.0.0.1:{port}/b", None, {}),
                            {"status": {"code": 200, "message": "OK"}, "headers": {}, "body": {"string": b""}})
    assert h.servers_in(h.load_requests(tmp_path / "mixed.yaml")) == {"127.0.0.1:40001", "127.0.0.1:40002"}


# ---------------------------------------------------------------- the scenarios
def storage_flow(cloud: cloudkit.Cloud, *, content_type: str = "application/json",
                 metadata: dict[str, str] | None = None, cleanup: bool = True) -> None:
    """Bucket, one object with a content type and metadata, read back, cleaned up."""
    s = cloud.storage
    s.create_bucket(BUCKET)
    s.put_object(BUCKET, "doc.json", b'{"a": 1}', content_type=content_type,
                 metadata={"owner": "ops"} if metadata is None else metadata)
    assert s.head_object(BUCKET, "doc.json").size == 8
    if cleanup:
        s.delete_object(BUCKET, "doc.json")
        s.delete_bucket(BUCKET)


def dns_flow(cloud: cloudkit.Cloud, *, ttl: int = 300, value: str = "192.0.2.1", cleanup: bool = True) -> None:
    """A zone, one record set written, read back, the zone deleted."""
    d = cloud.dns
    zone = d.create_zone(ZONE)
    d.upsert_records(zone, [RecordSet(name="www", type="A", ttl=ttl, values=(value,))])
    assert d.get_record(zone, "www", "A").values == (value,)
    if cleanup:
        d.delete_zone(zone, force=True)


SCENARIOS: dict[str, tuple[str, str, Callable[..., None]]] = {
    # name: (cloud fixture / backend, provider, flow)
    "s3": ("moto", "libcloud:s3", storage_flow),
    "azure": ("azurite", "libcloud:azure_blobs", storage_flow),
    "powerdns": ("powerdns", "libcloud:powerdns", dns_flow),
}
FIXTURES = {"s3": "s3_cloud", "azure": "azure_cloud", "powerdns": "pdns_cloud"}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str, request: pytest.FixtureRequest) -> None:
    """Runs live, records, or replays (checked like every libcloud test) the scenario unchanged."""
    cloud: cloudkit.Cloud = request.getfixturevalue(FIXTURES[name])
    SCENARIOS[name][2](cloud)


@contextmanager
def replayed(name: str) -> Iterator[tuple[cloudkit.Cloud, Any]]:
    """The scenario's cassette, replayed strictly whatever the run's mode, and a cloud on it."""
    backend, provider, _ = SCENARIOS[name]
    path = f"cassette_strictness/test_scenario_{name}.yaml"
    assert (h.CASSETTES / path).is_file(), f"{path} is missing: record it (CLOUDKIT_RECORD=1)"
    settings = {**h.REPLAY_SETTINGS[backend], "poll_interval": 0, "retry_timeout": 0}
    with h.use_cassette(False, path) as cassette, cloudkit.connect(provider, **settings) as cloud:
        yield cloud, cassette


def _replay_failure(err: BaseException) -> CannotOverwriteExistingCassetteException:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, CannotOverwriteExistingCassetteException):
            return seen
        seen = seen.__cause__ or seen.__context__
    raise AssertionError(f"{err!r} was not caused by a replay mismatch")


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replayed_unchanged_plays_every_exchange(name: str) -> None:
    with replayed(name) as (cloud, cassette):
        SCENARIOS[name][2](cloud)
    h.assert_all_played(cassette)
    assert cassette.play_count == len(cassette.data) > 0


ALTERATIONS: list[tuple[str, dict[str, Any], str, str]] = [
    ("s3", {"content_type": "text/plain"}, "headers_matcher", "content-type"),
    ("azure", {"content_type": "text/plain"}, "headers_matcher", "content-type"),
    ("s3", {"metadata": {"owner": "dev"}}, "headers_matcher", "x-amz-meta-owner"),
    ("azure", {"metadata": {"owner": "dev"}}, "headers_matcher", "x-ms-meta-owner"),
    ("s3", {"metadata": {}}, "headers_matcher", "x-amz-meta-owner"),
    ("powerdns", {"ttl": 600}, "body_matcher", "600"),
    ("powerdns", {"value": "192.0.2.99"}, "body_matcher", "192.0.2.99"),
]


@pytest.mark.parametrize(("name", "change", "matcher", "named"), ALTERATIONS,
                         ids=[f"{a[0]}-{'-'.join(a[1])}" + ("-dropped" if a[1] == {"metadata": {}} else "")
                              for a in ALTERATIONS])
def test_an_altered_request_fails_replay_naming_the_difference(name: str, change: dict[str, Any], matcher: str,
                                                               named: str) -> None:
    with replayed(name) as (cloud, _), pytest.raises(CloudkitError) as err:
        SCENARIOS[name][2](cloud, **change)
    failure = _replay_failure(err.value)
    assert failure.reason == "no_match"
    failed = {m: str(message) for _, _, fails in failure.similar_requests for m, message in fails}
    assert matcher in failed and matcher in str(failure)  # the error names the matcher ...
    assert named in failed[matcher]  # ... and what differs


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fewer_requests_than_recorded_fail(name: str) -> None:
    with replayed(name) as (cloud, cassette):
        SCENARIOS[name][2](cloud, cleanup=False)  # the clean-up requests are not sent
    with pytest.raises(h.UnplayedInteractions, match=r"\d of \d+ recorded exchanges .* never requested:\n  #\d+ [A-Z]+ "):
        h.assert_all_played(cassette)


# ---------------------------------------------------------------- the matchers' normalisation
def _req(body: bytes | None, headers: dict[str, str] | None = None) -> Request:
    return Request("PUT", "http://127.0.0.1:9/x", body, headers or {})


def _matches(a: Request, b: Request) -> bool:
    try:
        h.body_matcher(a, b)
        h.headers_matcher(a, b)
    except AssertionError:
        return False
    return True


def test_json_bodies_compare_as_data() -> None:
    recorded = _req(json.dumps({"rrsets": [{"name": "www.", "ttl": 300}], "kind": "Native"}).encode())
    assert _matches(_req(b'{"kind":"Native","rrsets":[{"ttl":300,"name":"www."}]}'), recorded)
    assert not _matches(_req(b'{"kind":"Native","rrsets":[{"ttl":301,"name":"www."}]}'), recorded)
    assert not _matches(_req(b'{"kind":"Native","rrsets":[]}'), recorded)


def test_xml_bodies_compare_canonically() -> None:
    recorded = _req(b"<BlockList><Uncommitted>MQ==</Uncommitted></BlockList>")
    assert _matches(_req(b"<BlockList>\n  <Uncommitted>MQ==</Uncommitted>\n</BlockList>\n"), recorded)
    assert not _matches(_req(b"<BlockList><Uncommitted>Mg==</Uncommitted></BlockList>"), recorded)


def test_ports_and_multipart_boundaries_are_normalised() -> None:
    recorded = _req(b"--aaa\r\nsrc http://127.0.0.1:4000/b/k\r\n--aaa--",
                    {"Content-Type": "multipart/form-data; boundary=aaa", "x-ms-copy-source": "http://127.0.0.1:4000/b/k"})
    same = _req(b"--bbb\r\nsrc http://127.0.0.1:5111/b/k\r\n--bbb--",
                {"Content-Type": "multipart/form-data; boundary=bbb", "x-ms-copy-source": "http://127.0.0.1:5111/b/k"})
    assert _matches(same, recorded)
    other = _req(b"--bbb\r\nsrc http://127.0.0.1:5111/b/OTHER\r\n--bbb--",
                 {"Content-Type": "multipart/form-data; boundary=bbb", "x-ms-copy-source": "http://127.0.0.1:5111/b/k"})
    assert not _matches(other, recorded)


def test_large_bodies_are_stored_and_matched_by_digest() -> None:
    big = b"x" * (h.MAX_STORED_REQUEST_BODY + 1)
    stored = h._scrub_request(_req(big))
    assert stored.body == h.large_body_placeholder(big) and len(stored.body) < 200
    assert _matches(h._scrub_request(_req(big)), stored)
    assert not _matches(h._scrub_request(_req(b"y" + big[1:])), stored)


def test_file_bodies_are_stored_as_bytes() -> None:
    import io

    stored = h._scrub_request(Request("PUT", "http://127.0.0.1:9/x", io.BytesIO(b"abc"), {}))
    assert stored.body == b"abc"


def test_volatile_headers_are_not_compared_but_meaningful_ones_are() -> None:
    recorded = _req(b"", {"Host": "127.0.0.1:4000", "Content-Length": "0", "x-ms-version": "2018-11-09",
                          "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==", "x-amz-meta-run-id": "7"})
    assert _matches(_req(b"", {"Host": "127.0.0.1:9", "Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg==",
                               "X-Amz-Meta-Run-Id": "7"}), recorded)
    assert not _matches(_req(b"", {"Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA==", "x-amz-meta-run-id": "7"}), recorded)
    assert not _matches(_req(b"", {"Content-MD5": "1B2M2Y8AsgTpgAmY7PhCfg=="}), recorded)
