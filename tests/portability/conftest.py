"""Fixtures of the portability tests: an http subscriber, the folder to back up, a local and an aws run.

The aws run replays ``tests/cassettes/aws/portability_nightly/`` by default and records against a
moto server on 127.0.0.1 with ``CLOUDKIT_RECORD=1`` (the harness of ``tests/aws``). Replay is strict:
requests match on method, path, query, the query-protocol form fields (random tokens aside) and the
Route 53 change batches, each recorded exchange is played at most once, and a test fails when
exchanges remain unplayed.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import vcr

AWS_TESTS = Path(__file__).resolve().parents[1] / "aws"
if str(AWS_TESTS) not in sys.path:
    sys.path.insert(0, str(AWS_TESTS))

import _harness as h  # noqa: E402
import moto_rds  # noqa: E402
from portability_helpers import Subscriber  # type: ignore[import-not-found]  # noqa: E402

import cloudkit  # noqa: E402
from cloudkit.testing.helpers import seed_names  # noqa: E402

if moto_rds.install not in h.MotoServer.setup_hooks:
    h.MotoServer.setup_hooks.append(moto_rds.install)

#: Form fields whose values are random or secret (redacted in cassettes): never matched.
VOLATILE_FORM_FIELDS = re.compile(r"^(ClientToken|ClientRequestToken|MasterUserPassword|Token|.*Password)$")
_CALLER_REFERENCE = re.compile(rb"<CallerReference>[^<]*</CallerReference>")  # random per request
_LOOPBACK_PORT = re.compile(r"127\.0\.0\.1:\d+")


@pytest.fixture
def subscriber() -> Iterator[Subscriber]:
    """The http subscriber of the nightly job's topic."""
    s = Subscriber()
    yield s
    s.close()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The folder the nightly job backs up: three files with fixed bytes and times."""
    folder = tmp_path / "home"
    (folder / "docs").mkdir(parents=True)
    files = {"notes.txt": b"buy milk\n", "docs/report.csv": b"day,total\nmon,3\n", "docs/empty.bin": b""}
    for name, data in files.items():
        (folder / name).write_bytes(data)
        os.utime(folder / name, (1_700_000_000, 1_700_000_000))
    return folder


@pytest.fixture
def local_cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    """A local cloud in a fresh root (PostgreSQL data kept in /tmp, where its server user can reach it)."""
    import shutil
    import tempfile

    data_root = Path(tempfile.mkdtemp(prefix="cloudkit-pg-nightly-"))
    os.chmod(data_root, 0o711)
    cloud = cloudkit.connect("local", root=str(tmp_path / "local-root"), postgres_data_root=str(data_root),
                             backup_check_interval=0, durable_backups=False,
                             delivery_backoff=0.05, delivery_max_backoff=0.2, delivery_poll=0.05)
    try:
        yield cloud
    finally:
        cloud.close()
        shutil.rmtree(data_root, ignore_errors=True)


def _form(request: Any) -> dict[str, list[str]]:
    return h._form(request)


def strict_form_matcher(r1: Any, r2: Any) -> None:
    """Query-protocol requests match on every form field but random tokens and loopback ports."""
    def clean(form: dict[str, list[str]]) -> dict[str, list[str]]:
        return {k: [_LOOPBACK_PORT.sub("127.0.0.1:PORT", v) for v in vs] for k, vs in form.items()
                if not VOLATILE_FORM_FIELDS.match(k.split(".")[-1])}

    f1, f2 = clean(_form(r1)), clean(_form(r2))
    if f1 != f2:
        diff = sorted(k for k in set(f1) | set(f2) if f1.get(k) != f2.get(k))
        raise AssertionError(f"form fields differ: {diff}")


def _body(request: Any) -> bytes:
    body = request.body
    if hasattr(body, "getvalue"):
        body = body.getvalue()
    if isinstance(body, str):
        body = body.encode()
    return body if isinstance(body, bytes) else b""


def route53_body_matcher(r1: Any, r2: Any) -> None:
    """Route 53 requests (REST, XML bodies) match on their bodies too (the random ``CallerReference`` aside)."""
    if "/2013-04-01/" not in r1.path:
        return
    b1, b2 = (_CALLER_REFERENCE.sub(b"", _body(r)) for r in (r1, r2))
    if b1 != b2:
        raise AssertionError("Route 53 request bodies differ")


@pytest.fixture(scope="session")
def aws_backend() -> Iterator[Any]:
    """Replay (default) or a moto server on 127.0.0.1 (``CLOUDKIT_RECORD=1``) for the aws runs."""
    mode = h.mode()
    if mode == "aws":
        pytest.skip("the portability scenario records against moto only")
    server = None if mode == "replay" else h.MotoServer().start()
    try:
        yield mode, server
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def run_on_aws(request: pytest.FixtureRequest, aws_backend: Any, monkeypatch: pytest.MonkeyPatch,
               subscriber: Subscriber) -> Callable[[Callable[[cloudkit.Cloud], Any]], Any]:
    """Run a function on an aws cloud inside this test's cassette, strictly replayed (or recorded)."""
    mode, server = aws_backend

    def run(job: Callable[[cloudkit.Cloud], Any]) -> Any:
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", h.FAKE_KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", h.FAKE_SECRET)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
        replaying = mode == "replay"
        scrubber = h.Scrubber([h.MOTO_ACCOUNT])
        hook_path = urlsplit(subscriber.url).path

        def before_record(req: Any) -> Any:
            if req.path == hook_path:  # moto delivering to the test's subscriber: not cloudkit's traffic
                return None
            return scrubber.request(req)

        recorder = vcr.VCR(
            cassette_library_dir=str(h.CASSETTES),
            record_mode="none" if replaying else "all",
            match_on=["method", "path", "query", "action", "form", "route53_body"],
            filter_headers=h.FILTERED_HEADERS,
            filter_query_parameters=h.FILTERED_QUERY,
            before_record_request=before_record,
            before_record_response=scrubber.response,
            decode_compressed_response=True,
        )
        recorder.register_matcher("action", h.action_matcher)
        recorder.register_matcher("form", strict_form_matcher)
        recorder.register_matcher("route53_body", route53_body_matcher)
        path = h.cassette_path(request.node.nodeid)
        if not replaying:
            server.reset()
            (h.CASSETTES / path).unlink(missing_ok=True)
        endpoint = h.REPLAY_ENDPOINT if replaying else server.url
        seed_names(request.node.nodeid)  # the names the local run had
        with recorder.use_cassette(path, allow_playback_repeats=False) as cassette:
            cloud = cloudkit.connect("aws", **h.settings_for(endpoint, replaying))
            try:
                result = job(cloud)
            finally:
                cloud.close()
            if replaying:
                unplayed = [f"{req.method} {urlsplit(req.uri).path}?{urlsplit(req.uri).query} {_form(req).get('Action', [''])[0]}"
                            for i, (req, _) in enumerate(cassette.data) if not cassette.play_counts[i]]
                assert not unplayed, f"the replay skipped {len(unplayed)} recorded requests: {unplayed[:10]}"
        return result

    return run
