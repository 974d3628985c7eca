"""The storage conformance suite: what every provider's buckets and objects must do.

Subclass :class:`StorageConformance` in a provider's tests (with a ``cloudkit_cloud`` fixture),
or run ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. Objects stay small so the
suite replays quickly from recorded HTTP cassettes; an operation the provider's capabilities
exclude is skipped with that reason.

Class attributes a provider may set:

``many_keys``
    Whether to list more than 1000 keys (one page of most object stores) in order: ``True`` or
    ``False`` decides; ``None`` (the default) runs it on the local provider and, elsewhere, when
    pytest is given ``--cloudkit-many-keys`` (it takes 1000+ uploads, cheap only where uploads are).
``presign_put_headers``
    Headers an HTTP client must send with a presigned PUT on this provider.
``presign_checks_expiry``
    Whether the server refuses a presigned URL after it expires (``True``; emulators that do not
    check signatures, such as moto, set ``False`` and the expiry test is skipped with that reason).

The listing guarantee the suite checks (``test_listing_continues_after_changes_inside_a_read_page``):
a listing resumes after the last key it returned. Keys inserted or deleted at or before that point
never make the rest of the listing repeat or skip a key; changes beyond it may or may not be seen
(as on S3). Providers that page listings should run it with small pages (the aws suite sets
``page_size=2``), so that the changes land in a page already read.
"""

from __future__ import annotations

import hashlib
import io
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound, NotSupported
from cloudkit.models.storage import Bucket, CommonPrefix, LifecycleRule, ObjectInfo
from cloudkit.services.base import Service
from cloudkit.services.storage import StorageService
from cloudkit.testing.helpers import Conformance, requires, unique_name


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def _names(listing: Any) -> list[str]:
    return [item.key if isinstance(item, ObjectInfo) else item.prefix for item in listing]


class StorageConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.StorageService`."""

    many_keys: ClassVar[bool | None] = None
    presign_put_headers: ClassVar[dict[str, str]] = {"Content-Type": "application/octet-stream"}
    presign_checks_expiry: ClassVar[bool] = True

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def storage(self, cloudkit_cloud: Cloud) -> StorageService:
        """The storage service under test."""
        return cloudkit_cloud.storage

    @pytest.fixture
    def bucket(self, cloudkit_cloud: Cloud, storage: StorageService) -> Iterator[str]:
        """A fresh bucket, removed with everything in it after the test."""
        requires(cloudkit_cloud, "storage", "create_bucket", "delete_bucket")
        name = unique_name("ck")
        storage.create_bucket(name)
        yield name
        try:
            storage.delete_bucket(name, force=True)
        except CloudkitError:
            pass

    def _put(self, storage: StorageService, bucket: str, keys: list[str]) -> None:
        for key in keys:
            storage.put_object(bucket, key, key.encode("utf-8"))

    # ------------------------------------------------------------ capabilities
    def test_capabilities_are_known_operations(self, storage: StorageService) -> None:
        caps = storage.capabilities()
        assert caps <= set(StorageService.OPERATIONS)
        for op in StorageService.OPERATIONS:
            assert storage.supports(op) == (op in caps)

    # ------------------------------------------------------------ buckets
    def test_bucket_lifecycle(self, cloudkit_cloud: Cloud, storage: StorageService) -> None:
        requires(cloudkit_cloud, "storage", "create_bucket", "get_bucket", "list_buckets", "delete_bucket")
        name = unique_name("ck")
        created = storage.create_bucket(name)
        try:
            assert isinstance(created, Bucket)
            assert created.name == name
            assert storage.get_bucket(name).name == name
            assert storage.get_bucket(created).name == name
            assert name in [b.name for b in storage.list_buckets()]
        finally:
            storage.delete_bucket(name)
        with pytest.raises(NotFound):
            storage.get_bucket(name)
        assert name not in [b.name for b in storage.list_buckets()]

    def test_list_buckets_is_lazy_and_ordered(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "list_buckets")
        listing = storage.list_buckets()
        assert isinstance(listing, Iterator)
        names = [b.name for b in listing]
        assert bucket in names
        assert names == sorted(names)

    def test_create_existing_bucket_raises_already_exists(self, storage: StorageService, bucket: str) -> None:
        with pytest.raises(AlreadyExists):
            storage.create_bucket(bucket)

    def test_missing_bucket_raises_not_found(self, cloudkit_cloud: Cloud, storage: StorageService) -> None:
        requires(cloudkit_cloud, "storage", "get_bucket", "delete_bucket", "put_object", "list_objects")
        name = unique_name("ck")
        with pytest.raises(NotFound):
            storage.get_bucket(name)
        with pytest.raises(NotFound):
            storage.delete_bucket(name)
        with pytest.raises(NotFound):
            storage.put_object(name, "k", b"data")
        with pytest.raises(NotFound):
            list(storage.list_objects(name))

    def test_delete_non_empty_bucket_conflicts_unless_forced(self, cloudkit_cloud: Cloud, storage: StorageService) -> None:
        requires(cloudkit_cloud, "storage", "create_bucket", "get_bucket", "delete_bucket", "put_object", "list_objects")
        name = unique_name("ck")
        storage.create_bucket(name)
        try:
            storage.put_object(name, "a/b", b"1")
            storage.put_object(name, "c", b"2")
            with pytest.raises(Conflict):
                storage.delete_bucket(name)
            assert storage.get_bucket(name).name == name
            storage.delete_bucket(name, force=True)
            with pytest.raises(NotFound):
                storage.get_bucket(name)
        finally:
            try:
                storage.delete_bucket(name, force=True)
            except NotFound:
                pass

    # ------------------------------------------------------------ objects
    def test_put_get_round_trip(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object")
        data = b"hello, cloudkit\n" * 3
        info = storage.put_object(bucket, "docs/hello.txt", data, content_type="text/plain",
                                  metadata={"Owner": "ops", "run-id": "42"})
        assert info.key == "docs/hello.txt"
        assert info.bucket == bucket
        assert info.size == len(data)
        assert info.etag == _md5(data)
        with storage.get_object(bucket, "docs/hello.txt") as reader:
            assert reader.read() == data
            assert reader.info.size == len(data)
            assert reader.info.etag == _md5(data)
            assert reader.info.content_type == "text/plain"
            assert dict(reader.info.metadata) == {"owner": "ops", "run-id": "42"}

    def test_put_accepts_file_objects_and_iterables(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object")
        storage.put_object(bucket, "from-file", io.BytesIO(b"file bytes"))
        storage.put_object(bucket, "from-chunks", iter([b"chunk-1,", b"", b"chunk-2"]))
        with storage.get_object(bucket, "from-file") as r:
            assert r.read() == b"file bytes"
        with storage.get_object(bucket, "from-chunks") as r:
            assert b"".join(r.iter_chunks(4)) == b"chunk-1,chunk-2"

    def test_empty_object(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object", "head_object")
        info = storage.put_object(bucket, "empty", b"")
        assert info.size == 0
        assert info.etag == _md5(b"")
        assert storage.head_object(bucket, "empty").size == 0
        with storage.get_object(bucket, "empty") as r:
            assert r.read() == b""

    def test_put_replaces_object(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object", "head_object")
        storage.put_object(bucket, "k", b"first version", metadata={"v": "1"})
        storage.put_object(bucket, "k", b"second", metadata={"v": "2"})
        head = storage.head_object(bucket, "k")
        assert head.size == 6
        assert head.etag == _md5(b"second")
        assert dict(head.metadata) == {"v": "2"}
        with storage.get_object(bucket, "k") as r:
            assert r.read() == b"second"

    def test_head_object(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "head_object")
        storage.put_object(bucket, "h.json", b'{"a": 1}', content_type="application/json", metadata={"k": "v"})
        head = storage.head_object(bucket, "h.json")
        assert (head.bucket, head.key, head.size) == (bucket, "h.json", 8)
        assert head.content_type == "application/json"
        assert head.etag == _md5(b'{"a": 1}')
        assert dict(head.metadata) == {"k": "v"}
        assert head.last_modified is not None and head.last_modified.tzinfo is not None

    def test_keys_with_unusual_characters(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object", "list_objects")
        keys = ["spaces in name.txt", "ünïcödé/ключ", "a+b=c&d", "deep/nested/path/file", "dots..in..name"]
        for key in keys:
            storage.put_object(bucket, key, key.encode("utf-8"))
        for key in keys:
            with storage.get_object(bucket, key) as r:
                assert r.read() == key.encode("utf-8")
        assert _names(storage.list_objects(bucket)) == sorted(keys, key=lambda k: k.encode("utf-8"))

    def test_missing_object_raises_not_found(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "get_object", "head_object")
        with pytest.raises(NotFound):
            storage.get_object(bucket, "no/such/key").read()
        with pytest.raises(NotFound):
            storage.head_object(bucket, "no/such/key")

    def test_ranged_get(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object")
        data = bytes(range(256)) * 4
        storage.put_object(bucket, "bin", data)
        with storage.get_object(bucket, "bin", range=(0, 9)) as r:
            assert r.read() == data[0:10]
        with storage.get_object(bucket, "bin", range=(100, 355)) as r:
            assert r.read() == data[100:356]
        with storage.get_object(bucket, "bin", range=(1000, None)) as r:
            assert r.read() == data[1000:]
        with storage.get_object(bucket, "bin", range=(1020, 5000)) as r:
            assert r.read() == data[1020:]

    def test_copy_object(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "copy_object", "get_object", "head_object")
        storage.put_object(bucket, "src", b"copy me", content_type="text/plain", metadata={"a": "1"})
        info = storage.copy_object(bucket, "src", bucket, "dst/copy")
        assert info.key == "dst/copy"
        assert info.etag == _md5(b"copy me")
        with storage.get_object(bucket, "dst/copy") as r:
            assert r.read() == b"copy me"
        assert dict(storage.head_object(bucket, "dst/copy").metadata) == {"a": "1"}
        storage.copy_object(bucket, "src", bucket, "dst/new-meta", metadata={"b": "2"})
        assert dict(storage.head_object(bucket, "dst/new-meta").metadata) == {"b": "2"}
        # The copy is independent of its source.
        storage.put_object(bucket, "src", b"changed")
        with storage.get_object(bucket, "dst/copy") as r:
            assert r.read() == b"copy me"
        with pytest.raises(NotFound):
            storage.copy_object(bucket, "missing", bucket, "dst/x")

    def test_delete_object(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "delete_object", "head_object")
        storage.put_object(bucket, "doomed", b"x")
        storage.delete_object(bucket, "doomed")
        with pytest.raises(NotFound):
            storage.head_object(bucket, "doomed")
        storage.delete_object(bucket, "doomed")  # deleting a missing key is not an error

    def test_delete_objects_batch(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "delete_objects", "list_objects")
        keys = [f"batch/{i:02d}" for i in range(12)]
        self._put(storage, bucket, [*keys, "keep"])
        result = storage.delete_objects(bucket, [*keys[:10], "batch/never-existed"])
        assert set(keys[:10]) <= set(result.deleted)
        assert not result.errors
        assert _names(storage.list_objects(bucket)) == ["batch/10", "batch/11", "keep"]

    # ------------------------------------------------------------ listing
    def test_list_in_key_order(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "list_objects")
        keys = ["b", "a/2", "A", "a/10", "a", "a-b", "a/1", "Z/z", "0"]
        self._put(storage, bucket, keys)
        listing = storage.list_objects(bucket)
        assert isinstance(listing, Iterator)
        everything = list(listing)
        items = [i for i in everything if isinstance(i, ObjectInfo)]
        assert items == everything
        assert [i.key for i in items] == sorted(keys)
        sizes = {i.key: i.size for i in items}
        assert sizes["a/10"] == len(b"a/10")

    def test_list_prefix_and_start_after(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "list_objects")
        self._put(storage, bucket, ["logs/1", "logs/2", "logs/3", "logsx", "other"])
        assert _names(storage.list_objects(bucket, prefix="logs/")) == ["logs/1", "logs/2", "logs/3"]
        assert _names(storage.list_objects(bucket, prefix="logs")) == ["logs/1", "logs/2", "logs/3", "logsx"]
        assert _names(storage.list_objects(bucket, prefix="nothing/")) == []
        assert _names(storage.list_objects(bucket, prefix="logs/", start_after="logs/1")) == ["logs/2", "logs/3"]
        assert _names(storage.list_objects(bucket, start_after="logsx")) == ["other"]

    def test_list_with_delimiter(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "list_objects")
        self._put(storage, bucket, ["a/1", "a/2", "a/b/3", "b", "c/1", "d/e/f", "top.txt"])
        top = list(storage.list_objects(bucket, delimiter="/"))
        assert _names(top) == ["a/", "b", "c/", "d/", "top.txt"]
        assert [type(i) for i in top] == [CommonPrefix, ObjectInfo, CommonPrefix, CommonPrefix, ObjectInfo]
        assert all(i.bucket == bucket for i in top)
        assert _names(storage.list_objects(bucket, prefix="a/", delimiter="/")) == ["a/1", "a/2", "a/b/"]
        assert _names(storage.list_objects(bucket, prefix="d/", delimiter="/")) == ["d/e/"]

    def test_list_many_keys(self, request: pytest.FixtureRequest, cloudkit_cloud: Cloud, storage: StorageService,
                            bucket: str) -> None:
        wanted = self.many_keys
        if wanted is None:
            wanted = cloudkit_cloud.provider_of("storage") == "local" or bool(request.config.getoption("--cloudkit-many-keys"))
        if not wanted:
            pytest.skip("1000+ uploads: run with --cloudkit-many-keys (or set many_keys = True on the suite)")
        requires(cloudkit_cloud, "storage", "put_object", "list_objects")
        keys = [f"k/{i:05d}" for i in range(1010)]
        for key in reversed(keys):
            storage.put_object(bucket, key, b"")
        assert _names(storage.list_objects(bucket)) == keys
        assert _names(storage.list_objects(bucket, start_after="k/00999")) == keys[1000:]
        assert _names(storage.list_objects(bucket, delimiter="/")) == ["k/"]

    # ------------------------------------------------------------ files
    def test_upload_and_download_file(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str, tmp_path: Path) -> None:
        requires(cloudkit_cloud, "storage", "upload_file", "download_file")
        data = bytes(range(256)) * 64
        src = tmp_path / "src.bin"
        src.write_bytes(data)
        seen: list[tuple[int, int | None]] = []
        info = storage.upload_file(src, bucket, "files/src.bin", content_type="application/octet-stream",
                                   progress=lambda done, total: seen.append((done, total)))
        assert info.size == len(data)
        assert info.etag == _md5(data)
        assert seen and seen[-1][0] == len(data)
        dst = tmp_path / "out" / "dst.bin"
        dst.parent.mkdir()
        got = storage.download_file(bucket, "files/src.bin", dst)
        assert dst.read_bytes() == data
        assert got.size == len(data)
        assert sorted(p.name for p in dst.parent.iterdir()) == ["dst.bin"]

    def test_download_missing_object_leaves_no_file(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str,
                                                    tmp_path: Path) -> None:
        requires(cloudkit_cloud, "storage", "download_file")
        folder = tmp_path / "downloads"
        folder.mkdir()
        with pytest.raises(NotFound):
            storage.download_file(bucket, "missing", folder / "never.bin")
        assert list(folder.iterdir()) == []

    # ------------------------------------------------------------ presigned URLs
    def test_presigned_get(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "presign_url")
        storage.put_object(bucket, "shared/report.txt", b"for your eyes", content_type="text/plain")
        url = storage.presign_url(bucket, "shared/report.txt", method="GET", expires_in=300)
        assert url.startswith(("http://", "https://"))
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200
            assert resp.read() == b"for your eyes"

    def test_presigned_put(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "presign_url", "get_object")
        url = storage.presign_url(bucket, "inbox/upload.bin", method="PUT", expires_in=300)
        req = urllib.request.Request(url, data=b"uploaded through a URL", method="PUT", headers=dict(self.presign_put_headers))
        with urllib.request.urlopen(req, timeout=30) as resp:
            assert resp.status in (200, 201)
        with storage.get_object(bucket, "inbox/upload.bin") as r:
            assert r.read() == b"uploaded through a URL"

    def test_presigned_get_is_method_bound(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "presign_url", "get_object")
        storage.put_object(bucket, "ro", b"read only")
        url = storage.presign_url(bucket, "ro", method="GET", expires_in=300)
        req = urllib.request.Request(url, data=b"overwrite", method="PUT", headers=dict(self.presign_put_headers))
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(req, timeout=30)
        assert 400 <= err.value.code < 500
        with storage.get_object(bucket, "ro") as r:
            assert r.read() == b"read only"

    # ------------------------------------------------------------ lifecycle
    def test_lifecycle_round_trip(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "set_lifecycle", "get_lifecycle")
        rules = [
            LifecycleRule(prefix="logs/", archive_after_days=30, expire_after_days=365, id="logs"),
            LifecycleRule(prefix="tmp/", expire_after_days=7, id="tmp"),
            LifecycleRule(prefix="cold/", archive_after_days=10, archive_class="DEEP_ARCHIVE", id="cold"),
        ]
        storage.set_lifecycle(bucket, rules)
        got = sorted(storage.get_lifecycle(bucket), key=lambda r: r.id or "")

        def shape(r: LifecycleRule) -> tuple[Any, ...]:
            return (r.id, r.prefix, r.archive_after_days, r.expire_after_days,
                    r.archive_class if r.archive_after_days is not None else None, r.enabled)

        assert [shape(r) for r in got] == [shape(r) for r in sorted(rules, key=lambda r: r.id or "")]
        storage.set_lifecycle(bucket, [])
        assert storage.get_lifecycle(bucket) == []

    # ------------------------------------------------------------ bad input
    @pytest.mark.parametrize(
        "name",
        ["ab", "x" * 64, "UpperCase", "under_score", "-leading", "trailing-", "two..dots", "192.168.1.1", "xn--punycode", ""],
    )
    def test_bad_bucket_names_raise_invalid_input(self, storage: StorageService, name: str) -> None:
        with pytest.raises(InvalidInput) as err:
            storage.create_bucket(name)
        assert err.value.field == "name"

    @pytest.mark.parametrize("key", ["", "../escape", "a/../b", "a/./b", "nul\x00byte", "k" * 1025, "é" * 513])
    def test_bad_keys_raise_invalid_input(self, storage: StorageService, key: str) -> None:
        name = unique_name("ck")
        for call in (
            lambda: storage.put_object(name, key, b"x"),
            lambda: storage.get_object(name, key),
            lambda: storage.head_object(name, key),
            lambda: storage.delete_object(name, key),
            lambda: storage.presign_url(name, key),
            lambda: storage.delete_objects(name, ["fine", key]),
        ):
            with pytest.raises(InvalidInput):
                call()

    def test_other_bad_input_raises_invalid_input(self, storage: StorageService, tmp_path: Path) -> None:
        name = unique_name("ck")
        cases: list[tuple[str, Any]] = [
            ("range[1]", lambda: storage.get_object(name, "k", range=(5, 2))),
            ("range[0]", lambda: storage.get_object(name, "k", range=(-1, 2))),
            ("range", lambda: storage.get_object(name, "k", range=[0, 1])),  # type: ignore[arg-type]
            ("content_type", lambda: storage.put_object(name, "k", b"x", content_type="not a type")),
            ("metadata['bad key']", lambda: storage.put_object(name, "k", b"x", metadata={"bad key": "v"})),
            ("metadata['k']", lambda: storage.put_object(name, "k", b"x", metadata={"k": "line\nbreak"})),
            ("metadata", lambda: storage.put_object(name, "k", b"x", metadata={"k": "v" * 3000})),
            ("data", lambda: storage.put_object(name, "k", "text, not bytes")),  # type: ignore[arg-type]
            ("method", lambda: storage.presign_url(name, "k", method="DELETE")),
            ("expires_in", lambda: storage.presign_url(name, "k", expires_in=0)),
            ("expires_in", lambda: storage.presign_url(name, "k", expires_in=604801)),
            ("delimiter", lambda: list(storage.list_objects(name, delimiter="//"))),
            ("keys", lambda: storage.delete_objects(name, "single-string")),
            ("path", lambda: storage.upload_file(tmp_path / "missing.bin", name, "k")),
            ("path", lambda: storage.download_file(name, "k", tmp_path)),
            ("rules[0]", lambda: storage.set_lifecycle(name, [LifecycleRule(prefix="x/")])),
            ("rules[0].expire_after_days",
             lambda: storage.set_lifecycle(name, [LifecycleRule(archive_after_days=30, expire_after_days=10)])),
            ("rules[0].archive_class",
             lambda: storage.set_lifecycle(name, [LifecycleRule(archive_after_days=1, archive_class="COLD")])),
        ]
        for field, call in cases:
            with pytest.raises(InvalidInput) as err:
                call()
            assert err.value.field == field, (field, err.value)

    # ------------------------------------------------------------ listing consistency, writes, integrity
    # The tests below match gocloud.dev's blob drivertest (docs/testing.md maps one to the other).
    def test_listing_continues_after_changes_inside_a_read_page(self, cloudkit_cloud: Cloud, storage: StorageService,
                                                               bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "list_objects", "delete_object")
        keys = [f"p/{i}" for i in range(6)]
        self._put(storage, bucket, keys)
        # Inserts behind the position: nothing is returned twice.
        listing = storage.list_objects(bucket, prefix="p/")
        seen = [next(listing).key, next(listing).key, next(listing).key]  # type: ignore[union-attr]
        assert seen == keys[:3]
        self._put(storage, bucket, ["p/0a", "p/0b"])
        rest = _names(listing)
        assert rest == keys[3:], f"after {seen} and two inserts before them, the listing went on with {rest}"
        # Deletes behind the position (of keys already returned): nothing is skipped.
        listing = storage.list_objects(bucket, prefix="p/")
        seen = [next(listing).key, next(listing).key, next(listing).key]  # type: ignore[union-attr]
        assert seen == ["p/0", "p/0a", "p/0b"]
        storage.delete_object(bucket, "p/0")
        storage.delete_object(bucket, "p/0a")
        rest = _names(listing)
        assert rest == ["p/1", "p/2", "p/3", "p/4", "p/5"], f"after {seen} and two deletes of them, the listing went on with {rest}"
        assert _names(storage.list_objects(bucket, prefix="p/")) == ["p/0b", *keys[1:]]

    def test_delimited_listing_drops_a_prefix_once_empty(self, cloudkit_cloud: Cloud, storage: StorageService,
                                                         bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "list_objects", "delete_object")
        self._put(storage, bucket, ["t|d1|a", "t|d1|s|c", "t|d2|e", "t|f"])  # a delimiter other than '/'
        assert _names(storage.list_objects(bucket, prefix="t|", delimiter="|")) == ["t|d1|", "t|d2|", "t|f"]
        assert _names(storage.list_objects(bucket, prefix="t|d1|", delimiter="|")) == ["t|d1|a", "t|d1|s|"]
        storage.delete_object(bucket, "t|d2|e")
        assert _names(storage.list_objects(bucket, prefix="t|", delimiter="|")) == ["t|d1|", "t|f"]

    def test_failed_write_leaves_no_object_and_no_part(self, cloudkit_cloud: Cloud, storage: StorageService,
                                                       bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object", "head_object", "list_objects")

        class SourceBroke(Exception):
            """Raised by the data source half-way through a write."""

        def source(prefix: bytes) -> Iterator[bytes]:
            yield prefix * 1024
            raise SourceBroke("the source failed mid-stream")

        storage.put_object(bucket, "kept", b"the original bytes", content_type="text/plain")
        for key in ("kept", "never"):
            with pytest.raises(CloudkitError) as err:
                storage.put_object(bucket, key, source(b"partial "), content_type="text/plain")
            cause: BaseException | None = err.value
            while cause is not None and not isinstance(cause, SourceBroke):
                cause = cause.__cause__ or cause.__context__
            assert isinstance(cause, SourceBroke), f"the source's failure is not in the chain of {err.value!r}"
        with storage.get_object(bucket, "kept") as r:
            assert r.read() == b"the original bytes"
        with pytest.raises(NotFound):
            storage.head_object(bucket, "never")
        assert _names(storage.list_objects(bucket)) == ["kept"]

    def test_concurrent_writes_and_reads_of_one_key_never_mix(self, cloudkit_cloud: Cloud, storage: StorageService,
                                                             bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object")
        versions = [bytes([ord("a") + i]) * (64 * 1024) for i in range(3)]
        storage.put_object(bucket, "hot", versions[0])
        bad: list[str] = []
        start = threading.Barrier(4)

        writing = threading.Event()
        writing.set()

        def reader() -> None:  # reads for as long as the writers write (cassette suites skip this test)
            start.wait(timeout=60)
            reads = 0
            while writing.is_set() or reads < 4:
                with storage.get_object(bucket, "hot") as r:
                    got = r.read()
                reads += 1
                if got not in versions:
                    bad.append(f"{len(got)} bytes starting {got[:4]!r}, ending {got[-4:]!r}")

        def writer(first: int) -> None:
            start.wait(timeout=60)
            for i in range(4):
                storage.put_object(bucket, "hot", versions[(first + i) % len(versions)])

        threads = [threading.Thread(target=reader) for _ in range(2)] + [threading.Thread(target=writer, args=(s,)) for s in (1, 2)]
        for t in threads:
            t.start()
        for t in threads[2:]:
            t.join(timeout=120)
        writing.clear()
        for t in threads[:2]:
            t.join(timeout=120)
        assert not any(t.is_alive() for t in threads), "a reader or writer hung"
        assert not bad, f"reads saw a mix of versions: {bad[:3]}"
        with storage.get_object(bucket, "hot") as r:
            assert r.read() in versions

    def test_listings_and_heads_report_md5_etags(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "head_object", "list_objects")
        contents = {"md5/aaa": b"hello", "md5/bbb": b"goodbye", "md5/empty": b""}
        for key, data in contents.items():
            storage.put_object(bucket, key, data)
        for key, data in contents.items():
            assert storage.head_object(bucket, key).etag == _md5(data)
        listed = [i for i in storage.list_objects(bucket, prefix="md5/") if isinstance(i, ObjectInfo)]
        assert [(i.key, i.size) for i in listed] == [(k, len(d)) for k, d in sorted(contents.items())]
        for item in listed:  # a listing may leave the ETag out, but never report a wrong one
            assert item.etag is None or item.etag == _md5(contents[item.key]), item

    def test_ranged_read_reports_the_whole_object(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "get_object")
        data = b"abcdefghijklmnopqrstuvwxyz"
        storage.put_object(bucket, "alpha", data, content_type="text/plain")
        for rng, part in [((10, 14), data[10:15]), ((10, None), data[10:]), ((0, 0), data[:1]), ((25, 99), data[25:])]:
            with storage.get_object(bucket, "alpha", range=rng) as r:
                assert r.read() == part, rng
                assert r.info.size == len(data), f"range {rng}: size {r.info.size} is not the object's"
                assert r.info.etag == _md5(data)
                assert r.info.content_type == "text/plain"
                assert r.info.last_modified is not None

    def test_rewrite_moves_last_modified_forward(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "head_object")
        storage.put_object(bucket, "clock", b"1")
        before = storage.head_object(bucket, "clock").last_modified
        storage.put_object(bucket, "clock", b"2")
        after = storage.head_object(bucket, "clock").last_modified
        assert before is not None and after is not None
        assert after >= before

    def test_copy_over_an_existing_object_replaces_it_whole(self, cloudkit_cloud: Cloud, storage: StorageService,
                                                            bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "copy_object", "get_object", "head_object")
        storage.put_object(bucket, "src", b"Hello World", content_type="text/plain", metadata={"foo": "bar"})
        storage.put_object(bucket, "dst", b"clobber me, I am longer than the source", content_type="application/json",
                           metadata={"old": "1"})
        storage.copy_object(bucket, "src", bucket, "dst")
        with storage.get_object(bucket, "dst") as r:
            assert r.read() == b"Hello World"
        src, dst = storage.head_object(bucket, "src"), storage.head_object(bucket, "dst")
        assert (dst.size, dst.etag, dst.content_type, dict(dst.metadata)) == (src.size, src.etag, src.content_type,
                                                                              {"foo": "bar"})

    # ------------------------------------------------------------ presigned URL edge cases
    def test_presigned_get_serves_unusual_keys(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "presign_url")
        refused: list[str] = []
        for key in ["spaces in name.txt", "ünïcödé/ключ", "a+b=c&d?e#f", "percent%20encoded", "quote'\"", "tilde~star*"]:
            storage.put_object(bucket, key, key.encode("utf-8"))
            try:
                url = storage.presign_url(bucket, key, method="GET", expires_in=300)
            except NotSupported as exc:  # visibly unsupported is allowed; a URL that fails is not
                assert exc.reason, "NotSupported without a reason"
                refused.append(f"{key!r}: {exc.reason}")
                continue
            with urllib.request.urlopen(url, timeout=30) as resp:
                assert resp.read() == key.encode("utf-8"), key
        if refused:
            pytest.skip(f"presigning refused for {len(refused)} key(s): {refused[0]}")

    def test_presigned_get_of_a_missing_key_is_not_found(self, cloudkit_cloud: Cloud, storage: StorageService,
                                                        bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "presign_url")
        url = storage.presign_url(bucket, "not/there", method="GET", expires_in=300)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=30)
        assert err.value.code == 404

    def test_presigned_put_is_method_bound(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "presign_url")
        storage.put_object(bucket, "wo", b"not for readers of an upload URL")
        url = storage.presign_url(bucket, "wo", method="PUT", expires_in=300)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=30)
        assert 400 <= err.value.code < 500

    def test_presigned_url_expires(self, cloudkit_cloud: Cloud, storage: StorageService, bucket: str) -> None:
        requires(cloudkit_cloud, "storage", "put_object", "presign_url")
        if not self.presign_checks_expiry:
            pytest.skip("this server does not check presigned URLs' expiry (presign_checks_expiry = False)")
        storage.put_object(bucket, "brief", b"soon gone")
        url = storage.presign_url(bucket, "brief", method="GET", expires_in=1)
        time.sleep(2.5)
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(url, timeout=30)
        assert err.value.code in (400, 401, 403)

    # ------------------------------------------------------------ the native escape hatch
    def test_native_escape_hatch_is_there_and_documented(self, storage: StorageService) -> None:
        prop = type(storage).native
        assert prop is not Service.native, f"{type(storage).__name__} does not offer .native"
        assert prop.__doc__ and prop.__doc__.strip(), f"{type(storage).__name__}.native has no docstring saying what it is"
        assert storage.native is not None

    def test_metadata_names_differing_only_in_case_are_refused(self, storage: StorageService) -> None:
        with pytest.raises(InvalidInput) as err:
            storage.put_object(unique_name("ck"), "k", b"x", metadata={"abc": "foo", "aBc": "bar"})
        assert err.value.field.startswith("metadata")
