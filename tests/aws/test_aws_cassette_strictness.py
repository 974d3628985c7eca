"""Replaying the aws cassettes is strict: a request whose shape changed, or a missing request, fails.

* Three short scenarios (Route 53, S3, RDS) are recorded like every other aws test
  (``test_scenario``); the ``replayed`` tests then replay those cassettes whatever the run's mode
  (also while recording, right after the scenario was recorded): unchanged they play every
  exchange; with a TTL one higher, an object put without its content type or metadata, or an RDS
  parameter changed, they fail, naming the matcher and what differs; sending fewer requests fails
  :func:`_harness.assert_all_played`.
* The matchers' normalisation is pinned on hand-made requests: what legitimately varies (client
  tokens, passwords, the Route 53 ``CallerReference``, loopback ports, multipart boundaries, zip
  time stamps, JSON key order, XML whitespace) is left out, everything else is compared.
* No cassette stores a pickled Python object.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import _harness as h
import moto_rds
import pytest
from vcr.errors import CannotOverwriteExistingCassetteException
from vcr.request import Request

import cloudkit
from cloudkit import RecordSet
from cloudkit.errors import CloudkitError

if moto_rds.install not in h.MotoServer.setup_hooks:
    h.MotoServer.setup_hooks.append(moto_rds.install)

BUCKET = "ck-aws-strict"
ZONE = "strict.example.org"
DB = "ck-strict-db"
PASSWORD = "Pw-for-cassette-scan-7"


# ---------------------------------------------------------------- the scenarios
def dns_flow(cloud: cloudkit.Cloud, *, ttl: int = 300, value: str = "192.0.2.1", cleanup: bool = True) -> None:
    """A zone, one record set written and read back, the zone deleted."""
    d = cloud.dns
    zone = d.create_zone(ZONE)
    d.upsert_records(zone, [RecordSet(name="www", type="A", ttl=ttl, values=(value,))])
    assert d.get_record(zone, "www", "A").values == (value,)
    if cleanup:
        d.delete_zone(zone, force=True)


def storage_flow(cloud: cloudkit.Cloud, *, content_type: str | None = "application/json",
                 metadata: dict[str, str] | None = None, cleanup: bool = True) -> None:
    """A bucket, one object with a content type and metadata, read back, cleaned up."""
    s = cloud.storage
    s.create_bucket(BUCKET)
    s.put_object(BUCKET, "doc.json", b'{"a": 1}', content_type=content_type,
                 metadata={"owner": "ops"} if metadata is None else metadata)
    assert s.head_object(BUCKET, "doc.json").size == 8
    if cleanup:
        s.delete_object(BUCKET, "doc.json")
        s.delete_bucket(BUCKET)


def database_flow(cloud: cloudkit.Cloud, *, storage_gb: int = 20, backup_retention_days: int = 7,
                  cleanup: bool = True) -> None:
    """An RDS instance created with a few settings, read back, deleted."""
    d = cloud.database
    db = d.create_instance(DB, engine="postgres", master_username="master", master_password=PASSWORD,
                           storage_gb=storage_gb, backup_retention_days=backup_retention_days, wait=False)
    assert d.get_instance(db).id == DB
    if cleanup:
        d.delete_instance(DB, wait=False)


SCENARIOS: dict[str, Callable[..., None]] = {"dns": dns_flow, "storage": storage_flow, "database": database_flow}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario(name: str, aws_cloud: cloudkit.Cloud) -> None:
    """Records, or replays (checked like every aws test), the scenario unchanged."""
    SCENARIOS[name](aws_cloud)


@contextmanager
def replayed(name: str) -> Iterator[tuple[cloudkit.Cloud, Any]]:
    """The scenario's cassette, replayed strictly whatever the run's mode, and a cloud on it."""
    path = f"aws_cassette_strictness/test_scenario_{name}.yaml"
    assert (h.CASSETTES / path).is_file(), f"{path} is missing: record it (CLOUDKIT_RECORD=1)"
    recorder = h.make_vcr(False, h.Scrubber([h.MOTO_ACCOUNT]))
    with recorder.use_cassette(path, allow_playback_repeats=False) as cassette:
        cloud = cloudkit.connect("aws", **h.settings_for(h.REPLAY_ENDPOINT, True))
        try:
            yield cloud, cassette
        finally:
            cloud.close()


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """The replay's credentials (nothing is sent anywhere; botocore only needs something to sign with)."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", h.FAKE_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", h.FAKE_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def _replay_failure(err: BaseException) -> CannotOverwriteExistingCassetteException:
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, CannotOverwriteExistingCassetteException):
            return seen
        seen = seen.__cause__ or seen.__context__
    raise AssertionError(f"{err!r} was not caused by a replay mismatch")


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_replayed_unchanged_plays_every_exchange(name: str) -> None:
    with replayed(name) as (cloud, cassette):
        SCENARIOS[name](cloud)
    h.assert_all_played(cassette)
    assert cassette.play_count == len(cassette.data) > 0


