"""S3 through cloudkit's aws provider, replayed from cassettes (re-record: CLOUDKIT_RECORD=1)."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import _harness as h
import pytest
import requests

import cloudkit
from cloudkit import errors
from cloudkit.models.storage import CommonPrefix, LifecycleRule, ObjectInfo

BUCKET = "ck-aws-storage"


def test_objects_round_trip_with_metadata_range_and_head(aws_cloud: cloudkit.Cloud) -> None:
    s3 = aws_cloud.storage
    bucket = s3.create_bucket(BUCKET)
    assert bucket.name == BUCKET and bucket.region == h.REGION
    assert [b.name for b in s3.list_buckets()] == [BUCKET]
    assert s3.get_bucket(BUCKET).name == BUCKET

    body = b"hello, cloudkit on s3\n" * 100
    info = s3.put_object(BUCKET, "docs/a.txt", body, content_type="text/plain", metadata={"Owner": "ops"})
    assert info.size == len(body)
    assert info.etag == hashlib.md5(body).hexdigest()

    head = s3.head_object(BUCKET, "docs/a.txt")
    assert (head.size, head.content_type, dict(head.metadata)) == (len(body), "text/plain", {"owner": "ops"})
    assert head.etag == info.etag and head.last_modified is not None

    with s3.get_object(BUCKET, "docs/a.txt") as reader:
        assert reader.read() == body
        assert reader.info.content_type == "text/plain"
    with s3.get_object(BUCKET, "docs/a.txt", range=(6, 13)) as reader:
        assert reader.read() == body[6:14]
        assert reader.info.size == len(body)


def test_streams_of_unknown_length_and_progress(aws_cloud: cloudkit.Cloud) -> None:
    s3 = aws_cloud.storage
    s3.create_bucket(BUCKET)
    chunks = [bytes([65 + i % 26]) * 100 for i in range(50)]
    seen: list[tuple[int, int | None]] = []
    info = s3.put_object(BUCKET, "stream.bin", iter(chunks), progress=lambda d, t: seen.append((d, t)))
    assert info.size == 5_000
    assert seen and seen[-1] == (5_000, None)
    with s3.get_object(BUCKET, "stream.bin") as reader:
        assert b"".join(reader.iter_chunks(4096)) == b"".join(chunks)


def test_missing_things_map_to_cloudkit_errors(aws_cloud: cloudkit.Cloud) -> None:
    s3 = aws_cloud.storage
    with pytest.raises(errors.NotFound) as missing_bucket:
        s3.get_bucket("ck-no-such-bucket")
    assert missing_bucket.value.provider == "aws"
    assert type(missing_bucket.value.__cause__).__module__.startswith("botocore")
    with pytest.raises(errors.NotFound) as no_bucket:
        s3.put_object("ck-no-such-bucket", "k", b"x")
    assert no_bucket.value.code == "NoSuchBucket"
    s3.create_bucket(BUCKET)
    with pytest.raises(errors.NotFound) as no_key:
        s3.get_object(BUCKET, "nope")
    assert no_key.value.code == "NoSuchKey"
    with pytest.raises(errors.NotFound):
        s3.head_object(BUCKET, "nope")
    with pytest.raises(errors.AlreadyExists):
        s3.create_bucket(BUCKET)
    s3.put_object(BUCKET, "k", b"x")
    with pytest.raises(errors.Conflict) as not_empty:
        s3.delete_bucket(BUCKET)
    assert not_empty.value.code == "BucketNotEmpty"
    s3.delete_bucket(BUCKET, force=True)
    assert list(s3.list_buckets()) == []


def test_listing_pages_with_prefix_and_delimiter(aws_settings: dict[str, Any], aws_cassette: Any) -> None:
    with cloudkit.connect("aws", **aws_settings, page_size=50) as cloud:
        s3 = cloud.storage
        s3.create_bucket(BUCKET)
        keys = [f"logs/2026/{i:04d}.log" for i in range(120)] + ["logs/readme", "other/x", "top"]
        for key in keys:
            s3.native.put_object(Bucket=BUCKET, Key=key, Body=b"")  # seed through the native client
        listed = [o.key for o in s3.list_objects(BUCKET, prefix="logs/2026/")]  # type: ignore[union-attr]
        assert listed == sorted(k for k in keys if k.startswith("logs/2026/"))
        assert h.recorded_requests(aws_cassette, "GET", path=rf"/{BUCKET}$") == 3  # 120 keys, 50 a page
        rolled = list(s3.list_objects(BUCKET, delimiter="/"))
        assert rolled[:2] == [CommonPrefix(BUCKET, "logs/"), CommonPrefix(BUCKET, "other/")]
        assert [o.key for o in rolled[2:] if isinstance(o, ObjectInfo)] == ["top"] and len(rolled) == 3
        under = list(s3.list_objects(BUCKET, prefix="logs/", delimiter="/"))
        assert [getattr(o, "prefix", getattr(o, "key", None)) for o in under] == ["logs/2026/", "logs/readme"]
        after = [o.key for o in s3.list_objects(BUCKET, prefix="logs/2026/", start_after="logs/2026/0115.log")]  # type: ignore[union-attr]
        assert after == [f"logs/2026/{i:04d}.log" for i in range(116, 120)]

        # 1,100 keys (most never existed: S3 reports those deleted too) go in two requests: 1,000 + 100.
        doomed = keys + [f"ghost/{i}" for i in range(1100 - len(keys))]
        result = s3.delete_objects(BUCKET, doomed)
        assert sorted(result.deleted) == sorted(doomed) and not result.errors
        assert h.recorded_requests(aws_cassette, "POST", path=rf"/{BUCKET}$") == 2
        assert list(s3.list_objects(BUCKET)) == []


def test_copy_replaces_metadata_and_keeps_content_type(aws_cloud: cloudkit.Cloud) -> None:
    s3 = aws_cloud.storage
    s3.create_bucket(BUCKET)
    s3.put_object(BUCKET, "src", b"payload", content_type="application/json", metadata={"a": "1"})
    same = s3.copy_object(BUCKET, "src", BUCKET, "dst-same")
    assert dict(same.metadata) == {"a": "1"} and same.content_type == "application/json"
    changed = s3.copy_object(BUCKET, "src", BUCKET, "dst-new", metadata={"b": "2"})
    assert dict(changed.metadata) == {"b": "2"} and changed.content_type == "application/json"
    with s3.get_object(BUCKET, "dst-new") as reader:
        assert reader.read() == b"payload"


def test_upload_and_download_file_through_the_transfer_manager(aws_settings: dict[str, Any], aws_cassette: Any, tmp_path: Path) -> None:
    part = 5 * 1024 * 1024
    with cloudkit.connect("aws", **aws_settings, s3_multipart_threshold=part, s3_multipart_chunksize=part, s3_max_concurrency=1) as cloud:
        _transfer(cloud, aws_cassette, tmp_path, part)


def _transfer(cloud: cloudkit.Cloud, aws_cassette: Any, tmp_path: Path, part: int) -> None:
    s3 = cloud.storage
    s3.create_bucket(BUCKET)
    src = tmp_path / "big.bin"
    pattern = hashlib.sha256(b"cloudkit").digest()
    src.write_bytes(pattern * ((part + 1024 * 1024) // len(pattern)))  # 6 MiB: two parts at a 5 MiB threshold
    seen: list[tuple[int, int | None]] = []
    info = s3.upload_file(src, BUCKET, "big.bin", content_type="application/octet-stream", progress=lambda d, t: seen.append((d, t)))
    size = src.stat().st_size
    assert info.size == size and info.etag and info.etag.endswith("-2")
    assert seen[-1] == (size, size)
    assert h.recorded_requests(aws_cassette, "PUT", path=r"/big\.bin$") == 2  # two UploadPart calls
    assert h.recorded_requests(aws_cassette, "POST", path=r"/big\.bin$") == 2  # create + complete

    s3.put_object(BUCKET, "small.txt", b"x" * 5000)
    dst = tmp_path / "out" / "small.txt"
    dst.parent.mkdir()
    got: list[tuple[int, int | None]] = []
    dinfo = s3.download_file(BUCKET, "small.txt", dst, progress=lambda d, t: got.append((d, t)))
    assert dst.read_bytes() == b"x" * 5000 and dinfo.size == 5000
    assert got[-1] == (5000, 5000)
    assert [p.name for p in dst.parent.iterdir()] == ["small.txt"]  # no temporary file left

    with pytest.raises(errors.NotFound):
        s3.download_file(BUCKET, "missing", tmp_path / "out" / "missing")
    assert not (tmp_path / "out" / "missing").exists()


def test_presigned_get_and_put(aws_cloud: cloudkit.Cloud) -> None:
    s3 = aws_cloud.storage
    s3.create_bucket(BUCKET)
    put_url = s3.presign_url(BUCKET, "shared.txt", method="PUT", expires_in=600)
    assert "X-Amz-Signature=" in put_url and "X-Amz-Expires=600" in put_url
    assert requests.put(put_url, data=b"through a presigned PUT", timeout=10).status_code == 200
    get_url = s3.presign_url(BUCKET, "shared.txt", expires_in=60)
    answer = requests.get(get_url, timeout=10)
    assert answer.status_code == 200 and answer.content == b"through a presigned PUT"


def test_lifecycle_rules_map_to_s3_storage_classes(aws_cloud: cloudkit.Cloud) -> None:
    s3 = aws_cloud.storage
    s3.create_bucket(BUCKET)
    assert s3.get_lifecycle(BUCKET) == []
    rules = [
        LifecycleRule(prefix="db/", archive_after_days=30, expire_after_days=365, id="db"),
        LifecycleRule(prefix="cold/", archive_after_days=90, archive_class="DEEP_ARCHIVE", id="cold"),
        LifecycleRule(prefix="tmp/", expire_after_days=1, id="tmp"),
    ]
    s3.set_lifecycle(BUCKET, rules)
    native = s3.native.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    classes = {r["ID"]: [t["StorageClass"] for t in r.get("Transitions", [])] for r in native}
    assert classes == {"db": ["GLACIER"], "cold": ["DEEP_ARCHIVE"], "tmp": []}
    assert sorted(s3.get_lifecycle(BUCKET), key=lambda r: r.id or "") == sorted(rules, key=lambda r: r.id or "")
    s3.set_lifecycle(BUCKET, [])
    assert s3.get_lifecycle(BUCKET) == []
    assert "apply_lifecycle" not in s3.capabilities()
    with pytest.raises(errors.NotSupported):
        s3.apply_lifecycle(BUCKET)


def test_bad_input_is_rejected_before_any_request(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    s3 = aws_cloud.storage
    with pytest.raises(errors.InvalidInput, match="bucket"):
        s3.put_object("Bad_Bucket", "k", b"x")
    with pytest.raises(errors.InvalidInput, match="expires_in"):
        s3.presign_url(BUCKET, "k", expires_in=0)
    with pytest.raises(errors.InvalidInput, match="data"):
        s3.put_object(BUCKET, "k", "text, not bytes")  # type: ignore[arg-type]
    assert len(aws_cassette) == 0  # nothing was sent (or recorded)
