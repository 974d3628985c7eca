"""``cloudkit storage``: buckets and objects."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from cloudkit.cli._common import (
    CloudkitGroup,
    confirm_destructive,
    emit,
    get_cloud,
    progress_bar,
    render,
    render_one,
    split_path,
    state,
    yes_option,
)
from cloudkit.cloud import Cloud, connect
from cloudkit.models.storage import CommonPrefix

#: Names of the first release, kept working (hidden, with a note) for one more release.
ALIASES = {"mb": "create-bucket", "rb": "delete-bucket", "put": "put-object", "get": "get-object",
           "rm": "delete-objects", "presign": "presign-url"}


@click.group(cls=CloudkitGroup, aliases=ALIASES)
def group() -> None:
    """Buckets and objects."""


@group.command("create-bucket")
@click.argument("bucket")
@click.option("--region", help="Region to create the bucket in.")
def make_bucket(bucket: str, region: str | None) -> None:
    """Create BUCKET."""
    render_one(get_cloud().storage.create_bucket(bucket, region=region))


@group.command("delete-bucket")
@click.argument("bucket")
@click.option("--force", is_flag=True, help="Delete the bucket's objects first.")
@yes_option
def remove_bucket(bucket: str, force: bool, yes: bool) -> None:
    """Delete BUCKET."""
    confirm_destructive(f"Delete bucket {bucket}{' and every object in it' if force else ''}?", yes)
    get_cloud().storage.delete_bucket(bucket, force=force)
    click.echo(f"deleted bucket {bucket}")


@group.command("list-buckets")
def list_buckets() -> None:
    """List buckets."""
    render(get_cloud().storage.list_buckets(), ["name", "region", "created_at"], title="buckets")


@group.command("ls", hidden=True)
@click.argument("target", required=False)
@click.option("--prefix", default="", help="Only keys starting with this.")
@click.option("--recursive", "-r", is_flag=True, help="List every key instead of rolling up at '/'.")
@click.pass_context
def ls_cmd(ctx: click.Context, target: str | None, prefix: str, recursive: bool) -> None:
    """The first release's name for list-buckets (no TARGET) and list-objects (TARGET)."""
    new = "list-objects" if target else "list-buckets"
    click.echo(f"note: 'cloudkit storage ls' is now 'cloudkit storage {new}'; "
               "the old name will be removed in the next release", err=True)
    if target:
        ctx.invoke(list_objects, target=target, prefix=prefix, recursive=recursive)
    else:
        ctx.invoke(list_buckets)


@group.command("list-objects")
@click.argument("target")
@click.option("--prefix", default="", help="Only keys starting with this.")
@click.option("--recursive", "-r", is_flag=True, help="List every key instead of rolling up at '/'.")
def list_objects(target: str, prefix: str, recursive: bool) -> None:
    """List the objects of TARGET (BUCKET or BUCKET/PREFIX), rolled up at '/' unless --recursive."""
    storage = get_cloud().storage
    bucket, _, sub = target.partition("/")
    items = storage.list_objects(bucket, prefix=sub + prefix, delimiter=None if recursive else "/")
    rows: list[object] = []
    for item in items:
        if isinstance(item, CommonPrefix):
            rows.append({"key": item.prefix, "size": "", "last_modified": "", "etag": "(prefix)"})
        else:
            rows.append(item)
    render(rows, ["key", "size", "last_modified", "etag"], title=f"{bucket}/{sub}")


@group.command("put-object")
@click.argument("source", type=click.Path(exists=True, dir_okay=False, allow_dash=True))
@click.argument("dest")
@click.option("--content-type", help="MIME type of the object.")
@click.option("--meta", multiple=True, metavar="NAME=VALUE", help="User metadata (repeatable).")
def put(source: str, dest: str, content_type: str | None, meta: tuple[str, ...]) -> None:
    """Upload SOURCE (a file, or - for standard input) to DEST (BUCKET/KEY)."""
    bucket, key = split_path(dest, "dest")
    metadata = dict(item.split("=", 1) for item in meta if "=" in item)
    storage = get_cloud().storage
    if source == "-":
        info = storage.put_object(bucket, key, sys.stdin.buffer, content_type=content_type, metadata=metadata)
    else:
        size = Path(source).stat().st_size
        with progress_bar(f"put {key}", size) as cb:
            info = storage.upload_file(source, bucket, key, content_type=content_type, metadata=metadata, progress=cb)
    render_one(info)


