"""Local-only storage behaviour: atomicity, crash recovery, key isolation, presigning, lifecycle, WAL."""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cloudkit_local import storage as local_storage
from cloudkit_local.storage import LocalStorage

import cloudkit
from cloudkit.errors import CloudkitError, InvalidInput, NotFound, ProviderError, QuotaExceeded
from cloudkit.models.storage import LifecycleRule


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def storage(root: Path) -> Iterator[LocalStorage]:
    svc = LocalStorage({"root": str(root)})
    svc.create_bucket("bkt")
    yield svc
    svc.close()


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def _blob_files(storage: LocalStorage) -> list[Path]:
    return _files(storage.base / "buckets")


def _pending(storage: LocalStorage) -> list[Any]:
    return [tuple(r) for r in storage.db.query("SELECT blob, kind FROM pending")]


def _read(storage: LocalStorage, key: str, bucket: str = "bkt") -> bytes:
    with storage.get_object(bucket, key) as r:
        return r.read()


# ---------------------------------------------------------------- service and layout

def test_connect_local_serves_storage(root: Path) -> None:
    with cloudkit.connect("local", root=str(root)) as cloud:
        assert isinstance(cloud.storage, LocalStorage)
        assert cloud.storage.native == root.resolve()
        assert "presign_url" in cloud.capabilities()["storage"]


def test_metadata_database_uses_wal(storage: LocalStorage) -> None:
    conn = sqlite3.connect(storage.base / "meta.sqlite3")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def test_state_persists_across_instances(storage: LocalStorage, root: Path) -> None:
    storage.put_object("bkt", "k", b"persisted", metadata={"a": "b"})
    again = LocalStorage({"root": str(root)})
    try:
        assert _read(again, "k") == b"persisted"
        assert dict(again.head_object("bkt", "k").metadata) == {"a": "b"}
    finally:
        again.close()


def test_keys_never_become_paths(storage: LocalStorage) -> None:
    keys = ["..hidden", "/leading/slash", "back\\slash\\..\\x", "a//b", "~user", "%2e%2e/%2e%2e/etc"]
    for key in keys:
        storage.put_object("bkt", key, key.encode())
    bucket_dir = storage.base / "buckets" / storage.get_bucket("bkt").extra["id"]  # type: ignore[operator]
    files = _blob_files(storage)
    assert len(files) == len(keys)
    for f in files:
        assert f.is_relative_to(bucket_dir)
        assert len(f.name) == 32 and all(c in "0123456789abcdef" for c in f.name)
    for key in keys:
        assert _read(storage, key) == key.encode()


@pytest.mark.parametrize("key", ["../../etc/passwd", "a/../../b", "./x", "nul\x00"])
def test_escaping_keys_are_rejected(storage: LocalStorage, key: str) -> None:
    with pytest.raises(InvalidInput):
        storage.put_object("bkt", key, b"x")
    assert _blob_files(storage) == []