ALTERATIONS: list[tuple[str, dict[str, Any], str, str]] = [
    # scenario, change, matcher that must refuse it, text its message must hold
    ("dns", {"ttl": 301}, "body_matcher", "<TTL>301</TTL>"),
    ("dns", {"value": "192.0.2.99"}, "body_matcher", "192.0.2.99"),
    ("storage", {"content_type": None}, "headers_matcher", "'content-type'"),
    ("storage", {"content_type": "text/plain"}, "headers_matcher", "'text/plain'"),
    ("storage", {"metadata": {}}, "headers_matcher", "x-amz-meta-owner"),
    ("storage", {"metadata": {"owner": "dev"}}, "headers_matcher", "x-amz-meta-owner"),
    ("database", {"storage_gb": 21}, "body_matcher", "AllocatedStorage"),
    ("database", {"backup_retention_days": 8}, "body_matcher", "BackupRetentionPeriod"),
]


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize(("name", "change", "matcher", "named"), ALTERATIONS,
                         ids=[f"{a[0]}-{'-'.join(f'{k}={v}' for k, v in a[1].items())}" for a in ALTERATIONS])
def test_an_altered_request_fails_replay_naming_the_difference(name: str, change: dict[str, Any], matcher: str,
                                                               named: str) -> None:
    with replayed(name) as (cloud, _), pytest.raises(CloudkitError) as err:
        SCENARIOS[name](cloud, **change)
    failure = _replay_failure(err.value)
    assert failure.reason == "no_match"
    failed: dict[str, list[str]] = {}
    for _, _, fails in failure.similar_requests:  # the recorded requests that differ in one matcher only
        for m, message in fails:
            failed.setdefault(m, []).append(str(message))
    assert matcher in failed and matcher in str(failure)  # the error names the matcher ...
    assert any(named in message for message in failed[matcher]), failed  # ... and what differs


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fewer_requests_than_recorded_fail(name: str) -> None:
    with replayed(name) as (cloud, cassette):
        SCENARIOS[name](cloud, cleanup=False)  # the clean-up requests are not sent
    with pytest.raises(h.UnplayedInteractions, match=r"\d+ of \d+ recorded exchanges .* never requested:\n  #\d+ [A-Z]+ /"):
        h.assert_all_played(cassette)


# ---------------------------------------------------------------- the matchers' normalisation
FORM = "application/x-www-form-urlencoded; charset=utf-8"


def _req(body: bytes | None, headers: dict[str, str] | None = None, method: str = "POST") -> Request:
    return h.Scrubber([h.MOTO_ACCOUNT]).request(Request(method, "http://127.0.0.1:4566/", body, headers or {}))


def _matches(a: Request, b: Request) -> bool:
    try:
        h.action_matcher(a, b)
        h.body_matcher(a, b)
        h.headers_matcher(a, b)
    except AssertionError:
        return False
    return True


