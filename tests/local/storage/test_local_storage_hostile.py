"""What a crashed writer or a hostile neighbour leaves under the local root, and how storage copes.

- A writer killed between creating its temp file and recording it as pending leaves an orphan
  that recovery must sweep (and a live writer's file must survive the sweep).
- Symbolic links planted inside the root must never redirect a read or a write outside it: each
  attack below plants one, runs the operation, and checks that it was refused with a cloudkit
  error and that nothing outside the root was created, changed or read.
- The presigned-URL endpoint keeps answering while hundreds of idle connections are held.
"""

from __future__ import annotations

import fcntl
import os
import socket
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cloudkit_local.dns import LocalDNS
from cloudkit_local.storage import LocalStorage

from cloudkit.errors import PermissionDenied

SECRET = b"outside the root: must never be read, written or removed\n"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    folder = tmp_path / "outside"
    folder.mkdir()
    (folder / "secret").write_bytes(SECRET)
    return folder


@pytest.fixture
def storage(root: Path) -> Iterator[LocalStorage]:
    svc = LocalStorage({"root": str(root)})
    svc.create_bucket("bkt")
    yield svc
    svc.close()


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


# ------------------------------------------------------------------ orphans of killed writers
def test_recover_sweeps_a_temp_file_no_pending_row_names(storage: LocalStorage) -> None:
    # What a writer killed after creating its temp file, before recording it, leaves behind.
    orphan = storage.base / "tmp" / "0123456789abcdef0123456789abcdef"
    orphan.write_bytes(b"")
    big = storage.base / "tmp" / "fedcba9876543210fedcba9876543210"
    big.write_bytes(b"x" * 4096)
    assert storage.recover() == 2
    assert list((storage.base / "tmp").iterdir()) == []


