"""The ``cloudkit`` command line: providers, storage, dns, notification, database, compute, platform, loadbalancer, demo."""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from typing import Any

import click

from cloudkit.cli._common import OUTPUTS, CliState, CloudkitGroup, confirm_destructive, emit, render, yes_option
from cloudkit.cli._common import get_cloud as _get_cloud
from cloudkit.cli._common import state as _state
from cloudkit.cloud import Cloud

#: command name -> (module, attribute); a module that is not installed is simply not offered.
_LAZY = {
    "storage": ("cloudkit.cli.storage", "group"),
    "dns": ("cloudkit.cli.dns", "group"),
    "notification": ("cloudkit.cli.notification", "group"),
    "database": ("cloudkit.cli.database", "group"),
    "compute": ("cloudkit.cli.compute", "group"),
    "platform": ("cloudkit.cli.platform", "group"),
    "loadbalancer": ("cloudkit.cli.loadbalancer", "group"),
    "demo": ("cloudkit.cli.demo", "command"),
}


#: Global options accepted anywhere on the line (as the AWS CLI does), each with whether it takes a value.
_ANYWHERE = {"-o": True, "--output": True, "--query": True}


def hoist_global_options(args: list[str]) -> list[str]:
    """``args`` with ``-o/--output`` and ``--query`` moved in front of the command, wherever they were.

    ``cloudkit storage list-buckets -o json`` then means ``cloudkit -o json storage list-buckets``.
    Scanning stops at ``--`` (what follows is data), and a value such an option takes moves with it.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest.extend(args[i:])
            break
        name, eq, _ = arg.partition("=")
        if name in _ANYWHERE and (eq or i + 1 < len(args)):
            if eq:
                front.append(arg)
            else:
                front.extend(args[i:i + 2])
                i += 1
        elif arg.startswith("-o") and len(arg) > 2 and not arg.startswith("--"):
            front.append(arg)  # -ojson
        else:
            rest.append(arg)
        i += 1
    return front + rest


#: Entry-point group through which installed packages add command groups to ``cloudkit``: each entry point's
#: name is the command and its object a :class:`click.Command`, loaded only when that command runs.
#: Inside it, :func:`get_cloud` gives the connection the top-level options chose and :func:`output_format`
#: whether ``-o json`` was asked for.
ENTRY_POINT_GROUP = "cloudkit.cli"


def _plugin_commands() -> dict[str, importlib.metadata.EntryPoint]:
    found: dict[str, importlib.metadata.EntryPoint] = {}
    for ep in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.name not in _LAZY:  # a plugin cannot shadow a built-in command
            found.setdefault(ep.name, ep)
    return found


def _broken(name: str, message: str) -> click.Command:
    """A stand-in for a plugin command that failed to load: listed in help, an error when run."""

    def fail() -> None:
        raise click.ClickException(message)

    return click.Command(name, callback=fail, help=f"(unavailable: {message})", context_settings={"ignore_unknown_options": True})


class _Main(CloudkitGroup):
    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def list_commands(self, ctx: click.Context) -> list[str]:
        lazy = [n for n, (mod, _) in _LAZY.items() if importlib.util.find_spec(mod) is not None]
        return sorted({*super().list_commands(ctx), *lazy, *_plugin_commands()})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name not in _LAZY:
            ep = _plugin_commands().get(cmd_name)
            if ep is None:
                return None
            try:
                loaded = ep.load()
            except Exception as exc:  # a broken plugin must not break the rest of the command line
                return _broken(cmd_name, f"the command {cmd_name!r} from {ep.value} failed to load: {exc}")
            if not isinstance(loaded, click.Command):
                return _broken(cmd_name, f"the entry point {ep.value} of {cmd_name!r} is not a click command")
            return loaded
        if cmd is not None or cmd_name not in _LAZY:
            return cmd
        module, attr = _LAZY[cmd_name]
        if importlib.util.find_spec(module) is None:
            return None
        found: click.Command = getattr(importlib.import_module(module), attr)
        return found


def get_cloud(ctx: click.Context | None = None) -> Cloud:
    """The connection the top-level options (``--profile``, ``--provider``, ``--set``) chose, opened once."""
    return _get_cloud(ctx)


def output_format(ctx: click.Context | None = None) -> str:
    """The output format ``-o`` chose: ``table``, ``json`` or ``text``.

    A plugin command prints plain data (lists and dicts) with :func:`emit` when it is not ``table``
    (that also applies ``--query``), and destroys nothing before :func:`confirm_destructive`.
    """
    return _state(ctx).output


def _setting(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{item!r} must be KEY=VALUE", param_hint="--set")
        out[key] = value
    return out


@click.group(cls=_Main, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--profile", "-p", envvar="CLOUDKIT_PROFILE", help="Profile from cloudkit.toml.")
@click.option("--provider", envvar="CLOUDKIT_PROVIDER", help="Provider name (default: local).")
@click.option("--set", "settings", multiple=True, metavar="KEY=VALUE", help="A provider setting (repeatable).")
@click.option("--output", "-o", type=click.Choice(OUTPUTS), default="table", show_default=True,
              help="table, json, or text (tab-separated); accepted anywhere on the line.")
@click.option("--query", metavar="JMESPATH", help="Filter the JSON form of the result (accepted anywhere on the line).")
@click.version_option(package_name="cloudkit")
@click.pass_context
def main(ctx: click.Context, profile: str | None, provider: str | None, settings: tuple[str, ...], output: str,
         query: str | None) -> None:
    """Manage cloud resources on any provider through one API.

    Commands read `cloudkit FAMILY OPERATION`, the operation named as in the Python API
    (`cloudkit storage create-bucket` is `cloud.storage.create_bucket`).
    """
    st = CliState(profile=profile, provider=provider, output=output, settings=_setting(settings), query=query)
    ctx.obj = st
    ctx.call_on_close(st.close)


def _dist_version(name: str | None) -> str:
    if not name:
        return ""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return ""


def _connect_options(st: CliState, name: str) -> dict[str, Any]:
    """``--profile`` and ``--set`` for a connection to provider ``name``, when they concern it.

    They concern the provider the global options choose, exactly as ``cloudkit.connect`` picks it
    (``--provider``, the profile's, ``default_profile``, ``CLOUDKIT_PROVIDER``, then local); a listing
    of several providers applies them to that one and connects to the others with their defaults.
    """
    from cloudkit.config import resolve

    chosen = resolve(st.provider, profile=st.profile).main.provider
    if chosen != name:
        return {}
    return {**({"profile": st.profile} if st.profile else {}), **st.settings}


@main.command("providers")
@click.option("--all", "show_all", is_flag=True,
              help="Also list providers plugins serve on demand (every libcloud driver), with their families.")
@click.pass_obj
def providers_cmd(st: CliState, show_all: bool) -> None:
    """Installed provider plugins, their versions, families and capability counts."""
    import cloudkit
    from cloudkit.plugins import catalogue
    from cloudkit.services import FAMILIES

    announced = cloudkit.providers()
    listed = catalogue() if show_all else dict(sorted(announced.items()))
    rows: list[dict[str, Any]] = []
    for name, info in listed.items():
        counts = []
        # Capability counts need a connection per family; on-demand providers show families only.
        for family in FAMILIES if name in announced else ():
            if family not in info.families:
                continue
            try:
                with cloudkit.connect(name, **_connect_options(st, name)) as cloud:
                    counts.append(f"{family} {len(cloud.service(family).capabilities())}")
            except cloudkit.CloudkitError as exc:
                counts.append(f"{family} ({type(exc).__name__})")
        rows.append({
            "provider": name,
            "distribution": info.distribution or "",
            "version": _dist_version(info.distribution),
            "families": sorted(info.families),
            "capabilities": counts,
            "description": info.description,
        })
    render(rows, ["provider", "version", "families", "capabilities", "description"], title="cloudkit providers")


@main.command("capabilities")
@click.argument("providers", nargs=-1)
@click.option("--markdown", is_flag=True, help="Print a Markdown matrix (family/operation x provider).")
@click.pass_obj
def capabilities_cmd(st: CliState, providers: tuple[str, ...], markdown: bool) -> None:
    """Which operations each provider supports (default: the installed providers; settings from --set)."""
    import cloudkit
    from cloudkit.services import FAMILIES

    names = list(providers) or sorted(cloudkit.providers())
    support: dict[str, dict[str, frozenset[str]]] = {}
    for name in names:
        with cloudkit.connect(name, profile=st.profile, **st.settings) as cloud:
            support[name] = {}
            for family in FAMILIES:
                try:
                    support[name][family] = cloud.service(family).capabilities()
                except cloudkit.CloudkitError as exc:
                    click.echo(f"warning: {name} {family}: {type(exc).__name__}: {exc}", err=True)
                    support[name][family] = frozenset()
    if st.output != "table":
        emit({n: {f: sorted(ops) for f, ops in fam.items()} for n, fam in support.items()})
        return
    rows = []
    for family, interface in FAMILIES.items():
        for op in interface.OPERATIONS:
            rows.append({"operation": f"{family}.{op}", **{n: "yes" if op in support[n][family] else "-" for n in names}})
    if markdown:
        click.echo("| operation | " + " | ".join(names) + " |")
        click.echo("|---|" + "---|" * len(names))
        for row in rows:
            click.echo(f"| `{row['operation']}` | " + " | ".join(row[n] for n in names) + " |")
        return
    render(rows, ["operation", *names], title="capabilities")


def settings_markdown(names: list[str]) -> str:
    """Markdown tables of the settings each named provider declares (docs/configuration.md is made of them)."""
    from cloudkit.plugins import resolve_provider

    out: list[str] = []
    for name in names:
        info = resolve_provider(name)
        out.append(f"### `{name}`\n")
        if info.settings is None:
            out.append("Declares no settings: whatever is given is passed to the provider unchecked.\n")
            continue
        out.append("| setting | type | default | meaning |")
        out.append("|---|---|---|---|")
        for s in info.settings:
            default = "" if s.default is None else f"`{s.default}`"
            kind = "refused" if s.refused else s.type
            doc = (s.refused or s.doc).replace("|", "\\|")
            out.append(f"| `{s.name}` | {kind} | {default} | {doc} |")
        out.append("")
    return "\n".join(out)


@main.command("settings")
@click.argument("providers", nargs=-1)
@click.option("--markdown", is_flag=True, help="Print Markdown tables (the format of docs/configuration.md).")
@click.pass_obj
def settings_cmd(st: CliState, providers: tuple[str, ...], markdown: bool) -> None:
    """The settings each provider declares: name, type, default, meaning (default: the installed providers)."""
    import cloudkit
    from cloudkit.plugins import resolve_provider

    names = list(providers) or sorted(cloudkit.providers())
    if markdown:
        click.echo(settings_markdown(names), nl=False)
        return
    rows = []
    for name in names:
        for s in resolve_provider(name).settings or ():
            rows.append({"provider": name, "setting": s.name, "type": "refused" if s.refused else s.type,
                         "default": s.default, "meaning": s.refused or s.doc})
    render(rows, ["provider", "setting", "type", "default", "meaning"], title="settings")


def run() -> None:
    """Console-script entry point."""
    main(prog_name="cloudkit")


__all__ = ["ENTRY_POINT_GROUP", "confirm_destructive", "emit", "get_cloud", "main", "output_format", "run", "yes_option"]