def test_bad_input_is_rejected_before_any_disk_access(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "never-created"
    storage = LocalStorage({"root": str(root)})

    def no_open(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a file was opened before input was validated")

    monkeypatch.setattr(local_storage.os, "open", no_open)
    calls = [
        lambda: storage.create_bucket("Bad_Name"),
        lambda: storage.put_object("bkt", "../x", b"x"),
        lambda: storage.put_object("bkt", "k", b"x", metadata={"a b": "c"}),
        lambda: storage.get_object("bkt", "k", range=(3, 1)),
        lambda: storage.copy_object("bkt", "a", "bkt", "a/../b"),
        lambda: storage.delete_objects("bkt", ["ok", "x\x00"]),
        lambda: storage.list_objects("bkt", delimiter="ab"),
        lambda: storage.presign_url("bkt", "k", method="POST"),
        lambda: storage.set_lifecycle("bkt", [LifecycleRule(expire_after_days=0)]),
        lambda: storage.upload_file(tmp_path / "nope", "bkt", "k"),
        lambda: storage.apply_lifecycle("bkt", now="yesterday"),  # type: ignore[arg-type]
    ]
    for call in calls:
        with pytest.raises(InvalidInput):
            call()
    monkeypatch.undo()
    assert not root.exists()
    with cloudkit.connect("local", root=str(root)) as cloud:
        with pytest.raises(InvalidInput):
            cloud.storage.create_bucket("x")
        assert not root.exists()
        cloud.storage.create_bucket("xyz")
    assert (root / "storage" / "meta.sqlite3").is_file()


# ---------------------------------------------------------------- atomic writes and crashes

def test_failed_upload_leaves_old_object_and_no_files(storage: LocalStorage) -> None:
    storage.put_object("bkt", "k", b"old version")

    def broken() -> Iterator[bytes]:
        yield b"new " * 1000
        raise RuntimeError("source went away")

    with pytest.raises(ProviderError) as err:  # the core boundary wraps it, cause kept
        storage.put_object("bkt", "k", broken())
    assert isinstance(err.value.__cause__, RuntimeError)
    assert _read(storage, "k") == b"old version"
    assert len(_blob_files(storage)) == 1
    assert _files(storage.base / "tmp") == []
    assert _pending(storage) == []


def test_failure_after_rename_before_commit_is_invisible(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.put_object("bkt", "k", b"old version")

    def fail(directory: int) -> None:
        raise OSError(errno.EIO, "simulated I/O error")

    monkeypatch.setattr(local_storage, "_fsync_dir", fail)
    with pytest.raises(ProviderError) as err:
        storage.put_object("bkt", "k", b"new version")
    assert isinstance(err.value.__cause__, OSError)
    assert _read(storage, "k") == b"old version"
    assert len(_blob_files(storage)) == 1
    assert _pending(storage) == []


def test_disk_full_maps_to_quota_exceeded(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(fd: int, data: Any) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(local_storage.os, "write", full)
    with pytest.raises(QuotaExceeded) as err:
        storage.put_object("bkt", "k", b"x" * 100)
    assert isinstance(err.value.__cause__, OSError)
    monkeypatch.undo()
    with pytest.raises(NotFound):
        storage.head_object("bkt", "k")
    assert _files(storage.base / "tmp") == []


_CRASHING_WRITER = textwrap.dedent(
    """
    import sys, time
    from cloudkit_local.storage import LocalStorage

    svc = LocalStorage({"root": sys.argv[1]})

    def chunks():
        yield b"partial " * 100_000
        print("streaming", flush=True)
        time.sleep(60)
        yield b"never"

    svc.put_object("bkt", "k", chunks())
    """
)


def test_killed_writer_leaves_nothing_visible_and_is_cleaned_up(storage: LocalStorage, root: Path) -> None:
    storage.put_object("bkt", "k", b"old version")
    child = subprocess.Popen([sys.executable, "-c", _CRASHING_WRITER, str(root)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "streaming"
        # While the writer lives, recovery in another instance leaves its file alone.
        assert storage.recover() == 0
        assert len(_files(storage.base / "tmp")) == 1
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert _read(storage, "k") == b"old version"
    assert [kind for _, kind in _pending(storage)] == ["write"]
    fresh = LocalStorage({"root": str(root)})  # starting a service runs recovery
    try:
        assert _files(fresh.base / "tmp") == []
        assert _pending(fresh) == []
        assert _read(fresh, "k") == b"old version"
        assert len(_blob_files(fresh)) == 1
    finally:
        fresh.close()


def test_recover_removes_garbage_of_an_interrupted_delete(storage: LocalStorage) -> None:
    storage.put_object("bkt", "k", b"data")
    blob = storage.db.query("SELECT blob FROM objects WHERE key = 'k'")[0]["blob"]
    bucket_id = storage.get_bucket("bkt").extra["id"]
    # As if the process died after committing the delete and before unlinking the file.
    with storage.db.transaction() as conn:
        conn.execute("DELETE FROM objects WHERE key = 'k'")
        conn.execute("INSERT INTO pending VALUES (?, ?, 'garbage', 0)", (blob, bucket_id))
    assert len(_blob_files(storage)) == 1
    assert storage.recover() == 1
    assert _blob_files(storage) == []
    assert _pending(storage) == []


def test_concurrent_writers_and_readers_see_whole_objects(storage: LocalStorage) -> None:
    versions = {bytes([i]) * (50_000 + i * 1000) for i in range(6)}
    etags = {hashlib.md5(v).hexdigest(): v for v in versions}
    storage.put_object("bkt", "hot", sorted(versions)[0])
    errors: list[BaseException] = []
    stop = threading.Event()

    def writer(data: bytes) -> None:
        try:
            for _ in range(8):
                storage.put_object("bkt", "hot", data)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    def reader() -> None:
        try:
            while not stop.is_set():
                with storage.get_object("bkt", "hot") as r:
                    body = r.read()
                    assert etags[r.info.etag] == body
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    readers = [threading.Thread(target=reader) for _ in range(2)]
    writers = [threading.Thread(target=writer, args=(v,)) for v in versions]
    for t in readers + writers:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    for t in readers:
        t.join()
    assert errors == []
    assert _read(storage, "hot") in versions
    assert len(_blob_files(storage)) == 1
    assert _pending(storage) == []


_RACING_WRITER = textwrap.dedent(
    """
    import sys
    from cloudkit_local.storage import LocalStorage

    svc = LocalStorage({"root": sys.argv[1]})
    for i in range(30):
        svc.put_object("bkt", "shared", sys.argv[2].encode() * 10_000)
        svc.put_object("bkt", f"{sys.argv[2]}-{i}", b"x")
    """
)


def test_writers_in_separate_processes(storage: LocalStorage, root: Path) -> None:
    children = [subprocess.Popen([sys.executable, "-c", _RACING_WRITER, str(root), tag]) for tag in ("a", "b")]
    assert [c.wait(timeout=60) for c in children] == [0, 0]
    assert _read(storage, "shared") in (b"a" * 10_000, b"b" * 10_000)
    assert len([o for o in storage.list_objects("bkt")]) == 61
    assert len(_blob_files(storage)) == 61
    assert _pending(storage) == []


def test_download_file_is_atomic(storage: LocalStorage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    storage.put_object("bkt", "k", b"z" * 100_000)
    target = tmp_path / "out.bin"
    target.write_bytes(b"previous")

    def broken(*args: Any) -> int:
        raise OSError(errno.EIO, "simulated read error")

    monkeypatch.setattr(local_storage.os, "copy_file_range", broken)
    monkeypatch.setattr(local_storage.os, "sendfile", broken)
    with pytest.raises(ProviderError):
        storage.download_file("bkt", "k", target)
    assert target.read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.bin", "root"]
    monkeypatch.undo()
    storage.download_file("bkt", "k", target)
    assert target.read_bytes() == b"z" * 100_000


def test_streaming_upload_and_download_keep_memory_flat(storage: LocalStorage) -> None:
    chunk = b"\xab" * (1024 * 1024)
    total = 96

    def source() -> Iterator[bytes]:
        for _ in range(total):
            yield chunk

    tracemalloc.start()
    try:
        info = storage.put_object("bkt", "big", source())
        _, peak_put = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        digest = hashlib.md5()
        with storage.get_object("bkt", "big") as r:
            for part in r.iter_chunks():
                digest.update(part)
        _, peak_get = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.size == total * len(chunk)
    assert digest.hexdigest() == info.etag == hashlib.md5(chunk * total).hexdigest()
    assert peak_put < 40 * 1024 * 1024, peak_put
    assert peak_get < 24 * 1024 * 1024, peak_get


def test_copy_shares_immutable_file_and_survives_source_delete(storage: LocalStorage) -> None:
    storage.put_object("bkt", "src", b"shared bytes")
    storage.create_bucket("other")
    storage.copy_object("bkt", "src", "other", "dst")
    storage.delete_object("bkt", "src")
    storage.put_object("other", "unrelated", b"1")
    assert _read(storage, "dst", "other") == b"shared bytes"
    assert storage.head_object("other", "dst").etag == hashlib.md5(b"shared bytes").hexdigest()


def test_range_past_the_end_is_invalid(storage: LocalStorage) -> None:
    storage.put_object("bkt", "k", b"0123456789")
    with pytest.raises(InvalidInput) as err:
        storage.get_object("bkt", "k", range=(10, None))
    assert err.value.field == "range"
    with storage.get_object("bkt", "k", range=(9, 9)) as r:
        assert r.read() == b"9"


def test_paging_uses_keyset_queries(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_storage, "PAGE", 3)
    keys = [f"{d}/{i}" for d in "abc" for i in range(4)] + ["d", "e", "f", "g"]
    for key in keys:
        storage.put_object("bkt", key, b"")
    assert [o.key for o in storage.list_objects("bkt")] == sorted(keys)  # type: ignore[union-attr]
    listed = [getattr(o, "key", None) or getattr(o, "prefix", None) for o in storage.list_objects("bkt", delimiter="/")]
    assert listed == ["a/", "b/", "c/", "d", "e", "f", "g"]
    assert [o.key for o in storage.list_objects("bkt", prefix="b/", start_after="b/1")] == ["b/2", "b/3"]  # type: ignore[union-attr]
    lazy = storage.list_objects("bkt")
    assert next(lazy).key == "a/0"  # type: ignore[union-attr]


def test_missing_bucket_on_listing_raises_at_once(storage: LocalStorage) -> None:
    with pytest.raises(NotFound):
        storage.list_objects("nobucket")


# ---------------------------------------------------------------- presigned URLs

def _fetch(url: str, method: str = "GET", data: bytes | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=data, method=method)
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _with_query(url: str, **changes: Any) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update({k: str(v) for k, v in changes.items()})
    return parts._replace(query=urlencode(query)).geturl()


def test_presign_key_file_is_private(storage: LocalStorage) -> None:
    storage.put_object("bkt", "k", b"x")
    storage.presign_url("bkt", "k")
    mode = stat.S_IMODE((storage.base / "presign.key").stat().st_mode)
    assert mode == 0o600
    assert len((storage.base / "presign.key").read_bytes()) == 32


def test_presigned_url_is_loopback_and_rejects_tampering(storage: LocalStorage) -> None:
    storage.put_object("bkt", "secret/doc", b"classified", content_type="text/plain")
    storage.put_object("bkt", "secret/other", b"not yours")
    url = storage.presign_url("bkt", "secret/doc", expires_in=300)
    assert urlsplit(url).hostname == "127.0.0.1"
    assert _fetch(url) == (200, b"classified")
    other = url.replace("secret/doc", "secret/other")
    assert _fetch(other)[0] == 403
    later = int(parse_qs(urlsplit(url).query)["expires"][0]) + 3600
    assert _fetch(_with_query(url, expires=later))[0] == 403
    sig = parse_qs(urlsplit(url).query)["signature"][0]
    assert _fetch(_with_query(url, signature=("0" if sig[0] != "0" else "1") + sig[1:]))[0] == 403
    assert _fetch(_with_query(url, method="PUT"), method="PUT", data=b"overwrite")[0] == 403
    assert _fetch(url.split("?")[0])[0] == 403
    assert _read(storage, "secret/doc") == b"classified"


def test_presigned_url_expires(storage: LocalStorage) -> None:
    storage.put_object("bkt", "k", b"short lived")
    url = storage.presign_url("bkt", "k", expires_in=300)
    past = int(time.time()) - 5
    expired = _with_query(url, expires=past, signature=storage.signature("GET", "bkt", "k", past))
    status, body = _fetch(expired)
    assert status == 403
    assert b"expired" in body
    assert _fetch(url)[0] == 200


def test_presigned_put_streams_into_an_atomic_write(storage: LocalStorage) -> None:
    url = storage.presign_url("bkt", "in/ünï code.bin", method="PUT", expires_in=60)
    payload = os.urandom(3 * 1024 * 1024 + 7)
    req = urllib.request.Request(url, data=payload, method="PUT", headers={"Content-Type": "application/x-test"})
    with urllib.request.urlopen(req, timeout=30) as resp:
        assert resp.headers["ETag"] == f'"{hashlib.md5(payload).hexdigest()}"'
    head = storage.head_object("bkt", "in/ünï code.bin")
    assert head.size == len(payload)
    assert head.content_type == "application/x-test"
    assert _read(storage, "in/ünï code.bin") == payload


def test_presigned_get_of_missing_object_is_404(storage: LocalStorage) -> None:
    url = storage.presign_url("bkt", "not-yet", expires_in=60)
    assert _fetch(url)[0] == 404


def test_urls_outlive_the_service_and_share_one_endpoint(root: Path) -> None:
    svc = LocalStorage({"root": str(root)})
    svc.create_bucket("bkt")
    svc.put_object("bkt", "k", b"x")
    url = svc.presign_url("bkt", "k")
    svc.close()
    svc.close()  # twice is fine
    assert _fetch(url) == (200, b"x")  # still served: the endpoint is its own process
    other = LocalStorage({"root": str(root)})
    url2 = other.presign_url("bkt", "k", expires_in=5)
    assert url2.split("/")[2] == url.split("/")[2]  # same endpoint, same port
    assert other.stop_endpoint() is True
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(url, timeout=5)
    assert other.stop_endpoint() is False
    other.close()


def test_endpoint_ends_after_the_last_url_expires(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit_local import _presign

    svc = LocalStorage({"root": str(root)})
    svc.create_bucket("bkt")
    svc.put_object("bkt", "k", b"x")
    svc.presign_url("bkt", "k", expires_in=1)
    port = _presign.live_endpoint(svc.base)
    assert port is not None
    deadline = time.monotonic() + _presign.IDLE_GRACE + 10
    while _presign.live_endpoint(svc.base) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _presign.live_endpoint(svc.base) is None
    svc.close()


# ---------------------------------------------------------------- lifecycle

def test_lifecycle_sweep_archives_then_expires(storage: LocalStorage) -> None:
    for key in ("logs/a", "logs/b", "cold/c", "tmp/d", "keep/e"):
        storage.put_object("bkt", key, b"x")
    storage.set_lifecycle("bkt", [
        LifecycleRule(prefix="logs/", archive_after_days=30, expire_after_days=90, id="logs"),
        LifecycleRule(prefix="cold/", archive_after_days=1, archive_class="DEEP_ARCHIVE", id="cold"),
        LifecycleRule(prefix="", archive_after_days=60, archive_class="ARCHIVE", id="all"),
        LifecycleRule(prefix="tmp/", expire_after_days=7, id="tmp"),
        LifecycleRule(prefix="keep/", expire_after_days=1, id="off", enabled=False),
    ])
    now = datetime.now(UTC)
    assert storage.apply_lifecycle("bkt", now=now) == local_storage.LifecycleReport()

    report = storage.apply_lifecycle("bkt", now=now + timedelta(days=31))
    assert report.archived == ("cold/c", "logs/a", "logs/b")
    assert report.expired == ("tmp/d",)
    classes = {o.key: o.storage_class for o in storage.list_objects("bkt")}  # type: ignore[union-attr]
    assert classes == {"cold/c": "DEEP_ARCHIVE", "logs/a": "ARCHIVE", "logs/b": "ARCHIVE", "keep/e": "STANDARD"}

    report = storage.apply_lifecycle("bkt", now=now + timedelta(days=61))
    assert report.archived == ("keep/e",)  # the catch-all rule never downgrades DEEP_ARCHIVE
    assert storage.head_object("bkt", "cold/c").storage_class == "DEEP_ARCHIVE"

    report = storage.apply_lifecycle(now=now + timedelta(days=91))
    assert report.expired == ("bkt/logs/a", "bkt/logs/b")
    assert sorted(o.key for o in storage.list_objects("bkt")) == ["cold/c", "keep/e"]  # type: ignore[union-attr]
    assert len(_blob_files(storage)) == 2


def test_lifecycle_on_missing_bucket(storage: LocalStorage) -> None:
    with pytest.raises(NotFound):
        storage.apply_lifecycle("nobucket")
    with pytest.raises(NotFound):
        storage.get_lifecycle("nobucket")


def test_damaged_presign_key_is_reported(storage: LocalStorage) -> None:
    (storage.base / "presign.key").write_bytes(b"short")
    with pytest.raises(CloudkitError) as err:
        storage.presign_url("bkt", "k")
    assert "presign key" in str(err.value)


def test_big_upload_file_uses_parts_and_the_s3_multipart_etag(storage: LocalStorage, tmp_path: Path) -> None:
    part = local_storage.PART_SIZE
    data = os.urandom(1024 * 1024) * (part // (1024 * 1024)) + b"tail" * 1000
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    seen: list[int] = []
    info = storage.upload_file(src, "bkt", "big", progress=lambda done, total: seen.append(done))
    parts = [data[i : i + part] for i in range(0, len(data), part)]
    assert len(parts) == 2
    expected = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + "-2"
    assert info.etag == expected
    assert storage.head_object("bkt", "big").etag == expected
    assert info.size == len(data)
    assert seen == [part, len(data)]
    assert _read(storage, "big") == data
    assert _files(storage.base / "tmp") == []


@pytest.mark.parametrize("key", ["/leading/slash", "a?b#c%2Fd", "sp ace+plus", "ünï/ключ", "a//b/"])
def test_presigned_urls_carry_any_key(storage: LocalStorage, key: str) -> None:
    storage.put_object("bkt", key, key.encode())
    assert _fetch(storage.presign_url("bkt", key, expires_in=60)) == (200, key.encode())
