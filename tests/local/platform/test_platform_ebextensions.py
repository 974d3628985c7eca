"""``.ebextensions/*.config`` on the local platform: options and properties applied, commands run, the rest refused."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from platform_helpers import bundle  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import InvalidInput, ProviderError
from cloudkit.models.platform import EnvironmentSettings
from cloudkit.services.platform import PlatformService

APP = '''import os


def application(environ, start_response):
    if environ["PATH_INFO"] == "/health" and not os.path.exists("built.txt"):
        start_response("500 Internal Server Error", [])
        return [b"not built"]
    with open("built.txt") as fh:
        built = fh.read().strip()
    body = "built=%s greeting=%s mode=%s" % (built, os.environ.get("GREETING"), os.environ.get("MODE"))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
'''

ENV_CONFIG = """
option_settings:
  - namespace: aws:elasticbeanstalk:application:environment
    option_name: GREETING
    value: from-ebextensions
  - namespace: aws:elasticbeanstalk:application:environment
    option_name: MODE
    value: ebext-mode
"""

COMMANDS_CONFIG = """
commands:
  01_skipped:
    command: echo should not run > skipped.txt
    test: "false"
container_commands:
  02_build:
    command: echo "$GREETING-$STEP" > built.txt
    env:
      STEP: two
    leader_only: true
  01_first:
    command: ["/bin/sh", "-c", "echo first > first.txt"]
"""


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[PlatformService]:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:
        cloud.platform.create_application("ext")
        yield cloud.platform
        for env in cloud.platform.list_environments():
            cloud.platform.terminate_environment(env)


def test_options_properties_and_commands_are_applied(platform: PlatformService) -> None:
    files = {
        "application.py": APP,
        ".ebextensions/01-env.config": ENV_CONFIG,
        ".ebextensions/02-health.config": json.dumps(
            {"option_settings": {"aws:elasticbeanstalk:application": {"Application Healthcheck URL": "/health"}}}),
        ".ebextensions/03-commands.config": COMMANDS_CONFIG,
    }
    platform.create_version("ext", "v1", source=bundle(files))
    env = platform.create_environment("ext", "ext-prod", version="v1", stack="python",
                                      settings=EnvironmentSettings(env_vars={"MODE": "api-mode"}))
    assert env.url is not None
    assert requests.get(env.url, timeout=10).text == "built=from-ebextensions-two greeting=from-ebextensions mode=api-mode"
    messages = [e.message for e in platform.events(environment=env)]
    assert "Skipped commands '01_skipped' of .ebextensions/03-commands.config: its test did not pass" in messages
    ran = [m for m in messages if m.startswith("Ran container_commands")]
    assert ran == ["Ran container_commands '01_first' of .ebextensions/03-commands.config",
                   "Ran container_commands '02_build' of .ebextensions/03-commands.config"], "in name order"
    assert any(m.startswith("Started 1 instance(s) of version 'v1'; checking their health on /health") for m in messages)
    settings = platform.get_settings(env)
    assert dict(settings.env_vars) == {"MODE": "api-mode"}, "the API's settings are what get_settings reports"


def test_a_failing_command_fails_the_deploy_and_rolls_back(platform: PlatformService) -> None:
    good = {"application.py": APP, ".ebextensions/build.config": "container_commands:\n  build:\n    command: echo ok > built.txt\n"}
    platform.create_version("ext", "good", source=bundle(good))
    broken = {"application.py": APP, ".ebextensions/build.config":
              "container_commands:\n  a_warn:\n    command: exit 4\n    ignoreErrors: true\n"
              "  b_build:\n    command: echo broken >&2; exit 3\n"}
    platform.create_version("ext", "broken", source=bundle(broken))
    env = platform.create_environment("ext", "ext-fail", version="good", stack="python")
    assert env.url is not None
    with pytest.raises(ProviderError) as info:
        platform.deploy(env, "broken")
    assert info.value.code == "CommandFailed"
    assert "container_commands 'b_build' of .ebextensions/build.config failed with status 3: broken" in str(info.value)
    assert requests.get(env.url, timeout=10).text.startswith("built=ok"), "the old version still serves"
    events = list(platform.events(environment=env))
    assert any(e.severity == "WARN" and "'a_warn'" in e.message and "status 4" in e.message for e in events)
    assert any(e.severity == "ERROR" and e.message.startswith("A configuration command failed for version 'broken'")
               for e in events)
    assert platform.get_environment(env).version == "good"


@pytest.mark.parametrize(("config", "field"), [
    ("packages:\n  yum:\n    git: []\n", "source['.ebextensions/x.config']['packages']"),
    ("files:\n  /etc/x:\n    content: y\n", "source['.ebextensions/x.config']['files']"),
    ("commands:\n  a:\n    command: true\n    waitAfterCompletion: 0\n",
     "source['.ebextensions/x.config']['commands']['a']['waitAfterCompletion']"),
    ("container_commands:\n  a:\n    command: echo\n    cwd: /etc\n", "source['.ebextensions/x.config']['container_commands']['a']['cwd']"),
    ("option_settings:\n  - namespace: aws:autoscaling:launchconfiguration\n    option_name: EC2KeyName\n    value: k\n",
     "source[.ebextensions].options['aws:autoscaling:launchconfiguration:EC2KeyName']"),
    ("option_settings:\n  aws:autoscaling:asg:\n    MinSize: 2\n",
     "source['.ebextensions/x.config']['option_settings']['aws:autoscaling:asg:MinSize']"),
    ("option_settings:\n  - namespace: aws:elasticbeanstalk:environment\n    option_name: X\n    value: y\n"
     "    resource_name: AWSEBAutoScalingGroup\n",
     "source['.ebextensions/x.config']['option_settings'][0]['resource_name']"),
    ("option_settings:\n  aws:elasticbeanstalk:sns:topics:\n    Notification Endpoint: ops@example.com\n",
     "source['.ebextensions/x.config']['option_settings']['aws:elasticbeanstalk:sns:topics:Notification Endpoint']"),
    ("[unclosed", "source['.ebextensions/x.config']"),
    ("- just\n- a list\n", "source['.ebextensions/x.config']"),
])
def test_keys_the_local_provider_cannot_honour_are_refused_at_create_version(
    platform: PlatformService, config: str, field: str,
) -> None:
    with pytest.raises(InvalidInput) as err:
        platform.create_version("ext", "bad", source=bundle({"application.py": APP, ".ebextensions/x.config": config}))
    assert err.value.field == field
    assert [v.label for v in platform.list_versions("ext")] == []


def test_files_outside_the_top_level_folder_are_not_configuration(platform: PlatformService) -> None:
    odd = {"application.py": APP, "sub/.ebextensions/x.config": "packages: {}\n", ".ebextensions/readme.txt": "packages"}
    assert platform.create_version("ext", "odd", source=bundle(odd)).label == "odd"
