"""Fixtures of the libcloud tests: Azurite, PowerDNS and moto, live or replayed from cassettes.

See ``lc_harness.py`` for the modes. Fixtures:

* ``azurite_backend`` / ``pdns_backend`` / ``moto_backend`` (session) -- the mode and the
  settings that reach the server (in replay mode a placeholder endpoint nobody listens on).
* ``lc_cassette`` -- the test's cassette, active for the whole test (``None`` in live mode).
* ``azure_cloud``, ``s3_cloud``, ``pdns_cloud``, ``ec2_cloud`` -- ``cloudkit.connect`` on
  ``libcloud:azure_blobs``, ``libcloud:s3``, ``libcloud:powerdns`` and ``libcloud:ec2``.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import lc_harness as h  # tests/libcloud is on sys.path (rootdir-relative test modules, no packages)
import lc_servers as servers
import pytest

import cloudkit


class Backend:
    """Where the requests of one backend go in this run."""

    def __init__(self, name: str, mode: str, settings: dict[str, Any], server: servers.Server | None = None) -> None:
        self.name = name
        self.mode = mode
        self.settings = settings
        self.server = server

    @property
    def replaying(self) -> bool:
        return self.mode == "replay"

    @property
    def recording(self) -> bool:
        return self.mode == "record"


def _backend(name: str, present: bool, start: Callable[[], servers.Server], replay: dict[str, Any]) -> Iterator[Backend]:
    mode = h.mode(present)
    if mode == "replay":
        yield Backend(name, mode, dict(replay))
        return
    server = start()
    try:
        yield Backend(name, mode, dict(server.settings), server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def azurite_backend() -> Iterator[Backend]:
    """Azurite's blob service (``azurite-blob``)."""
    yield from _backend(
        "azurite", servers.have_azurite() is not None, servers.start_azurite,
        h.REPLAY_SETTINGS["azurite"],
    )


@pytest.fixture(scope="session")
def pdns_backend() -> Iterator[Backend]:
    """PowerDNS with the SQLite backend and its HTTP API."""
    yield from _backend(
        "powerdns", servers.have_pdns() is not None, servers.start_pdns,
        h.REPLAY_SETTINGS["powerdns"],
    )


@pytest.fixture(scope="session")
def moto_backend() -> Iterator[Backend]:
    """A moto server (S3 and EC2) in this process."""
    yield from _backend(
        "moto", True, servers.start_moto,
        h.REPLAY_SETTINGS["moto"],
    )


@pytest.fixture
def lc_cassette(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The test's cassette: replayed, or rewritten when recording; ``None`` when running live."""
    backends = [request.getfixturevalue(n) for n in ("azurite_backend", "pdns_backend", "moto_backend")
                if n in request.fixturenames]
    modes = {b.mode for b in backends}
    if not backends or modes == {"live"}:
        yield None
        return
    record = "record" in modes
    path = h.cassette_path(request.node.nodeid)
    if record:
        (h.CASSETTES / path).unlink(missing_ok=True)  # a re-recording starts from nothing: one server per cassette
    # A test that made no request has no cassette file; replaying it, any request fails the test.
    with h.use_cassette(record, path) as cassette:
        yield cassette
    if not record and _call_passed(request.node):
        h.assert_all_played(cassette)  # fewer requests than recorded fails the test


def _call_passed(item: pytest.Item) -> bool:
    """Whether the test body ran to its end (passed, or skipped after its requests; not failed or xfailed)."""
    report = item.stash.get(_CALL_REPORT, None)
    return not (report is None or report.failed or hasattr(report, "wasxfail"))


_CALL_REPORT = pytest.StashKey[pytest.TestReport]()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Keep the call phase's report on the item (the cassette fixture checks it at teardown)."""
    report: pytest.TestReport = yield
    if report.when == "call":
        item.stash[_CALL_REPORT] = report
    return report


def _connect(provider: str, backend: Backend, **more: Any) -> cloudkit.Cloud:
    settings = dict(backend.settings)
    settings.update(more)
    if backend.replaying:
        settings["poll_interval"] = 0
        settings["retry_timeout"] = 0
    return cloudkit.connect(provider, **settings)


@pytest.fixture
def azure_cloud(azurite_backend: Backend, lc_cassette: Any) -> Iterator[cloudkit.Cloud]:
    """``libcloud:azure_blobs`` on Azurite."""
    with _connect("libcloud:azure_blobs", azurite_backend) as cloud:
        yield cloud


@pytest.fixture
def s3_cloud(moto_backend: Backend, lc_cassette: Any) -> Iterator[cloudkit.Cloud]:
    """``libcloud:s3`` on moto."""
    with _connect("libcloud:s3", moto_backend) as cloud:
        yield cloud


@pytest.fixture
def pdns_cloud(pdns_backend: Backend, lc_cassette: Any) -> Iterator[cloudkit.Cloud]:
    """``libcloud:powerdns`` on PowerDNS."""
    with _connect("libcloud:powerdns", pdns_backend) as cloud:
        yield cloud


@pytest.fixture
def ec2_cloud(moto_backend: Backend, lc_cassette: Any) -> Iterator[cloudkit.Cloud]:
    """``libcloud:ec2`` on moto's EC2."""
    with _connect("libcloud:ec2", moto_backend, poll_interval=0.2) as cloud:
        yield cloud


@pytest.fixture
def cassettes_dir() -> Path:
    """Where this harness keeps its cassettes."""
    return h.CASSETTES
