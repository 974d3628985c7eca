"""Helpers every ``cloudkit`` CLI group shares: the connection, output rendering, errors, progress."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import attrs
import click

from cloudkit.cloud import Cloud, connect
from cloudkit.errors import CloudkitError, InvalidInput

#: Transfers larger than this show a progress bar (on a terminal).
PROGRESS_THRESHOLD = 4 * 1024 * 1024


@attrs.define
class CliState:
    """What the top-level options decided; the connection is opened on first use."""

    profile: str | None = None
    provider: str | None = None
    output: str = "table"
    settings: dict[str, str] = attrs.field(factory=dict)
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


def render(rows: Iterable[Any], columns: Sequence[str], *, title: str | None = None) -> None:
    """Print rows as a rich table or, with ``--output json``, as JSON lines of an array."""
    out = state().output
    data = [to_row(r) for r in rows]
    if out == "json":
        click.echo(json.dumps(data, indent=2, default=str))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for col in columns:
        table.add_column(col)
    for row in data:
        table.add_row(*[_cell(row.get(col)) for col in columns])
    Console().print(table)


def render_one(model: Any) -> None:
    """Print one model: JSON, or key/value lines."""
    row = to_row(model)
    if state().output == "json":
        click.echo(json.dumps(row, indent=2, default=str))
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


class CloudkitGroup(click.Group):
    """A click group that reports cloudkit errors as one line and a non-zero exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InvalidInput as exc:
            raise click.UsageError(str(exc), ctx) from None
        except CloudkitError as exc:
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(1)
