"""Fixtures of the portability tests: an http subscriber, the folder to back up, a local and an aws run.

The aws run replays ``tests/cassettes/aws/portability_nightly/`` by default and records against a
moto server on 127.0.0.1 with ``CLOUDKIT_RECORD=1`` (the harness of ``tests/aws``, whose strict replay
it uses: bodies and meaningful headers compared, each recorded exchange played at most once, and a
test fails when exchanges remain unplayed).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

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

        # The backup manifest names each archive's SHA-256, and a .tar.gz holds the time it was made.
        recorder = h.make_vcr(not replaying, scrubber, before_record_request=before_record,
                              ignore_json_keys=("sha256",))
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
                h.assert_all_played(cassette)
        return result

    return run