def test_recover_leaves_a_live_writers_unregistered_temp_file_alone(storage: LocalStorage) -> None:
    # A writer in another process that holds the lock on its temp file is alive, pending row or not.
    live = storage.base / "tmp" / "0123456789abcdef0123456789abcdef"
    fd = os.open(live, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert storage.recover() == 0
        assert live.exists()
    finally:
        os.close(fd)
    assert storage.recover() == 1
    assert not live.exists()


def test_a_new_service_sweeps_orphans_when_it_starts(root: Path) -> None:
    first = LocalStorage({"root": str(root)})
    first.create_bucket("bkt")
    orphan = first.base / "tmp" / "0123456789abcdef0123456789abcdef"
    orphan.write_bytes(b"")
    first.close()
    second = LocalStorage({"root": str(root)})
    second.put_object("bkt", "k", b"data")
    assert not orphan.exists()
    second.close()


# ------------------------------------------------------------------ planted symbolic links
def _replace_with_link(path: Path, target: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        for child in path.iterdir():
            child.unlink()
        path.rmdir()
    elif path.exists() or path.is_symlink():
        path.unlink()
    path.symlink_to(target)


def _bucket_dir(storage: LocalStorage) -> Path:
    return storage.base / "buckets" / str(storage.get_bucket("bkt").extra["id"])


def _attack_tmp(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    _replace_with_link(storage.base / "tmp", outside)
    return lambda: storage.put_object("bkt", "k", b"payload")


def _attack_buckets(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    storage.put_object("bkt", "k", b"first")
    bucket = _bucket_dir(storage)
    (storage.base / "buckets").rename(storage.base / "buckets.moved")
    (storage.base / "buckets").symlink_to(outside)
    del bucket
    return lambda: storage.put_object("bkt", "k2", b"payload")


def _attack_bucket_folder(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    bucket = _bucket_dir(storage)
    bucket.rmdir()
    bucket.symlink_to(outside)
    return lambda: storage.put_object("bkt", "k", b"payload")


def _attack_fanout_folders(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    bucket = _bucket_dir(storage)
    for i in range(256):
        (bucket / f"{i:02x}").symlink_to(outside)
    return lambda: storage.put_object("bkt", "k", b"payload")


def _attack_object_file_read(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    storage.put_object("bkt", "k", b"mine")
    files = [p for p in _bucket_dir(storage).rglob("*") if p.is_file()]
    _replace_with_link(files[0], outside / "secret")

    def read() -> object:
        with storage.get_object("bkt", "k") as reader:
            return reader.read()

    return read


def _attack_copy_source(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    storage.put_object("bkt", "k", b"mine")
    files = [p for p in _bucket_dir(storage).rglob("*") if p.is_file()]
    _replace_with_link(files[0], outside / "secret")
    return lambda: storage.copy_object("bkt", "k", "bkt", "copy")


def _attack_presign_key(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    (outside / "chosen.key").write_bytes(b"k" * 32)  # a key the neighbour knows
    (storage.base / "presign.key").unlink(missing_ok=True)
    (storage.base / "presign.key").symlink_to(outside / "chosen.key")
    return lambda: storage.presign_url("bkt", "k", expires_in=60)


def _attack_sweep_lock(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    (storage.base / "tmp.lock").unlink(missing_ok=True)
    (storage.base / "tmp.lock").symlink_to(outside / "created-by-lock")
    return lambda: storage.put_object("bkt", "k", b"payload")


def _attack_presign_lock(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    storage.signature("GET", "bkt", "k", 0)  # the key exists, so only the endpoint lock is left to open
    (storage.base / "presign.lock").unlink(missing_ok=True)
    (storage.base / "presign.lock").symlink_to(outside / "created-by-presign-lock")
    return lambda: storage.presign_url("bkt", "k", expires_in=60)


def _attack_metadata_database(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    root = storage.root
    storage.close()
    meta = root / "storage" / "meta.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{meta}{suffix}").unlink(missing_ok=True)
    meta.symlink_to(outside / "meta.sqlite3")
    return lambda: LocalStorage({"root": str(root)}).create_bucket("other")


def _attack_metadata_wal(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    root = storage.root
    storage.close()
    wal = root / "storage" / "meta.sqlite3-wal"
    wal.unlink(missing_ok=True)
    wal.symlink_to(outside / "meta.sqlite3-wal")
    return lambda: LocalStorage({"root": str(root)}).create_bucket("other")


def _attack_storage_folder(storage: LocalStorage, outside: Path) -> Callable[[], object]:
    root = storage.root
    storage.close()
    (root / "storage").rename(root / "storage.moved")
    (root / "storage").symlink_to(outside)
    return lambda: LocalStorage({"root": str(root)}).create_bucket("other")


STORAGE_ATTACKS = {
    "tmp folder": _attack_tmp,
    "buckets folder": _attack_buckets,
    "bucket folder": _attack_bucket_folder,
    "fan-out folders": _attack_fanout_folders,
    "object file (read)": _attack_object_file_read,
    "copy source file": _attack_copy_source,
    "presign key": _attack_presign_key,
    "sweep lock": _attack_sweep_lock,
    "presign endpoint lock": _attack_presign_lock,
    "metadata database": _attack_metadata_database,
    "metadata WAL": _attack_metadata_wal,
    "storage folder": _attack_storage_folder,
}


@pytest.mark.parametrize("attack", list(STORAGE_ATTACKS))
def test_a_planted_link_is_refused_and_nothing_outside_changes(
    attack: str, storage: LocalStorage, outside: Path, root: Path
) -> None:
    run = STORAGE_ATTACKS[attack](storage, outside)
    before = _snapshot(outside)
    with pytest.raises(PermissionDenied, match="symbolic link"):
        run()
    assert _snapshot(outside) == before  # nothing created, written or removed outside the root


def test_a_planted_link_in_tmp_is_removed_by_the_sweep_not_followed(storage: LocalStorage, outside: Path) -> None:
    (storage.base / "tmp" / "0123456789abcdef0123456789abcdef").symlink_to(outside / "secret")
    storage.recover()
    assert list((storage.base / "tmp").iterdir()) == []
    assert (outside / "secret").read_bytes() == SECRET


def test_deleting_a_bucket_whose_folder_is_a_link_leaves_the_target_alone(storage: LocalStorage, outside: Path) -> None:
    bucket = _bucket_dir(storage)
    bucket.rmdir()
    bucket.symlink_to(outside)
    storage.delete_bucket("bkt")
    assert (outside / "secret").read_bytes() == SECRET


@pytest.mark.parametrize("where", ["dns folder", "zone database"])
def test_dns_refuses_a_planted_link(where: str, root: Path, outside: Path) -> None:
    root.mkdir(parents=True)
    if where == "dns folder":
        (root / "dns").symlink_to(outside)
    else:
        (root / "dns").mkdir()
        (root / "dns" / "dns.sqlite3").symlink_to(outside / "dns.sqlite3")
    before = _snapshot(outside)
    svc = LocalDNS({"root": str(root)})
    with pytest.raises(PermissionDenied, match="symbolic link"):
        svc.create_zone("example.com")
    assert _snapshot(outside) == before


# ------------------------------------------------------------------ idle connections
def test_presign_endpoint_answers_while_200_idle_connections_are_held(storage: LocalStorage) -> None:
    storage.put_object("bkt", "k", b"hello")
    url = storage.presign_url("bkt", "k", expires_in=120)
    port = int(url.split(":")[2].split("/")[0])
    held: list[socket.socket] = []
    try:
        for i in range(200):
            sock = socket.create_connection(("127.0.0.1", port), timeout=5)
            if i % 2:
                sock.sendall(b"GET /bkt/k HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # half a request, never finished
            held.append(sock)
        with urllib.request.urlopen(url, timeout=1) as resp:
            assert resp.read() == b"hello"
    finally:
        for sock in held:
            sock.close()
        storage.stop_endpoint()

