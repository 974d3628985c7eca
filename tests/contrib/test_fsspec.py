"""The cloudkit:// fsspec filesystem: behaviour beyond fsspec's abstract suites, on the local provider."""

from __future__ import annotations

import errno
import importlib.util
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from cloudkit_contrib.fs import (
    CloudkitFileSystem,
    DirectoryNotEmpty,
    FileExists,
    FileNotFound,
)

import cloudkit


@pytest.fixture
def fs(cloud: cloudkit.Cloud) -> CloudkitFileSystem:
    """A filesystem over the contrib fixtures' local cloud (bucket ``vault``)."""
    return CloudkitFileSystem(cloud=cloud)


class Spy:
    """Counts calls of storage methods (and their keyword arguments) on one cloud."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, storage: cloudkit.StorageService, *names: str) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        for name in names:
            real = getattr(storage, name)

            def wrapper(*args: Any, _real: Any = real, _name: str = name, **kwargs: Any) -> Any:
                self.calls.append((_name, kwargs))
                return _real(*args, **kwargs)

            monkeypatch.setattr(storage, name, wrapper)

    def names(self) -> list[str]:
        return [n for n, _ in self.calls]


# ---------------------------------------------------------------- registration and construction
def test_protocol_is_registered_through_the_entry_point() -> None:
    from importlib.metadata import entry_points

    (ep,) = [e for e in entry_points(group="fsspec.specs") if e.name == "cloudkit"]
    assert ep.value == "cloudkit_contrib.fs:CloudkitFileSystem"
    assert fsspec.get_filesystem_class("cloudkit") is CloudkitFileSystem


def test_fsspec_open_reads_and_writes_by_url(tmp_path: Path) -> None:
    root = str(tmp_path / "root")
    fs = fsspec.filesystem("cloudkit", provider="local", root=root)
    fs.mkdir("vault")
    with fsspec.open("cloudkit://vault/notes/a.txt", "w", provider="local", root=root) as f:
        f.write("hello\n")
    with fsspec.open("cloudkit://vault/notes/a.txt", "r", provider="local", root=root) as f:
        assert f.read() == "hello\n"
    with cloudkit.connect("local", root=root) as c, c.storage.get_object("vault", "notes/a.txt") as r:
        assert r.read() == b"hello\n"


def test_profile_argument_connects_through_cloudkit_toml(tmp_path: Path) -> None:
    root = tmp_path / "prod-root"
    cfg = tmp_path / "cloudkit.toml"
    cfg.write_text(f'[profiles.prod]\nprovider = "local"\nroot = "{root}"\n')
    fs = fsspec.filesystem("cloudkit", profile="prod", config_file=str(cfg))
    fs.mkdir("vault")
    fs.pipe("vault/k", b"v")
    with cloudkit.connect("local", root=str(root)) as c:
        assert [b.name for b in c.storage.list_buckets()] == ["vault"]


def test_two_clouds_never_share_a_cached_filesystem(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "a")) as a, cloudkit.connect("local", root=str(tmp_path / "b")) as b:
        assert repr(a) == repr(b)  # what fsspec's instance cache would key on
        a.storage.create_bucket("only-in-a")
        fa, fb = fsspec.filesystem("cloudkit", cloud=a), fsspec.filesystem("cloudkit", cloud=b)
        assert fa is not fb
        assert fb.ls("", detail=False) == []
        assert fa.ls("", detail=False) == ["only-in-a"]


def test_cloud_and_connection_arguments_together_are_refused(cloud: cloudkit.Cloud) -> None:
    with pytest.raises(cloudkit.InvalidInput) as info:
        CloudkitFileSystem(cloud=cloud, provider="local")
    assert info.value.field == "cloud"
    with pytest.raises(cloudkit.InvalidInput, match=r"cloud: must be a cloudkit\.Cloud"):
        CloudkitFileSystem(cloud="local")  # type: ignore[arg-type]


# ---------------------------------------------------------------- listing and directories
def test_ls_info_find_on_pseudo_directories(fs: CloudkitFileSystem) -> None:
    fs.pipe({"vault/a.txt": b"1", "vault/d/b.txt": b"22", "vault/d/e/c.txt": b"333"})
    assert fs.ls("", detail=False) == ["vault"]
    assert sorted(fs.ls("vault", detail=False)) == ["vault/a.txt", "vault/d"]
    assert sorted(fs.ls("cloudkit://vault/d/", detail=False)) == ["vault/d/b.txt", "vault/d/e"]
    assert fs.info("vault/d") == {"name": "vault/d", "size": 0, "type": "directory"}
    info = fs.info("vault/d/e/c.txt")
    assert (info["type"], info["size"], info["name"]) == ("file", 3, "vault/d/e/c.txt")
    assert info["ETag"]
    assert fs.info("vault")["type"] == "directory"
    assert fs.find("vault") == ["vault/a.txt", "vault/d/b.txt", "vault/d/e/c.txt"]
    assert fs.find("vault/d", withdirs=True) == ["vault/d", "vault/d/b.txt", "vault/d/e", "vault/d/e/c.txt"]
    assert fs.find("vault/a.txt") == ["vault/a.txt"]
    assert fs.find("vault/d", maxdepth=1) == ["vault/d/b.txt"]
    assert fs.du("vault") == 6
    assert fs.glob("vault/**/*.txt") == ["vault/a.txt", "vault/d/b.txt", "vault/d/e/c.txt"]
    # A prefix that is only the start of a name is not a directory.
    assert not fs.exists("vault/d/e/c")
    assert fs.isdir("vault/d") and not fs.isfile("vault/d") and fs.isfile("vault/a.txt")


def test_mkdir_inside_a_bucket_is_a_no_op_and_a_bare_name_makes_a_bucket(fs: CloudkitFileSystem) -> None:
    fs.mkdir("vault/empty/dir")
    assert not fs.exists("vault/empty")  # object stores keep no empty directories
    fs.mkdir("fresh-bucket/some/dir")  # create_parents: the bucket appears
    assert fs.cloud.storage.get_bucket("fresh-bucket").name == "fresh-bucket"
    with pytest.raises(FileExistsError) as info:
        fs.mkdir("vault")
    assert isinstance(info.value, cloudkit.AlreadyExists)
    fs.makedirs("vault/x", exist_ok=True)
    fs.makedirs("vault", exist_ok=True)
    with pytest.raises(FileExists):
        fs.makedirs("vault")


def test_rmdir_removes_an_empty_bucket_and_refuses_a_full_one(fs: CloudkitFileSystem) -> None:
    fs.pipe("vault/k", b"x")
    with pytest.raises(DirectoryNotEmpty) as info:
        fs.rmdir("vault")
    assert info.value.errno == errno.ENOTEMPTY and isinstance(info.value, cloudkit.Conflict)
    with pytest.raises(FileExistsError):
        fs.rmdir("vault/k")
    with pytest.raises(FileNotFoundError):
        fs.rmdir("vault/nothing")
    fs.rm("vault/k")
    fs.rmdir("vault")
    assert fs.ls("", detail=False) == []


def test_rm_recursive_deletes_everything_under_a_prefix_only(fs: CloudkitFileSystem) -> None:
    fs.pipe({"vault/d/a": b"1", "vault/d/e/b": b"2", "vault/dx": b"3", "vault/keep": b"4"})
    with pytest.raises(FileNotFoundError):
        fs.rm("vault/nothing")
    fs.rm("vault/d", recursive=True)
    assert fs.find("vault") == ["vault/dx", "vault/keep"]
    with pytest.raises(IsADirectoryError):
        fs.rm("vault")
    fs.rm("vault", recursive=True)  # the bucket goes too, as in s3fs
    assert fs.ls("", detail=False) == []


def test_mv_moves_files_and_prefixes(fs: CloudkitFileSystem) -> None:
    fs.pipe({"vault/src/a": b"1", "vault/src/s/b": b"2"})
    fs.mv("vault/src/a", "vault/moved")
    assert fs.cat("vault/moved") == b"1" and not fs.exists("vault/src/a")
    fs.mv("vault/src", "vault/dst", recursive=True)
    assert fs.find("vault") == ["vault/dst/s/b", "vault/moved"]


# ---------------------------------------------------------------- reading
def test_cat_file_ranges_follow_python_slices(fs: CloudkitFileSystem) -> None:
    fs.pipe("vault/r", b"0123456789")
    assert fs.cat_file("vault/r") == b"0123456789"
    assert fs.cat_file("vault/r", start=2, end=5) == b"234"
    assert fs.cat_file("vault/r", start=-3) == b"789"
    assert fs.cat_file("vault/r", start=8, end=100) == b"89"
    assert fs.cat_file("vault/r", start=20) == b""
    assert fs.cat_file("vault/r", end=-8) == b"01"
    fs.pipe("vault/empty", b"")
    assert fs.cat_file("vault/empty", start=0, end=10) == b""
    with fs.open("vault/empty") as f:
        assert f.read() == b""


def test_reads_are_ranged_and_read_ahead(fs: CloudkitFileSystem, monkeypatch: pytest.MonkeyPatch) -> None:
    data = bytes(range(256)) * 4096  # 1 MiB
    fs.pipe("vault/big", data)
    spy = Spy(monkeypatch, fs.cloud.storage, "get_object")
    with fs.open("vault/big", block_size=64 * 1024) as f:
        chunks = [f.read(100) for _ in range(100)]
        f.seek(900_000)
        tail = f.read(10)
    assert b"".join(chunks) == data[:10_000] and tail == data[900_000:900_010]
    ranges = [kw.get("range") for _, kw in spy.calls]
    assert len(ranges) == 2, ranges  # 100 small reads came from one read-ahead block
    assert all(r is not None and r[1] is not None and r[1] - r[0] < 200_000 for r in ranges), ranges


# ---------------------------------------------------------------- writing
def test_small_write_is_one_put_and_large_write_goes_through_upload_file(
    fs: CloudkitFileSystem, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch, fs.cloud.storage, "put_object", "upload_file")
    with fs.open("vault/small", "wb") as f:
        f.write(b"abc")
    assert spy.names() == ["put_object"]
    spy.calls.clear()
    block = 64 * 1024
    data = b"x" * (3 * block + 17)
    with fs.open("vault/large", "wb", block_size=block) as f:
        for i in range(0, len(data), 1000):
            f.write(data[i : i + 1000])
        assert not fs.exists("vault/large")  # nothing is visible before close
    assert spy.names() == ["upload_file"]
    assert fs.cat("vault/large") == data and fs.cat("vault/small") == b"abc"


def test_write_failure_leaves_no_object_and_no_spool(fs: CloudkitFileSystem, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    with pytest.raises(RuntimeError), fs.open("vault/half", "wb", block_size=1024) as f:
        f.write(b"y" * 5000)
        raise RuntimeError("caller gave up")
    assert not fs.exists("vault/half")
    assert list((tmp_path / "spool").iterdir()) == []


def test_autocommit_false_stores_only_on_commit(fs: CloudkitFileSystem) -> None:
    f = fs.open("vault/later", "wb", autocommit=False)
    f.write(b"data")
    f.close()
    assert not fs.exists("vault/later")
    f.commit()
    assert fs.cat("vault/later") == b"data"


def test_append_mode_keeps_what_was_there(fs: CloudkitFileSystem) -> None:
    fs.pipe("vault/log", b"one\n")
    with fs.open("vault/log", "ab") as f:
        f.write(b"two\n")
    with fs.open("vault/new-log", "ab") as f:
        f.write(b"first\n")
    assert fs.cat("vault/log") == b"one\ntwo\n" and fs.cat("vault/new-log") == b"first\n"


def test_exclusive_create_refuses_an_existing_object(fs: CloudkitFileSystem) -> None:
    fs.pipe("vault/x", b"1")
    with pytest.raises(FileExistsError):
        fs.open("vault/x", "xb")
    with pytest.raises(FileExistsError):
        fs.pipe_file("vault/x", b"2", mode="create")
    assert fs.cat("vault/x") == b"1"


def test_put_and_get_files_and_trees(fs: CloudkitFileSystem, tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.bin").write_bytes(b"A" * 1000)
    (src / "sub" / "b.bin").write_bytes(b"B")
    fs.put(str(src), "vault/tree", recursive=True)
    assert fs.find("vault/tree") == ["vault/tree/a.bin", "vault/tree/sub/b.bin"]
    out = tmp_path / "out"
    fs.get("vault/tree", str(out), recursive=True)
    assert (out / "a.bin").read_bytes() == b"A" * 1000 and (out / "sub" / "b.bin").read_bytes() == b"B"


def test_checksum_comes_from_the_etag_and_changes_with_the_content(fs: CloudkitFileSystem) -> None:
    fs.pipe("vault/c", b"one")
    first = fs.checksum("vault/c")
    etag = fs.info("vault/c")["ETag"].strip('"').split("-")[0]
    assert first == int(etag, 16)
    fs.pipe("vault/c", b"two")
    assert fs.checksum("vault/c") != first


# ---------------------------------------------------------------- errors
def test_missing_things_are_file_not_found_and_cloudkit_not_found(fs: CloudkitFileSystem) -> None:
    for call in (lambda: fs.info("vault/nope"), lambda: fs.cat("vault/nope"), lambda: fs.open("vault/nope"),
                 lambda: fs.ls("vault/nope"), lambda: fs.ls("no-such-bucket"), lambda: fs.info("no-such-bucket"),
                 lambda: fs.rm("no-such-bucket/k")):
        with pytest.raises(FileNotFoundError) as info:
            call()
        assert isinstance(info.value, cloudkit.NotFound), info.value
        assert info.value.errno == errno.ENOENT
    err = FileNotFound("vault/x", "gone", provider="local")
    back = pickle.loads(pickle.dumps(err))
    assert (type(back), back.filename, str(back), back.provider) == (FileNotFound, "vault/x", "gone", "local")


def test_hostile_paths_are_invalid_input_naming_the_field(fs: CloudkitFileSystem) -> None:
    with pytest.raises(cloudkit.InvalidInput) as info:
        fs.pipe("vault/a/../../etc/passwd", b"x")
    assert info.value.field == "key" and "'..'" in info.value.rule
    with pytest.raises(cloudkit.InvalidInput) as info:
        fs.open("vault/bad\x00key", "wb")
    assert info.value.field == "key"
    with pytest.raises(cloudkit.InvalidInput) as info:
        fs.mkdir("Not_A_Bucket")
    assert info.value.field == "name"
    with pytest.raises(cloudkit.InvalidInput) as info:
        fs.ls(42)  # type: ignore[arg-type]
    assert info.value.field == "path"
    with pytest.raises(IsADirectoryError):
        fs.open("vault", "wb")
    assert fs.find("vault") == []


# ---------------------------------------------------------------- pandas
@pytest.fixture
def pandas() -> Iterator[Any]:
    if importlib.util.find_spec("pandas") is None:
        pytest.skip("pandas is not installed; it is optional (pip install pandas to run this test)")
    import pandas as pd  # type: ignore[import-untyped]

    yield pd


def test_pandas_reads_a_csv_by_url(tmp_path: Path, pandas: Any) -> None:
    root = str(tmp_path / "root")
    fs = fsspec.filesystem("cloudkit", provider="local", root=root)
    fs.mkdir("vault")
    fs.pipe("vault/data/t.csv", b"name,count\nalpha,1\nbeta,2\n")
    frame = pandas.read_csv("cloudkit://vault/data/t.csv", storage_options={"provider": "local", "root": root})
    assert list(frame["name"]) == ["alpha", "beta"] and list(frame["count"]) == [1, 2]
