"""Helpers every ``cloudkit`` CLI group shares: the connection, output rendering, errors, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

import attrs
import click

from cloudkit.cloud import Cloud, connect
from cloudkit.errors import CloudkitError, InvalidInput

#: Transfers larger than this show a progress bar (on a terminal).
PROGRESS_THRESHOLD = 4 * 1024 * 1024
F = TypeVar("F", bound=Callable[..., Any])

#: The output formats ``-o / --output`` accepts.
OUTPUTS = ("table", "json", "text")


@attrs.define
class CliState:
    """What the top-level options decided; the connection is opened on first use."""

    profile: str | None = None
    provider: str | None = None
    output: str = "table"
    settings: dict[str, str] = attrs.field(factory=dict)
    query: str | None = None
    _cloud: Cloud | None = None

    def cloud(self) -> Cloud:
        """The connection, opened once."""
        if self._cloud is None:
            self._cloud = connect(self.provider, profile=self.profile, **self.settings)
        return self._cloud

    def close(self) -> None:
        """Close the connection if one was opened."""
        if self._cloud is not None:
            self._cloud.close()
            self._cloud = None


def state(ctx: click.Context | None = None) -> CliState:
    """The :class:`CliState` of the running command."""
    ctx = ctx or click.get_current_context()
    obj = ctx.find_object(CliState)
    if obj is None:  # a group invoked on its own (tests)
        obj = ctx.ensure_object(CliState)
    return obj


def get_cloud(ctx: click.Context | None = None) -> Cloud:
    """The :class:`Cloud` for the running command."""
    return state(ctx).cloud()


def _plain(value: Any) -> Any:
    if attrs.has(type(value)):
        return {k: _plain(v) for k, v in attrs.asdict(value, recurse=False).items() if k != "extra"}
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_plain(v) for v in value]
    return value


def to_row(model: Any) -> dict[str, Any]:
    """A model (or mapping) as a plain dict for output (``extra`` left out)."""
    plain = _plain(model)
    return plain if isinstance(plain, dict) else {"value": plain}


def _queried(data: Any) -> Any:
    """``data`` filtered by ``--query`` (a JMESPath expression), or unchanged without one."""
    query = state().query
    if query is None:
        return data
    import jmespath  # type: ignore[import-untyped]
    import jmespath.exceptions  # type: ignore[import-untyped]

    try:
        return jmespath.search(query, data)
    except jmespath.exceptions.JMESPathError as exc:
        raise click.BadParameter(str(exc).splitlines()[0], param_hint="'--query'") from None


def _text(value: Any) -> str:
    """One value for ``--output text``, as the AWS CLI prints it.

    A list of rows (dicts or lists) prints one line per row; a row, or a list of plain values,
    prints its fields on one line separated by tabs.
    """
    if isinstance(value, list) and any(isinstance(v, (list, dict)) for v in value):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, list):
        return "\t".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return "\t".join(_cell(v) for v in value.values())
    return _cell(value)


def emit(data: Any) -> None:
    """Print already-plain data (lists, dicts, strings) as JSON or text, after ``--query``."""
    data = _queried(data)
    if state().output == "text":
        click.echo(_text(data))
    else:
        click.echo(json.dumps(data, indent=2, default=str))


def render(rows: Iterable[Any], columns: Sequence[str], *, title: str | None = None) -> None:
    """Print rows as a table, as JSON (``-o json``) or as tab-separated text (``-o text``).

    With ``--query`` the JMESPath expression is applied to the JSON form first; a table then shows
    the result's own keys. Table cells are never cut off: long ids and receipts fold onto more lines.
    """
    st = state()
    data = [to_row(r) for r in rows]
    if st.output != "table":
        emit(data)
        return
    if st.query is not None:
        data = _queried(data)
        if not (isinstance(data, list) and all(isinstance(r, dict) for r in data)):
            click.echo(json.dumps(data, indent=2, default=str))
            return
        columns = list(dict.fromkeys(k for r in data for k in r))
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col, overflow="fold")
    for row in data:
        table.add_row(*[_cell(row.get(col)) for col in columns])
    Console().print(table)


def render_one(model: Any) -> None:
    """Print one model: JSON (``-o json``), text, or key/value lines."""
    st = state()
    row = to_row(model)
    if st.output != "table" or st.query is not None:
        emit(row)
        return
    width = max((len(k) for k in row), default=0)
    for key, value in row.items():
        click.echo(f"{key.ljust(width)}  {_cell(value)}")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(_cell(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}={_cell(v)}" for k, v in value.items())
    return str(value)


def split_path(value: str, field: str = "path") -> tuple[str, str]:
    """``bucket/key`` -> ``("bucket", "key")``."""
    bucket, sep, key = value.partition("/")
    if not sep or not key:
        raise InvalidInput(field, f"must be BUCKET/KEY (got {value!r})")
    return bucket, key


@contextmanager
def progress_bar(label: str, total: int | None) -> Iterator[Callable[[int, int | None], None] | None]:
    """A rich progress bar for large transfers on a terminal; ``None`` (no bar) otherwise."""
    if (total is not None and total < PROGRESS_THRESHOLD) or not sys.stderr.isatty():
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress("[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  transient=True) as bar:
        task = bar.add_task(label, total=total)

        def update(done: int, size: int | None) -> None:
            bar.update(task, completed=done, total=size)

        yield update


def _interactive() -> bool:
    """Whether a person can answer a prompt (standard input is a terminal)."""
    return sys.stdin.isatty()


def confirm_destructive(question: str, yes: bool) -> None:
    """The one confirmation policy for destructive commands.

    With ``--yes`` nothing is asked. On a terminal the user is asked ``question`` (no means exit
    status 1, nothing done). Without a terminal and without ``--yes`` the command refuses with exit
    status 2, so a script never deletes on an unanswered prompt.
    """
    if yes:
        return
    if not _interactive():
        ctx = click.get_current_context()
        raise click.UsageError(f"{question.rstrip('?')}: refused without --yes (standard input is not a terminal)", ctx)
    click.confirm(question, abort=True)


#: The ``--yes`` option every destructive command takes.
yes_option = click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation (needed without a terminal).")


def fields(**names: str) -> Callable[[F], F]:
    """Map API field names to this command's parameter names, for error messages.

    ``@fields(type="rtype")`` lets an ``InvalidInput`` on ``changes[0].record.type`` name the
    command's ``TYPE`` argument. Fields whose name is a parameter's name need no mapping.
    """

    def mark(func: F) -> F:
        func.__cloudkit_fields__ = names  # type: ignore[attr-defined]
        return func

    return mark


def _argument_hint(ctx: click.Context, field: str) -> str | None:
    """The command-line name of the argument an :class:`InvalidInput` field path refers to.

    The path's names are tried from the innermost out (``changes[0].record.ttl`` -> ``--ttl``).
    """
    import re

    params = {p.name: p for p in ctx.command.params if p.name}
    mapped: dict[str, str] = getattr(ctx.command.callback, "__cloudkit_fields__", {})
    for name in reversed(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", field)):
        param = params.get(mapped.get(name, name))
        if param is not None:
            return param.get_error_hint(ctx)
    return None


class CloudkitCommand(click.Command):
    """A command whose ``InvalidInput`` errors name its own argument and show its own usage."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            hint = _argument_hint(ctx, exc.field)
            message = str(exc) if hint is None else f"{hint}: {exc.rule}"
            raise click.UsageError(message, ctx) from None


