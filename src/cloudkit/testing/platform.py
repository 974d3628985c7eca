"""The platform conformance suite: applications, versions, environments, deploys, templates, events.

Subclass :class:`PlatformConformance` in a provider's tests (with a ``cloudkit_cloud`` fixture), or
run ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. It follows the Elastic Beanstalk
model; an operation the provider's capabilities exclude is skipped with that reason. Every
environment a test launches is terminated and every application deleted when the test ends.

Class attributes a provider may set:

``stack``
    The stack environments run on (default: the first listed stack whose name mentions Python).
``serves_http``
    Whether environment URLs answer HTTP in the test run (true for providers that really run the
    application; false where the cloud is simulated). When true the suite fetches the page and
    checks that a deploy changes it.
"""

from __future__ import annotations

import io
import time
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models.platform import EnvironmentSettings, InstanceLog
from cloudkit.services.platform import PlatformService
from cloudkit.testing.helpers import Conformance, requires, unique_name

APP_TEMPLATE = '''import os


def application(environ, start_response):
    body = "{text} greeting=" + os.environ.get("GREETING", "none") + "\\n"
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [body.encode()]
'''


def sample_app(text: str) -> bytes:
    """A zipped WSGI application (``application.py``) whose page says ``text``.

    The archive is reproducible (a fixed time stamp): the same ``text`` gives the same bytes.
    """
    buf = io.BytesIO()
    entry = zipfile.ZipInfo("application.py", date_time=(2020, 1, 1, 0, 0, 0))
    entry.external_attr = 0o644 << 16
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr(entry, APP_TEMPLATE.replace("{text}", text))
    return buf.getvalue()


