"""``cloudkit storage``: buckets and objects."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from cloudkit.cli._common import CloudkitGroup, get_cloud, progress_bar, render, render_one, split_path
from cloudkit.models.storage import CommonPrefix


@click.group(cls=CloudkitGroup)
def group() -> None:
    """Buckets and objects."""


@group.command("mb")
@click.argument("bucket")
@click.option("--region", help="Region to create the bucket in.")
def make_bucket(bucket: str, region: str | None) -> None:
    """Create BUCKET."""
    render_one(get_cloud().storage.create_bucket(bucket, region=region))


@group.command("rb")
@click.argument("bucket")
@click.option("--force", is_flag=True, help="Delete the bucket's objects first.")
def remove_bucket(bucket: str, force: bool) -> None:
    """Delete BUCKET."""
    get_cloud().storage.delete_bucket(bucket, force=force)
    click.echo(f"deleted bucket {bucket}")


@group.command("ls")
@click.argument("target", required=False)
@click.option("--prefix", default="", help="Only keys starting with this.")
@click.option("--recursive", "-r", is_flag=True, help="List every key instead of rolling up at '/'.")
def list_cmd(target: str | None, prefix: str, recursive: bool) -> None:
    """List buckets, or the objects of TARGET (BUCKET or BUCKET/PREFIX)."""
    storage = get_cloud().storage
    if not target:
        render(storage.list_buckets(), ["name", "region", "created_at"], title="buckets")
        return
    bucket, _, sub = target.partition("/")
    items = storage.list_objects(bucket, prefix=sub + prefix, delimiter=None if recursive else "/")
    rows: list[object] = []
    for item in items:
        if isinstance(item, CommonPrefix):
            rows.append({"key": item.prefix, "size": "", "last_modified": "", "etag": "(prefix)"})
        else:
            rows.append(item)
    render(rows, ["key", "size", "last_modified", "etag"], title=f"{bucket}/{sub}")


@group.command("put")
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


@group.command("get")
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


@group.command("rm")
@click.argument("targets", nargs=-1, required=True)
def remove(targets: tuple[str, ...]) -> None:
    """Delete objects (BUCKET/KEY ...), batched per bucket."""
    storage = get_cloud().storage
    by_bucket: dict[str, list[str]] = {}
    for target in targets:
        bucket, key = split_path(target, "targets")
        by_bucket.setdefault(bucket, []).append(key)
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


@group.command("presign")
@click.argument("target")
@click.option("--method", type=click.Choice(["GET", "PUT"], case_sensitive=False), default="GET", show_default=True)
@click.option("--expires-in", type=int, default=3600, show_default=True, help="Seconds the URL stays valid.")
def presign(target: str, method: str, expires_in: int) -> None:
    """Print a presigned URL for TARGET (BUCKET/KEY)."""
    bucket, key = split_path(target, "target")
    click.echo(get_cloud().storage.presign_url(bucket, key, method=method.upper(), expires_in=expires_in))