def test_form_fields_compare_except_random_tokens_and_secrets() -> None:
    recorded = _req(b"Action=RunInstances&ImageId=ami-1&MinCount=1&ClientToken=aaa&UserData=eA%3D%3D", {"Content-Type": FORM})
    assert _matches(_req(b"Action=RunInstances&MinCount=1&ImageId=ami-1&ClientToken=bbb&UserData=eA%3D%3D",
                         {"Content-Type": FORM}), recorded)
    assert not _matches(_req(b"Action=RunInstances&ImageId=ami-1&MinCount=2&ClientToken=aaa&UserData=eA%3D%3D",
                             {"Content-Type": FORM}), recorded)
    assert not _matches(_req(b"Action=RunInstances&ImageId=ami-1&MinCount=1&ClientToken=aaa", {"Content-Type": FORM}),
                        recorded)
    assert not _matches(_req(b"Action=StartInstances&ImageId=ami-1&MinCount=1&ClientToken=aaa&UserData=eA%3D%3D",
                             {"Content-Type": FORM}), recorded)
    secret = _req(b"Action=CreateDBInstance&MasterUserPassword=s3cret-value", {"Content-Type": FORM})
    assert b"s3cret-value" not in (h._raw_body(secret) or b"")  # stored redacted, so never compared


def test_route53_xml_compares_canonically_without_caller_reference() -> None:
    ns = 'xmlns="https://route53.amazonaws.com/doc/2013-04-01/"'
    recorded = _req(f"<CreateHostedZoneRequest {ns}><Name>a.example</Name><CallerReference>r-1</CallerReference>"
                    "</CreateHostedZoneRequest>".encode())
    assert _matches(_req(f"<CreateHostedZoneRequest {ns}>\n  <Name>a.example</Name>\n  <CallerReference>r-2"
                         "</CallerReference>\n</CreateHostedZoneRequest>".encode()), recorded)
    assert not _matches(_req(f"<CreateHostedZoneRequest {ns}><Name>b.example</Name><CallerReference>r-1"
                             "</CallerReference></CreateHostedZoneRequest>".encode()), recorded)
    change = '<Change><ResourceRecordSet><Name>www</Name><TTL>{}</TTL></ResourceRecordSet></Change>'
    assert not _matches(_req(change.format(301).encode()), _req(change.format(300).encode()))


def test_json_bodies_compare_as_data() -> None:
    recorded = _req(json.dumps({"Name": "x", "Tags": [{"Key": "k", "Value": "v"}]}).encode())
    assert _matches(_req(b'{"Tags":[{"Value":"v","Key":"k"}],"Name":"x"}'), recorded)
    assert not _matches(_req(b'{"Tags":[{"Value":"w","Key":"k"}],"Name":"x"}'), recorded)


def test_object_bytes_and_meaningful_headers_compare() -> None:
    headers = {"Content-Type": "application/json", "x-amz-meta-owner": "ops", "x-amz-checksum-crc32": "QixqFQ==",
               "Content-Length": "8", "Expect": "100-continue", "User-Agent": "Boto3/1"}
    recorded = _req(b'{"a": 1}', headers, "PUT")
    assert _matches(_req(b'{"a":1}', {**headers, "Content-Length": "7", "User-Agent": "Boto3/2"}, "PUT"), recorded)
    assert not _matches(_req(b'{"a": 2}', headers, "PUT"), recorded)
    without_type = {k: v for k, v in headers.items() if k != "Content-Type"}
    assert not _matches(_req(b'{"a": 1}', without_type, "PUT"), recorded)
    assert not _matches(_req(b'{"a": 1}', {**headers, "X-Amz-Meta-Owner": "dev", "x-amz-meta-owner": "dev"}, "PUT"),
                        recorded)
    assert not _matches(_req(b'{"a": 1}', {**headers, "x-amz-checksum-crc32": "AAAAAA=="}, "PUT"), recorded)


def test_multipart_boundaries_and_loopback_ports_are_normalised() -> None:
    recorded = _req(b"--aaa\r\nurl http://127.0.0.1:4000/b\r\n--aaa--", {"Content-Type": "multipart/form-data; boundary=aaa"})
    assert _matches(_req(b"--bbb\r\nurl http://127.0.0.1:5111/b\r\n--bbb--",
                         {"Content-Type": "multipart/form-data; boundary=bbb"}), recorded)
    assert not _matches(_req(b"--bbb\r\nurl http://127.0.0.1:5111/OTHER\r\n--bbb--",
                             {"Content-Type": "multipart/form-data; boundary=bbb"}), recorded)


