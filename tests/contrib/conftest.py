"""Fixtures of the contrib tests: local clouds in temporary roots and folder snapshots."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

import cloudkit


@pytest.fixture
def cloud(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    """A local cloud of its own, with a bucket named ``vault``."""
    with cloudkit.connect("local", root=str(tmp_path / "root")) as c:
        c.storage.create_bucket("vault")
        yield c


def snapshot(folder: Path) -> dict[str, object]:
    """Everything a backup should reproduce: file bytes and modes, link targets, folders."""
    out: dict[str, object] = {}
    for dirpath, dirnames, filenames in os.walk(folder):
        rel_dir = os.path.relpath(dirpath, folder)
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if path.is_symlink():
                out[rel] = ("link", os.readlink(path))
            elif path.is_dir():
                out[rel] = ("dir", path.stat().st_mode & 0o7777)
            else:
                out[rel] = ("file", path.read_bytes(), path.stat().st_mode & 0o7777)
    return out


@pytest.fixture
def snap() -> object:
    """The :func:`snapshot` function, for tests."""
    return snapshot
