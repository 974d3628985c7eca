"""Folder backups on the local provider: chains, restores, crashes, retention and lifecycle."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cloudkit_contrib import IntegrityError
from cloudkit_contrib.backup import (
    backup_folder,
    get_backup,
    list_backups,
    purge_backups,
    restore_backup,
    set_backup_lifecycle,
)

import cloudkit
from cloudkit.errors import CloudkitError, InvalidInput, NotFound, NotSupported
from cloudkit.models import LifecycleRule, ObjectInfo

Snap = Callable[[Path], dict[str, object]]
T0 = datetime(2026, 1, 5, 2, 0, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def write(path: Path, data: bytes, *, mtime: datetime | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    if mtime is not None:
        ts = mtime.timestamp()
        os.utime(path, (ts, ts))


def keys(cloud: cloudkit.Cloud, prefix: str = "") -> list[str]:
    return [o.key for o in cloud.storage.list_objects("vault", prefix=prefix) if isinstance(o, ObjectInfo)]


@pytest.fixture
def src(tmp_path: Path) -> Path:
    """A folder with text, binary (incompressible, several chunks), a link, modes and an empty folder."""
    folder = tmp_path / "src"
    write(folder / "a.txt", b"alpha\n", mtime=day(-1))
    write(folder / "sub" / "b.bin", os.urandom(2_500_000), mtime=day(-1))
    write(folder / "sub" / "c.txt", b"charlie\n", mtime=day(-1))
    write(folder / "sub" / "deep" / "d.cfg", b"delta=1\n", mtime=day(-1))
    os.chmod(folder / "sub" / "deep" / "d.cfg", 0o600)
    (folder / "empty").mkdir()
    os.symlink("a.txt", folder / "link")
    write(folder / "frozen" / "ro.txt", b"read only\n", mtime=day(-1))
    os.chmod(folder / "frozen" / "ro.txt", 0o444)
    os.chmod(folder / "frozen", 0o555)
    os.chmod(folder, 0o750)
    return folder


def test_full_then_incrementals_restore_every_point(cloud: cloudkit.Cloud, src: Path, tmp_path: Path, snap: Snap) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    s0 = snap(src)
    assert full.kind == "full" and full.chain == (full.id,) and full.base is None
    assert (full.file_count, full.stored_count, full.deleted_count) == (5, 5, 0)

    # Round 1: change (new size), delete, add.
    write(src / "a.txt", b"alpha, edited\n", mtime=day(0.5))
    (src / "sub" / "c.txt").unlink()
    write(src / "new" / "e.txt", b"echo\n", mtime=day(0.5))
    inc1 = backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(1))
    s1 = snap(src)
    assert inc1.base == full.id and inc1.chain == (full.id, inc1.id)
    assert (inc1.stored_count, inc1.deleted_count) == (2, 1)
    assert inc1.archive_size < full.archive_size / 100, "an incremental archive holds only what changed"

    # Round 2: same size but new bytes and time, delete what round 1 added, change a mode.
    write(src / "sub" / "b.bin", os.urandom(2_500_000), mtime=day(1.5))
    (src / "new" / "e.txt").unlink()
    (src / "new").rmdir()
    write(src / "f.txt", b"foxtrot\n", mtime=day(1.5))
    inc2 = backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(2))
    s2 = snap(src)
    assert inc2.base == inc1.id and inc2.chain == (full.id, inc1.id, inc2.id)
    assert inc2.stored_count == 2
    assert inc2.deleted_count == 2, "new/e.txt and the folder new"

    assert [b.id for b in list_backups(cloud, "vault", "home")] == [full.id, inc1.id, inc2.id]
    for i, (info, expected) in enumerate([(full, s0), (inc1, s1), (inc2, s2)]):
        dest = tmp_path / f"restore-{i}"
        result = restore_backup(cloud, "vault", "home", dest, backup_id=info.id)
        assert snap(dest) == expected, f"restore of {info.id}"
        assert result.files == info.file_count
    # The latest restore reads every archive of the chain, in order.
    assert restore_backup(cloud, "vault", "home", tmp_path / "latest").applied == (full.id, inc1.id, inc2.id)
    assert snap(tmp_path / "latest") == s2
    # A point in time between two backups restores the earlier one.
    at = restore_backup(cloud, "vault", "home", tmp_path / "at", at=day(1.7))
    assert at.backup.id == inc1.id and snap(tmp_path / "at") == s1
    # Restored files keep their modification times, folders their modes, the root folder too.
    assert (tmp_path / "latest" / "frozen").stat().st_mode & 0o777 == 0o555
    assert (tmp_path / "latest").stat().st_mode & 0o777 == 0o750
    assert (tmp_path / "latest" / "f.txt").stat().st_mtime == pytest.approx(day(1.5).timestamp())


def test_differentials_each_need_only_the_full(cloud: cloudkit.Cloud, src: Path, tmp_path: Path, snap: Snap) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    write(src / "a.txt", b"alpha v2 is longer\n", mtime=day(0.5))
    (src / "sub" / "c.txt").unlink()
    diff1 = backup_folder(cloud, "vault", "home", src, kind="differential", now=day(1))
    s1 = snap(src)
    write(src / "g.txt", b"golf\n", mtime=day(1.5))
    (src / "link").unlink()
    os.symlink("sub/c.txt", src / "link")  # now dangling: links are kept as links
    diff2 = backup_folder(cloud, "vault", "home", src, kind="differential", now=day(2))
    s2 = snap(src)
    assert diff1.chain == (full.id, diff1.id) and diff2.chain == (full.id, diff2.id)
    assert diff2.base == full.id
    assert diff2.stored_count == 2, "a differential re-stores everything changed since the full"
    assert diff2.deleted_count == 1
    # An incremental after a differential builds on it.
    write(src / "h.txt", b"hotel\n", mtime=day(2.5))
    inc = backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(3))
    s3 = snap(src)
    assert inc.chain == (full.id, diff2.id, inc.id) and inc.stored_count == 1

    for name, info, expected in (("d1", diff1, s1), ("d2", diff2, s2), ("i", inc, s3)):
        restore_backup(cloud, "vault", "home", tmp_path / name, backup_id=info.id)
        assert snap(tmp_path / name) == expected
    assert os.readlink(tmp_path / "d2" / "link") == "sub/c.txt"


def test_checksum_mode_catches_a_change_that_keeps_size_and_time(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    backup_folder(cloud, "vault", "home", src, now=day(0))
    write(src / "sub" / "c.txt", b"CHARLIE\n", mtime=day(-1))  # same size, same time
    quick = backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(1))
    assert quick.stored_count == 0, "size and time alone cannot see it"
    thorough = backup_folder(cloud, "vault", "home", src, kind="incremental", checksum=True, now=day(2))
    assert thorough.stored_count == 1
    restore_backup(cloud, "vault", "home", tmp_path / "out")
    assert (tmp_path / "out" / "sub" / "c.txt").read_bytes() == b"CHARLIE\n"


def test_overwrite_restore_mirrors_the_backup(cloud: cloudkit.Cloud, src: Path, tmp_path: Path, snap: Snap) -> None:
    backup_folder(cloud, "vault", "home", src, now=day(0))
    expected = snap(src)
    dest = tmp_path / "busy"
    write(dest / "stray.txt", b"not in the backup\n")
    write(dest / "sub" / "c.txt", b"stale\n")
    (dest / "a.txt").mkdir()  # a folder where the backup has a file
    write(dest / "a.txt" / "inner", b"x")
    (dest / "empty").mkdir()
    os.symlink("/", dest / "escape")
    with pytest.raises(InvalidInput, match="dest"):
        restore_backup(cloud, "vault", "home", dest)
    assert (dest / "stray.txt").exists(), "a refused restore touches nothing"
    result = restore_backup(cloud, "vault", "home", dest, overwrite=True)
    assert snap(dest) == expected
    assert set(result.removed) == {"stray.txt", "escape"}
    assert not [p for p in tmp_path.iterdir() if ".restore-" in p.name], "the staging folder is gone"


def test_crash_mid_upload_leaves_no_manifest(cloud: cloudkit.Cloud, src: Path, tmp_path: Path, snap: Snap) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    expected = snap(src)
    write(src / "sub" / "b.bin", os.urandom(3_000_000), mtime=day(0.5))
    seen: list[int] = []

    def pull_the_plug(done: int, total: int | None) -> None:
        seen.append(done)
        raise RuntimeError("power cut")

    with pytest.raises((RuntimeError, CloudkitError)):
        backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(1), progress=pull_the_plug)
    assert seen, "the upload had started"
    assert [b.id for b in list_backups(cloud, "vault", "home")] == [full.id]
    assert keys(cloud, "backups/home/manifests/") == [full.manifest_key]
    assert keys(cloud, "backups/home/archives/") == [full.archive_key], "the partial archive was removed"
    # The next incremental still builds on the last complete backup, and the latest restore is intact.
    nxt = backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(2))
    assert nxt.chain == (full.id, nxt.id)
    restore_backup(cloud, "vault", "home", tmp_path / "out", backup_id=full.id)
    assert snap(tmp_path / "out") == expected


def test_killed_process_leaves_no_manifest(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    """A process killed in the middle of a backup (no cleanup at all) never leaves a complete-looking backup."""
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    write(src / "sub" / "b.bin", os.urandom(3_000_000), mtime=day(0.5))
    code = textwrap.dedent(f"""
        import os, cloudkit
        from datetime import datetime, UTC
        from cloudkit_contrib.backup import backup_folder
        cloud = cloudkit.connect("local", root={str(tmp_path / "root")!r})
        backup_folder(cloud, "vault", "home", {str(src)!r}, kind="incremental",
                      now=datetime(2026, 1, 6, tzinfo=UTC), progress=lambda done, total: os._exit(9))
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, timeout=60)
    assert proc.returncode == 9, proc.stderr.decode()
    assert [b.id for b in list_backups(cloud, "vault", "home")] == [full.id]
    assert keys(cloud, "backups/home/manifests/") == [full.manifest_key]