class CloudkitGroup(click.Group):
    """A click group of cloudkit commands.

    Cloudkit errors are reported as one line and exit status 1; ``InvalidInput`` as a usage error
    of the subcommand (exit status 2). ``aliases`` maps old command names, kept for one release, to
    their current names: they still work, print a note on standard error, and are hidden from help.
    """

    command_class = CloudkitCommand
    aliases: dict[str, str] = {}

    def __init__(self, *args: Any, aliases: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.aliases = dict(aliases or {})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        cmd = super().get_command(ctx, cmd_name)
        if cmd is None and cmd_name in self.aliases:
            new = self.aliases[cmd_name]
            click.echo(f"note: '{ctx.command_path} {cmd_name}' is now '{ctx.command_path} {new}'; "
                       "the old name will be removed in the next release", err=True)
            cmd = super().get_command(ctx, new.split()[0])
            for part in new.split()[1:]:  # an alias of a nested command ("keys create")
                cmd = cmd.get_command(ctx, part) if isinstance(cmd, click.Group) else None
        return cmd

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            raise click.UsageError(str(exc), ctx) from None
        except CloudkitError as exc:
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(1)


class LegacyGroup(CloudkitGroup):
    """A hidden group of the first release (``compute keys create``) whose commands now live in ``parent``.

    ``names`` maps each old subcommand name to the parent's current command name; using one prints
    a note naming the new spelling.
    """

    def __init__(self, parent: click.Group, names: dict[str, str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._parent = parent
        self._names = dict(names)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(self._names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        new = self._names.get(cmd_name)
        if new is None:
            return None
        parent_path = ctx.parent.command_path if ctx.parent is not None else ""
        click.echo(f"note: '{ctx.command_path} {cmd_name}' is now '{parent_path} {new}'; "
                   "the old name will be removed in the next release", err=True)
        return self._parent.commands.get(new)