@group.command("get-object")
@click.argument("source")
@click.argument("dest", required=False, default="-")
def get(source: str, dest: str) -> None:
    """Download SOURCE (BUCKET/KEY) to DEST (a file; - or nothing for standard output)."""
    bucket, key = split_path(source, "source")
    storage = get_cloud().storage
    if dest == "-":
        with storage.get_object(bucket, key) as reader:
            out = sys.stdout.buffer
            for chunk in reader.iter_chunks():
                out.write(chunk)
            out.flush()
        return
    target = Path(dest)
    if target.is_dir():
        target = target / Path(key).name
    size = storage.head_object(bucket, key).size
    with progress_bar(f"get {key}", size) as cb:
        info = storage.download_file(bucket, key, target, progress=cb)
    click.echo(f"downloaded {info.size} bytes to {target}", err=True)


@group.command("delete-objects")
@click.argument("targets", nargs=-1, required=True)
@yes_option
def remove(targets: tuple[str, ...], yes: bool) -> None:
    """Delete objects (BUCKET/KEY ...), batched per bucket."""
    by_bucket: dict[str, list[str]] = {}
    for target in targets:
        bucket, key = split_path(target, "targets")
        by_bucket.setdefault(bucket, []).append(key)
    confirm_destructive(f"Delete {len(targets)} object{'s' if len(targets) != 1 else ''}?", yes)
    storage = get_cloud().storage
    failed = 0
    for bucket, keys in by_bucket.items():
        result = storage.delete_objects(bucket, keys)
        for key in result.deleted:
            click.echo(f"deleted {bucket}/{key}")
        for key, reason in result.errors.items():
            failed += 1
            click.echo(f"failed {bucket}/{key}: {reason}", err=True)
    if failed:
        raise SystemExit(1)


@group.command("presign-url")
@click.argument("target")
@click.option("--method", type=click.Choice(["GET", "PUT"], case_sensitive=False), default="GET", show_default=True)
@click.option("--expires-in", type=int, default=3600, show_default=True, help="Seconds the URL stays valid.")
def presign(target: str, method: str, expires_in: int) -> None:
    """Print a presigned URL for TARGET (BUCKET/KEY)."""
    bucket, key = split_path(target, "target")
    click.echo(get_cloud().storage.presign_url(bucket, key, method=method.upper(), expires_in=expires_in))


# ---------------------------------------------------------------- cp / sync
def _side_cloud(profile: str | None) -> Cloud | None:
    """A connection to another profile for one side, or ``None`` to use the command's connection."""
    if profile is None:
        return None
    cloud = connect(profile=profile)
    click.get_current_context().call_on_close(cloud.close)
    return cloud


@contextmanager
def _overall_bar(total_files: int, total_bytes: int) -> Iterator[Callable[[object], None] | None]:
    """One rich progress bar for the whole run (files and bytes done, throughput), on a terminal only."""
    if not sys.stderr.isatty() or total_files == 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TextColumn, TransferSpeedColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                  TextColumn("files"), MofNCompleteColumn(), console=Console(stderr=True), transient=True) as bar:
        bytes_task = bar.add_task("transfer", total=total_bytes)

        def update(totals: object) -> None:
            from cloudkit.sync import Totals

            assert isinstance(totals, Totals)
            bar.update(bytes_task, completed=totals.bytes_done,
                       description=f"{totals.files_done}/{totals.files_total} files")

        yield update


