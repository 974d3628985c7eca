"""``.ebextensions/*.config`` files of a version bundle: read, checked, and applied on local.

A bundle may hold configuration files in ``.ebextensions/`` at its top level, YAML or JSON, read
in file-name order. The local provider honours:

* ``option_settings`` -- a list of ``{namespace, option_name, value}`` or a mapping
  ``{namespace: {option: value}}``. ``aws:elasticbeanstalk:application:environment`` options
  are environment properties (variables of the instances); every other option must be one the
  local provider honours in settings (see :data:`~cloudkit_local._platform.base.HONOURED_OPTIONS`).
  Settings given through the API (``create_environment`` / ``update_settings``) take precedence,
  as they do on Elastic Beanstalk. Instance counts, the notification endpoint and load-balancer
  listener options (``aws:elb:*``, ``aws:elbv2:*``) are refused here: on local they are settings only.
* ``commands`` and ``container_commands`` -- mappings of name to ``{command, cwd, env, test,
  ignoreErrors}`` (``leader_only`` too for container commands; local has one host, so every command
  runs once). At each rollout both run, in name order, ``commands`` first, in the new release's
  folder with the instances' environment, before the new instances start. A command that fails
  (and does not ``ignoreErrors``) fails the rollout, which is rolled back.

Any other key is refused with ``InvalidInput`` naming the file and the key when the version is
created (and again at deploy for versions stored before these checks).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
import yaml

from cloudkit.errors import InvalidInput
from cloudkit.models.platform import EnvironmentSettings
from cloudkit_local._platform.base import LOAD_BALANCER_PREFIXES

FOLDER = ".ebextensions"
ENV_NAMESPACE = "aws:elasticbeanstalk:application:environment"
MAX_CONFIG_BYTES = 256 * 1024
MAX_COMMANDS = 100
TOP_KEYS = ("option_settings", "commands", "container_commands")
COMMAND_KEYS = frozenset({"command", "cwd", "env", "test", "ignoreErrors"})
CONTAINER_COMMAND_KEYS = COMMAND_KEYS | {"leader_only"}
#: Options honoured in settings but not from a bundle on local, with the reason.
REFUSED_OPTIONS = {
    "aws:autoscaling:asg:MinSize": "is refused on local: set instance counts with update_settings",
    "aws:autoscaling:asg:MaxSize": "is refused on local: set instance counts with update_settings",
    "aws:elasticbeanstalk:sns:topics:Notification Endpoint": "is refused on local: set the notification endpoint with update_settings",
    "aws:elasticbeanstalk:sns:topics:Notification Protocol": "is refused on local: set the notification endpoint with update_settings",
}


@attrs.frozen
class Command:
    """One command of a configuration file."""

    source: str
    section: str
    name: str
    argv: tuple[str, ...]
    cwd: str | None = None
    env: Mapping[str, str] = attrs.field(factory=dict)
    test: str | None = None
    ignore_errors: bool = False


@attrs.frozen
class Extensions:
    """What a bundle's configuration files ask for."""

    options: Mapping[str, str] = attrs.field(factory=dict)
    env_vars: Mapping[str, str] = attrs.field(factory=dict)
    commands: tuple[Command, ...] = ()

    def under(self, settings: EnvironmentSettings) -> EnvironmentSettings:
        """``settings`` with these options and variables underneath (the API's settings win)."""
        if not self.options and not self.env_vars:
            return settings
        return attrs.evolve(settings, env_vars={**self.env_vars, **settings.env_vars},
                            options={**self.options, **settings.options})


def config_names(names: list[str]) -> list[str]:
    """The configuration files among a bundle's entry names, in the order they apply."""
    return sorted(n for n in names if PurePosixPath(n).parent == PurePosixPath(FOLDER) and n.endswith(".config"))


def _field(source: str, *path: object) -> str:
    return f"source[{source!r}]" + "".join(f"[{p!r}]" for p in path)


