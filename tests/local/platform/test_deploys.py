"""The local platform really serves: zero-downtime deploys, rollback, instance counts, Procfiles, healing."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import cloudkit
from cloudkit.errors import InvalidInput, NotFound, ProviderError
from cloudkit.models.platform import EnvironmentSettings
from cloudkit.services.platform import PlatformService
from cloudkit.testing.platform import sample_app

PID_APP = '''import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("pid=%d colour=%s" % (os.getpid(), os.environ.get("COLOUR", "none"))).encode()]
'''

FAILING_500 = '''def application(environ, start_response):
    start_response("500 Internal Server Error", [("Content-Type", "text/plain")])
    return [b"broken"]
'''


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def platform(root: Path) -> Iterator[PlatformService]:
    cloud = cloudkit.connect("local", root=str(root))
    yield cloud.platform
    with cloudkit.connect("local", root=str(root)) as again:
        for env in again.platform.list_environments():
            again.platform.terminate_environment(env)
    cloud.close()


def folder(tmp_path: Path, name: str, files: dict[str, str]) -> Path:
    path = tmp_path / name
    path.mkdir()
    for rel, text in files.items():
        (path / rel).write_text(text)
    return path


def get(url: str) -> str:
    return requests.get(url, timeout=10).text


def test_zero_downtime_deploy(platform: PlatformService) -> None:
    platform.create_application("shop")
    platform.create_version("shop", "v1", source=sample_app("one"))
    platform.create_version("shop", "v2", source=sample_app("two"))
    env = platform.create_environment("shop", "shop-prod", version="v1", stack="python",
                                      settings=EnvironmentSettings(instance_count=2))
    assert env.url is not None
    url = env.url
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def poll(session: requests.Session | None) -> None:
        while not stop.is_set():
            try:
                resp = (session or requests).get(url, timeout=10)
                if resp.status_code != 200:
                    failures.append(f"HTTP {resp.status_code}")
                else:
                    seen.append(resp.text)
            except requests.RequestException as exc:
                failures.append(repr(exc))

    threads = [threading.Thread(target=poll, args=(requests.Session(),)), threading.Thread(target=poll, args=(None,))]
    for t in threads:
        t.start()
    try:
        while not seen:
            time.sleep(0.01)
        deployed = platform.deploy(env, "v2")
        time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert deployed.url == url and deployed.version == "v2"
    assert seen[0].startswith("one") and seen[-1].startswith("two"), "the page changed"
    assert len(seen) > 20, "the clients kept polling through the deploy"
    first_two = next(i for i, body in enumerate(seen) if body.startswith("two"))
    assert all(body.startswith("one") for body in seen[:first_two])


def test_failed_deploy_rolls_back(platform: PlatformService, tmp_path: Path) -> None:
    platform.create_application("blog")
    platform.create_version("blog", "good", source=sample_app("good"))
    platform.create_version("blog", "crashes", source=folder(tmp_path, "crash", {"application.py": "raise SystemExit(3)\n"}))
    platform.create_version("blog", "errors", source=folder(tmp_path, "err", {"application.py": FAILING_500}))
    env = platform.create_environment("blog", "blog-prod", version="good", stack="python")
    assert env.url is not None
    for label in ("crashes", "errors"):
        with pytest.raises(ProviderError, match="health check") as info:
            platform.deploy(env, label)
        assert info.value.code == "HealthCheckFailed"
        assert get(env.url).startswith("good"), "the old version is still served"
        now = platform.get_environment(env)
        assert (now.version, now.status, now.health) == ("good", "ready", "green")
    errors = [e for e in platform.events(environment=env) if e.severity == "ERROR"]
    assert any("Health check failed for version 'crashes'" in e.message and "status 3" in e.message for e in errors)
    assert any("Health check failed for version 'errors'" in e.message and "HTTP 500" in e.message for e in errors)
    assert any("rolled back" in e.message and "'good' is still serving" in e.message for e in errors)
    # The environment still deploys normally afterwards.
    platform.create_version("blog", "better", source=sample_app("better"))
    platform.deploy(env, "better")
    assert get(env.url).startswith("better")


def test_instance_count_and_env_vars(platform: PlatformService, tmp_path: Path) -> None:
    platform.create_application("api")
    platform.create_version("api", "v1", source=folder(tmp_path, "pid", {"application.py": PID_APP}))
    env = platform.create_environment("api", "api-prod", version="v1", stack="python",
                                      settings=EnvironmentSettings(instance_count=3, env_vars={"COLOUR": "red"}))
    assert env.url is not None and env.extra["instances"] == 3
    bodies = {get(env.url) for _ in range(12)}
    assert len({b.split()[0] for b in bodies}) == 3, "requests are spread over the three instances"
    assert all(b.endswith("colour=red") for b in bodies)
    platform.update_settings(env, EnvironmentSettings(instance_count=1, env_vars={"COLOUR": "blue"}))
    assert platform.get_environment(env).extra["instances"] == 1
    assert {get(env.url).split()[1] for _ in range(4)} == {"colour=blue"}


def test_procfile_runs_any_command(platform: PlatformService, tmp_path: Path) -> None:
    src = folder(tmp_path, "static", {
        "Procfile": "web: python3 -m http.server $PORT --bind 127.0.0.1\n",
        "index.html": "static site\n",
    })
    platform.create_application("static")
    platform.create_version("static", "v1", source=src)
    env = platform.create_environment("static", "static-prod", version="v1", stack="procfile")
    assert env.url is not None
    assert get(env.url + "index.html") == "static site\n"


def test_versions_live_in_local_storage(platform: PlatformService, root: Path, tmp_path: Path) -> None:
    platform.create_application("stored")
    version = platform.create_version("stored", "v1", source=sample_app("stored"))
    assert version.source is not None
    assert version.source.startswith("local-storage://cloudkit-platform-bundles/stored/v1-")
    key = version.source.split("/", 3)[3]
    with cloudkit.connect("local", root=str(root)) as cloud, cloud.storage.get_object("cloudkit-platform-bundles", key) as reader:
        assert reader.read() == sample_app("stored")
    platform.delete_version("stored", "v1")
    with cloudkit.connect("local", root=str(root)) as cloud, pytest.raises(NotFound):
        cloud.storage.head_object("cloudkit-platform-bundles", key)
    with pytest.raises(InvalidInput, match=r"application\.py"):
        platform.create_version("stored", "v2", source=folder(tmp_path, "empty", {"README": "nothing to run"}))
    with pytest.raises(InvalidInput, match="web"):
        platform.create_version("stored", "v3", source=folder(tmp_path, "worker", {"Procfile": "worker: run\n"}))


def test_deploy_without_waiting_streams_events(platform: PlatformService) -> None:
    platform.create_application("async")
    platform.create_version("async", "v1", source=sample_app("one"))
    platform.create_version("async", "v2", source=sample_app("two"))
    env = platform.create_environment("async", "async-prod", version="v1", stack="python")
    started = platform.deploy(env, "v2", wait=False)
    assert started.status == "updating"
    messages = []
    for event in platform.events(environment=env, follow=True, timeout=30):
        messages.append(event.message)
        if "completed successfully" in event.message and event.version == "v2":
            break
    assert any("Switched traffic to version 'v2'" in m for m in messages)
    assert platform.get_environment(env).status == "ready"


def test_environment_heals_after_its_processes_die(root: Path, platform: PlatformService) -> None:
    platform.create_application("heal")
    platform.create_version("heal", "v1", source=sample_app("healed"))
    env = platform.create_environment("heal", "heal-prod", version="v1", stack="python")
    assert env.url is not None
    platform.close()
    from cloudkit_local._root import Database

    db = Database(root / "platform" / "platform.db", "")
    pids = [r["proxy_pid"] for r in db.query("SELECT proxy_pid FROM environments")]
    pids += [r["pid"] for r in db.query("SELECT pid FROM workers WHERE state = 'serving'")]
    db.close()
    for pid in pids:
        os.killpg(pid, signal.SIGKILL)
    time.sleep(0.2)
    with pytest.raises(requests.ConnectionError):
        requests.get(env.url, timeout=2)
    with cloudkit.connect("local", root=str(root)) as cloud:
        healed = cloud.platform.get_environment("heal-prod")
        assert healed.url == env.url and healed.health == "green"
        assert get(env.url).startswith("healed")
        warnings = [e.message for e in cloud.platform.events(environment="heal-prod") if e.severity == "WARN"]
        assert any("Restarted the environment's proxy" in m for m in warnings)
        assert any("replacing them" in m for m in warnings)


LIMIT_APP = '''import resource


def application(environ, start_response):
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(soft).encode()]
'''


def test_instance_type_limits_the_instances(platform: PlatformService, tmp_path: Path) -> None:
    platform.create_application("sized")
    platform.create_version("sized", "v1", source=folder(tmp_path, "lim", {"application.py": LIMIT_APP}))
    env = platform.create_environment("sized", "sized-prod", version="v1", stack="python",
                                      settings=EnvironmentSettings(instance_type="local.small"))
    assert env.url is not None
    assert get(env.url) == str(1024 * 1024 * 1024)
    with pytest.raises(InvalidInput, match="instance_type"):
        platform.update_settings(env, EnvironmentSettings(instance_type="m5.large"))
    with pytest.raises(InvalidInput, match="seconds"):
        platform.update_settings(env, EnvironmentSettings(options={"cloudkit:deploy:DrainSeconds": "soon"}))


SLOW_APP = '''import time

time.sleep(30)


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"slow"]
'''


def test_a_deploy_interrupted_by_a_crash_is_rolled_back(root: Path, platform: PlatformService, tmp_path: Path) -> None:
    import subprocess
    import sys

    platform.create_application("crash")
    platform.create_version("crash", "v1", source=sample_app("steady"))
    platform.create_version("crash", "slow", source=folder(tmp_path, "slow", {"application.py": SLOW_APP}))
    env = platform.create_environment("crash", "crash-prod", version="v1", stack="python")
    assert env.url is not None
    script = (f"import cloudkit\ncloud = cloudkit.connect('local', root={str(root)!r})\n"
              "cloud.platform.deploy('crash-prod', 'slow')\n")
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 30
        while not any("Started 1 instance(s) of version 'slow'" in e.message for e in platform.events(environment=env)):
            assert time.monotonic() < deadline, "the deploy never started"
            time.sleep(0.05)
        assert platform.get_environment(env).status == "updating"
    finally:
        proc.kill()
        proc.wait()
    assert get(env.url).startswith("steady"), "the old version serves while the deploy is stuck"
    with cloudkit.connect("local", root=str(root)) as cloud:
        now = cloud.platform.get_environment("crash-prod")
        assert (now.status, now.version, now.health) == ("ready", "v1", "green")
        warnings = [e.message for e in cloud.platform.events(environment="crash-prod") if e.severity == "WARN"]
        assert any("interrupted" in m and "rolled back" in m for m in warnings)
        assert now.extra["instances"] == 1
    from cloudkit_local._root import Database
    from cloudkit_local._sandbox import alive

    db = Database(root / "platform" / "platform.db", "")
    slow = db.query("SELECT * FROM workers WHERE version = 'slow'")
    db.close()
    assert slow and all(w["state"] == "stopped" and not alive(w["pid"], w["pid_start"]) for w in slow), \
        "the half-started instance of 'slow' was stopped"
    assert get(env.url).startswith("steady")


def test_a_deploy_slower_than_its_timeout_raises_timeout_and_rolls_back(platform: PlatformService, tmp_path: Path) -> None:
    from cloudkit.errors import Timeout

    platform.create_application("late")
    platform.create_version("late", "v1", source=sample_app("on time"))
    platform.create_version("late", "slow", source=folder(tmp_path, "slow", {"application.py": SLOW_APP}))
    env = platform.create_environment("late", "late-prod", version="v1", stack="python")
    assert env.url is not None
    started = time.monotonic()
    with pytest.raises(Timeout, match="within 1s"):
        platform.deploy(env, "slow", timeout=1)
    assert time.monotonic() - started < 10
    assert get(env.url).startswith("on time")
    assert platform.get_environment(env).status == "ready"
