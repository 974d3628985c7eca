"""The Elastic Beanstalk walkthrough end to end on the local platform, every setting visible in behaviour."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from cloudkit_local import _haproxy
from cloudkit_local._root import free_port

import cloudkit
from cloudkit.models.platform import EnvironmentSettings

APP = '''import os

print("instance", os.getpid(), "up", flush=True)


def application(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/health" and os.environ.get("BROKEN_HEALTH"):
        start_response("503 Service Unavailable", [])
        return [b"no"]
    print("GET", path, flush=True)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s pid=%d greeting=%s" % (os.environ.get("RELEASE"), os.getpid(), os.environ.get("GREETING"))).encode()]
'''

OPTIONS = """option_settings:
  aws:elasticbeanstalk:application:environment:
    GREETING: hello-from-the-bundle
  aws:elasticbeanstalk:application:
    Application Healthcheck URL: /health
"""


def site(tmp_path: Path, name: str, release: str) -> Path:
    folder = tmp_path / name
    (folder / ".ebextensions").mkdir(parents=True)
    (folder / "application.py").write_text(APP.replace('os.environ.get("RELEASE")', repr(release)))
    (folder / ".ebextensions" / "options.config").write_text(OPTIONS)
    return folder


@pytest.mark.skipif(_haproxy.find(None) is None, reason=_haproxy.MISSING)
def test_walkthrough(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:
        p, n = cloud.platform, cloud.notification
        app = p.create_application("My First App")
        p.create_version(app, "Initial Version", source=site(tmp_path, "v1", "one"))
        p.create_version(app, "Second Version", source=site(tmp_path, "v2", "two"))
        port = free_port()  # the load balancer's port (port 80 on Elastic Beanstalk)
        env = p.create_environment(app, "Default-Environment", version="Initial Version", stack="python",
                                   settings=EnvironmentSettings(min_instances=2, max_instances=4, options={
                                       "aws:elb:loadbalancer:LoadBalancerHTTPPort": str(port)}))
        assert env.url == f"http://127.0.0.1:{port}/"  # the load balancer's URL
        lb = cloud.loadbalancer.get_load_balancer(str(env.extra["load_balancer"]))
        assert lb.url == f"http://127.0.0.1:{port}" and lb.health_check.path == "/health"  # the bundle's health URL
        assert len(cloud.loadbalancer.target_health(lb)) == 2
        pages = {requests.get(env.url, timeout=10).text for _ in range(12)}
        assert len(pages) == 2, "two workers behind the balancer, both receiving requests"
        assert all(page.startswith("one ") and page.endswith("greeting=hello-from-the-bundle") for page in pages)

        # Settings that show in behaviour: a health URL the next rollout checks, and an address for events.
        inbox = n.create_queue("ops")
        p.update_settings(env, EnvironmentSettings(options={
            "aws:elasticbeanstalk:application:Application Healthcheck URL": "/",
            "aws:elasticbeanstalk:sns:topics:Notification Endpoint": inbox.id,
            "aws:elasticbeanstalk:sns:topics:Notification Protocol": "queue",
        }))
        p.update_settings(env, EnvironmentSettings(env_vars={"BROKEN_HEALTH": "1"}))  # /health fails, / is checked
        p.deploy(env, "Second Version")
        assert requests.get(env.url, timeout=10).text.startswith("two ")
        messages = [e.message for e in p.events(environment=env)]
        assert messages.count("Started 2 instance(s) of version 'Second Version'; checking their health on /") == 1
        received = []
        while batch := n.receive_messages(inbox, max_messages=10, wait_seconds=0):
            received += [m.body for m in batch]
        assert "INFO Switched traffic to version 'Second Version'" in received

        logs = p.logs(env, tail=50)
        assert len(logs) == 2 and all(any(line.startswith("GET /") for line in item.lines) for item in logs)
        before = {requests.get(env.url, timeout=10).text for _ in range(12)}
        p.rebuild(env)
        after = {requests.get(env.url, timeout=10).text for _ in range(12)}
        assert len(after) == 2 and not before & after
        assert cloud.loadbalancer.get_load_balancer(lb).health_check.path == "/"  # the changed health URL
        p.terminate_environment(env)
        assert list(cloud.loadbalancer.list_load_balancers()) == []
