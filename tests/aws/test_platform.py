"""Elastic Beanstalk through cloudkit's aws provider, replayed from cassettes (re-record: CLOUDKIT_RECORD=1).

moto's server answers the EB actions it lacks through tests/aws/moto_eb.py, so these cassettes are
real HTTP exchanges that botocore parsed.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import _harness as h
import pytest
from cloudkit_aws.platform import from_option_settings, to_option_settings

import cloudkit
from cloudkit import errors
from cloudkit.models.platform import EnvironmentSettings


def _zip(files: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()


def _bundle_files(cloud: cloudkit.Cloud, source: str) -> dict[str, bytes]:
    bucket, _, key = source.removeprefix("s3://").partition("/")
    with cloud.storage.get_object(bucket, key) as reader:
        data = reader.read()
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_versions_are_uploaded_to_s3_first(aws_cloud: cloudkit.Cloud, aws_cassette: Any, tmp_path: Path) -> None:
    p = aws_cloud.platform
    app = p.create_application("My First App", description="the tour")
    assert (app.name, app.description) == ("My First App", "the tour") and app.created_at is not None
    with pytest.raises(errors.AlreadyExists):
        p.create_application("My First App")

    v1 = p.create_version(app, "Initial Version", source=_zip({"application.py": "print('v1')"}), description="first")
    assert (v1.application, v1.label, v1.description) == ("My First App", "Initial Version", "first")
    assert v1.source and v1.source.startswith("s3://elasticbeanstalk-us-east-1-")
    assert _bundle_files(aws_cloud, v1.source) == {"application.py": b"print('v1')"}

    folder = tmp_path / "site"
    (folder / "static").mkdir(parents=True)
    (folder / "application.py").write_text("print('v2')")
    (folder / "static" / "index.html").write_text("<h1>v2</h1>")
    v2 = p.create_version(app, "Second Version", source=folder)
    assert _bundle_files(aws_cloud, v2.source or "") == {"application.py": b"print('v2')", "static/index.html": b"<h1>v2</h1>"}
    zipped = tmp_path / "v3.zip"
    zipped.write_bytes(_zip({"application.py": "print('v3')"}))
    p.create_version(app, "Third Version", source=zipped)
    assert h.recorded_requests(aws_cassette, method="PUT", path="/elasticbeanstalk-") == 3  # one upload per version

    assert [v.label for v in p.list_versions(app)] == ["Third Version", "Second Version", "Initial Version"]
    with pytest.raises(errors.AlreadyExists):  # refused before anything is uploaded
        p.create_version(app, "Initial Version", source=_zip({"x": "y"}))
    with pytest.raises(errors.NotFound):  # likewise for an unknown application
        p.create_version("No Such App", "v1", source=_zip({"x": "y"}))
    assert h.recorded_requests(aws_cassette, method="PUT", path="/elasticbeanstalk-") == 3

    p.delete_version(app, "Third Version")
    assert [v.label for v in p.list_versions(app)] == ["Second Version", "Initial Version"]
    with pytest.raises(errors.NotFound):
        p.delete_version(app, "Third Version")
    not_zip = tmp_path / "notes.txt"
    not_zip.write_text("no zip")
    with pytest.raises(errors.InvalidInput):
        p.create_version(app, "Bad", source=not_zip)


def test_environment_lifecycle_deploy_settings_events(aws_cloud: cloudkit.Cloud) -> None:
    p = aws_cloud.platform
    app = p.create_application("shop")
    p.create_version(app, "v1", source=_zip({"app.py": "1"}))
    p.create_version(app, "v2", source=_zip({"app.py": "2"}))
    stacks = list(p.list_stacks())
    assert any(s.language and s.language.startswith("python") for s in stacks)

    env = p.create_environment(app, "shop-prod", version="v1", stack="python",
                               settings=EnvironmentSettings(env_vars={"MODE": "prod"}, instance_count=2))
    assert (env.name, env.application, env.status, env.health, env.version) == ("shop-prod", "shop", "ready", "green", "v1")
    assert env.id.startswith("e-") and env.url and env.url.startswith("shop-prod.")
    assert env.stack and "running Python 3" in env.stack and "Amazon Linux 2023" in env.stack
    assert p.get_environment("shop-prod") == p.get_environment(env.id)

    settings = p.get_settings(env)
    assert (dict(settings.env_vars), settings.instance_count) == ({"MODE": "prod"}, 2)

    deployed = p.deploy(env, "v2")
    assert (deployed.version, deployed.status) == ("v2", "ready")
    with pytest.raises(errors.Conflict):
        p.delete_version(app, "v2")  # it runs in shop-prod

    updated = p.update_settings(env, EnvironmentSettings(env_vars={"DEBUG": "0"}, instance_type="t3.small",
                                                         options={"aws:elasticbeanstalk:command:DeploymentPolicy": "Rolling"}))
    assert updated.status == "ready"
    settings = p.get_settings(env)
    assert dict(settings.env_vars) == {"MODE": "prod", "DEBUG": "0"}  # only what was named changed
    assert (settings.instance_count, settings.instance_type) == (2, "t3.small")
    assert settings.options["aws:elasticbeanstalk:command:DeploymentPolicy"] == "Rolling"

    events = list(p.events(environment=env))
    messages = [e.message for e in events]
    assert messages.index("createEnvironment is starting.") < messages.index("Deploying new version to instance(s): v2.")
    assert all(e.environment == "shop-prod" for e in events)
    assert [e.timestamp for e in events] == sorted(e.timestamp for e in events)
    app_events = [e.message for e in p.events(application=app)]
    assert "Created new Application Version: v1." in app_events

    done = p.terminate_environment(env)
    assert done.status == "terminated"
    assert [e.name for e in p.list_environments(app)] == []
    assert [e.status for e in p.list_environments(app, include_terminated=True)] == ["terminated"]
    with pytest.raises(errors.NotFound):
        p.deploy("shop-prod", "v1")


def test_templates_and_blue_green_swap(aws_cloud: cloudkit.Cloud) -> None:
    p = aws_cloud.platform
    app = p.create_application("blog")
    p.create_version(app, "v1", source=_zip({"app.py": "1"}))
    blue = p.create_environment(app, "blog-blue", version="v1", stack="node.js",
                                settings=EnvironmentSettings(env_vars={"COLOR": "blue"}))
    assert blue.stack and "Node.js" in blue.stack

    from_env = p.create_template(app, "from-blue", environment=blue, description="copied")
    assert (from_env.name, from_env.stack, from_env.description) == ("from-blue", blue.stack, "copied")
    assert dict(from_env.settings.env_vars) == {"COLOR": "blue"}
    sized = p.create_template(app, "sized", stack="python 3.12",
                              settings=EnvironmentSettings(instance_count=3, instance_type="m5.large"))
    assert sized.stack and sized.stack.endswith("running Python 3.12")
    assert (sized.settings.instance_count, sized.settings.instance_type) == (3, "m5.large")
    assert sorted(t.name for t in p.list_templates(app)) == ["from-blue", "sized"]

    green = p.create_environment(app, "blog-green", version="v1", template="from-blue")
    assert dict(p.get_settings(green).env_vars) == {"COLOR": "blue"}
    blue_url, green_url = blue.url, green.url
    p.swap_urls(blue, green)
    assert (p.get_environment(blue).url, p.get_environment(green).url) == (green_url, blue_url)
    events = [e.message for e in p.events(environment=green)]
    assert any("swapping CNAMEs" in m for m in events)

    p.delete_template(app, "sized")
    assert [t.name for t in p.list_templates(app)] == ["from-blue"]
    with pytest.raises(errors.NotFound):
        p.delete_template(app, "sized")

    with pytest.raises(errors.Conflict):
        p.delete_application(app)  # two environments run
    p.delete_application(app, terminate_environments=True)
    with pytest.raises(errors.NotFound):
        p.get_application("blog")
    assert {e.status for e in p.list_environments(include_terminated=True)} == {"terminated"}


def test_follow_streams_events_of_an_environment_being_launched(aws_cloud: cloudkit.Cloud) -> None:
    p = aws_cloud.platform
    app = p.create_application("stream")
    p.create_version(app, "v1", source=_zip({"app.py": "1"}))
    env = p.create_environment(app, "stream-env", version="v1", stack="go", wait=False)
    assert env.status == "launching"
    stream = p.events(environment=env, follow=True, timeout=60)
    seen = []
    for event in stream:
        seen.append(event.message)
        if event.message == "createEnvironment completed successfully.":
            break
    stream.close()  # type: ignore[attr-defined]
    assert seen == ["createEnvironment is starting.", "createEnvironment completed successfully."]
    assert p.get_environment(env).status == "ready"


def test_missing_things_and_bad_input(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    p = aws_cloud.platform
    bad = [
        (lambda: p.create_environment("app", "x", version="v1", stack="python"), "name"),
        (lambda: p.create_environment("app", "-bad-name", version="v1", stack="python"), "name"),
        (lambda: p.create_environment("app", "good-name", version="v1"), "stack"),
        (lambda: p.create_version("app", "v1", source=b"not a zip"), "source"),
        (lambda: p.create_version("app", "a/b", source=_zip({"x": "y"})), "label"),
        (lambda: p.update_settings("e-abc", EnvironmentSettings(env_vars={"1BAD": "x"})), "settings.env_vars"),
        (lambda: p.update_settings("e-abc", EnvironmentSettings(instance_count=0)), "settings.instance_count"),
        (lambda: p.update_settings("e-abc", EnvironmentSettings(options={"nocolon": "x"})), "settings.options"),
        (lambda: p.create_template("app", "t"), "environment"),
    ]
    for call, field in bad:
        with pytest.raises(errors.InvalidInput) as err:
            call()
        assert err.value.field == field
    assert h.recorded_requests(aws_cassette) == 0

    with pytest.raises(errors.NotFound) as missing:
        p.get_application("nope")
    assert missing.value.provider == "aws"
    with pytest.raises(errors.NotFound):
        p.get_environment("e-doesnotexist")
    with pytest.raises(errors.NotFound):
        p.get_environment("no-such-env")
    with pytest.raises(errors.NotFound) as no_app:
        p.create_environment("nope", "some-env", version="v1", stack="python")
    assert type(no_app.value.__cause__).__module__.startswith("botocore")
    app = p.create_application("errs")
    with pytest.raises(errors.InvalidInput) as no_stack:
        p.create_environment(app, "errs-env", version="v1", stack="cobol")
    assert no_stack.value.field == "stack"
    with pytest.raises(errors.NotFound):
        p.create_environment(app, "errs-env", version="v9", stack="python")


def test_option_settings_round_trip() -> None:
    s = EnvironmentSettings(env_vars={"A": "1"}, instance_count=4, instance_type="t3.large",
                            options={"aws:elasticbeanstalk:command:Timeout": "600", "aws:elb:listener:80:ListenerEnabled": "true"})
    options = to_option_settings(s)
    assert {"Namespace": "aws:elasticbeanstalk:command", "OptionName": "Timeout", "Value": "600"} in options
    assert {"Namespace": "aws:elb:listener:80", "OptionName": "ListenerEnabled", "Value": "true"} in options
    assert from_option_settings(options) == s.with_scaling(4, 4)
    uneven = from_option_settings([{"Namespace": "aws:autoscaling:asg", "OptionName": "MinSize", "Value": "1"},
                                   {"Namespace": "aws:autoscaling:asg", "OptionName": "MaxSize", "Value": "4"},
                                   {"Namespace": "aws:x", "OptionName": "NoValue"}])
    assert (uneven.instance_count, uneven.min_instances, uneven.max_instances) == (1, 1, 4)  # not None: the minimum
    assert dict(uneven.options) == {}
    ranged = to_option_settings(EnvironmentSettings(min_instances=2, max_instances=6))
    assert ranged == [{"Namespace": "aws:autoscaling:asg", "OptionName": "MinSize", "Value": "2"},
                      {"Namespace": "aws:autoscaling:asg", "OptionName": "MaxSize", "Value": "6"}]
    assert to_option_settings(EnvironmentSettings(max_instances=3)) == [
        {"Namespace": "aws:autoscaling:asg", "OptionName": "MaxSize", "Value": "3"}]
    assert from_option_settings(ranged) == EnvironmentSettings(instance_count=2, min_instances=2, max_instances=6)
    both = to_option_settings(EnvironmentSettings(min_instances=2, options={"aws:autoscaling:asg:MinSize": "5",
                                                                           "aws:autoscaling:asg:MaxSize": "7"}))
    assert both == [{"Namespace": "aws:autoscaling:asg", "OptionName": "MinSize", "Value": "2"},
                    {"Namespace": "aws:autoscaling:asg", "OptionName": "MaxSize", "Value": "7"}]


def test_busy_environment_and_deployed_version_errors_are_conflicts(aws_cloud: cloudkit.Cloud) -> None:
    from cloudkit_aws.errors import mapped

    p = aws_cloud.platform
    app = p.create_application("busy")
    p.create_version(app, "v1", source=_zip({"app.py": "1"}))
    p.create_version(app, "v2", source=_zip({"app.py": "2"}))
    env = p.create_environment(app, "busy-env", version="v1", stack="python")
    rolling = p.deploy(env, "v2", wait=False)
    assert rolling.status == "updating"
    # Elastic Beanstalk's own refusals, straight from the API, land in the error table as Conflict.
    with pytest.raises(errors.Conflict) as busy, mapped("platform.deploy"):
        p.eb.update_environment(EnvironmentId=env.id, VersionLabel="v1")
    assert busy.value.code == "InvalidParameterValue"
    with pytest.raises(errors.Conflict), mapped("platform.delete_version"):
        p.eb.delete_application_version(ApplicationName="busy", VersionLabel="v2")
    assert p.get_environment(env).status == "ready"  # the deploy finished in the meantime
    assert p.deploy(env, "v1").version == "v1"


def test_logs_bundle_and_rebuild(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    p = aws_cloud.platform
    app = p.create_application("logs")
    p.create_version(app, "v1", source=_zip({"app.py": "1"}))
    env = p.create_environment(app, "logs-env", version="v1", stack="python", settings=EnvironmentSettings(instance_count=2))

    logs = p.logs(env, tail=3)
    assert len(logs) == 2 and all(item.instance.startswith("i-") for item in logs)
    assert [item.instance for item in logs] == sorted(item.instance for item in logs)
    for item in logs:
        assert len(item.lines) == 3 and item.text.endswith("\n")
        assert item.lines[-2].endswith("web[1]: createEnvironment completed successfully.")
        assert item.lines[-1].endswith("web[1]: requestEnvironmentInfo is starting.")
        assert item.timestamp.tzinfo is not None and "Message" not in item.extra  # the URL is not kept
    assert h.recorded_requests(aws_cassette, action="RequestEnvironmentInfo") == 1
    assert h.recorded_requests(aws_cassette, method="GET", path="/elasticbeanstalk-") == 2  # one download per instance
    whole = p.logs(env.name, tail=10_000)
    assert {item.instance for item in whole} == {item.instance for item in logs}
    assert any(line == "/var/log/eb-engine.log" for line in whole[0].lines)

    bundle = zipfile.ZipFile(io.BytesIO(p.log_bundle(env)))
    assert sorted(bundle.namelist()) == sorted(f"{item.instance}/{path}" for item in logs
                                               for path in ("var/log/eb-engine.log", "var/log/web.stdout.log"))

    rebuilt = p.rebuild(env)
    assert (rebuilt.status, rebuilt.version, rebuilt.url) == ("ready", "v1", env.url)
    messages = [e.message for e in p.events(environment=env)]
    assert messages.index("rebuildEnvironment is starting.") < messages.index("rebuildEnvironment completed successfully.")
    after = p.logs(env, tail=1)
    assert not {item.instance for item in after} & {item.instance for item in logs}, "every instance was replaced"

    with pytest.raises(errors.InvalidInput) as bad:
        p.logs(env, tail=0)
    assert bad.value.field == "tail"
    p.terminate_environment(env)
    with pytest.raises(errors.NotFound):
        p.logs(env)
    with pytest.raises(errors.NotFound):
        p.rebuild(env)
    by_name = [e.message for e in p.events(environment="logs-env")]  # a terminated environment, found by name
    assert by_name[-1] == "terminateEnvironment completed successfully."


def test_walkthrough(aws_cloud: cloudkit.Cloud) -> None:
    """The Elastic Beanstalk walkthrough as the local test runs it, on moto: the same calls, EB's own results."""
    p = aws_cloud.platform
    app = p.create_application("My First App")
    config = "option_settings:\n  aws:elasticbeanstalk:application:environment:\n    GREETING: hello-from-the-bundle\n"
    p.create_version(app, "Initial Version", source=_zip({"application.py": "1", ".ebextensions/options.config": config}))
    p.create_version(app, "Second Version", source=_zip({"application.py": "2", ".ebextensions/options.config": config}))
    env = p.create_environment(app, "Default-Environment", version="Initial Version", stack="python",
                               settings=EnvironmentSettings(min_instances=2, max_instances=4, options={
                                   "aws:elb:loadbalancer:LoadBalancerHTTPPort": "8080"}))
    s = p.get_settings(env)
    assert (s.instance_count, s.min_instances, s.max_instances) == (2, 2, 4)
    assert s.options["aws:elb:loadbalancer:LoadBalancerHTTPPort"] == "8080"  # the load balancer port passes through
    p.update_settings(env, EnvironmentSettings(options={
        "aws:elasticbeanstalk:application:Application Healthcheck URL": "/",
        "aws:elasticbeanstalk:sns:topics:Notification Endpoint": "ops@example.com",
    }))
    options = p.get_settings(env).options
    assert options["aws:elasticbeanstalk:sns:topics:Notification Endpoint"] == "ops@example.com"
    assert options["aws:elasticbeanstalk:application:Application Healthcheck URL"] == "/"
    assert p.deploy(env, "Second Version").version == "Second Version"
    logs = p.logs(env, tail=5)
    assert len(logs) == 2
    assert p.rebuild(env).status == "ready"
    assert {i.instance for i in p.logs(env, tail=1)}.isdisjoint({i.instance for i in logs})
    messages = [e.message for e in p.events(environment=env)]
    assert "rebuildEnvironment completed successfully." in messages
    p.delete_application(app, terminate_environments=True)
