"""``cloudkit platform``: applications, versions, environments and deploys (the Elastic Beanstalk model)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import click

from cloudkit.cli._common import CloudkitGroup, confirm_destructive, get_cloud, render, render_one, state, to_row, yes_option
from cloudkit.errors import InvalidInput
from cloudkit.models.platform import Environment, EnvironmentSettings, Event
from cloudkit.services.platform import PlatformService

ENV_COLUMNS = ["id", "name", "application", "status", "health", "version", "url"]


def _settings(env_vars: tuple[str, ...], instances: int | None, instance_type: str | None = None,
              options: tuple[str, ...] = (), low: int | None = None, high: int | None = None) -> EnvironmentSettings | None:
    if not env_vars and instances is None and instance_type is None and not options and low is None and high is None:
        return None
    return EnvironmentSettings(env_vars=_pairs(env_vars, "--env"), instance_count=instances, instance_type=instance_type,
                               options=_pairs(options, "--option"), min_instances=low, max_instances=high)


def _pairs(items: tuple[str, ...], flag: str) -> dict[str, str]:
    """``NAME=VALUE`` items as a dict (split at the first ``=``)."""
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(flag, f"{item!r} must be NAME=VALUE")
        pairs[key] = value
    return pairs


def follow(platform: PlatformService, environment: str, on_event: Callable[[Event], None], *,
           seen: int = 0, timeout: float = 900) -> Environment:
    """Report the environment's events as they happen until it is no longer launching or updating.

    ``seen`` is how many of its events were already reported. Returns the environment's final state.
    """
    deadline = time.monotonic() + timeout
    while True:
        env = platform.get_environment(environment)
        events = list(platform.events(environment=env.id))
        for event in events[seen:]:
            on_event(event)
        seen = len(events)
        if env.status not in ("launching", "updating", "terminating") or time.monotonic() > deadline:
            return env
        time.sleep(0.1)


def _print_event(event: Event) -> None:
    colour = {"ERROR": "red", "WARN": "yellow"}.get(event.severity)
    line = f"{event.timestamp:%H:%M:%S} {event.severity:<5} {event.message}"
    click.echo(click.style(line, fg=colour) if colour else line)


def _reporter() -> Callable[[Event], None]:
    """How a command reports events while it waits: text lines, or nothing when the output is JSON (one document)."""
    return _print_event if state().output != "json" else (lambda event: None)


#: Names of the first release, kept working (hidden, with a note) for one more release.
ALIASES = {
    "apps": "list-applications",
    "create-app": "create-application",
    "delete-app": "delete-application",
    "upload": "create-version",
    "versions": "list-versions",
    "stacks": "list-stacks",
    "create": "create-environment",
    "list": "list-environments",
    "status": "get-environment",
    "swap": "swap-urls",
    "terminate": "terminate-environment",
    "save-template": "create-template",
    "templates": "list-templates",
    "settings": "update-settings",
}


@click.group(cls=CloudkitGroup, aliases=ALIASES)
def group() -> None:
    """Applications, versions, environments and zero-downtime deploys."""


# ------------------------------------------------------------------ applications and versions
@group.command("list-applications")
def apps() -> None:
    """Applications."""
    render(get_cloud().platform.list_applications(), ["name", "description", "created_at"], title="applications")


@group.command("create-application")
@click.argument("name")
@click.option("--description", help="What the application is.")
def create_app(name: str, description: str | None) -> None:
    """Create application NAME."""
    render_one(get_cloud().platform.create_application(name, description=description))


@group.command("delete-application")
@click.argument("name")
@click.option("--terminate", is_flag=True, help="Terminate its running environments too.")
@yes_option
def delete_app(name: str, terminate: bool, yes: bool) -> None:
    """Delete application NAME with its versions."""
    confirm_destructive(f"Delete application {name} with its versions{' and environments' if terminate else ''}?", yes)
    get_cloud().platform.delete_application(name, terminate_environments=terminate)
    click.echo(f"deleted application {name}")


@group.command("create-version")
@click.argument("application")
@click.argument("label")
@click.argument("source", type=click.Path(exists=True))
@click.option("--description", help="What changed.")
def upload(application: str, label: str, source: str, description: str | None) -> None:
    """Upload version LABEL of APPLICATION from SOURCE (a zip or a folder)."""
    render_one(get_cloud().platform.create_version(application, label, source=source, description=description))


@group.command("list-versions")
@click.argument("application")
def versions(application: str) -> None:
    """Versions of APPLICATION, newest first."""
    render(get_cloud().platform.list_versions(application), ["label", "description", "source", "created_at"],
           title=f"versions of {application}")


@group.command("list-stacks")
def stacks() -> None:
    """Stacks environments can run on."""
    render(get_cloud().platform.list_stacks(), ["name", "language"], title="stacks")


# ------------------------------------------------------------------ environments
@group.command("create-environment")
@click.argument("application")
@click.argument("name")
@click.option("--version", "version", required=True, help="Version label to run.")
@click.option("--stack", help="Stack (local: python or procfile).")
@click.option("--template", help="Configuration template to start from.")
@click.option("--env", "env_vars", multiple=True, metavar="NAME=VALUE", help="Environment variable (repeatable).")
@click.option("--instances", type=int, help="How many instances run the version.")
def create(application: str, name: str, version: str, stack: str | None, template: str | None,
           env_vars: tuple[str, ...], instances: int | None) -> None:
    """Launch environment NAME of APPLICATION, printing its events."""
    platform = get_cloud().platform
    env = platform.create_environment(application, name, version=version, stack=stack, template=template,
                                      settings=_settings(env_vars, instances), wait=False)
    render_one(follow(platform, env.id, _reporter()))


@group.command("deploy")
@click.argument("environment")
@click.argument("version")
def deploy(environment: str, version: str) -> None:
    """Deploy VERSION to ENVIRONMENT (zero-downtime), printing its events; exits 1 if it rolled back."""
    platform = get_cloud().platform
    seen = len(list(platform.events(environment=environment)))
    platform.deploy(environment, version, wait=False)
    env = follow(platform, environment, _reporter(), seen=seen)
    render_one(env)
    if env.version != version:
        raise SystemExit(1)


@group.command("get-settings")
@click.argument("environment")
def get_settings_cmd(environment: str) -> None:
    """Show ENVIRONMENT's settings."""
    render_one(get_cloud().platform.get_settings(environment))