def _transfer(kind: str, source: str, dest: str, *, recursive: bool, delete: bool, exclude: tuple[str, ...],
              include: tuple[str, ...], dryrun: bool, checksum: bool, workers: int, source_profile: str | None,
              dest_profile: str | None, yes: bool = False) -> None:
    from cloudkit.sync import apply_plan, plan_copy, plan_sync

    src_cloud, dst_cloud = _side_cloud(source_profile), _side_cloud(dest_profile)
    cloud = get_cloud() if src_cloud is None or dst_cloud is None else None
    if kind == "sync":
        plan = plan_sync(source, dest, cloud=cloud, source_cloud=src_cloud, dest_cloud=dst_cloud, delete=delete,
                         exclude=exclude, include=include, compare="checksum" if checksum else "size-mtime")
    else:
        plan = plan_copy(source, dest, recursive=recursive, cloud=cloud, source_cloud=src_cloud,
                         dest_cloud=dst_cloud, exclude=exclude, include=include)
    if dryrun:
        if state().output != "table":
            emit([{"action": a.kind, "source": None if a.source is None else str(a.source),
                   "dest": str(a.dest), "size": a.size, "reason": a.reason} for a in plan.actions])
        else:
            for action in plan.actions:
                click.echo(f"(dryrun) {action}")
            click.echo(f"(dryrun) {len(plan.actions)} actions, {plan.total_bytes} bytes to transfer, "
                       f"{plan.skipped} up to date", err=True)
        return

    deletions = sum(1 for a in plan.actions if a.kind == "delete")
    if deletions:
        confirm_destructive(f"Delete {deletions} item{'s' if deletions != 1 else ''} from {dest} that {source} lacks?", yes)

    def report(action: object, error: str | None) -> None:
        if error is None:
            click.echo(str(action))
        else:
            click.echo(f"failed {action}: {error}", err=True)

    with _overall_bar(len(plan.actions), plan.total_bytes) as bar:
        result = apply_plan(plan, workers=workers, progress=bar, on_done=report)
    click.echo(f"{len(result.done)} done, {len(result.failed)} failed, {plan.skipped} up to date", err=True)
    if result.failed:
        raise SystemExit(1)


_SIDE_HELP = "cloudkit://BUCKET/PREFIX or a local path."


def _common_options(func: Callable[..., None]) -> Callable[..., None]:
    for option in reversed([
        click.option("--exclude", multiple=True, metavar="GLOB", help="Leave out paths (relative to SOURCE) matching GLOB (repeatable)."),
        click.option("--include", multiple=True, metavar="GLOB", help="Keep paths matching GLOB even if excluded (repeatable)."),
        click.option("--dryrun", is_flag=True, help="Print the plan; change nothing."),
        click.option("--workers", type=click.IntRange(1, 64), default=8, show_default=True, help="Transfers at once."),
        click.option("--source-profile", metavar="PROFILE", help="Profile serving a cloudkit:// SOURCE (default: the global one)."),
        click.option("--dest-profile", metavar="PROFILE", help="Profile serving a cloudkit:// DEST (default: the global one)."),
    ]):
        func = option(func)
    return func


@group.command("cp")
@click.argument("source")
@click.argument("dest")
@click.option("--recursive", "-r", is_flag=True, help="Copy everything under SOURCE.")
@_common_options
def cp(source: str, dest: str, recursive: bool, exclude: tuple[str, ...], include: tuple[str, ...], dryrun: bool,
       workers: int, source_profile: str | None, dest_profile: str | None) -> None:
    """Copy SOURCE to DEST, overwriting (either side: cloudkit://BUCKET/KEY or a local path).

    A DEST ending in / (or an existing folder, or a bare bucket) receives SOURCE under its own name.
    """
    _transfer("cp", source, dest, recursive=recursive, delete=False, exclude=exclude, include=include, dryrun=dryrun,
              checksum=False, workers=workers, source_profile=source_profile, dest_profile=dest_profile)


@group.command("sync")
@click.argument("source")
@click.argument("dest")
@click.option("--delete", is_flag=True, help="Delete what DEST holds (inside its prefix) that SOURCE lacks.")
@click.option("--checksum", is_flag=True, help="Compare MD5 digests instead of size and modification time.")
@yes_option
@_common_options
def sync_cmd(source: str, dest: str, delete: bool, checksum: bool, yes: bool, exclude: tuple[str, ...],
             include: tuple[str, ...], dryrun: bool, workers: int, source_profile: str | None,
             dest_profile: str | None) -> None:
    """Make DEST hold what SOURCE holds, copying only new and changed files (safe to re-run).

    With --delete, what DEST holds and SOURCE lacks is deleted after a confirmation (--yes to skip it).
    """
    _transfer("sync", source, dest, recursive=True, delete=delete, exclude=exclude, include=include, dryrun=dryrun,
              checksum=checksum, workers=workers, source_profile=source_profile, dest_profile=dest_profile, yes=yes)
