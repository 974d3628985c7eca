"""Settings on the local platform take effect or are refused at update_settings (never stored and ignored)."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

import cloudkit
from cloudkit.errors import InvalidInput
from cloudkit.models.platform import EnvironmentSettings

PID_APP = '''import os


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("pid=%d" % os.getpid()).encode()]
'''

ENDPOINT = "aws:elasticbeanstalk:sns:topics:Notification Endpoint"
PROTOCOL = "aws:elasticbeanstalk:sns:topics:Notification Protocol"


def _zip(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("application.py", text)
    return buf.getvalue()


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:
        yield cloud
        for env in cloud.platform.list_environments():
            cloud.platform.terminate_environment(env)


def _pids(url: str, n: int = 16) -> set[str]:
    return {requests.get(url, timeout=10).text for _ in range(n)}


def test_autoscaling_range_sets_the_number_of_workers(cloud: cloudkit.Cloud) -> None:
    p = cloud.platform
    p.create_application("scale")
    p.create_version("scale", "v1", source=_zip(PID_APP))
    env = p.create_environment("scale", "scale-prod", version="v1", stack="python",
                               settings=EnvironmentSettings(min_instances=2, max_instances=4))
    assert env.url is not None and env.extra["instances"] == 2
    assert len(_pids(env.url)) == 2
    s = p.get_settings(env)
    assert (s.instance_count, s.min_instances, s.max_instances) == (2, 2, 4)

    # Elastic Beanstalk's option names work too, and read back as the neutral range.
    p.update_settings(env, EnvironmentSettings(options={"aws:autoscaling:asg:MinSize": "3"}))
    s = p.get_settings(env)
    assert (s.instance_count, s.min_instances, s.max_instances) == (3, 3, 4)
    assert "aws:autoscaling:asg:MinSize" not in s.options
    assert p.get_environment(env).extra["instances"] == 3 and len(_pids(env.url, 24)) == 3

    updates_before = len(list(p.events(environment=env)))
    for bad, field in [
        (EnvironmentSettings(options={"aws:autoscaling:asg:MinSize": "5"}), "settings.min_instances"),
        (EnvironmentSettings(max_instances=2), "settings.max_instances"),
        (EnvironmentSettings(options={"aws:autoscaling:asg:MaxSize": "many"}), "settings.options['aws:autoscaling:asg:MaxSize']"),
        (EnvironmentSettings(instance_count=2, min_instances=3), "settings.instance_count"),
    ]:
        with pytest.raises(InvalidInput) as err:
            p.update_settings(env, bad)
        assert err.value.field == field
    assert len(list(p.events(environment=env))) == updates_before, "a refused update starts nothing"
    assert p.get_settings(env) == s

    p.update_settings(env, EnvironmentSettings(instance_count=1))  # a fixed size
    s = p.get_settings(env)
    assert (s.instance_count, s.min_instances, s.max_instances) == (1, 1, 1)
    assert len(_pids(env.url, 6)) == 1


def test_options_the_local_provider_cannot_honour_are_refused(cloud: cloudkit.Cloud) -> None:
    p = cloud.platform
    p.create_application("refuse")
    p.create_version("refuse", "v1", source=_zip(PID_APP))
    env = p.create_environment("refuse", "refuse-prod", version="v1", stack="python")
    before = p.get_settings(env)
    cases = {
        "aws:autoscaling:launchconfiguration:EC2KeyName": "no SSH server",
        "aws:elb:listener:80:ListenerProtocol": "must be one of HTTP",
        "aws:elbv2:listener:default:ListenerEnabled": "must be one of true, false",
        "aws:elb:listener:80:InstancePort": "not a load-balancer option the local provider honours",
        "aws:elb:loadbalancer:LoadBalancerHTTPPort": "must be a port from 1 to 65535 or OFF",
        "aws:elasticbeanstalk:command:DeploymentPolicy": "not an option the local provider can honour",
    }
    for key, reason in cases.items():
        with pytest.raises(InvalidInput) as err:
            p.update_settings(env, EnvironmentSettings(options={key: "x"}))
        assert err.value.field == f"settings.options[{key!r}]" and reason in err.value.rule
        with pytest.raises(InvalidInput):  # at creation too
            p.create_environment("refuse", "refuse-other", version="v1", stack="python",
                                 settings=EnvironmentSettings(options={key: "x"}))
    with pytest.raises(InvalidInput) as err:
        p.update_settings(env, EnvironmentSettings(options={ENDPOINT: "not an address"}))
    assert err.value.field == f"settings.options[{ENDPOINT!r}]"
    assert p.get_settings(env) == before
    assert [e.name for e in p.list_environments()] == ["refuse-prod"]


def test_notification_endpoint_receives_the_environment_events(cloud: cloudkit.Cloud) -> None:
    p, n = cloud.platform, cloud.notification
    inbox = n.create_queue("ops-inbox")
    p.create_application("notify")
    p.create_version("notify", "v1", source=_zip(PID_APP))
    p.create_version("notify", "v2", source=_zip(PID_APP + "\n# two\n"))
    env = p.create_environment("notify", "notify-prod", version="v1", stack="python",
                               settings=EnvironmentSettings(options={ENDPOINT: inbox.id, PROTOCOL: "queue"}))
    p.deploy(env, "v2")
    bodies = [m.body for m in n.receive_messages(inbox, max_messages=10, wait_seconds=0)]
    while True:
        more = [m.body for m in n.receive_messages(inbox, max_messages=10, wait_seconds=0)]
        if not more:
            break
        bodies += more
    assert any(b.startswith("INFO createEnvironment completed successfully") for b in bodies)
    assert any(b == "INFO Switched traffic to version 'v2'" for b in bodies)
    (topic,) = [t for t in n.list_topics() if t.name == f"cloudkit-env-{env.id}"]
    assert [s.protocol for s in n.list_subscriptions(topic)] == ["queue"]

    p.update_settings(env, EnvironmentSettings(options={ENDPOINT: ""}))  # removes the subscription
    assert ENDPOINT not in p.get_settings(env).options
    assert list(n.list_subscriptions(topic)) == []
    while n.receive_messages(inbox, max_messages=10, wait_seconds=0):
        pass
    p.deploy(env, "v1")
    assert n.receive_messages(inbox, max_messages=10, wait_seconds=0) == []
    p.terminate_environment(env)
    assert f"cloudkit-env-{env.id}" not in {t.name for t in n.list_topics()}