@group.command("update-settings")
@click.argument("environment")
@click.option("--env", "env_vars", multiple=True, metavar="NAME=VALUE", help="Environment variable (repeatable).")
@click.option("--instances", type=int, help="How many instances run the version.")
@click.option("--instance-type", help="Instance type (local: a compute instance type such as local.small).")
@click.option("--option", "options", multiple=True, metavar="NAMESPACE:OPTION=VALUE",
              help="Any provider option, e.g. aws:elasticbeanstalk:command:Timeout=600 (repeatable).")
@click.option("--min-instances", "low", type=int, help="Fewest instances (the number run at rest).")
@click.option("--max-instances", "high", type=int, help="Most instances autoscaling may run.")
def settings_cmd(environment: str, env_vars: tuple[str, ...], instances: int | None, instance_type: str | None,
                 options: tuple[str, ...], low: int | None, high: int | None) -> None:
    """Change ENVIRONMENT's settings (a zero-downtime rolling update, its events printed); show the result."""
    platform = get_cloud().platform
    new = _settings(env_vars, instances, instance_type, options, low, high)
    if new is not None:
        seen = len(list(platform.events(environment=environment)))
        platform.update_settings(environment, new, wait=False)
        env = follow(platform, environment, _reporter(), seen=seen)
        failed = [e for e in list(platform.events(environment=env.id))[seen:] if e.severity == "ERROR"]
        if failed:
            raise SystemExit(1)
    render_one(platform.get_settings(environment))


@group.command("rebuild")
@click.argument("environment")
def rebuild(environment: str) -> None:
    """Replace every instance of ENVIRONMENT with a fresh copy of its version and settings, printing its events."""
    platform = get_cloud().platform
    seen = len(list(platform.events(environment=environment)))
    platform.rebuild(environment, wait=False)
    render_one(follow(platform, environment, _reporter(), seen=seen))


