"""``cloudkit storage cp`` and ``sync`` through click's CliRunner on the local provider."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

import cloudkit
from cloudkit.cli import main

Run = Callable[..., Result]
T0 = 1_700_000_000_000_000_000


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def cli(root: Path) -> Run:
    def run(*args: str) -> Result:
        return CliRunner().invoke(main, ["--provider", "local", "--set", f"root={root}", *args])

    assert run("storage", "create-bucket", "bkt").exit_code == 0
    return run


@pytest.fixture
def src(tmp_path: Path) -> Path:
    base = tmp_path / "src"
    for rel, data in {"a.txt": b"alpha", "sub/b.bin": b"\x00" * 64, "sub/skip.tmp": b"tmp"}.items():
        path = base / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(T0, T0))
    return base


def listing(root: Path, bucket: str = "bkt") -> list[str]:
    with cloudkit.connect("local", root=str(root)) as cloud:
        return [o.key for o in cloud.storage.list_objects(bucket)]


def test_sync_up_rerun_and_down(cli: Run, src: Path, root: Path, tmp_path: Path) -> None:
    r = cli("storage", "sync", str(src), "cloudkit://bkt/p", "--exclude", "*.tmp")
    assert r.exit_code == 0, r.output
    assert f"upload: {src / 'a.txt'} to cloudkit://bkt/p/a.txt" in r.output
    assert "2 done, 0 failed, 0 up to date" in r.output
    assert listing(root) == ["p/a.txt", "p/sub/b.bin"]
    r = cli("storage", "sync", str(src), "cloudkit://bkt/p", "--exclude", "*.tmp")
    assert r.exit_code == 0 and "upload:" not in r.output and "0 done, 0 failed, 2 up to date" in r.output
    dst = tmp_path / "dst"
    r = cli("storage", "sync", "cloudkit://bkt/p", str(dst))
    assert r.exit_code == 0, r.output
    assert (dst / "sub" / "b.bin").read_bytes() == b"\x00" * 64 and (dst / "a.txt").stat().st_mtime_ns == T0


def test_dryrun_prints_the_plan_and_changes_nothing(cli: Run, src: Path, root: Path) -> None:
    with cloudkit.connect("local", root=str(root)) as cloud:
        cloud.storage.put_object("bkt", "p/stale.txt", b"x")
        cloud.storage.put_object("bkt", "px/other.txt", b"x")
    r = cli("storage", "sync", str(src), "cloudkit://bkt/p", "--delete", "--dryrun")
    assert r.exit_code == 0, r.output
    assert "(dryrun) delete: cloudkit://bkt/p/stale.txt" in r.output
    assert f"(dryrun) upload: {src / 'sub' / 'b.bin'} to cloudkit://bkt/p/sub/b.bin" in r.output
    assert "px/other.txt" not in r.output
    assert listing(root) == ["p/stale.txt", "px/other.txt"]
    r = cli("-o", "json", "storage", "sync", str(src), "cloudkit://bkt/p", "--delete", "--dryrun")
    plan = json.loads(r.stdout)
    assert sorted(a["action"] for a in plan) == ["delete", "upload", "upload", "upload"]
    r = cli("storage", "sync", str(src), "cloudkit://bkt/p", "--delete")  # deletes, no terminal, no --yes
    assert r.exit_code == 2 and "refused without --yes" in r.output
    assert listing(root) == ["p/stale.txt", "px/other.txt"]  # nothing done, not even the uploads
    r = cli("storage", "sync", str(src), "cloudkit://bkt/p", "--delete", "--yes")
    assert r.exit_code == 0 and listing(root) == ["p/a.txt", "p/sub/b.bin", "p/sub/skip.tmp", "px/other.txt"]


def test_cp_single_and_recursive(cli: Run, src: Path, root: Path, tmp_path: Path) -> None:
    assert cli("storage", "cp", str(src / "a.txt"), "cloudkit://bkt/docs/").exit_code == 0
    assert listing(root) == ["docs/a.txt"]
    r = cli("storage", "cp", str(src), "cloudkit://bkt/all")
    assert r.exit_code == 2 and "--recursive" in r.output
    r = cli("storage", "cp", "-r", str(src), "cloudkit://bkt/all", "--include", "*.txt", "--exclude", "*")
    assert r.exit_code == 0, r.output
    assert listing(root) == ["all/a.txt", "docs/a.txt"]
    out = tmp_path / "out.txt"
    assert cli("storage", "cp", "cloudkit://bkt/docs/a.txt", str(out)).exit_code == 0
    assert out.read_bytes() == b"alpha"


def test_bad_input_is_a_usage_error(cli: Run, src: Path, root: Path, tmp_path: Path) -> None:
    r = cli("storage", "sync", str(src), "cloudkit://prod@bkt/p")
    assert r.exit_code == 2 and "'@'" in r.output and "--dest-profile" in r.output
    r = cli("storage", "sync", str(src), str(tmp_path / "elsewhere"))
    assert r.exit_code == 2 and "one of source and dest" in r.output
    with cloudkit.connect("local", root=str(root)) as cloud:
        cloud.storage._put_object("bkt", "h/../../escape", __import__("io").BytesIO(b"evil"), 4, None, {})
    r = cli("storage", "sync", "cloudkit://bkt/h", str(tmp_path / "d1" / "d2"))
    assert r.exit_code == 2 and "key" in r.output and "destination folder" in r.output
    assert not (tmp_path / "escape").exists() and not (tmp_path / "d1" / "escape").exists()


def test_failures_exit_1(cli: Run, src: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "dst" / "sub"
    blocker.parent.mkdir()
    blocker.write_bytes(b"a file where a folder must go")
    assert cli("storage", "sync", str(src), "cloudkit://bkt/p").exit_code == 0
    r = cli("storage", "sync", "cloudkit://bkt/p", str(tmp_path / "dst"))
    assert r.exit_code == 1 and "failed download: cloudkit://bkt/p/sub/b.bin" in r.output
    assert (tmp_path / "dst" / "a.txt").read_bytes() == b"alpha"  # the others still arrived


def test_dest_profile(cli: Run, src: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other-root"
    cfg = tmp_path / "cloudkit.toml"
    cfg.write_text(f'[profiles.backup]\nprovider = "local"\nroot = "{other}"\n', encoding="utf-8")
    monkeypatch.setenv("CLOUDKIT_CONFIG", str(cfg))
    with cloudkit.connect(profile="backup") as cloud:
        cloud.storage.create_bucket("far")
    assert cli("storage", "sync", str(src), "cloudkit://bkt/p").exit_code == 0
    r = cli("storage", "sync", "cloudkit://bkt/p", "cloudkit://far/copy", "--dest-profile", "backup")
    assert r.exit_code == 0, r.output
    assert listing(other, "far") == ["copy/a.txt", "copy/sub/b.bin", "copy/sub/skip.tmp"]