def _text(source: str, value: object, *path: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise InvalidInput(_field(source, *path), f"must be text or a number, not {type(value).__name__}")
    text = str(value)
    if "\x00" in text:
        raise InvalidInput(_field(source, *path), "must not contain NUL characters")
    return text


def _options(source: str, raw: object) -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(raw, list):
        for i, item in enumerate(raw):
            if not isinstance(item, dict) or not {"namespace", "option_name"} <= set(item):
                raise InvalidInput(_field(source, "option_settings", i), "must be a mapping with namespace, option_name and value")
            extra = set(item) - {"namespace", "option_name", "value", "resource_name"}
            if extra or "resource_name" in item:
                key = sorted(extra or {"resource_name"})[0]
                raise InvalidInput(_field(source, "option_settings", i, key), "is not supported by the local provider")
            ns = _text(source, item["namespace"], "option_settings", i, "namespace")
            name = _text(source, item["option_name"], "option_settings", i, "option_name")
            out[f"{ns}:{name}"] = _text(source, item.get("value", ""), "option_settings", i, "value")
    elif isinstance(raw, dict):
        for ns, opts in raw.items():
            if not isinstance(opts, dict):
                raise InvalidInput(_field(source, "option_settings", ns), "must map option names to values")
            for name, value in opts.items():
                out[f"{_text(source, ns, 'option_settings')}:{_text(source, name, 'option_settings', ns)}"] = _text(
                    source, value, "option_settings", ns, name)
    else:
        raise InvalidInput(_field(source, "option_settings"), "must be a list or a mapping")
    return out


def _commands(source: str, section: str, raw: object) -> list[Command]:
    if not isinstance(raw, dict):
        raise InvalidInput(_field(source, section), "must map command names to commands")
    allowed = CONTAINER_COMMAND_KEYS if section == "container_commands" else COMMAND_KEYS
    out = []
    for name in sorted(raw, key=str):
        spec = raw[name]
        if not isinstance(spec, dict):
            raise InvalidInput(_field(source, section, name), "must be a mapping with a 'command'")
        for key in spec:
            if key not in allowed:
                raise InvalidInput(_field(source, section, name, key), "is not supported by the local provider "
                                   f"(it honours {', '.join(sorted(allowed))})")
        command = spec.get("command")
        if isinstance(command, list) and command:
            argv = tuple(_text(source, c, section, name, "command") for c in command)
        elif isinstance(command, str) and command.strip():
            argv = ("/bin/sh", "-c", _text(source, command, section, name, "command"))
        else:
            raise InvalidInput(_field(source, section, name, "command"), "must be a command line or a list of arguments")
        cwd = spec.get("cwd")
        if cwd is not None:
            cwd = _text(source, cwd, section, name, "cwd")
            if PurePosixPath(cwd).is_absolute() or ".." in PurePosixPath(cwd).parts:
                raise InvalidInput(_field(source, section, name, "cwd"),
                                   "must be a folder inside the application (a relative path without '..') on local")
        env = spec.get("env") or {}
        if not isinstance(env, dict):
            raise InvalidInput(_field(source, section, name, "env"), "must map variable names to values")
        test = spec.get("test")
        out.append(Command(
            source=source, section=section, name=str(name), argv=argv, cwd=cwd,
            env={_text(source, k, section, name, "env"): _text(source, val, section, name, "env", k) for k, val in env.items()},
            test=None if test is None else _text(source, test, section, name, "test"),
            ignore_errors=str(spec.get("ignoreErrors", False)).lower() == "true",
        ))
    return out


def read_release(release: Path) -> dict[str, bytes]:
    """The configuration files of an unpacked release folder (regular files only; links are not followed)."""
    folder = release / FOLDER
    if not folder.is_dir() or folder.is_symlink():
        return {}
    out = {}
    for path in sorted(folder.glob("*.config")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise InvalidInput(_field(f"{FOLDER}/{path.name}"), f"is larger than {MAX_CONFIG_BYTES} bytes")
        out[f"{FOLDER}/{path.name}"] = path.read_bytes()
    return out


def parse(files: Mapping[str, bytes]) -> Extensions:
    """Read and check configuration files (name -> bytes, applied in name order); ``InvalidInput`` names what is refused."""
    from cloudkit_local._platform.base import _check_settings

    options: dict[str, str] = {}
    env_vars: dict[str, str] = {}
    commands: list[Command] = []
    container: list[Command] = []
    for source in sorted(files):
        data = files[source]
        if len(data) > MAX_CONFIG_BYTES:
            raise InvalidInput(_field(source), f"is larger than {MAX_CONFIG_BYTES} bytes")
        try:
            text = data.decode("utf-8")
            doc = json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
        except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
            raise InvalidInput(_field(source), f"is neither valid YAML nor JSON ({type(exc).__name__})") from None
        if doc is None:
            continue
        if not isinstance(doc, dict):
            raise InvalidInput(_field(source), "must be a mapping of sections (option_settings, commands, container_commands)")
        for key in doc:
            if key not in TOP_KEYS:
                raise InvalidInput(_field(source, key), "is not supported by the local provider "
                                   f"(it honours {', '.join(TOP_KEYS)})")
        for key, value in _options(source, doc.get("option_settings", [])).items():
            if key in REFUSED_OPTIONS:
                raise InvalidInput(_field(source, "option_settings", key), REFUSED_OPTIONS[key])
            if key.startswith(LOAD_BALANCER_PREFIXES):
                raise InvalidInput(_field(source, "option_settings", key), "is a setting on the local provider "
                                   "(the environment's load balancer): give it to create_environment or update_settings")
            ns, _, name = key.rpartition(":")
            if ns == ENV_NAMESPACE:
                env_vars[name] = value
            else:
                options[key] = value
        commands += _commands(source, "commands", doc.get("commands", {}))
        container += _commands(source, "container_commands", doc.get("container_commands", {}))
    if len(commands) + len(container) > MAX_COMMANDS:
        raise InvalidInput("source[.ebextensions]", f"holds more than {MAX_COMMANDS} commands")
    from cloudkit import validation as v

    for name in env_vars:
        v.env_var_name(name, f"source[.ebextensions][{ENV_NAMESPACE!r}]")
    try:
        _check_settings(EnvironmentSettings(options=options))
    except InvalidInput as exc:
        raise InvalidInput(f"source[.ebextensions].{exc.field.removeprefix('settings.')}", exc.rule) from None
    return Extensions(options=options, env_vars=env_vars, commands=(*commands, *container))


def run(cmd: Command, cwd: str, environ: Mapping[str, str], log: Any, timeout: float) -> int:
    """Run one command (after its ``test``, if any); ``-1`` when its test says to skip it. Output goes to ``log``."""
    env = {**environ, **cmd.env}
    if cmd.test is not None:
        probe = subprocess.run(["/bin/sh", "-c", cmd.test], cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log,
                               stderr=subprocess.STDOUT, timeout=timeout, check=False)
        if probe.returncode != 0:
            return -1
    done = subprocess.run(list(cmd.argv), cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                          timeout=timeout, check=False, start_new_session=True)
    return done.returncode
