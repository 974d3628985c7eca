"""cloudkit.sync on the local provider with real files: change detection, times, deletes, filters, containment."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cloudkit
from cloudkit.sync import MTIME_META, Totals, apply_plan, copy, parse_location, plan_copy, plan_sync, sync

T0 = 1_700_000_000_000_000_000  # a fixed file time (ns)


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as c:
        c.storage.create_bucket("bkt")
        yield c


def write(path: Path, data: bytes, mtime_ns: int = T0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


def tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def keys(cloud: cloudkit.Cloud, bucket: str = "bkt", prefix: str = "") -> list[str]:
    return [o.key for o in cloud.storage.list_objects(bucket, prefix=prefix)]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    write(root / "a.txt", b"alpha")
    write(root / "sub" / "b.bin", b"\x00" * 100)
    write(root / "sub" / "deep" / "c.log", b"log line\n")
    return root


# ------------------------------------------------------------------ upload / download round trip
def test_upload_records_mtime_and_rerun_skips(cloud: cloudkit.Cloud, src: Path) -> None:
    result = sync(src, "cloudkit://bkt/backup", cloud=cloud)
    assert result.ok and len(result.done) == 3
    assert keys(cloud) == ["backup/a.txt", "backup/sub/b.bin", "backup/sub/deep/c.log"]
    head = cloud.storage.head_object("bkt", "backup/a.txt")
    assert head.metadata[MTIME_META] == "1700000000.000000000"
    assert head.content_type == "text/plain"
    again = plan_sync(src, "cloudkit://bkt/backup", cloud=cloud)
    assert again.actions == () and again.skipped == 3


def test_download_preserves_mtime_and_rerun_skips(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    sync(src, "cloudkit://bkt/backup/", cloud=cloud)
    dst = tmp_path / "restore"
    result = sync("cloudkit://bkt/backup", str(dst), cloud=cloud)
    assert result.ok and tree(dst) == tree(src)
    assert (dst / "sub" / "deep" / "c.log").stat().st_mtime_ns == T0
    assert plan_sync("cloudkit://bkt/backup", str(dst), cloud=cloud).actions == ()
    # the object changes (same size, recorded later time): downloaded again
    write(src / "a.txt", b"ALPHA", T0 + 5_000_000_000)
    sync(src, "cloudkit://bkt/backup", cloud=cloud)
    plan = plan_sync("cloudkit://bkt/backup", str(dst), cloud=cloud)
    assert [(a.kind, str(a.dest)) for a in plan.actions] == [("download", str(dst / "a.txt"))]
    apply_plan(plan)
    assert (dst / "a.txt").read_bytes() == b"ALPHA"
    assert (dst / "a.txt").stat().st_mtime_ns == T0 + 5_000_000_000


def test_change_detection_size_and_mtime(cloud: cloudkit.Cloud, src: Path) -> None:
    sync(src, "cloudkit://bkt/p", cloud=cloud)
    write(src / "a.txt", b"alpha!")                          # size differs
    write(src / "sub" / "b.bin", b"\x01" * 100, T0 + 10**9)   # same size, newer time
    write(src / "sub" / "deep" / "c.log", b"LOG LINE\n")      # same size, same time: not seen by size+mtime
    plan = plan_sync(src, "cloudkit://bkt/p", cloud=cloud)
    assert {a.dest.key: a.reason for a in plan.actions} == {  # type: ignore[union-attr]
        "p/a.txt": "size differs", "p/sub/b.bin": "modification time differs"}
    # an older source time also differs from the recorded one (a restored older version)
    write(src / "sub" / "b.bin", b"\x01" * 100, T0 - 10**9)
    assert len(plan_sync(src, "cloudkit://bkt/p", cloud=cloud).actions) == 2


def test_checksum_compare(cloud: cloudkit.Cloud, src: Path) -> None:
    sync(src, "cloudkit://bkt/p", cloud=cloud, compare="checksum")
    assert cloud.storage.head_object("bkt", "p/a.txt").metadata["md5"] == "2c1743a391305fbf367df8e4f069f9f9"
    write(src / "a.txt", b"alpha", T0 + 10**9)      # touched only: same digest
    write(src / "sub" / "deep" / "c.log", b"LOG LINE\n")  # same size and time, other bytes
    plan = plan_sync(src, "cloudkit://bkt/p", cloud=cloud, compare="checksum")
    assert [a.dest.key for a in plan.actions] == ["p/sub/deep/c.log"]  # type: ignore[union-attr]
    assert plan.skipped == 2
    with pytest.raises(cloudkit.InvalidInput, match="compare"):
        plan_sync(src, "cloudkit://bkt/p", cloud=cloud, compare="fast")  # type: ignore[arg-type]


def test_objects_without_recorded_mtime_follow_last_modified(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    cloud.storage.put_object("bkt", "p/x.txt", b"12345")         # another tool: no mtime metadata
    old = write(tmp_path / "s" / "x.txt", b"abcde", T0)           # older than the upload
    assert plan_sync(old.parent, "cloudkit://bkt/p", cloud=cloud).actions == ()
    write(old, b"abcde", 4_000_000_000_000_000_000)               # newer than the upload
    plan = plan_sync(old.parent, "cloudkit://bkt/p", cloud=cloud)
    assert [a.reason for a in plan.actions] == ["source is newer"]


# ------------------------------------------------------------------ delete, filters
def test_delete_stays_inside_the_destination_prefix(cloud: cloudkit.Cloud, src: Path) -> None:
    for key in ("p/gone.txt", "p/sub/gone.bin", "pother/keep.txt", "keep.txt", "q/p/keep.txt"):
        cloud.storage.put_object("bkt", key, b"x")
    result = sync(src, "cloudkit://bkt/p", cloud=cloud, delete=True)
    assert result.ok
    assert sorted(str(a.dest) for a in result.done if a.kind == "delete") == [
        "cloudkit://bkt/p/gone.txt", "cloudkit://bkt/p/sub/gone.bin"]
    assert keys(cloud) == ["keep.txt", "p/a.txt", "p/sub/b.bin", "p/sub/deep/c.log", "pother/keep.txt", "q/p/keep.txt"]
    # without --delete nothing is removed
    cloud.storage.put_object("bkt", "p/extra.txt", b"x")
    sync(src, "cloudkit://bkt/p", cloud=cloud)
    assert "p/extra.txt" in keys(cloud)


def test_delete_local_destination(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    sync(src, "cloudkit://bkt/p", cloud=cloud)
    dst = tmp_path / "dst"
    write(dst / "stale.txt", b"old")
    write(tmp_path / "outside.txt", b"keep")
    result = sync("cloudkit://bkt/p", dst, cloud=cloud, delete=True)
    assert result.ok and not (dst / "stale.txt").exists() and (tmp_path / "outside.txt").exists()
    assert tree(dst) == tree(src)


def test_exclude_include(cloud: cloudkit.Cloud, src: Path) -> None:
    cloud.storage.put_object("bkt", "p/old.log", b"x")
    result = sync(src, "cloudkit://bkt/p", cloud=cloud, delete=True, exclude=["*.log", "sub/*"],
                  include=["sub/deep/*"])
    assert result.ok
    # a.txt (not excluded) and sub/deep/c.log (re-included); sub/b.bin excluded; p/old.log excluded so not deleted
    assert keys(cloud) == ["p/a.txt", "p/old.log", "p/sub/deep/c.log"]
    with pytest.raises(cloudkit.InvalidInput, match="exclude"):
        plan_sync(src, "cloudkit://bkt/p", cloud=cloud, exclude="*.log")  # type: ignore[arg-type]


# ------------------------------------------------------------------ bucket to bucket
def test_same_cloud_bucket_to_bucket_uses_copy_object(cloud: cloudkit.Cloud, src: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    sync(src, "cloudkit://bkt/p", cloud=cloud)
    cloud.storage.create_bucket("other")
    storage = cloud.storage
    calls: list[str] = []
    real_copy, real_get = storage._copy_object, storage._get_object

    def spy_copy(*args: Any) -> Any:
        calls.append("copy")
        return real_copy(*args)

    def spy_get(*args: Any) -> Any:
        calls.append("get")
        return real_get(*args)

    monkeypatch.setattr(storage, "_copy_object", spy_copy)
    monkeypatch.setattr(storage, "_get_object", spy_get)
    result = sync("cloudkit://bkt/p", "cloudkit://other/q", cloud=cloud)
    assert result.ok and calls == ["copy"] * 3
    assert keys(cloud, "other") == ["q/a.txt", "q/sub/b.bin", "q/sub/deep/c.log"]
    assert cloud.storage.head_object("other", "q/a.txt").metadata[MTIME_META] == "1700000000.000000000"
    assert plan_sync("cloudkit://bkt/p", "cloudkit://other/q", cloud=cloud).actions == ()


def test_across_clouds_streams(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    sync(src, "cloudkit://bkt/p", cloud=cloud)
    with cloudkit.connect("local", root=str(tmp_path / "root2")) as other:
        other.storage.create_bucket("far")
        result = sync("cloudkit://bkt/p", "cloudkit://far/", source_cloud=cloud, dest_cloud=other)
        assert result.ok
        assert [o.key for o in other.storage.list_objects("far")] == ["a.txt", "sub/b.bin", "sub/deep/c.log"]
        with other.storage.get_object("far", "sub/b.bin") as r:
            assert r.read() == b"\x00" * 100
        assert other.storage.head_object("far", "a.txt").content_type == "text/plain"


# ------------------------------------------------------------------ interruption, partial files, concurrency
def test_failed_transfers_are_reported_and_rerun_finishes(cloud: cloudkit.Cloud, src: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    storage = cloud.storage
    real = storage._upload_file

    def flaky(path: Path, bucket: str, key: str, *args: Any) -> Any:
        if key.endswith("b.bin"):
            raise OSError(5, "I/O error")
        return real(path, bucket, key, *args)

    monkeypatch.setattr(storage, "_upload_file", flaky)
    result = sync(src, "cloudkit://bkt/p", cloud=cloud)
    assert not result.ok and [str(a.dest) for a, _ in result.failed] == ["cloudkit://bkt/p/sub/b.bin"]
    assert "ProviderError" in result.failed[0][1]
    monkeypatch.setattr(storage, "_upload_file", real)
    again = sync(src, "cloudkit://bkt/p", cloud=cloud)
    assert [str(a.dest) for a in again.done] == ["cloudkit://bkt/p/sub/b.bin"] and again.plan.skipped == 2


def test_interrupted_download_leaves_no_partial_file(cloud: cloudkit.Cloud, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    cloud.storage.put_object("bkt", "p/big.bin", b"new contents" * 1000)
    cloud.storage.put_object("bkt", "p/new.bin", b"more" * 1000)
    dst = tmp_path / "dst"
    write(dst / "big.bin", b"previous")

    def cut_short(bucket: str, key: str, path: Path, progress: Any) -> Any:
        with open(path, "wb") as fh:   # a driver writing straight into the path it was given...
            fh.write(b"half")
        raise OSError(104, "connection reset")  # ...and the connection dropping halfway

    monkeypatch.setattr(cloud.storage, "_download_file", cut_short)
    result = sync("cloudkit://bkt/p", dst, cloud=cloud)
    assert len(result.failed) == 2
    assert sorted(p.name for p in dst.iterdir()) == ["big.bin"]   # no partial new.bin, no temporary files
    assert (dst / "big.bin").read_bytes() == b"previous"


def test_concurrent_transfers_and_totals(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    root = tmp_path / "many"
    for i in range(30):
        write(root / f"d{i % 3}" / f"f{i:02d}.dat", bytes([i]) * (1000 + i))
    seen: list[Totals] = []
    result = sync(root, "cloudkit://bkt/many", cloud=cloud, workers=6, progress=seen.append)
    assert result.ok and len(result.done) == 30 and len(keys(cloud, prefix="many/")) == 30
    total = sum(1000 + i for i in range(30))
    assert seen[-1] == Totals(30, 30, total, total) or max(t.bytes_done for t in seen) == total
    assert max(t.files_done for t in seen) == 30
    with pytest.raises(cloudkit.InvalidInput, match="workers"):
        apply_plan(result.plan, workers=0)


# ------------------------------------------------------------------ single copies, dryrun
def test_copy_single_file_and_object(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    copy(src / "a.txt", "cloudkit://bkt/", cloud=cloud)
    copy(src / "a.txt", "cloudkit://bkt/dir/", cloud=cloud)
    copy(src / "a.txt", "cloudkit://bkt/renamed.txt", cloud=cloud)
    assert keys(cloud) == ["a.txt", "dir/a.txt", "renamed.txt"]
    out = tmp_path / "out"
    out.mkdir()
    copy("cloudkit://bkt/dir/a.txt", out, cloud=cloud)
    copy("cloudkit://bkt/renamed.txt", out / "r.txt", cloud=cloud)
    assert tree(out) == {"a.txt": b"alpha", "r.txt": b"alpha"} and (out / "r.txt").stat().st_mtime_ns == T0
    # cp overwrites even when the destination is up to date (sync is the one that skips)
    assert len(plan_copy(src, "cloudkit://bkt/p", recursive=True, cloud=cloud).actions) == 3
    with pytest.raises(cloudkit.InvalidInput, match="recursive"):
        plan_copy(src, "cloudkit://bkt/p", cloud=cloud)
    with pytest.raises(cloudkit.InvalidInput, match="recursive"):
        plan_copy("cloudkit://bkt/dir/", out, cloud=cloud)


def test_dryrun_changes_nothing(cloud: cloudkit.Cloud, src: Path) -> None:
    cloud.storage.put_object("bkt", "p/stale", b"x")
    result = sync(src, "cloudkit://bkt/p", cloud=cloud, delete=True, dryrun=True)
    assert result.done == () and sorted(a.kind for a in result.plan.actions) == ["delete", "upload", "upload", "upload"]
    assert keys(cloud) == ["p/stale"]


# ------------------------------------------------------------------ hostile input
@pytest.mark.parametrize("key", ["p/../x", "p/../../escape", "p//abs/x", "p/a/./b", "p/a/../../x"])
def test_hostile_keys_never_write_outside(cloud: cloudkit.Cloud, tmp_path: Path, key: str) -> None:
    # keys another tool could have stored: planted through the driver, past the core's key rules
    cloud.storage._put_object("bkt", key, __import__("io").BytesIO(b"evil"), 4, None, {})
    cloud.storage.put_object("bkt", "p/fine.txt", b"fine")
    dst = tmp_path / "a" / "b" / "dst"
    dst.mkdir(parents=True)
    with pytest.raises(cloudkit.InvalidInput) as info:
        sync("cloudkit://bkt/p", dst, cloud=cloud)
    assert info.value.field == "key" and "destination folder" in str(info.value)
    written = [p for p in tmp_path.rglob("*") if p.is_file() and "root" not in p.relative_to(tmp_path).parts]
    assert written == []  # nothing written anywhere, not even the good key
    # the user can leave such a key out and sync the rest
    rel = key[len("p/"):]
    assert sync("cloudkit://bkt/p", dst, cloud=cloud, exclude=[rel]).ok
    assert tree(dst) == {"fine.txt": b"fine"}


def test_hostile_single_copy_and_symlink_escape(cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    cloud.storage._put_object("bkt", "..", __import__("io").BytesIO(b"evil"), 4, None, {})
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(cloudkit.InvalidInput, match=r"'\.\.'"):
        copy("cloudkit://bkt/..", str(out) + "/", cloud=cloud)
    # a folder inside the destination that links outside it is not followed
    outside = tmp_path / "outside"
    outside.mkdir()
    (out / "link").symlink_to(outside)
    cloud.storage.put_object("bkt", "p/link/x.txt", b"evil")
    with pytest.raises(cloudkit.InvalidInput, match="outside the destination"):
        sync("cloudkit://bkt/p", out, cloud=cloud)
    assert list(outside.iterdir()) == []


def test_locations(cloud: cloudkit.Cloud, src: Path) -> None:
    assert str(parse_location("cloudkit://bkt/a/b")) == "cloudkit://bkt/a/b"
    with pytest.raises(cloudkit.InvalidInput, match="'@'"):
        parse_location("cloudkit://prod@bkt/a")
    with pytest.raises(cloudkit.InvalidInput, match="only cloudkit://"):
        parse_location("s3://bkt/a", "dest")
    with pytest.raises(cloudkit.InvalidInput) as info:
        parse_location("cloudkit://Bad_Bucket/x")
    assert info.value.field == "source"
    with pytest.raises(cloudkit.InvalidInput, match="one of source and dest"):
        plan_sync(src, src.parent / "other", cloud=cloud)
    with pytest.raises(cloudkit.NotFound):
        plan_sync(src, "cloudkit://nosuchbucket/p", cloud=cloud)