def test_tampered_archive_is_refused_and_nothing_is_written(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    with cloud.storage.get_object("vault", full.archive_key) as reader:
        data = bytearray(reader.read())
    data[len(data) // 2] ^= 0xFF
    cloud.storage.put_object("vault", full.archive_key, bytes(data))
    dest = tmp_path / "out"
    with pytest.raises(IntegrityError):
        restore_backup(cloud, "vault", "home", dest)
    assert not dest.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out")] == []


def test_file_that_does_not_match_its_manifest_hash_is_refused(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    with cloud.storage.get_object("vault", full.manifest_key) as reader:
        doc = json.loads(reader.read())
    doc["files"]["sub/c.txt"]["sha256"] = "0" * 64  # the archive is intact; the manifest says other bytes
    cloud.storage.put_object("vault", full.manifest_key, json.dumps(doc).encode())
    with pytest.raises(IntegrityError, match=r"c\.txt"):
        restore_backup(cloud, "vault", "home", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_manifest_records_hashes_sizes_and_chain(cloud: cloudkit.Cloud, src: Path) -> None:
    import hashlib

    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    with cloud.storage.get_object("vault", full.manifest_key) as reader:
        doc = json.loads(reader.read())
    assert doc["chain"] == [full.id] and doc["kind"] == "full"
    entry = doc["files"]["sub/b.bin"]
    data = (src / "sub" / "b.bin").read_bytes()
    assert entry["sha256"] == hashlib.sha256(data).hexdigest() and entry["size"] == len(data)
    assert doc["files"]["link"] == {"type": "symlink", "target": "a.txt"}
    assert doc["files"]["empty"]["type"] == "dir"
    with cloud.storage.get_object("vault", full.archive_key) as reader:
        assert hashlib.sha256(reader.read()).hexdigest() == full.archive_sha256
    assert get_backup(cloud, "vault", "home", full.id) == full


def test_exclude_patterns(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    write(src / "cache" / "junk.tmp", b"junk")
    write(src / "keep.tmp", b"tmp at the top")
    info = backup_folder(cloud, "vault", "home", src, exclude=["cache", "*.tmp"], now=day(0))
    restore_backup(cloud, "vault", "home", tmp_path / "out", backup_id=info.id)
    assert not (tmp_path / "out" / "cache").exists() and not (tmp_path / "out" / "keep.tmp").exists()
    assert (tmp_path / "out" / "a.txt").exists()


def _series(cloud: cloudkit.Cloud, src: Path) -> dict[str, str]:
    plan = [("f1", "full", 0), ("i1", "incremental", 1), ("i2", "incremental", 2), ("f2", "full", 7),
            ("d1", "differential", 8), ("f3", "full", 14), ("i3", "incremental", 15)]
    ids = {}
    for label, kind, n in plan:
        write(src / "counter.txt", f"{label}\n".encode(), mtime=day(n))
        ids[label] = backup_folder(cloud, "vault", "home", src, kind=kind, now=day(n)).id
    return ids


def test_retention_keeps_the_newest_fulls_with_their_chains(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    ids = _series(cloud, src)
    preview = purge_backups(cloud, "vault", "home", keep_fulls=2, now=day(16), dry_run=True)
    assert set(preview.deleted) == {ids["f1"], ids["i1"], ids["i2"]}
    assert len(list(list_backups(cloud, "vault", "home"))) == 7, "a dry run deletes nothing"
    done = purge_backups(cloud, "vault", "home", keep_fulls=2, now=day(16))
    assert done.deleted == preview.deleted
    assert [b.id for b in list_backups(cloud, "vault", "home")] == [ids[k] for k in ("f2", "d1", "f3", "i3")]
    assert len(keys(cloud, "backups/home/archives/")) == 4
    restore_backup(cloud, "vault", "home", tmp_path / "out", backup_id=ids["d1"])
    assert (tmp_path / "out" / "counter.txt").read_text() == "d1\n"


def test_retention_by_days_keeps_the_chain_a_recent_backup_needs(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    ids = _series(cloud, src)
    # On day 15.5, keeping one day keeps i3 only by age, but i3 needs f3; and d1 is long gone.
    result = purge_backups(cloud, "vault", "home", keep_days=1, now=day(15.5))
    assert set(result.kept) == {ids["f3"], ids["i3"]}
    assert set(result.deleted) == {ids[k] for k in ("f1", "i1", "i2", "f2", "d1")}
    restore_backup(cloud, "vault", "home", tmp_path / "out")
    assert (tmp_path / "out" / "counter.txt").read_text() == "i3\n"


def test_retention_always_keeps_the_newest_backup_and_its_chain(cloud: cloudkit.Cloud, src: Path) -> None:
    ids = _series(cloud, src)
    result = purge_backups(cloud, "vault", "home", keep_days=3, now=day(100))
    assert result.kept == (ids["f3"], ids["i3"])
    assert [b.id for b in list_backups(cloud, "vault", "home")] == [ids["f3"], ids["i3"]]


def test_retention_by_days_never_breaks_an_older_chain(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    ids = _series(cloud, src)
    # Day 2.5 of the series (later backups exist too): i2 is recent and needs i1 and f1.
    result = purge_backups(cloud, "vault", "home", keep_days=1, now=day(2.5))
    assert {ids["f1"], ids["i1"], ids["i2"]} <= set(result.kept)
    restore_backup(cloud, "vault", "home", tmp_path / "out", backup_id=ids["i2"])
    assert (tmp_path / "out" / "counter.txt").read_text() == "i2\n"


def test_purge_removes_old_orphan_archives_only(cloud: cloudkit.Cloud, src: Path) -> None:
    backup_folder(cloud, "vault", "home", src, now=day(0))
    old = "backups/home/archives/20260101T000000000000Z-incremental.tar.gz"
    fresh = f"backups/home/archives/{day(9.9).strftime('%Y%m%dT%H%M%S%f')}Z-incremental.tar.gz"
    cloud.storage.put_object("vault", old, b"partial")
    cloud.storage.put_object("vault", fresh, b"still being written")
    result = purge_backups(cloud, "vault", "home", keep_fulls=1, now=day(10))
    assert result.orphans == (old,)
    assert fresh in keys(cloud) and old not in keys(cloud)


def test_lifecycle_rules_archive_then_expire_and_keep_other_rules(cloud: cloudkit.Cloud, src: Path) -> None:
    cloud.storage.set_lifecycle("vault", [LifecycleRule(prefix="logs/", expire_after_days=7, id="logs")])
    rules = set_backup_lifecycle(cloud, "vault", "home", archive_after_days=30, expire_after_days=365)
    by_id = {r.id: r for r in rules}
    assert by_id["logs"].expire_after_days == 7, "the bucket's other rules stay"
    archives = by_id["cloudkit-backup:backups/home/archives"]
    assert (archives.prefix, archives.archive_after_days, archives.expire_after_days) == ("backups/home/archives/", 30, 366)
    assert by_id["cloudkit-backup:backups/home/manifests"].archive_after_days is None
    info = backup_folder(cloud, "vault", "home", src)
    now = datetime.now(UTC)
    swept = cloud.storage.apply_lifecycle("vault", now=now + timedelta(days=31))
    assert swept.archived == (info.archive_key,)
    assert cloud.storage.head_object("vault", info.manifest_key).storage_class == "STANDARD"
    assert [b.id for b in list_backups(cloud, "vault", "home")] == [info.id], "manifests stay listable"
    swept = cloud.storage.apply_lifecycle("vault", now=now + timedelta(days=365, hours=1))
    assert swept.expired == (info.manifest_key,), "the manifest goes a day before its archive"
    swept = cloud.storage.apply_lifecycle("vault", now=now + timedelta(days=366, hours=1))
    assert swept.expired == (info.archive_key,)
    # Neither day count removes the set's rules and nothing else.
    assert [r.id for r in set_backup_lifecycle(cloud, "vault", "home")] == ["logs"]


def test_bad_arguments_are_refused_before_anything_is_touched(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: backup_folder(cloud, "vault", "home", src, kind="weekly"), "kind"),
        (lambda: backup_folder(cloud, "no-such-bucket", "home", src, kind="weekly"), "kind"),
        (lambda: backup_folder(cloud, "vault", "../etc", src), "name"),
        (lambda: backup_folder(cloud, "Bad_Bucket", "home", src), "bucket"),
        (lambda: backup_folder(cloud, "vault", "home", tmp_path / "missing"), "folder"),
        (lambda: backup_folder(cloud, "vault", "home", src, prefix="no-slash"), "prefix"),
        (lambda: backup_folder(cloud, "vault", "home", src, exclude="*.tmp"), "exclude"),
        (lambda: backup_folder("not a cloud", "vault", "home", src), "storage"),  # type: ignore[arg-type]
        (lambda: restore_backup(cloud, "vault", "home", tmp_path / "o", backup_id="latest"), "backup_id"),
        (lambda: restore_backup(cloud, "vault", "home", tmp_path / "o", backup_id="20260101T000000000000Z-full", at=day(0)), "at"),
        (lambda: restore_backup(cloud, "vault", "home", tmp_path / "no" / "such" / "o"), "dest"),
        (lambda: purge_backups(cloud, "vault", "home"), "keep_fulls"),
        (lambda: purge_backups(cloud, "vault", "home", keep_fulls=0), "keep_fulls"),
        (lambda: purge_backups(cloud, "vault", "home", keep_days=-1), "keep_days"),
        (lambda: set_backup_lifecycle(cloud, "vault", "home", archive_after_days=30, expire_after_days=10), "expire_after_days"),
        (lambda: set_backup_lifecycle(cloud, "vault", "home", archive_after_days=30, archive_class="TAPE"), "archive_class"),
    ]
    for call, field in cases:
        with pytest.raises(InvalidInput) as err:
            call()
        assert err.value.field == field, (field, err.value)
    assert keys(cloud) == [], "nothing was written"
    assert not (tmp_path / "o").exists()


def test_incremental_without_a_full_and_unknown_backup_are_not_found(cloud: cloudkit.Cloud, src: Path, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="full backup"):
        backup_folder(cloud, "vault", "home", src, kind="differential")
    with pytest.raises(NotFound):
        restore_backup(cloud, "vault", "home", tmp_path / "out")
    with pytest.raises(NotFound):
        restore_backup(cloud, "vault", "home", tmp_path / "out", backup_id="20260101T000000000000Z-full")
    full = backup_folder(cloud, "vault", "home", src, now=day(0))
    with pytest.raises(NotFound, match="at or before"):
        restore_backup(cloud, "vault", "home", tmp_path / "out", at=day(-1))
    # A chain with a missing link fails before anything is written.
    inc = backup_folder(cloud, "vault", "home", src, kind="incremental", now=day(1))
    cloud.storage.delete_object("vault", full.archive_key)
    with pytest.raises(NotFound, match=full.id):
        restore_backup(cloud, "vault", "home", tmp_path / "out", backup_id=inc.id)
    assert not (tmp_path / "out").exists()


def test_a_provider_without_storage_operations_is_not_supported(src: Path) -> None:
    bare = cloudkit.StorageService("bare", {})
    with pytest.raises(NotSupported, match=r"bare does not support storage\.put_object"):
        backup_folder(bare, "vault", "home", src)
    with pytest.raises(NotSupported, match="lifecycle"):
        set_backup_lifecycle(bare, "vault", "home", expire_after_days=30)
