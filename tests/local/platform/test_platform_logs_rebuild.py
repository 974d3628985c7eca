"""Local platform logs (from the workers' own output) and rebuild (fresh instances, no dropped request)."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from platform_helpers import bundle as zip_bundle  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import InvalidInput, NotFound
from cloudkit.models.platform import Environment, EnvironmentSettings, InstanceLog
from cloudkit.services.platform import PlatformService

NOISY_APP = '''import os
import sys

print("booting worker", os.getpid(), flush=True)


def application(environ, start_response):
    print("served", environ.get("PATH_INFO"), "by", os.getpid(), flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("pid=%d" % os.getpid()).encode()]
'''


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[PlatformService]:
    root = tmp_path / "root"
    cloud = cloudkit.connect("local", root=str(root))
    yield cloud.platform
    for env in cloud.platform.list_environments():
        cloud.platform.terminate_environment(env)
    cloud.close()


def test_logs_tail_and_bundle(platform: PlatformService) -> None:
    platform.create_application("logs")
    platform.create_version("logs", "v1", source=zip_bundle({"application.py": NOISY_APP}))
    env = platform.create_environment("logs", "logs-prod", version="v1", stack="python",
                                      settings=EnvironmentSettings(instance_count=2))
    assert env.url is not None
    for i in range(30):
        requests.get(f"{env.url}hit/{i}", timeout=10)
    logs = platform.logs(env, tail=5)
    assert len(logs) == 2 and all(isinstance(item, InstanceLog) for item in logs)
    assert len({item.instance for item in logs}) == 2
    assert all(item.instance.startswith(env.id + "-") for item in logs)
    for item in logs:
        assert 1 <= len(item.lines) <= 5
        assert item.text.endswith("\n")
        assert item.lines[-1].startswith("served /hit/")
    everything = [line for item in platform.logs(env.name, tail=10_000) for line in item.lines]
    assert sum(line.startswith("served /hit/") for line in everything) >= 30 - 2  # health checks aside, every hit
    assert sum(line.startswith("booting worker") for line in everything) == 2

    bundle = zipfile.ZipFile(io.BytesIO(platform.log_bundle(env)))
    names = set(bundle.namelist())
    assert {f"{item.instance}/web.stdout.log" for item in logs} <= names
    assert "proxy/proxy.log" in names
    whole = b"".join(bundle.read(f"{item.instance}/web.stdout.log") for item in logs).decode()
    assert whole.count("served /hit/") >= 30

    with pytest.raises(InvalidInput, match="tail"):
        platform.logs(env, tail=0)
    with pytest.raises(InvalidInput, match="tail"):
        platform.logs(env, tail=10_001)
    platform.terminate_environment(env)
    with pytest.raises(NotFound, match="terminated"):
        platform.logs(env.id)


def test_a_symlinked_log_is_not_followed(platform: PlatformService, tmp_path: Path) -> None:
    platform.create_application("links")
    platform.create_version("links", "v1", source=zip_bundle({"application.py": NOISY_APP}))
    env = platform.create_environment("links", "links-prod", version="v1", stack="python")
    (item,) = platform.logs(env)
    secret = tmp_path / "secret.txt"
    secret.write_text("do not show\n")
    path = Path(str(item.extra["path"]))
    path.unlink()
    os.symlink(secret, path)
    (again,) = platform.logs(env)
    assert "do not show" not in again.text
    bundle = zipfile.ZipFile(io.BytesIO(platform.log_bundle(env)))
    assert all(b"do not show" not in bundle.read(name) for name in bundle.namelist())


def test_rebuild_replaces_every_instance_without_dropping_a_request(
        platform: PlatformService, poll_during: Callable[..., tuple[Environment, list[str], list[str]]]) -> None:
    platform.create_application("rb")
    platform.create_version("rb", "v1", source=zip_bundle({"application.py": NOISY_APP}))
    env = platform.create_environment("rb", "rb-prod", version="v1", stack="python",
                                      settings=EnvironmentSettings(instance_count=2, env_vars={"X": "1"}))
    assert env.url is not None
    url = env.url
    before = {requests.get(url, timeout=10).text for _ in range(8)}
    assert len(before) == 2
    rebuilt, seen, failures = poll_during(url, lambda: platform.rebuild(env))
    assert failures == []
    assert (rebuilt.status, rebuilt.version, rebuilt.url, rebuilt.health) == ("ready", "v1", url, "green")
    after = {requests.get(url, timeout=10).text for _ in range(8)}
    assert len(after) == 2 and not after & before, "every instance was replaced"
    assert seen[-1] in after
    assert platform.get_settings(env).env_vars == {"X": "1"}
    messages = [e.message for e in platform.events(environment=env)]
    assert any(m.startswith("rebuildEnvironment is starting") for m in messages)
    assert any(m.startswith("Rebuild completed successfully") for m in messages)
    platform.terminate_environment(env)
    with pytest.raises(NotFound, match="terminated"):
        platform.rebuild(env.id)


def test_read_tail_across_blocks_and_limits(tmp_path: Path) -> None:
    from cloudkit_local._platform.workers import LOG_BLOCK, read_tail

    log = tmp_path / "big.log"
    lines = [f"line {i:06d} " + "x" * 50 for i in range(20_000)]  # ~1.2 MB: many blocks
    log.write_text("\n".join(lines) + "\n")
    assert read_tail(log, 5).splitlines() == lines[-5:]
    assert read_tail(log, 3000).splitlines() == lines[-3000:]  # spans many blocks
    assert read_tail(log, 1).endswith("\n")
    unterminated = tmp_path / "partial.log"
    unterminated.write_text("first\nsecond\nthird")
    assert read_tail(unterminated, 2) == "second\nthird\n"
    assert read_tail(unterminated, 10) == "first\nsecond\nthird\n"
    capped = read_tail(log, 20_000, limit=LOG_BLOCK)
    assert 0 < len(capped.encode()) <= LOG_BLOCK + 1 and capped.splitlines()[-1] == lines[-1]
    assert read_tail(tmp_path / "missing.log", 5) == ""
    (tmp_path / "folder.log").mkdir()
    assert read_tail(tmp_path / "folder.log", 5) == ""
