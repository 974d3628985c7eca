"""Pins S3 copy metadata and the transfer defaults of the aws provider (issue 11), offline.

``copy_object`` sends exactly the parameters S3 needs (botocore's ``Stubber`` checks every one):
no metadata directive when ``metadata`` is not given, ``REPLACE`` with the new metadata and the
source's content type when it is, and a managed (multipart) copy above 5 GiB. The transfer
settings have documented defaults and bounds when none is given.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.stub import Stubber
from cloudkit_aws import storage as aws_storage
from cloudkit_aws._session import AwsSession

import cloudkit
from cloudkit.errors import InvalidInput, NotFound

MIB = 1024 * 1024
WHEN = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)
SETTINGS = {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9", "max_attempts": 1}


@pytest.fixture(autouse=True)
def _credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def cloud() -> Iterator[Any]:
    with cloudkit.connect("aws", **SETTINGS) as c:
        yield c


def _head(content_type: str | None, size: int, metadata: dict[str, str] | None = None) -> dict[str, Any]:
    head: dict[str, Any] = {"ContentLength": size, "ETag": '"e"', "Metadata": metadata or {}}
    if content_type is not None:
        head["ContentType"] = content_type
    return head


def _copy(cloud: Any, source: dict[str, Any], expected_copy: dict[str, Any] | None, dest: dict[str, Any],
          **kwargs: Any) -> Any:
    storage = cloud.storage
    s3 = storage.aws.client("s3")
    with Stubber(s3) as stub:
        stub.add_response("head_object", source, {"Bucket": "src", "Key": "a"})
        if expected_copy is not None:
            stub.add_response("copy_object", {"CopyObjectResult": {"ETag": '"e"'}}, expected_copy)
        stub.add_response("head_object", dest, {"Bucket": "dst", "Key": "b"})
        info = storage.copy_object("src", "a", "dst", "b", **kwargs)
        stub.assert_no_pending_responses()
    return info


COPY = {"CopySource": {"Bucket": "src", "Key": "a"}, "Bucket": "dst", "Key": "b"}


def test_copy_without_metadata_keeps_the_source_metadata(cloud: Any) -> None:
    info = _copy(cloud, _head("text/plain", 5, {"k": "v"}), dict(COPY), _head("text/plain", 5, {"k": "v"}))
    assert (info.bucket, info.key, info.size, info.content_type, info.metadata) == ("dst", "b", 5, "text/plain", {"k": "v"})


def test_copy_with_metadata_replaces_it_and_keeps_the_content_type(cloud: Any) -> None:
    expected = {**COPY, "MetadataDirective": "REPLACE", "Metadata": {"new": "1"}, "ContentType": "text/plain"}
    info = _copy(cloud, _head("text/plain", 5, {"old": "x"}), expected, _head("text/plain", 5, {"new": "1"}), metadata={"new": "1"})
    assert info.metadata == {"new": "1"}


def test_copy_with_empty_metadata_clears_it(cloud: Any) -> None:
    expected = {**COPY, "MetadataDirective": "REPLACE", "Metadata": {}, "ContentType": "image/png"}
    _copy(cloud, _head("image/png", 5, {"old": "x"}), expected, _head("image/png", 5), metadata={})


def test_copy_with_metadata_of_a_source_without_content_type(cloud: Any) -> None:
    expected = {**COPY, "MetadataDirective": "REPLACE", "Metadata": {"new": "1"}}
    _copy(cloud, _head(None, 5), expected, _head(None, 5, {"new": "1"}), metadata={"new": "1"})


class _Manager:
    def __init__(self, calls: list[Any]) -> None:
        self.calls = calls

    def copy(self, source: dict[str, str], bucket: str, key: str, extra_args: dict[str, Any]) -> Any:
        self.calls.append(("copy", source, bucket, key, extra_args))

        class Done:
            def result(self) -> None:
                return None

        return Done()

    def shutdown(self) -> None:
        self.calls.append(("shutdown",))


@pytest.mark.parametrize(("size", "managed"), [(aws_storage.COPY_LIMIT, False), (aws_storage.COPY_LIMIT + 1, True)])
def test_copies_over_5_gib_go_through_the_transfer_manager(cloud: Any, monkeypatch: pytest.MonkeyPatch, size: int,
                                                            managed: bool) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(cloud.storage.aws, "transfer_manager", lambda config=None: _Manager(calls))
    expected = {**COPY, "MetadataDirective": "REPLACE", "Metadata": {"m": "1"}, "ContentType": "video/mp4"}
    _copy(cloud, _head("video/mp4", size), None if managed else expected, _head("video/mp4", size), metadata={"m": "1"})
    if managed:
        assert calls == [("copy", {"Bucket": "src", "Key": "a"}, "dst", "b",
                          {"MetadataDirective": "REPLACE", "Metadata": {"m": "1"}, "ContentType": "video/mp4"}), ("shutdown",)]
    else:
        assert calls == []


def test_a_managed_copy_without_metadata_sends_no_directive(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []
    monkeypatch.setattr(cloud.storage.aws, "transfer_manager", lambda config=None: _Manager(calls))
    _copy(cloud, _head("video/mp4", aws_storage.COPY_LIMIT + 1), None, _head("video/mp4", aws_storage.COPY_LIMIT + 1))
    assert calls == [("copy", {"Bucket": "src", "Key": "a"}, "dst", "b", {}), ("shutdown",)]


def test_the_transfer_manager_is_shut_down_when_a_copy_fails(cloud: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[Any] = []

    class Failing(_Manager):
        def copy(self, *args: Any, **kwargs: Any) -> Any:
            raise OSError("connection lost")

    monkeypatch.setattr(cloud.storage.aws, "transfer_manager", lambda config=None: Failing(calls))
    s3 = cloud.storage.aws.client("s3")
    with Stubber(s3) as stub:
        stub.add_response("head_object", _head("video/mp4", aws_storage.COPY_LIMIT + 1), {"Bucket": "src", "Key": "a"})
        with pytest.raises(cloudkit.CloudkitError):
            cloud.storage.copy_object("src", "a", "dst", "b")
    assert calls == [("shutdown",)]


# ----------------------------------------------------------------------------- transfer settings

def _config(**settings: Any) -> Any:
    return AwsSession({"region": "us-east-1", **settings}).transfer_config()


def test_transfer_defaults_when_no_setting_is_given() -> None:
    config = _config()
    assert (config.multipart_threshold, config.multipart_chunksize, config.max_request_concurrency, config.use_threads) == (
        8 * MIB, 8 * MIB, 10, True)


def test_transfer_settings_are_used() -> None:
    config = _config(s3_multipart_threshold=6 * MIB, s3_multipart_chunksize=7 * MIB, s3_max_concurrency=3)
    assert (config.multipart_threshold, config.multipart_chunksize, config.max_request_concurrency, config.use_threads) == (
        6 * MIB, 7 * MIB, 3, True)


@pytest.mark.parametrize(("concurrency", "threads"), [(1, False), (2, True)])
def test_one_worker_means_no_threads(concurrency: int, threads: bool) -> None:
    assert _config(s3_max_concurrency=concurrency).use_threads is threads


def test_overrides_win() -> None:
    config = AwsSession({"region": "us-east-1", "s3_max_concurrency": 4}).transfer_config(max_concurrency=1, use_threads=False)
    assert (config.max_request_concurrency, config.use_threads, config.multipart_threshold) == (1, False, 8 * MIB)


@pytest.mark.parametrize(
    ("name", "ok", "refused", "rule"),
    [
        ("s3_multipart_threshold", 5 * MIB, 5 * MIB - 1, f"must be at least {5 * MIB} (got {5 * MIB - 1})"),
        ("s3_multipart_chunksize", 5 * MIB, 5 * MIB - 1, f"must be between {5 * MIB} and {5 * 1024 * MIB} (got {5 * MIB - 1})"),
        ("s3_multipart_chunksize", 5 * 1024 * MIB, 5 * 1024 * MIB + 1,
         f"must be between {5 * MIB} and {5 * 1024 * MIB} (got {5 * 1024 * MIB + 1})"),
        ("s3_max_concurrency", 1, 0, "must be between 1 and 100 (got 0)"),
        ("s3_max_concurrency", 100, 101, "must be between 1 and 100 (got 101)"),
    ],
)
def test_transfer_setting_bounds(name: str, ok: int, refused: int, rule: str) -> None:
    _config(**{name: ok})
    with pytest.raises(InvalidInput) as caught:
        _config(**{name: refused})
    assert (caught.value.field, caught.value.rule) == (name, rule)


def test_the_transfer_manager_uses_the_s3_client_and_the_configuration() -> None:
    session = AwsSession({"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9", "s3_max_concurrency": 3})
    manager = session.transfer_manager()
    try:
        assert manager.client is session.client("s3")
        assert manager.config.max_request_concurrency == 3
    finally:
        manager.shutdown()
    chosen = session.transfer_config(max_concurrency=2)
    manager = session.transfer_manager(chosen)
    try:
        assert manager.config is chosen
    finally:
        manager.shutdown()


# ----------------------------------------------------------------------------- listing


def _listed(cloud: Any, expected: dict[str, Any], pages: list[dict[str, Any]], **kwargs: Any) -> list[Any]:
    s3 = cloud.storage.aws.client("s3")
    with Stubber(s3) as stub:
        token = None
        for page in pages:
            params = dict(expected) if token is None else {**expected, "ContinuationToken": token}
            stub.add_response("list_objects_v2", page, params)
            token = page.get("NextContinuationToken")
        out = list(cloud.storage.list_objects("bkt", **kwargs))
        stub.assert_no_pending_responses()
    return out


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({}, {"Bucket": "bkt", "Prefix": ""}),
        ({"prefix": "p/", "start_after": ""}, {"Bucket": "bkt", "Prefix": "p/"}),  # an empty start is no start
        ({"prefix": "p/", "delimiter": "/", "start_after": "p/1"},
         {"Bucket": "bkt", "Prefix": "p/", "Delimiter": "/", "StartAfter": "p/1"}),
    ],
)
def test_listing_parameters(cloud: Any, kwargs: dict[str, Any], expected: dict[str, Any]) -> None:
    assert _listed(cloud, expected, [{"KeyCount": 0}], **kwargs) == []


def test_listing_merges_keys_and_common_prefixes_in_key_order_page_by_page(cloud: Any) -> None:
    first = {"Contents": [{"Key": "p/b", "Size": 3, "ETag": '"e1"', "StorageClass": "STANDARD", "LastModified": WHEN},
                          {"Key": "p/a", "Size": 1}],
             "CommonPrefixes": [{"Prefix": "p/a/"}], "IsTruncated": True, "NextContinuationToken": "t1"}
    second = {"Contents": [{"Key": "p/c"}], "IsTruncated": False}
    out = _listed(cloud, {"Bucket": "bkt", "Prefix": "p/", "Delimiter": "/"}, [first, second], prefix="p/", delimiter="/")
    assert [(type(o).__name__, getattr(o, "key", None) or o.prefix) for o in out] == [
        ("ObjectInfo", "p/a"), ("CommonPrefix", "p/a/"), ("ObjectInfo", "p/b"), ("ObjectInfo", "p/c")]
    b = out[2]
    assert (b.bucket, b.size, b.etag, b.storage_class, b.last_modified) == ("bkt", 3, "e1", "STANDARD", WHEN)
    assert (out[0].size, out[0].etag, out[0].last_modified, out[3].size) == (1, None, None, 0)
    assert out[1].bucket == "bkt"


def test_a_listing_error_names_the_listing(cloud: Any) -> None:
    s3 = cloud.storage.aws.client("s3")
    with Stubber(s3) as stub:
        stub.add_client_error("list_objects_v2", "NoSuchBucket", "The specified bucket does not exist", 404)
        with pytest.raises(NotFound) as caught:
            list(cloud.storage.list_objects("bkt"))
    assert caught.value.message.startswith("list objects in bkt: ")
    assert caught.value.code == "NoSuchBucket"
