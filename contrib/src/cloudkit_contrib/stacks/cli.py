"""``cloudkit stack ...``: the stack commands, added to the ``cloudkit`` command line through the
``cloudkit.cli`` entry point of cloudkit-contrib."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

import cloudkit
from cloudkit.cli import confirm_destructive, emit, get_cloud, output_format, yes_option
from cloudkit_contrib.stacks.engine import StackEvent, Stacks, StackSummary, validate_template
from cloudkit_contrib.stacks.export import export_cfn

__all__ = ["group"]


class _Group(click.Group):
    """Cloudkit errors as one line: bad input exits 2 (usage), anything else 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except cloudkit.InvalidInput as exc:
            raise click.UsageError(str(exc), ctx) from None
        except cloudkit.CloudkitError as exc:
            click.echo(f"error: {type(exc).__name__}: {exc}", err=True)
            ctx.exit(1)


def _json() -> bool:
    """Whether the result is printed as data (``-o json`` or ``-o text``, with ``--query`` applied)."""
    return output_format() != "table"


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise cloudkit.InvalidInput("template", f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from None


def _params(values: tuple[str, ...]) -> dict[str, str]:
    out = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise cloudkit.InvalidInput("--parameter", f"{item!r} must be KEY=VALUE")
        out[key] = value
    return out


def _event_dict(e: StackEvent) -> dict[str, Any]:
    return {"timestamp": e.timestamp.isoformat(), "stack": e.stack_name, "logical_id": e.logical_id,
            "type": e.resource_type, "physical_id": e.physical_id, "status": e.status, "reason": e.reason}


def _event_line(e: StackEvent) -> str:
    parts = [e.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"), e.status.ljust(22), e.logical_id, e.resource_type,
             e.physical_id or "-"]
    if e.reason:
        parts.append(e.reason)
    return "  ".join(parts)


class _Events:
    """Prints each event as it happens (a table line), or collects them for the JSON result."""

    def __init__(self) -> None:
        self.seen: list[StackEvent] = []
        self.quiet = _json()  # decided here: events arrive on worker threads, outside click's context

    def __call__(self, e: StackEvent) -> None:
        self.seen.append(e)
        if not self.quiet:
            click.echo(_event_line(e))


def _summary_dict(s: StackSummary) -> dict[str, Any]:
    return {"name": s.name, "stack_id": s.stack_id, "status": s.status, "reason": s.status_reason,
            "created_at": s.created_at.isoformat(), "updated_at": s.updated_at.isoformat(),
            "description": s.description, "outputs": dict(s.outputs)}


def _finish(ctx: click.Context, summary: StackSummary, events: _Events, verb: str) -> None:
    if _json():
        emit({**_summary_dict(summary), "events": [_event_dict(e) for e in events.seen]})
    elif summary.outputs:
        click.echo("Outputs:")
        for key, value in summary.outputs.items():
            click.echo(f"  {key} = {value}")
    if summary.rolled_back or summary.status.endswith("FAILED"):
        click.echo(f"error: the {verb} of stack {summary.name!r} ended {summary.status}: {summary.status_reason}", err=True)
        ctx.exit(1)


@click.group("stack", cls=_Group)
@click.option("--state-dir", envvar="CLOUDKIT_STACK_STATE_DIR", type=click.Path(file_okay=False),
              help="Keep stack state in this local folder (default: a bucket of the profile's storage).")
@click.option("--state-bucket", envvar="CLOUDKIT_STACK_STATE_BUCKET", default="cloudkit-stacks", show_default=True,
              help="The bucket that holds stack state.")
@click.option("--concurrency", type=click.IntRange(1, 32), default=4, show_default=True,
              help="How many independent resources are created or deleted at once.")
@click.option("--region", help="What AWS::Region evaluates to (default: from the compute family's locations).")
@click.pass_context
def group(ctx: click.Context, state_dir: str | None, state_bucket: str, concurrency: int, region: str | None) -> None:
    """CloudFormation-style stacks: validate, plan, create, update, delete, events, outputs."""
    ctx.meta["cloudkit_stack_options"] = {"state_dir": state_dir, "state_bucket": state_bucket,
                                          "concurrency": concurrency, "region": region}


def _stacks_of(ctx: click.Context) -> Stacks:
    o = ctx.meta.get("cloudkit_stack_options") or {"state_dir": None, "state_bucket": "cloudkit-stacks",
                                                   "concurrency": 4, "region": None}
    return Stacks(get_cloud(ctx), state_dir=o["state_dir"], state_bucket=o["state_bucket"], concurrency=o["concurrency"],
                  region=o["region"])


@group.command("validate")
@click.argument("file", type=click.Path(dir_okay=False))
@click.pass_context
def validate_cmd(ctx: click.Context, file: str) -> None:
    """Check a template (no cloud call) and list its parameters with their descriptions."""
    v = validate_template(_read(file))
    if _json():
        emit({"description": v.description, "parameters": [
            {"name": p.name, "type": p.type, "default": p.default, "no_echo": p.no_echo, "description": p.description}
            for p in v.parameters], "resources": [{"logical_id": lid, "type": t} for lid, t in v.resources]})
        return
    if v.description:
        click.echo(f"DESCRIPTION  {v.description}")
    for p in v.parameters:
        click.echo(f"PARAMETERS  {p.name}  {str(p.no_echo).lower()}  {p.description or ''}".rstrip())
    for lid, t in v.resources:
        click.echo(f"RESOURCES  {lid}  {t}")


def _template_options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--parameter", "parameters", multiple=True, metavar="KEY=VALUE", help="A parameter value (repeatable).")(f)
    f = click.option("--template", "-t", "template", required=True, type=click.Path(dir_okay=False),
                     help="The template file (JSON or YAML).")(f)
    return f


@group.command("plan")
@click.argument("name")
@_template_options
@click.pass_context
def plan_cmd(ctx: click.Context, name: str, template: str, parameters: tuple[str, ...]) -> None:
    """What a create or update would add, modify, replace or delete (nothing is applied)."""
    plan = _stacks_of(ctx).plan(name, _read(template), parameters=_params(parameters))
    if _json():
        emit({"stack": plan.stack_name, "kind": plan.kind, "counts": plan.counts(), "changes": [
            {"action": c.action, "logical_id": c.logical_id, "type": c.resource_type, "physical_id": c.physical_id,
             "details": {k: list(v) for k, v in c.details.items()}} for c in plan.changes]})
        return
    click.echo(f"{plan.kind} of stack {name!r}: " + ", ".join(f"{n} {k}" for k, n in plan.counts().items()))
    for c in plan.changes:
        click.echo(f"  {c.action.ljust(8)} {c.logical_id}  {c.resource_type}  {c.physical_id or ''}".rstrip())
        for prop, (old, new) in c.details.items():
            click.echo(f"      {prop}: {json.dumps(old, default=str)} -> {json.dumps(new, default=str)}")


@group.command("create")
@click.argument("name")
@_template_options
@click.option("--disable-rollback", is_flag=True, help="On failure keep what was made, for inspection.")
@click.pass_context
def create_cmd(ctx: click.Context, name: str, template: str, parameters: tuple[str, ...], disable_rollback: bool) -> None:
    """Create a stack, printing its events as they happen; exit status 1 when it ends rolled back."""
    events = _Events()
    summary = _stacks_of(ctx).create(name, _read(template), parameters=_params(parameters),
                                     disable_rollback=disable_rollback, on_event=events)
    _finish(ctx, summary, events, "create")


@group.command("update")
@click.argument("name")
@_template_options
@click.pass_context
def update_cmd(ctx: click.Context, name: str, template: str, parameters: tuple[str, ...]) -> None:
    """Update a stack (in place where possible, else by replacement); exit status 1 when it ends rolled back."""
    events = _Events()
    summary = _stacks_of(ctx).update(name, _read(template), parameters=_params(parameters), on_event=events)
    _finish(ctx, summary, events, "update")


@group.command("events")
@click.argument("name")
@click.pass_context
def events_cmd(ctx: click.Context, name: str) -> None:
    """A stack's events, newest first (as cfn-describe-stack-events shows them)."""
    events = list(reversed(_stacks_of(ctx).events(name)))
    if _json():
        emit([_event_dict(e) for e in events])
        return
    for e in events:
        click.echo(f"STACK_EVENT  {name}  {_event_line(e)}")


@group.command("outputs")
@click.argument("name")
@click.pass_context
def outputs_cmd(ctx: click.Context, name: str) -> None:
    """A stack's outputs."""
    outputs = _stacks_of(ctx).outputs(name)
    if _json():
        emit(outputs)
        return
    for key, out in outputs.items():
        desc = f"  ({out['description']})" if out.get("description") else ""
        click.echo(f"{key} = {out['value']}{desc}")


@group.command("list")
@click.option("--all", "include_deleted", is_flag=True, help="Also list deleted stacks.")
@click.pass_context
def list_cmd(ctx: click.Context, include_deleted: bool) -> None:
    """Every stack with its status."""
    items = _stacks_of(ctx).list(include_deleted=include_deleted)
    if _json():
        emit([_summary_dict(s) for s in items])
        return
    for s in items:
        click.echo(f"{s.name}  {s.status}  {s.updated_at:%Y-%m-%dT%H:%M:%SZ}  {s.description or ''}".rstrip())


@group.command("delete")
@click.argument("name")
@yes_option
@click.pass_context
def delete_cmd(ctx: click.Context, name: str, yes: bool) -> None:
    """Delete a stack and its resources (asks first unless --yes; without a terminal --yes is required)."""
    stacks = _stacks_of(ctx)
    confirm_destructive(f"Delete stack {name!r} and all of its resources?", yes)
    events = _Events()
    summary = stacks.delete(name, on_event=events)
    if _json():
        emit({**_summary_dict(summary), "events": [_event_dict(e) for e in events.seen]})
    if summary.status != "DELETE_COMPLETE":
        click.echo(f"error: the delete of stack {name!r} ended {summary.status}: {summary.status_reason}", err=True)
        ctx.exit(1)


@group.command("export-cfn")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True)
def export_cmd(file: str, fmt: str) -> None:
    """Print FILE as a CloudFormation template (neutral Cloudkit::* types turned into AWS types)."""
    click.echo(export_cfn(_read(file), fmt=fmt), nl=False)
