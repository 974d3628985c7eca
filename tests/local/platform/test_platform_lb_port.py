"""An environment's load-balancer port on local: a HAProxy load balancer (loadbalancer family) fronts its workers."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from cloudkit_local import _haproxy
from cloudkit_local._root import free_port
from platform_helpers import bundle  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import Conflict, InvalidInput, NotSupported
from cloudkit.models.platform import Environment, EnvironmentSettings

needs_haproxy = pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING)

PORT = "aws:elb:loadbalancer:LoadBalancerHTTPPort"
HEALTH = "aws:elasticbeanstalk:application:Application Healthcheck URL"

APP = '''import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("pid=%d" % os.getpid()).encode()]
'''


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as c:
        yield c


def _pids(url: str, n: int = 12) -> set[str]:
    return {requests.get(url, timeout=10).text for _ in range(n)}


def _targets(cloud: cloudkit.Cloud, name: str) -> dict[int | None, str]:
    return {h.target.port: h.state for h in cloud.loadbalancer.target_health(name)}


def _port(env: Environment) -> int:
    assert env.url is not None
    return int(env.url.rsplit(":", 1)[1].strip("/"))


def _haproxy_pids(folder: str) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if folder.encode() in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                pass
    return pids


@needs_haproxy
def test_the_listener_port_is_a_load_balancer_in_front_of_the_workers(
        cloud: cloudkit.Cloud, poll_during: Callable[..., tuple[object, list[str], list[str]]]) -> None:
    p, lbs = cloud.platform, cloud.loadbalancer
    p.create_application("web")
    p.create_version("web", "v1", source=bundle({"application.py": APP}))
    first = free_port()
    env = p.create_environment("web", "web-prod", version="v1", stack="python",
                               settings=EnvironmentSettings(min_instances=2, max_instances=3,
                                                            options={PORT: str(first), HEALTH: "/"}))
    name = f"eb-{env.id}"
    assert env.url == f"http://127.0.0.1:{first}/"  # the environment's URL is its load balancer's
    assert env.health == "green" and env.extra["load_balancer"] == name
    lb = lbs.get_load_balancer(name)
    assert [item.port for item in lb.listeners] == [first] and lb.url == f"http://127.0.0.1:{first}"
    assert lb.extra["environment"] == env.id and lb.health_check.path == "/"
    assert [b.name for b in lbs.list_load_balancers()] == [name]
    assert len(_pids(env.url)) == 2  # two workers behind the balancer, both receiving requests
    assert set(_targets(cloud, name).values()) == {"healthy"} and len(_targets(cloud, name)) == 2
    with pytest.raises(Conflict, match="belongs to platform environment web-prod"):
        lbs.delete_load_balancer(name)  # not while the environment lives

    # Scaling adds targets; the health URL setting is the balancer's check; no request fails meanwhile.
    url = env.url
    _, _, failures = poll_during(url, lambda: p.update_settings(env, EnvironmentSettings(
        min_instances=3, options={HEALTH: "/ping"})))
    assert failures == []
    assert len(_pids(url, 15)) == 3
    assert lbs.get_load_balancer(name).health_check.path == "/ping"
    live = {port for port, state in _targets(cloud, name).items() if state != "draining"}
    assert len(live) == 3

    # A rebuild registers the new workers before draining the old ones: no request fails.
    before = _pids(url, 15)
    assert poll_during(url, lambda: p.rebuild(env))[2] == []
    after = _pids(url, 15)
    assert len(after) == 3 and not before & after

    # Changing the port moves the listener (and the URL).
    second = free_port()
    moved = p.update_settings(env, EnvironmentSettings(options={PORT: str(second)}))
    assert moved.url == f"http://127.0.0.1:{second}/" and len(_pids(moved.url, 15)) == 3
    assert [item.port for item in lbs.get_load_balancer(name).listeners] == [second]
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=5)

    folder = str(lbs.get_load_balancer(name).extra["folder"])
    assert _haproxy_pids(folder)
    done = p.terminate_environment(env)
    assert done.url is None and list(lbs.list_load_balancers()) == []
    assert _haproxy_pids(folder) == []  # no HAProxy left behind
    assert not Path(folder).exists()


@needs_haproxy
def test_elbv2_listener_options_and_going_back_to_the_proxy(cloud: cloudkit.Cloud) -> None:
    p, lbs = cloud.platform, cloud.loadbalancer
    p.create_application("v2")
    p.create_version("v2", "v1", source=bundle({"application.py": APP}))
    env = p.create_environment("v2", "v2-prod", version="v1", stack="python")
    proxied = env.url
    assert proxied is not None and "load_balancer" not in env.extra  # no option: the environment's own proxy
    port = free_port()
    ns = f"aws:elbv2:listener:{port}"
    env = p.update_settings(env, EnvironmentSettings(options={f"{ns}:ListenerEnabled": "true", f"{ns}:Protocol": "HTTP"}))
    assert env.url == f"http://127.0.0.1:{port}/" and _pids(env.url, 3)
    with pytest.raises(requests.ConnectionError):  # the proxy stopped
        requests.get(proxied, timeout=5)
    with pytest.raises(InvalidInput, match="keep one enabled"):
        p.update_settings(env, EnvironmentSettings(options={f"{ns}:ListenerEnabled": "false"}))
    back = p.update_settings(env, EnvironmentSettings(options={f"{ns}:ListenerEnabled": "", f"{ns}:Protocol": ""}))
    assert back.url is not None and back.url != env.url and _pids(back.url, 3)
    assert "load_balancer" not in back.extra and list(lbs.list_load_balancers()) == []
    p.terminate_environment(env)


@needs_haproxy
def test_state_survives_a_new_cloud_and_a_dead_haproxy_is_repaired(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    port = free_port()
    with cloudkit.connect("local", root=root) as cloud:
        p = cloud.platform
        p.create_application("keep")
        p.create_version("keep", "v1", source=bundle({"application.py": APP}))
        env = p.create_environment("keep", "keep-prod", version="v1", stack="python",
                                   settings=EnvironmentSettings(instance_count=2, options={PORT: str(port)}))
        lb = cloud.loadbalancer.get_load_balancer(f"eb-{env.id}")
        master = lb.extra["pid"]
        assert isinstance(master, int)
        workers = [pid for pid in _haproxy_pids(str(lb.extra["folder"])) if pid != master]
        for pid in [master, *workers]:
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while p.get_environment(env).health != "red" and time.monotonic() < deadline:
            time.sleep(0.1)
        assert p.get_environment(env).health == "red"  # reported sanely
    with cloudkit.connect("local", root=root) as again:  # the next service repairs it
        p = again.platform
        env2 = p.get_environment("keep-prod")
        assert (env2.id, env2.url, env2.health) == (env.id, f"http://127.0.0.1:{port}/", "green")
        assert len(_pids(f"http://127.0.0.1:{port}/")) == 2
        assert any("Restarted the environment's load balancer" in e.message for e in p.events(environment=env))
        p.terminate_environment(env)
        assert list(again.loadbalancer.list_load_balancers()) == []


def test_without_haproxy_the_setting_is_not_supported_and_the_rest_works(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "r"), haproxy_bin=str(tmp_path / "no-haproxy")) as cloud:
        p = cloud.platform
        p.create_application("plain")
        p.create_version("plain", "v1", source=bundle({"application.py": APP}))
        with pytest.raises(NotSupported, match="Debian package haproxy"):
            p.create_environment("plain", "plain-lb", version="v1", stack="python",
                                 settings=EnvironmentSettings(options={PORT: "8080"}))
        env = p.create_environment("plain", "plain-prod", version="v1", stack="python")
        assert env.url is not None and _pids(env.url, 2)
        with pytest.raises(NotSupported, match="Debian package haproxy"):
            p.update_settings(env, EnvironmentSettings(options={PORT: "8080"}))
        assert [e.name for e in p.list_environments()] == ["plain-prod"]
        p.terminate_environment(env)


@needs_haproxy
def test_a_port_in_use_is_refused_before_anything_changes(cloud: cloudkit.Cloud) -> None:
    import socket

    p = cloud.platform
    p.create_application("busy")
    p.create_version("busy", "v1", source=bundle({"application.py": APP}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        taken = sock.getsockname()[1]
        with pytest.raises(Conflict, match=f"port {taken} is in use"):
            p.create_environment("busy", "busy-prod", version="v1", stack="python",
                                 settings=EnvironmentSettings(options={PORT: str(taken)}))
    assert list(p.list_environments()) == [] and list(cloud.loadbalancer.list_load_balancers()) == []
    with pytest.raises(InvalidInput, match="HTTP"):
        p.create_environment("busy", "busy-prod", version="v1", stack="python",
                             settings=EnvironmentSettings(options={"aws:elbv2:listener:443:Protocol": "HTTPS"}))


@needs_haproxy
@pytest.mark.parametrize("failing", ["add_listener", "deregister_targets"])
def test_a_failed_switch_rolls_back_to_the_old_listener_and_workers(cloud: cloudkit.Cloud, failing: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit.errors import ProviderError

    p = cloud.platform
    p.create_application("sw")
    p.create_version("sw", "v1", source=bundle({"application.py": APP}))
    port = free_port()
    env = p.create_environment("sw", "sw-prod", version="v1", stack="python",
                               settings=EnvironmentSettings(instance_count=2, options={PORT: str(port)}))
    assert env.url is not None
    before = _pids(env.url)
    lbs = p._lbs()  # type: ignore[attr-defined]
    original = getattr(lbs, failing)
    calls: list[object] = []

    def once(*args: object, **kwargs: object) -> object:  # fails the switch, then works for the rollback
        calls.append(args)
        if len(calls) == 1:
            raise Conflict("lost meanwhile", provider="local")
        return original(*args, **kwargs)

    monkeypatch.setattr(lbs, failing, once)  # the new port lost between the check and the switch, or a late failure
    with pytest.raises(ProviderError) as err:
        p.update_settings(env, EnvironmentSettings(options={PORT: str(free_port())}))
    assert err.value.code == "SwitchFailed" and "rolled back" in str(err.value)
    again = p.get_environment(env)
    assert (again.url, again.status, again.health) == (env.url, "ready", "green")
    assert _pids(env.url) == before  # the old workers still serve, through the old listener
    assert p.get_settings(env).options[PORT] == str(port)
    lb = cloud.loadbalancer.get_load_balancer(f"eb-{env.id}")
    assert [item.port for item in lb.listeners] == [port]
    live = {t: s for t, s in _targets(cloud, lb.name).items() if s != "draining"}
    assert len(live) == 2  # only the old workers are targets again
    p.terminate_environment(env)


def test_listener_options_in_a_bundle_are_refused_naming_the_key() -> None:
    from cloudkit_local._platform import ebextensions

    config = b"option_settings:\n  aws:elb:loadbalancer:\n    LoadBalancerHTTPPort: 8080\n"
    with pytest.raises(InvalidInput) as err:
        ebextensions.parse({".ebextensions/lb.config": config})
    assert "LoadBalancerHTTPPort" in err.value.field and "setting on the local provider" in err.value.rule
