"""Big local uploads start each part's write-back as soon as it is hashed, and still fsync before commit."""

from __future__ import annotations

import errno
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from cloudkit_local.storage import PART_SIZE, LocalStorage


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[LocalStorage]:
    svc = LocalStorage({"root": str(tmp_path / "root")})
    svc.create_bucket("bkt")
    yield svc
    svc.close()


def _big(tmp_path: Path) -> tuple[Path, bytes, str]:
    data = os.urandom(PART_SIZE) + os.urandom(PART_SIZE) + b"tail" * 1000
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    parts = [data[i : i + PART_SIZE] for i in range(0, len(data), PART_SIZE)]
    etag = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest() + f"-{len(parts)}"
    return src, data, etag


def test_each_part_is_handed_to_write_back_after_hashing(storage: LocalStorage, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    src, data, etag = _big(tmp_path)
    advised: list[tuple[int, int, int]] = []
    synced: list[int] = []
    real_fsync = os.fsync

    def fadvise(fd: int, offset: int, length: int, advice: int) -> None:
        assert not synced, "write-back hints come before the closing fsync"
        advised.append((offset, length, advice))

    def fsync(fd: int) -> None:
        synced.append(fd)
        real_fsync(fd)

    monkeypatch.setattr(os, "posix_fadvise", fadvise)
    monkeypatch.setattr(os, "fsync", fsync)
    info = storage.upload_file(src, "bkt", "big")
    assert info.etag == etag
    assert sorted(advised) == [(0, PART_SIZE, os.POSIX_FADV_DONTNEED), (PART_SIZE, PART_SIZE, os.POSIX_FADV_DONTNEED),
                               (2 * PART_SIZE, 4000, os.POSIX_FADV_DONTNEED)]
    assert synced, "the object is fsynced before the call returns"
    with storage.get_object("bkt", "big") as reader:
        assert b"".join(reader.iter_chunks()) == data


def test_a_refused_hint_does_not_fail_the_upload(storage: LocalStorage, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    src, _, etag = _big(tmp_path)

    def refuse(fd: int, offset: int, length: int, advice: int) -> None:
        raise OSError(errno.ESPIPE, "Illegal seek")

    monkeypatch.setattr(os, "posix_fadvise", refuse)
    assert storage.upload_file(src, "bkt", "big").etag == etag
