"""The platform family: applications, versions, environments, deploys (the Elastic Beanstalk model)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.models.platform import (
    Application,
    AppVersion,
    ConfigurationTemplate,
    Environment,
    EnvironmentSettings,
    Event,
    InstanceLog,
    Stack,
)
from cloudkit.refs import AppRef, EnvRef, StackRef, TemplateRef, VersionRef, optional_ref, ref
from cloudkit.services.base import Service, operation


def _app(application: object) -> str:
    return ref(application, "application", Application)


def _env(environment: object, field: str = "environment") -> str:
    return ref(environment, field, Environment)


def _version(version: object, application: str | None = None) -> str:
    return ref(version, "version", AppVersion, within=application)


def _settings(value: object, field: str = "settings") -> EnvironmentSettings | None:
    if value is None:
        return None
    if not isinstance(value, EnvironmentSettings):
        raise InvalidInput(field, "must be an EnvironmentSettings")
    for name, val in value.env_vars.items():
        v.env_var_name(name, f"{field}.env_vars")
        if not isinstance(val, str):
            raise InvalidInput(f"{field}.env_vars[{name!r}]", "must be a string")
        v.unicode_text(f"{field}.env_vars[{name!r}]", val)
    for name in ("instance_count", "min_instances", "max_instances"):
        if getattr(value, name) is not None:
            v.int_range(f"{field}.{name}", getattr(value, name), 1, 100)
    count, low, high = value.instance_count, value.min_instances, value.max_instances
    if count is not None and low is not None and count != low:
        raise InvalidInput(f"{field}.instance_count", f"must equal min_instances when both are given (got {count} and {low})")
    low = low if low is not None else count
    if low is not None and high is not None and low > high:
        raise InvalidInput(f"{field}.max_instances", f"must not be less than min_instances (got {high} < {low})")
    for key, val in value.options.items():
        if not isinstance(key, str) or key.count(":") < 1:
            raise InvalidInput(f"{field}.options", f"{key!r} must be 'namespace:option'")
        v.reference(f"{field}.options", key, max_len=256)
        if not isinstance(val, str):
            raise InvalidInput(f"{field}.options[{key!r}]", "must be a string")
        v.unicode_text(f"{field}.options[{key!r}]", val)
    return value


class PlatformService(Service):
    """Run applications without managing servers: upload versions, launch environments, deploy.

    Deploys and environment launches wait by default and raise ``Timeout`` when ``timeout`` passes;
    :meth:`events` reports what happened (and streams with ``follow=True``).
    """

    family: ClassVar[str] = "platform"

    # ---------------------------------------------------------------- applications
    @operation()
    def create_application(self, name: str, *, description: str | None = None) -> Application:
        """Create an application. Raises ``AlreadyExists``."""
        return self._create_application(v.application_name(name, "name"), v.optional_text("description", description, max_len=200))

    @operation()
    def get_application(self, application: AppRef) -> Application:
        """An application by name, or ``NotFound``."""
        return self._get_application(_app(application))

    @operation()
    def list_applications(self) -> Iterator[Application]:
        """All applications."""
        return self._list_applications()

    @operation()
    def delete_application(self, application: AppRef, *, terminate_environments: bool = False) -> None:
        """Delete an application with its versions; running environments raise ``Conflict`` unless terminated."""
        self._delete_application(_app(application), terminate_environments)

    # ---------------------------------------------------------------- versions
    @operation()
    def create_version(
        self, application: AppRef, label: str, *, source: str | os.PathLike[str] | bytes, description: str | None = None
    ) -> AppVersion:
        """Upload a version: ``source`` is a zip file, a folder (zipped for you) or zip bytes."""
        if isinstance(source, (str, os.PathLike)):
            v.require_str("source", os.fspath(source))
            p = Path(source)
            if not p.exists():
                raise InvalidInput("source", f"{str(p)!r} does not exist")
            src: Path | bytes = p
        elif isinstance(source, bytes):
            if not source.startswith(b"PK"):
                raise InvalidInput("source", "bytes must be a zip archive")
            src = source
        else:
            raise InvalidInput("source", "must be a path to a zip or folder, or zip bytes")
        return self._create_version(
            _app(application), v.version_label(label, "label"), src, v.optional_text("description", description, max_len=200)
        )

    @operation()
    def list_versions(self, application: AppRef) -> Iterator[AppVersion]:
        """Versions of an application, newest first."""
        return self._list_versions(_app(application))

    @operation()
    def delete_version(self, application: AppRef, version: VersionRef) -> None:
        """Delete a version that no environment runs."""
        app = _app(application)
        self._delete_version(app, _version(version, app))

    @operation()
    def list_stacks(self) -> Iterator[Stack]:
        """Platforms environments can run on."""
        return self._list_stacks()

    # ---------------------------------------------------------------- environments
    @operation()
    def create_environment(
        self,
        application: AppRef,
        name: str,
        *,
        version: VersionRef,
        stack: StackRef | None = None,
        template: TemplateRef | None = None,
        settings: EnvironmentSettings | None = None,
        wait: bool = True,
        timeout: float = 900,
    ) -> Environment:
        """Launch an environment running ``version`` on ``stack`` (or on a saved ``template``)."""
        if stack is None and template is None:
            raise InvalidInput("stack", "give a stack or a template")
        app = _app(application)
        return self._create_environment(
            app,
            v.environment_name(name, "name"),
            version=_version(version, app),
            stack=optional_ref(stack, "stack", Stack),
            template=optional_ref(template, "template", ConfigurationTemplate, within=app),
            settings=_settings(settings),
            wait=wait,
            timeout=v.timeout(timeout),
        )

    @operation()
    def get_environment(self, environment: EnvRef) -> Environment:
        """An environment by id or name, or ``NotFound``."""
        return self._get_environment(_env(environment))

    @operation()
    def list_environments(self, application: AppRef | None = None, *, include_terminated: bool = False) -> Iterator[Environment]:
        """Environments (of one application)."""
        return self._list_environments(None if application is None else _app(application), include_terminated)

    @operation()
    def deploy(self, environment: EnvRef, version: VersionRef, *, wait: bool = True, timeout: float = 900) -> Environment:
        """Roll ``version`` out to the environment; a failed health check rolls back and raises."""
        return self._deploy(_env(environment), _version(version), wait, v.timeout(timeout))

    @operation()
    def update_settings(self, environment: EnvRef, settings: EnvironmentSettings, *, wait: bool = True, timeout: float = 900) -> Environment:
        """Apply new settings (environment variables, instance count, options)."""
        s = _settings(settings)
        assert s is not None
        return self._update_settings(_env(environment), s, wait, v.timeout(timeout))

    @operation()
    def get_settings(self, environment: EnvRef) -> EnvironmentSettings:
        """The environment's current settings."""
        return self._get_settings(_env(environment))

    @operation()
    def swap_urls(self, environment_a: EnvRef, environment_b: EnvRef) -> None:
        """Exchange the URLs of two environments (blue/green switch)."""
        self._swap_urls(_env(environment_a, "environment_a"), _env(environment_b, "environment_b"))

    @operation()
    def terminate_environment(self, environment: EnvRef, *, wait: bool = True, timeout: float = 900) -> Environment:
        """Stop and remove an environment."""
        return self._terminate_environment(_env(environment), wait, v.timeout(timeout))

    @operation()
    def rebuild(self, environment: EnvRef, *, wait: bool = True, timeout: float = 900) -> Environment:
        """Replace everything the environment runs with fresh copies of its current version and settings.

        The URL stays; where the provider can, new instances serve before the old ones stop.
        """
        return self._rebuild(_env(environment), bool(wait), v.timeout(timeout))

    # ---------------------------------------------------------------- logs
    @operation()
    def logs(self, environment: EnvRef, *, tail: int = 100, timeout: float = 300) -> list[InstanceLog]:
        """The last ``tail`` lines (1 to 10,000) of each running instance's logs, one :class:`InstanceLog` each."""
        return self._logs(_env(environment), v.int_range("tail", tail, 1, 10_000), v.timeout(timeout))

    @operation()
    def log_bundle(self, environment: EnvRef, *, timeout: float = 300) -> bytes:
        """Every log file of every instance as zip bytes (entries ``<instance>/<path>``)."""
        return self._log_bundle(_env(environment), v.timeout(timeout))

    # ---------------------------------------------------------------- templates
    @operation()
    def create_template(
        self,
        application: AppRef,
        name: str,
        *,
        environment: EnvRef | None = None,
        stack: StackRef | None = None,
        settings: EnvironmentSettings | None = None,
        description: str | None = None,
    ) -> ConfigurationTemplate:
        """Save settings as a template: from a running ``environment``, or a ``stack`` plus ``settings``."""
        if environment is None and stack is None:
            raise InvalidInput("environment", "give an environment to copy or a stack")
        return self._create_template(
            _app(application),
            v.resource_name("name", name, max_len=100),
            optional_ref(environment, "environment", Environment),
            optional_ref(stack, "stack", Stack),
            _settings(settings),
            v.optional_text("description", description, max_len=200),
        )

    @operation()
    def list_templates(self, application: AppRef) -> Iterator[ConfigurationTemplate]:
        """Saved configuration templates of an application."""
        return self._list_templates(_app(application))

    @operation()
    def delete_template(self, application: AppRef, name: TemplateRef) -> None:
        """Delete a configuration template (the :class:`ConfigurationTemplate` or its name)."""
        app = _app(application)
        self._delete_template(app, ref(name, "name", ConfigurationTemplate, within=app))

    # ---------------------------------------------------------------- events
    @operation()
    def events(
        self,
        *,
        application: AppRef | None = None,
        environment: EnvRef | None = None,
        since: datetime | timedelta | None = None,
        follow: bool = False,
        timeout: float = 900,
    ) -> Iterator[Event]:
        """Events, oldest first. With ``follow`` keep yielding new ones until ``timeout`` passes."""
        return self._events(
            None if application is None else _app(application),
            None if environment is None else _env(environment),
            v.since(since),
            bool(follow),
            v.timeout(timeout),
        )

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _create_application(self, name: str, description: str | None) -> Application:
            ...

        def _get_application(self, name: str) -> Application:
            ...

        def _list_applications(self) -> Iterator[Application]:
            ...

        def _delete_application(self, name: str, terminate_environments: bool) -> None:
            ...

        def _create_version(self, application: str, label: str, source: Path | bytes, description: str | None) -> AppVersion:
            ...

        def _list_versions(self, application: str) -> Iterator[AppVersion]:
            ...

        def _delete_version(self, application: str, label: str) -> None:
            ...

        def _list_stacks(self) -> Iterator[Stack]:
            ...

        def _create_environment(self, application: str, name: str, **kw: object) -> Environment:
            """Keyword arguments as :meth:`create_environment` passes them, already validated."""
            ...

        def _get_environment(self, env_id_or_name: str) -> Environment:
            ...

        def _list_environments(self, application: str | None, include_terminated: bool) -> Iterator[Environment]:
            ...

        def _deploy(self, env: str, label: str, wait: bool, timeout: float) -> Environment:
            ...

        def _update_settings(self, env: str, settings: EnvironmentSettings, wait: bool, timeout: float) -> Environment:
            ...

        def _get_settings(self, env: str) -> EnvironmentSettings:
            ...

        def _swap_urls(self, env_a: str, env_b: str) -> None:
            ...

        def _terminate_environment(self, env: str, wait: bool, timeout: float) -> Environment:
            ...

        def _rebuild(self, env: str, wait: bool, timeout: float) -> Environment:
            ...

        def _logs(self, env: str, tail: int, timeout: float) -> list[InstanceLog]:
            ...

        def _log_bundle(self, env: str, timeout: float) -> bytes:
            ...

        def _create_template(
            self, application: str, name: str, environment: str | None, stack: str | None,
            settings: EnvironmentSettings | None, description: str | None,
        ) -> ConfigurationTemplate:
            ...

        def _list_templates(self, application: str) -> Iterator[ConfigurationTemplate]:
            ...

        def _delete_template(self, application: str, name: str) -> None:
            ...

        def _events(self, application: str | None, environment: str | None, since: datetime | None, follow: bool, timeout: float) -> Iterator[Event]:
            ...
