"""Fixtures of the aws tests: replay cassettes by default, record against moto or AWS on demand.

Re-record every aws cassette (a moto server on 127.0.0.1 is started for the run)::

    CLOUDKIT_RECORD=1 .venv/bin/pytest tests/aws

See ``tests/aws/_harness.py`` for the modes and what is filtered out of cassettes.

Fixtures for any aws test module (also the conformance suites, through ``cloudkit_cloud``):

* ``aws_backend`` (session) -- mode, endpoint and the moto server when recording.
* ``aws_cassette`` -- the test's vcrpy cassette (``tests/cassettes/aws/<module>/<test>.yaml``),
  active for the whole test; ``recorded_requests(aws_cassette, ...)`` counts its requests. Replay
  is strict (bodies and meaningful headers compared, each exchange played once) and a test whose
  body ran to its end fails when recorded exchanges were never requested.
* ``aws_cloud`` / ``cloudkit_cloud`` -- ``cloudkit.connect("aws", ...)`` inside that cassette.
"""

from __future__ import annotations

import os
from collections.abc import Generator, Iterator
from typing import Any

import _harness as h  # tests/aws is on sys.path (rootdir-relative test modules, no packages)
import pytest

import cloudkit

try:  # moto extensions living next to this file are installed before the server starts
    import moto_eb

    h.MotoServer.setup_hooks.append(moto_eb.install)
except ImportError:  # pragma: no cover - the extension is optional for the families here
    pass


class Backend:
    """Where aws requests of this run go."""

    def __init__(self, mode: str, endpoint: str | None, server: h.MotoServer | None, scrubber: h.Scrubber) -> None:
        self.mode = mode
        self.endpoint = endpoint
        self.server = server
        self.scrubber = scrubber
        self.vcr = h.make_vcr(mode != "replay", scrubber)

    @property
    def replaying(self) -> bool:
        return self.mode == "replay"


def _real_identity() -> tuple[str, str]:
    import boto3

    session = boto3.Session(region_name=h.REGION)
    creds = session.get_credentials()
    account = session.client("sts").get_caller_identity()["Account"]
    return account, (creds.access_key if creds else "")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the cassette scans last, so that a recording run scans the cassettes it has just written."""
    scans = ("test_cassette_secrets.py::", "test_aws_cassette_strictness.py::test_no_cassette_stores")
    items.sort(key=lambda item: any(s in item.nodeid for s in scans))  # stable: the rest keep their order


@pytest.fixture(scope="session")
def aws_backend() -> Iterator[Backend]:
    """The run's backend: replay, a moto server started here, or real AWS."""
    mode = h.mode()
    if mode == "replay":
        yield Backend(mode, h.REPLAY_ENDPOINT, None, h.Scrubber([h.MOTO_ACCOUNT]))
        return
    if mode == "aws":
        account, key_id = _real_identity()
        yield Backend(mode, None, None, h.Scrubber([account, h.MOTO_ACCOUNT], [key_id]))
        return
    endpoint = os.environ.get("CLOUDKIT_AWS_ENDPOINT")
    server = None if endpoint else h.MotoServer().start()
    try:
        yield Backend(mode, endpoint or server.url, server, h.Scrubber([h.MOTO_ACCOUNT]))  # type: ignore[union-attr]
    finally:
        if server is not None:
            server.stop()


@pytest.fixture
def aws_env(aws_backend: Backend, monkeypatch: pytest.MonkeyPatch) -> Backend:
    """Fake credentials for moto and replay; the real chain is left alone when recording against AWS."""
    if aws_backend.mode != "aws":
        for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", h.FAKE_KEY_ID)
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", h.FAKE_SECRET)
        monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
        monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
        monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return aws_backend


@pytest.fixture
def aws_cassette(request: pytest.FixtureRequest, aws_env: Backend) -> Iterator[Any]:
    """The test's cassette, active for the whole test (moto is reset first when recording)."""
    if aws_env.server is not None:
        aws_env.server.reset()
    path = h.cassette_path(request.node.nodeid)
    if not aws_env.replaying:
        (h.CASSETTES / path).unlink(missing_ok=True)  # a re-recording starts from nothing
    with aws_env.vcr.use_cassette(path, allow_playback_repeats=False) as cassette:
        yield cassette
    if aws_env.replaying and _call_passed(request.node):
        h.assert_all_played(cassette)  # fewer requests than recorded fails the test


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


def _call_passed(item: pytest.Item) -> bool:
    """Whether the test body ran to its end (passed, or skipped after its requests; not failed or xfailed)."""
    report = item.stash.get(_CALL_REPORT, None)
    return not (report is None or report.failed or hasattr(report, "wasxfail"))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report on the item (the cassette fixture checks it at teardown)."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


@pytest.fixture
def aws_settings(aws_env: Backend) -> dict[str, Any]:
    """Settings of the test cloud (region, endpoint, quick retries, short waiter delays)."""
    return h.settings_for(aws_env.endpoint, aws_env.replaying)


@pytest.fixture
def aws_cloud(aws_cassette: Any, aws_settings: dict[str, Any]) -> Iterator[cloudkit.Cloud]:
    """A connected aws :class:`cloudkit.Cloud` whose traffic goes through the test's cassette."""
    cloud = cloudkit.connect("aws", **aws_settings)
    try:
        yield cloud
    finally:
        cloud.close()


@pytest.fixture
def cloudkit_cloud(aws_cloud: cloudkit.Cloud) -> cloudkit.Cloud:
    """The conformance kit's fixture, served by aws for every suite subclassed under tests/aws."""
    return aws_cloud