def fetch(url: str, timeout: float = 10) -> str:
    """GET ``url`` and return the body as text."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


class PlatformConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.PlatformService`."""

    stack: ClassVar[str | None] = None
    serves_http: ClassVar[bool] = False

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def platform(self, cloudkit_cloud: Cloud) -> PlatformService:
        """The platform service under test."""
        return cloudkit_cloud.platform

    @pytest.fixture
    def app(self, cloudkit_cloud: Cloud, platform: PlatformService) -> Iterator[str]:
        """A fresh application, deleted (with its environments) after the test."""
        requires(cloudkit_cloud, "platform", "create_application", "delete_application")
        name = unique_name("app")
        platform.create_application(name, description="conformance")
        yield name
        try:
            platform.delete_application(name, terminate_environments=True)
        except CloudkitError:
            pass

    def _stack(self, platform: PlatformService) -> str:
        if self.stack:
            return self.stack
        stacks = [s.name for s in platform.list_stacks()]
        python = [s for s in stacks if "python" in s.lower()]
        return (python or stacks)[0]

    # ------------------------------------------------------------ capabilities
    def test_capabilities_are_known_operations(self, platform: PlatformService) -> None:
        caps = platform.capabilities()
        assert caps <= set(PlatformService.OPERATIONS)
        for op in PlatformService.OPERATIONS:
            assert platform.supports(op) == (op in caps)

    def test_stacks(self, cloudkit_cloud: Cloud, platform: PlatformService) -> None:
        requires(cloudkit_cloud, "platform", "list_stacks")
        assert any(s.name for s in platform.list_stacks())

    # ------------------------------------------------------------ applications and versions
    def test_application_life_cycle(self, cloudkit_cloud: Cloud, platform: PlatformService) -> None:
        requires(cloudkit_cloud, "platform", "create_application", "get_application", "list_applications",
                 "delete_application")
        name = unique_name("app")
        created = platform.create_application(name, description="first")
        assert created.name == name
        try:
            assert platform.get_application(name).description == "first"
            assert name in {a.name for a in platform.list_applications()}
            with pytest.raises(AlreadyExists):
                platform.create_application(name)
        finally:
            platform.delete_application(name)
        with pytest.raises(NotFound):
            platform.get_application(name)

    def test_versions(self, cloudkit_cloud: Cloud, platform: PlatformService, app: str, tmp_path: Path) -> None:
        requires(cloudkit_cloud, "platform", "create_version", "list_versions", "delete_version")
        folder = tmp_path / "site"
        folder.mkdir()
        (folder / "application.py").write_text(APP_TEMPLATE.replace("{text}", "from a folder"))
        archive = tmp_path / "site.zip"
        archive.write_bytes(sample_app("from a zip"))
        platform.create_version(app, "v1", source=folder, description="folder")
        platform.create_version(app, "v2", source=archive)
        platform.create_version(app, "v3", source=sample_app("from bytes"))
        labels = [v.label for v in platform.list_versions(app)]
        assert labels[:3] == ["v3", "v2", "v1"]
        with pytest.raises(AlreadyExists):
            platform.create_version(app, "v1", source=archive)
        platform.delete_version(app, "v2")
        assert [v.label for v in platform.list_versions(app)] == ["v3", "v1"]

    # ------------------------------------------------------------ environments
    def test_environment_deploy_settings_and_events(self, cloudkit_cloud: Cloud, platform: PlatformService, app: str) -> None:
        requires(cloudkit_cloud, "platform", "create_version", "create_environment", "get_environment", "deploy",
                 "events", "terminate_environment", "list_environments", "update_settings", "get_settings")
        platform.create_version(app, "one", source=sample_app("page one"))
        platform.create_version(app, "two", source=sample_app("page two"))
        name = unique_name("env")
        env = platform.create_environment(app, name, version="one", stack=self._stack(platform),
                                          settings=EnvironmentSettings(env_vars={"GREETING": "hello"}))
        assert env.name == name and env.application == app
        assert env.status == "ready" and env.version == "one"
        assert env.url
        if self.serves_http:
            assert fetch(env.url) == "page one greeting=hello\n"
        assert platform.get_environment(env.id).name == name
        assert platform.get_environment(name).id == env.id
        assert env.id in {e.id for e in platform.list_environments(app)}
        with pytest.raises(AlreadyExists):
            platform.create_environment(app, name, version="one", stack=self._stack(platform))

        deployed = platform.deploy(env, "two")
        assert deployed.version == "two" and deployed.status == "ready"
        assert deployed.url == env.url, "the environment URL stays the same across deploys"
        if self.serves_http:
            assert fetch(env.url) == "page two greeting=hello\n"

        platform.update_settings(env, EnvironmentSettings(env_vars={"GREETING": "bonjour"}))
        assert platform.get_settings(env).env_vars["GREETING"] == "bonjour"
        if self.serves_http:
            assert fetch(env.url) == "page two greeting=bonjour\n"

        events = list(platform.events(environment=env))
        assert events, "a launch and a deploy record events"
        stamps = [e.timestamp for e in events]
        assert stamps == sorted(stamps)
        assert any("two" in (e.version or "") or "two" in e.message for e in events)

        with pytest.raises(Conflict):
            platform.delete_version(app, "two")
        with pytest.raises(Conflict):
            platform.delete_application(app)
        done = platform.terminate_environment(env)
        assert done.status == "terminated"
        assert env.id not in {e.id for e in platform.list_environments(app)}
        assert env.id in {e.id for e in platform.list_environments(app, include_terminated=True)}

    def test_templates_and_swap_urls(self, cloudkit_cloud: Cloud, platform: PlatformService, app: str) -> None:
        requires(cloudkit_cloud, "platform", "create_version", "create_environment", "create_template", "list_templates",
                 "delete_template", "swap_urls", "terminate_environment")
        platform.create_version(app, "blue", source=sample_app("blue"))
        platform.create_version(app, "green", source=sample_app("green"))
        stack = self._stack(platform)
        blue = platform.create_environment(app, unique_name("blue"), version="blue", stack=stack,
                                           settings=EnvironmentSettings(env_vars={"GREETING": "tpl"}))
        tpl = platform.create_template(app, "saved", environment=blue, description="from blue")
        assert tpl.name == "saved" and tpl.settings.env_vars.get("GREETING") == "tpl"
        assert "saved" in {t.name for t in platform.list_templates(app)}
        green = platform.create_environment(app, unique_name("green"), version="green", template="saved")
        assert platform.get_settings(green).env_vars.get("GREETING") == "tpl"
        blue_url, green_url = blue.url, green.url
        platform.swap_urls(blue, green)
        assert platform.get_environment(blue).url == green_url
        assert platform.get_environment(green).url == blue_url
        if self.serves_http:
            time.sleep(0.05)
            assert fetch(str(blue_url)).startswith("green")
            assert fetch(str(green_url)).startswith("blue")
        platform.terminate_environment(blue)
        platform.terminate_environment(green)
        platform.delete_template(app, "saved")
        assert "saved" not in {t.name for t in platform.list_templates(app)}

    def test_scaling_settings_read_back_as_one_model(self, cloudkit_cloud: Cloud, platform: PlatformService, app: str) -> None:
        requires(cloudkit_cloud, "platform", "create_version", "create_environment", "get_settings", "update_settings",
                 "terminate_environment")
        platform.create_version(app, "v1", source=sample_app("scaled"))
        env = platform.create_environment(app, unique_name("scale"), version="v1", stack=self._stack(platform),
                                          settings=EnvironmentSettings(min_instances=1, max_instances=2))

        def counts() -> tuple[int | None, int | None, int | None]:
            s = platform.get_settings(env)
            return s.instance_count, s.min_instances, s.max_instances

        assert counts() == (1, 1, 2), "instance_count reads back as the minimum"
        platform.update_settings(env, EnvironmentSettings(instance_count=2))
        assert counts() == (2, 2, 2), "instance_count alone is a fixed size"
        platform.update_settings(env, EnvironmentSettings(max_instances=3))
        assert counts() == (2, 2, 3), "an update changes only what it names"
        with pytest.raises(InvalidInput):
            platform.update_settings(env, EnvironmentSettings(min_instances=3, max_instances=2))
        platform.terminate_environment(env)

    def test_logs_and_rebuild(self, cloudkit_cloud: Cloud, platform: PlatformService, app: str) -> None:
        requires(cloudkit_cloud, "platform", "create_version", "create_environment", "logs", "log_bundle", "rebuild",
                 "terminate_environment")
        platform.create_version(app, "v1", source=sample_app("logged"))
        env = platform.create_environment(app, unique_name("logs"), version="v1", stack=self._stack(platform),
                                          settings=EnvironmentSettings(instance_count=1))
        logs = platform.logs(env, tail=5)
        assert logs and all(isinstance(item, InstanceLog) for item in logs)
        for item in logs:
            assert item.instance and len(item.lines) <= 5
            assert item.text == "" or item.text.endswith("\n")
        assert {i.instance for i in platform.logs(env.id, tail=5)} == {i.instance for i in logs}
        with zipfile.ZipFile(io.BytesIO(platform.log_bundle(env.name))) as bundle:
            names = bundle.namelist()
        assert names and {n.split("/", 1)[0] for n in names} >= {i.instance for i in logs}

        rebuilt = platform.rebuild(env)
        assert (rebuilt.id, rebuilt.status, rebuilt.version, rebuilt.url) == (env.id, "ready", "v1", env.url)
        assert platform.rebuild(env.id).status == "ready"
        if self.serves_http:
            assert fetch(str(env.url)) == "logged greeting=none\n"
        platform.terminate_environment(env)
        with pytest.raises(NotFound):
            platform.logs(env.id)
        with pytest.raises(NotFound):
            platform.rebuild(env.id)

    def test_missing_things(self, cloudkit_cloud: Cloud, platform: PlatformService, app: str) -> None:
        requires(cloudkit_cloud, "platform", "get_environment", "create_environment")
        with pytest.raises(NotFound):
            platform.get_environment("e-doesnotexist")
        with pytest.raises(NotFound):
            platform.create_environment(app, unique_name("env"), version="no-such-version", stack=self._stack(platform))

    # ------------------------------------------------------------ bad input
    def test_bad_input_is_rejected_before_any_call(self, platform: PlatformService, tmp_path: Path) -> None:
        with pytest.raises(InvalidInput, match="name"):
            platform.create_application("bad/name")
        with pytest.raises(InvalidInput, match="source"):
            platform.create_version("app", "v1", source=b"not a zip")
        with pytest.raises(InvalidInput, match="source"):
            platform.create_version("app", "v1", source=tmp_path / "missing.zip")
        with pytest.raises(InvalidInput, match="name"):
            platform.create_environment("app", "x", version="v1", stack="python")
        with pytest.raises(InvalidInput, match="stack"):
            platform.create_environment("app", "good-env", version="v1")
        with pytest.raises(InvalidInput, match="env_vars"):
            platform.create_environment("app", "good-env", version="v1", stack="python",
                                        settings=EnvironmentSettings(env_vars={"1BAD": "x"}))
        with pytest.raises(InvalidInput, match="instance_count"):
            platform.create_environment("app", "good-env", version="v1", stack="python",
                                        settings=EnvironmentSettings(instance_count=0))
        with pytest.raises(InvalidInput, match="max_instances"):
            platform.update_settings("good-env", EnvironmentSettings(min_instances=3, max_instances=2))
        with pytest.raises(InvalidInput, match="instance_count"):
            platform.update_settings("good-env", EnvironmentSettings(instance_count=2, min_instances=1))
        with pytest.raises(InvalidInput, match="min_instances"):
            platform.update_settings("good-env", EnvironmentSettings(min_instances=101))
        with pytest.raises(InvalidInput, match="tail"):
            platform.logs("good-env", tail=0)
        with pytest.raises(InvalidInput, match="tail"):
            platform.logs("good-env", tail=10_001)
        with pytest.raises(InvalidInput, match="environment"):
            platform.rebuild("")