@group.command("logs")
@click.argument("environment")
@click.option("--tail", type=int, default=100, show_default=True, help="Lines per instance.")
@click.option("--bundle", "bundle", type=click.Path(dir_okay=False, writable=True),
              help="Write every log file of every instance to this zip file instead.")
def logs(environment: str, tail: int, bundle: str | None) -> None:
    """The last lines of each instance's logs (or, with --bundle, all of them as a zip)."""
    platform = get_cloud().platform
    if bundle is not None:
        data = platform.log_bundle(environment)
        target = Path(bundle)
        part = target.with_name(target.name + ".part")
        part.write_bytes(data)
        part.replace(target)
        click.echo(f"wrote {len(data)} bytes to {target}")
        return
    found = platform.logs(environment, tail=tail)
    if state().output == "json":
        render(found, ["instance", "timestamp", "text"], title="logs")
        return
    for item in found:
        click.echo(f"==== {item.instance} ({item.timestamp:%Y-%m-%d %H:%M:%S} UTC) ====")
        click.echo(item.text, nl=False)


@group.command("list-environments")
@click.argument("application", required=False)
@click.option("--all", "include_terminated", is_flag=True, help="Include terminated environments.")
def list_cmd(application: str | None, include_terminated: bool) -> None:
    """Environments (of APPLICATION)."""
    render(get_cloud().platform.list_environments(application, include_terminated=include_terminated), ENV_COLUMNS,
           title="environments")


@group.command("get-environment")
@click.argument("environment")
def status(environment: str) -> None:
    """Show ENVIRONMENT (id or name)."""
    render_one(get_cloud().platform.get_environment(environment))


@group.command("events")
@click.option("--app", "application", help="Only this application's events.")
@click.option("--env", "environment", help="Only this environment's events.")
@click.option("--follow", "follow_", is_flag=True, help="Keep printing new events (until --timeout).")
@click.option("--timeout", type=float, default=900, show_default=True)
def events(application: str | None, environment: str | None, follow_: bool, timeout: float) -> None:
    """Events, oldest first."""
    found = get_cloud().platform.events(application=application, environment=environment, follow=follow_, timeout=timeout)
    if state().output == "json":
        if follow_:  # one JSON document per line as they arrive
            for event in found:
                click.echo(json.dumps(to_row(event), default=str))
            return
        render(found, ["timestamp", "severity", "message", "application", "environment", "version"], title="events")
        return
    for event in found:
        _print_event(event)


@group.command("swap-urls")
@click.argument("environment_a")
@click.argument("environment_b")
def swap(environment_a: str, environment_b: str) -> None:
    """Exchange the URLs of two environments (blue/green)."""
    platform = get_cloud().platform
    platform.swap_urls(environment_a, environment_b)
    render([platform.get_environment(environment_a), platform.get_environment(environment_b)], ENV_COLUMNS,
           title="swapped")


@group.command("terminate-environment")
@click.argument("environment")
@yes_option
def terminate(environment: str, yes: bool) -> None:
    """Stop and remove ENVIRONMENT."""
    confirm_destructive(f"Terminate environment {environment}?", yes)
    render_one(get_cloud().platform.terminate_environment(environment))


# ------------------------------------------------------------------ templates
@group.command("create-template")
@click.argument("application")
@click.argument("name")
@click.option("--from-env", "environment", required=True, help="Environment whose settings to save.")
@click.option("--description", help="What the template is for.")
def save_template(application: str, name: str, environment: str, description: str | None) -> None:
    """Save ENVIRONMENT's settings as configuration template NAME."""
    render_one(get_cloud().platform.create_template(application, name, environment=environment, description=description))


@group.command("list-templates")
@click.argument("application")
def templates(application: str) -> None:
    """Configuration templates of APPLICATION."""
    render(get_cloud().platform.list_templates(application), ["name", "stack", "description"], title="templates")
