"""Pins what the storage family interface (cloudkit.services.storage) hands its driver methods.

A recording driver stands in for a provider: each public call must validate, then call the driver
method with the normalised arguments in the documented order; the defaults of the interface
(batches of 1,000 deletes, a streamed upload, a download renamed into place) are pinned too.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest

from cloudkit.errors import InvalidInput
from cloudkit.models.storage import Bucket, CommonPrefix, DeleteResult, LifecycleReport, LifecycleRule, ObjectInfo
from cloudkit.services.storage import StorageService, bucket_of
from cloudkit.streams import ObjectReader


class Recorder(StorageService):
    """Records every driver call; ``listing`` is what ``_list_objects`` yields."""

    def __init__(self) -> None:
        super().__init__("recorder")
        self.calls: list[tuple[Any, ...]] = []
        self.listing: list[Any] = []
        self.objects: dict[str, bytes] = {}

    def _create_bucket(self, name: str, region: str | None) -> Bucket:
        self.calls.append(("create_bucket", name, region))
        return Bucket(name=name, region=region)

    def _get_bucket(self, name: str) -> Bucket:
        self.calls.append(("get_bucket", name))
        return Bucket(name=name)

    def _list_buckets(self) -> Iterator[Bucket]:
        self.calls.append(("list_buckets",))
        return iter([Bucket(name="b")])

    def _delete_bucket(self, name: str) -> None:
        self.calls.append(("delete_bucket", name))

    def _put_object(self, bucket: str, key: str, reader: IO[bytes], size: int | None, content_type: str | None,
                    metadata: dict[str, str]) -> ObjectInfo:
        data = reader.read()
        self.objects[key] = data
        self.calls.append(("put_object", bucket, key, data, size, content_type, metadata))
        return ObjectInfo(bucket=bucket, key=key, size=len(data))

    def _get_object(self, bucket: str, key: str, range: tuple[int, int | None] | None) -> ObjectReader:
        self.calls.append(("get_object", bucket, key, range))
        data = self.objects[key]
        return ObjectReader(ObjectInfo(bucket=bucket, key=key, size=len(data)), io.BytesIO(data))

    def _head_object(self, bucket: str, key: str) -> ObjectInfo:
        self.calls.append(("head_object", bucket, key))
        return ObjectInfo(bucket=bucket, key=key, size=0)

    def _copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, metadata: dict[str, str] | None) -> ObjectInfo:
        self.calls.append(("copy_object", src_bucket, src_key, dst_bucket, dst_key, metadata))
        return ObjectInfo(bucket=dst_bucket, key=dst_key, size=0)

    def _delete_object(self, bucket: str, key: str) -> None:
        self.calls.append(("delete_object", bucket, key))

    def _list_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[Any]:
        self.calls.append(("list_objects", bucket, prefix, delimiter, start_after))
        return iter(self.listing)

    def _presign_url(self, bucket: str, key: str, method: str, expires_in: int) -> str:
        self.calls.append(("presign_url", bucket, key, method, expires_in))
        return "https://example.test/"

    def _set_lifecycle(self, bucket: str, rules: list[LifecycleRule]) -> None:
        self.calls.append(("set_lifecycle", bucket, rules))

    def _get_lifecycle(self, bucket: str) -> list[LifecycleRule]:
        self.calls.append(("get_lifecycle", bucket))
        return []

    def _apply_lifecycle(self, bucket: str | None, now: datetime | None) -> LifecycleReport:
        self.calls.append(("apply_lifecycle", bucket, now))
        return LifecycleReport()


@pytest.fixture
def svc() -> Recorder:
    return Recorder()


def test_bucket_calls(svc: Recorder) -> None:
    svc.create_bucket("bkt")
    svc.create_bucket("bkt2", region="eu-west-1")
    svc.get_bucket(Bucket(name="bkt"))
    assert [b.name for b in svc.list_buckets()] == ["b"]
    svc.delete_bucket("bkt")
    assert svc.calls == [("create_bucket", "bkt", None), ("create_bucket", "bkt2", "eu-west-1"), ("get_bucket", "bkt"),
                         ("list_buckets",), ("delete_bucket", "bkt")]
    with pytest.raises(InvalidInput) as caught:
        svc.create_bucket("Bad_Name")
    assert caught.value.field == "name"
    assert bucket_of(Bucket(name="bkt")) == "bkt"


def test_force_delete_empties_the_bucket_in_batches_of_1000(svc: Recorder) -> None:
    svc.listing = [ObjectInfo(bucket="bkt", key=f"k{i:05d}", size=0) for i in range(2001)]
    svc.listing.insert(5, CommonPrefix(bucket="bkt", prefix="p/"))  # not an object: not deleted
    svc.delete_bucket("bkt", force=True)
    deletes = [c for c in svc.calls if c[0] == "delete_object"]
    assert len(deletes) == 2001
    assert svc.calls[0] == ("list_objects", "bkt", "", None, None)
    assert svc.calls[-1] == ("delete_bucket", "bkt")
    assert [c[2] for c in deletes] == [f"k{i:05d}" for i in range(2001)]


def test_force_delete_of_exactly_1000_and_of_an_empty_bucket(svc: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []
    monkeypatch.setattr(svc, "_delete_objects", lambda bucket, keys: batches.append(list(keys)) or DeleteResult(deleted=keys))
    svc.listing = [ObjectInfo(bucket="bkt", key=f"k{i:04d}", size=0) for i in range(1000)]
    svc.delete_bucket("bkt", force=True)
    assert [len(b) for b in batches] == [1000]
    batches.clear()
    svc.listing = []
    svc.delete_bucket("bkt", force=True)
    assert batches == []
    svc.listing = [ObjectInfo(bucket="bkt", key="k", size=0)]
    svc.delete_bucket("bkt")  # without force: no listing, no deletes
    assert batches == []
    # the empty force delete listed and deleted the bucket; the plain one only deleted it
    assert svc.calls[-3:] == [("list_objects", "bkt", "", None, None), ("delete_bucket", "bkt"), ("delete_bucket", "bkt")]


def test_delete_objects_in_batches_of_1000(svc: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[list[str]] = []

    def delete(bucket: str, keys: list[str]) -> DeleteResult:
        batches.append(list(keys))
        return DeleteResult(deleted=keys[:-1], errors={keys[-1]: "AccessDenied: no"})

    monkeypatch.setattr(svc, "_delete_objects", delete)
    result = svc.delete_objects("bkt", [f"k{i}" for i in range(2001)])
    assert [len(b) for b in batches] == [1000, 1000, 1]
    assert len(result.deleted) == 1998 and result.errors == {"k999": "AccessDenied: no", "k1999": "AccessDenied: no",
                                                             "k2000": "AccessDenied: no"}
    with pytest.raises(InvalidInput) as caught:
        svc.delete_objects("bkt", "k1")
    assert (caught.value.field, caught.value.rule) == ("keys", "must be an iterable of keys, not a single string")


def test_the_default_batch_delete_deletes_one_by_one(svc: Recorder) -> None:
    assert svc.delete_objects("bkt", ["a", "b"]) == DeleteResult(deleted=["a", "b"])
    assert svc.calls == [("delete_object", "bkt", "a"), ("delete_object", "bkt", "b")]


def test_object_calls(svc: Recorder) -> None:
    svc.put_object("bkt", "k", b"data", content_type="text/plain", metadata={"a": "1"})
    svc.put_object("bkt", "plain", b"")
    with svc.get_object("bkt", "k", range=(1, 2)):
        pass
    svc.head_object("bkt", ObjectInfo(bucket="bkt", key="k", size=4))
    svc.copy_object("bkt", "k", "other", "k2")
    svc.copy_object("bkt", "k", "other", "k3", metadata={})
    svc.delete_object("bkt", "k")
    svc.presign_url("bkt", "k")
    svc.presign_url("bkt", "k", method="PUT", expires_in=60)
    assert svc.calls == [
        ("put_object", "bkt", "k", b"data", 4, "text/plain", {"a": "1"}),
        ("put_object", "bkt", "plain", b"", 0, None, {}),
        ("get_object", "bkt", "k", (1, 2)),
        ("head_object", "bkt", "k"),
        ("copy_object", "bkt", "k", "other", "k2", None),
        ("copy_object", "bkt", "k", "other", "k3", {}),
        ("delete_object", "bkt", "k"),
        ("presign_url", "bkt", "k", "GET", 3600),
        ("presign_url", "bkt", "k", "PUT", 60),
    ]


def test_put_reports_progress(svc: Recorder) -> None:
    seen: list[tuple[int, int | None]] = []
    svc.put_object("bkt", "k", b"0123456789", progress=lambda done, total: seen.append((done, total)))
    assert seen and seen[-1] == (10, 10)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, ("list_objects", "bkt", "", None, None)),
        ({"prefix": "p/", "delimiter": "/", "start_after": "p/1"}, ("list_objects", "bkt", "p/", "/", "p/1")),
        ({"start_after": ""}, ("list_objects", "bkt", "", None, "")),
    ],
)
def test_list_objects_arguments(svc: Recorder, kwargs: dict[str, Any], expected: tuple[Any, ...]) -> None:
    list(svc.list_objects("bkt", **kwargs))
    assert svc.calls == [expected]


@pytest.mark.parametrize("delimiter", ["", "//", 1])
def test_the_delimiter_is_one_character(svc: Recorder, delimiter: Any) -> None:
    with pytest.raises(InvalidInput) as caught:
        svc.list_objects("bkt", delimiter=delimiter)
    assert (caught.value.field, caught.value.rule) == ("delimiter", "must be a single character such as '/'")
    assert svc.calls == []


def test_lifecycle_calls(svc: Recorder) -> None:
    rule = LifecycleRule(id="r1", prefix="logs/", expire_after_days=7)
    svc.set_lifecycle("bkt", [rule])
    svc.get_lifecycle("bkt")
    svc.apply_lifecycle()
    when = datetime(2026, 1, 1, tzinfo=UTC)
    svc.apply_lifecycle("bkt", now=when)
    assert svc.calls[0][:2] == ("set_lifecycle", "bkt") and [r.id for r in svc.calls[0][2]] == ["r1"]
    assert svc.calls[1:] == [("get_lifecycle", "bkt"), ("apply_lifecycle", None, None), ("apply_lifecycle", "bkt", when)]


def test_upload_file_streams_through_put_object(svc: Recorder, tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"x" * 10)
    seen: list[tuple[int, int | None]] = []
    svc.upload_file(path, "bkt", "k", content_type="application/x-test", metadata={"m": "v"},
                    progress=lambda done, total: seen.append((done, total)))
    assert svc.calls == [("put_object", "bkt", "k", b"x" * 10, 10, "application/x-test", {"m": "v"})]
    assert seen[-1] == (10, 10)
    svc.upload_file(str(path), "bkt", "k2")
    assert svc.calls[-1] == ("put_object", "bkt", "k2", b"x" * 10, 10, None, {})
    with pytest.raises(InvalidInput) as caught:
        svc.upload_file(tmp_path, "bkt", "k")
    assert (caught.value.field, caught.value.rule) == ("path", f"{str(tmp_path)!r} is not a readable file")


def test_download_file_appears_whole(svc: Recorder, tmp_path: Path) -> None:
    svc.objects["k"] = b"payload"
    seen: list[tuple[int, int | None]] = []
    info = svc.download_file("bkt", "k", tmp_path / "out", progress=lambda done, total: seen.append((done, total)))
    assert (tmp_path / "out").read_bytes() == b"payload"
    assert (info.key, seen[-1]) == ("k", (7, 7))
    assert svc.calls == [("get_object", "bkt", "k", None)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no part file left
    with pytest.raises(InvalidInput) as is_dir:
        svc.download_file("bkt", "k", tmp_path)
    assert (is_dir.value.field, is_dir.value.rule) == ("path", f"{str(tmp_path)!r} is a directory")
    with pytest.raises(InvalidInput) as no_folder:
        svc.download_file("bkt", "k", tmp_path / "missing" / "out")
    assert (no_folder.value.field, no_folder.value.rule) == ("path", f"folder {str(tmp_path / 'missing')!r} does not exist")


def test_a_failed_download_leaves_nothing(svc: Recorder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    svc.objects["k"] = b"payload"

    class Broken(ObjectReader):
        def iter_chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
            yield b"pay"
            raise OSError("connection lost")

    monkeypatch.setattr(svc, "_get_object", lambda b, k, r: Broken(ObjectInfo(bucket=b, key=k, size=7), io.BytesIO(b"payload")))
    with pytest.raises(Exception, match="OSError"):  # the core reports a driver's untranslated error
        svc.download_file("bkt", "k", tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_bucket_of_names_the_bucket_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        bucket_of(123)
    assert caught.value.field == "bucket"
    with pytest.raises(InvalidInput) as named:
        bucket_of(123, "src_bucket")
    assert named.value.field == "src_bucket"


def test_a_download_writes_a_hidden_part_file_beside_the_target(svc: Recorder, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    import re

    seen_during: list[list[str]] = []

    class TwoChunks(ObjectReader):
        def iter_chunks(self, size: int = 1 << 20) -> Iterator[bytes]:
            yield b"pay"
            seen_during.append(sorted(p.name for p in tmp_path.iterdir()))
            yield b"load"

    monkeypatch.setattr(svc, "_get_object", lambda b, k, r: TwoChunks(ObjectInfo(bucket=b, key=k, size=7), io.BytesIO(b"payload")))
    progress: list[tuple[int, int | None]] = []
    svc.download_file("bkt", "k", tmp_path / "out", progress=lambda done, total: progress.append((done, total)))
    assert progress == [(3, 7), (7, 7)]
    assert len(seen_during) == 1 and len(seen_during[0]) == 1
    assert re.fullmatch(r"\.out\..+\.part", seen_during[0][0]), seen_during
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    assert (tmp_path / "out").read_bytes() == b"payload"