def _zip(files: dict[str, bytes], when: tuple[int, int, int, int, int, int]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, data in files.items():
            archive.writestr(zipfile.ZipInfo(name, when), data)
    return buf.getvalue()


def test_zip_archives_compare_by_content_not_time_stamps() -> None:
    recorded = _req(_zip({"app.py": b"print(1)"}, (2026, 1, 1, 0, 0, 0)), {"x-amz-checksum-crc32": "one"}, "PUT")
    later = _req(_zip({"app.py": b"print(1)"}, (2026, 2, 2, 3, 4, 6)), {"x-amz-checksum-crc32": "two"}, "PUT")
    assert h._raw_body(later) != h._raw_body(recorded) and _matches(later, recorded)
    assert not _matches(_req(_zip({"app.py": b"print(2)"}, (2026, 1, 1, 0, 0, 0)), {}, "PUT"), recorded)
    assert not _matches(_req(_zip({"main.py": b"print(1)"}, (2026, 1, 1, 0, 0, 0)), {}, "PUT"), recorded)


def test_large_bodies_are_stored_and_matched_by_digest() -> None:
    big = b"x" * (h.MAX_STORED_REQUEST_BODY + 1)
    stored = _req(big, {}, "PUT")
    assert h._raw_body(stored) == h.large_body_placeholder(big) and len(h._raw_body(stored) or b"") < 200
    assert _matches(_req(big, {}, "PUT"), stored)
    assert not _matches(_req(b"y" + big[1:], {}, "PUT"), stored)
    assert not _matches(_req(big[1:], {}, "PUT"), stored)


def test_file_bodies_are_stored_as_bytes() -> None:
    stored = _req(io.BytesIO(b"abc"), {}, "PUT")  # type: ignore[arg-type]
    assert stored._body == b"abc" and not stored._was_file


def _cassettes() -> list[Path]:
    return sorted(h.CASSETTES.rglob("*.yaml"))


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: str(p.relative_to(h.CASSETTES)))
def test_no_cassette_stores_a_python_object(path: Path) -> None:
    assert "!!python/" not in path.read_text(encoding="utf-8"), f"{path.name} stores a Python object: re-record it"


# ---------------------------------------------------------------- the fixture enforces it
_PLUGIN = '''
import importlib.util, sys
sys.path.insert(0, {aws!r})
spec = importlib.util.spec_from_file_location("aws_conftest", {conftest!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
globals().update({{k: v for k, v in vars(module).items() if not k.startswith("__")}})
import _harness, pathlib
_harness.CASSETTES = pathlib.Path({library!r})
'''
_TESTS = '''
from test_aws_cassette_strictness import dns_flow

def test_all(aws_cloud):
    dns_flow(aws_cloud)

def test_fewer(aws_cloud):
    dns_flow(aws_cloud, cleanup=False)
'''


def test_the_aws_cassette_fixture_fails_a_test_that_sent_fewer_requests(tmp_path: Path) -> None:
    """A replayed test through ``aws_cassette`` that leaves recorded exchanges unplayed errors at teardown."""
    import os
    import subprocess
    import sys

    aws = Path(__file__).resolve().parent
    library = tmp_path / "cassettes"
    (library / "fewer").mkdir(parents=True)
    recorded = (h.CASSETTES / "aws_cassette_strictness" / "test_scenario_dns.yaml").read_bytes()
    for name in ("test_all", "test_fewer"):
        (library / "fewer" / f"{name}.yaml").write_bytes(recorded)
    (tmp_path / "conftest.py").write_text(_PLUGIN.format(aws=str(aws), conftest=str(aws / "conftest.py"),
                                                         library=str(library)))
    (tmp_path / "test_fewer.py").write_text(_TESTS)
    env = {k: v for k, v in os.environ.items() if k not in ("CLOUDKIT_RECORD", "CLOUDKIT_AWS_ENDPOINT")}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path),
                          "-c", os.devnull, str(tmp_path / "test_fewer.py")],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    out = run.stdout + run.stderr
    assert "2 passed, 1 error" in out, out  # test_fewer passes its call, then errors at teardown
    assert "ERROR at teardown of test_fewer" in out and "UnplayedInteractions" in out, out
    assert "never requested" in out and "DELETE /2013-04-01/hostedzone/" in out, out
