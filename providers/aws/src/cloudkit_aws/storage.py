"""Storage on Amazon S3 (or any S3-compatible store through the ``endpoint_url`` setting).

Objects stream both ways: ``put_object`` hands the reader to botocore (or, for streams of unknown
length, to the transfer manager, which uploads them in parts); ``get_object`` wraps botocore's
streaming body. ``upload_file``/``download_file`` run through boto3's transfer manager
(multipart, concurrent, with cloudkit's ``(done, total)`` progress callback).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any

from cloudkit.models.storage import Bucket, CommonPrefix, DeleteResult, LifecycleRule, ObjectInfo
from cloudkit.services.storage import Listing, StorageService
from cloudkit.streams import ObjectReader, Progress
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors, mapped, translate

#: Neutral archive classes and the S3 storage classes they become.
ARCHIVE_TO_S3 = {"ARCHIVE": "GLACIER", "DEEP_ARCHIVE": "DEEP_ARCHIVE"}
S3_TO_ARCHIVE = {"GLACIER": "ARCHIVE", "GLACIER_IR": "ARCHIVE", "DEEP_ARCHIVE": "DEEP_ARCHIVE"}

#: Largest object a single CopyObject call may copy; bigger ones are copied in parts.
COPY_LIMIT = 5 * 1024**3


def _etag(value: Any) -> str | None:
    return None if value is None else str(value).strip('"')


def _info(bucket: str, key: str, head: Mapping[str, Any], size: int | None = None) -> ObjectInfo:
    extra = {k: head[k] for k in ("VersionId", "ServerSideEncryption", "ChecksumCRC32", "ContentRange") if head.get(k)}
    return ObjectInfo(
        bucket=bucket,
        key=key,
        size=int(head.get("ContentLength", 0) if size is None else size),
        etag=_etag(head.get("ETag")),
        content_type=head.get("ContentType"),
        last_modified=head.get("LastModified"),
        metadata=dict(head.get("Metadata") or {}),
        storage_class=head.get("StorageClass") or "STANDARD",
        extra=extra,
    )


class _Progress:
    """Adapts s3transfer's byte increments to cloudkit's ``progress(done, total)`` (thread-safe).

    :meth:`finish` reports the whole size once the transfer has succeeded, should the increments
    not have added up to it (s3transfer reports bytes as the HTTP layer reads them).
    """

    def __init__(self, progress: Progress | None, total: int | None) -> None:
        self.progress = progress
        self.total = total
        self.done = 0
        self._lock = threading.Lock()

    def __call__(self, increment: int) -> None:
        with self._lock:
            self.done += increment
            done = self.done
        if self.progress is not None:
            self.progress(done, self.total)

    def finish(self) -> None:
        with self._lock:
            short = self.total is not None and self.done != self.total
            if short:
                self.done = self.total or 0
        if short and self.progress is not None:
            self.progress(self.done, self.total)


def _subscribers(progress: _Progress, size: int | None) -> list[Any]:
    from s3transfer.subscribers import BaseSubscriber

    class Sized(BaseSubscriber):  # type: ignore[misc]
        def on_queued(self, future: Any, **kwargs: Any) -> None:
            if size is not None:
                future.meta.provide_transfer_size(size)  # spares s3transfer a HeadObject of its own

    class Reporting(Sized):
        def on_progress(self, future: Any, bytes_transferred: int, **kwargs: Any) -> None:
            progress(bytes_transferred)

    return [Reporting() if progress.progress is not None else Sized()]


class AwsStorage(AwsErrors, StorageService):
    """The storage family on S3."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self.aws = AwsSession(self.settings)

    @property
    def native(self) -> Any:
        """The boto3 S3 client."""
        return self.aws.client("s3")

    def close(self) -> None:
        self.aws.close()

    @property
    def _s3(self) -> Any:
        return self.aws.client("s3")

    # ---------------------------------------------------------------- buckets
    def _create_bucket(self, name: str, region: str | None) -> Bucket:
        where = region or self.aws.region_name
        params: dict[str, Any] = {"Bucket": name}
        if where != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": where}
        else:
            # us-east-1 answers 200 to re-creating a bucket one owns: ask first, as the contract
            # promises AlreadyExists for a taken name (403 means someone else owns it).
            from cloudkit.errors import AlreadyExists, NotFound, PermissionDenied

            try:
                with mapped(f"create bucket {name}"):
                    self.aws.client("s3", region).head_bucket(Bucket=name)
            except NotFound:
                pass
            except PermissionDenied as exc:
                raise AlreadyExists(f"create bucket {name}: the name is taken by another account", provider=PROVIDER,
                                    code="BucketAlreadyExists") from exc
            else:
                raise AlreadyExists(f"create bucket {name}: you already own this bucket", provider=PROVIDER,
                                    code="BucketAlreadyOwnedByYou")
        self.aws.client("s3", region).create_bucket(**params)
        return Bucket(name=name, region=where)

    def _get_bucket(self, name: str) -> Bucket:
        head = self._s3.head_bucket(Bucket=name)
        headers = head.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        region = head.get("BucketRegion") or headers.get("x-amz-bucket-region")
        return Bucket(name=name, region=region)

    def _list_buckets(self) -> Iterator[Bucket]:
        for page in self.aws.pages("s3", "list_buckets", "list buckets"):
            for b in page.get("Buckets", []):
                yield Bucket(name=b["Name"], region=b.get("BucketRegion"), created_at=b.get("CreationDate"))

    def _delete_bucket(self, name: str) -> None:
        self._s3.delete_bucket(Bucket=name)

    # ---------------------------------------------------------------- objects
    def _put_object(
        self, bucket: str, key: str, reader: IO[bytes], size: int | None, content_type: str | None, metadata: dict[str, str]
    ) -> ObjectInfo:
        extra: dict[str, Any] = {"Metadata": metadata}
        if content_type:
            extra["ContentType"] = content_type
        seekable = False
        try:
            seekable = size is not None and reader.seekable()
        except (AttributeError, ValueError, OSError):
            seekable = False
        if seekable:
            out = self._s3.put_object(Bucket=bucket, Key=key, Body=reader, ContentLength=size, **extra)
            head = {**out, "ContentType": content_type or "binary/octet-stream", "Metadata": metadata}
            return _info(bucket, key, head, size)
        # Length unknown or not seekable: the transfer manager reads it in parts, never all at once.
        manager = self.aws.transfer_manager()
        try:
            manager.upload(reader, bucket, key, extra_args=extra).result()
        finally:
            manager.shutdown()
        return self._head_object(bucket, key)

    def _get_object(self, bucket: str, key: str, range: tuple[int, int | None] | None) -> ObjectReader:
        op = f"get object {bucket}/{key}"
        params: dict[str, Any] = {"Bucket": bucket, "Key": key}
        if range is not None:
            start, end = range
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        out = self._s3.get_object(**params)
        size = None
        content_range = out.get("ContentRange")
        if content_range and "/" in content_range:
            total = content_range.rsplit("/", 1)[1]
            size = int(total) if total.isdigit() else None
        info = _info(bucket, key, out, size)
        return ObjectReader(info, out["Body"], on_error=lambda exc: translate(exc, op))

    def _head_object(self, bucket: str, key: str) -> ObjectInfo:
        head = self._s3.head_object(Bucket=bucket, Key=key)
        return _info(bucket, key, head)

    def _upload_file(
        self, path: Path, bucket: str, key: str, content_type: str | None, metadata: dict[str, str], progress: Progress | None
    ) -> ObjectInfo:
        extra: dict[str, Any] = {"Metadata": metadata}
        if content_type:
            extra["ContentType"] = content_type
        size = path.stat().st_size
        adapter = _Progress(progress, size)
        manager = self.aws.transfer_manager()
        try:
            manager.upload(str(path), bucket, key, extra_args=extra, subscribers=_subscribers(adapter, size)).result()
        finally:
            manager.shutdown()
        adapter.finish()
        return self._head_object(bucket, key)

    def _download_file(self, bucket: str, key: str, path: Path, progress: Progress | None) -> ObjectInfo:
        info = self._head_object(bucket, key)
        adapter = _Progress(progress, info.size)
        extra: dict[str, Any] = {}
        if info.extra.get("VersionId"):
            extra["VersionId"] = info.extra["VersionId"]  # the bytes of the version we sized
        manager = self.aws.transfer_manager()
        try:
            # s3transfer writes to a temporary name beside ``path`` and renames it when complete.
            manager.download(bucket, key, str(path), extra_args=extra, subscribers=_subscribers(adapter, info.size)).result()
        finally:
            manager.shutdown()
        adapter.finish()
        return info

    def _copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, metadata: dict[str, str] | None) -> ObjectInfo:
        source = self._head_object(src_bucket, src_key)
        extra: dict[str, Any] = {}
        if metadata is not None:
            extra = {"MetadataDirective": "REPLACE", "Metadata": metadata}
            if source.content_type:
                extra["ContentType"] = source.content_type
        if source.size <= COPY_LIMIT:
            self._s3.copy_object(CopySource={"Bucket": src_bucket, "Key": src_key}, Bucket=dst_bucket, Key=dst_key, **extra)
        else:
            manager = self.aws.transfer_manager()
            try:
                manager.copy({"Bucket": src_bucket, "Key": src_key}, dst_bucket, dst_key, extra_args=extra).result()
            finally:
                manager.shutdown()
        return self._head_object(dst_bucket, dst_key)

    def _delete_object(self, bucket: str, key: str) -> None:
        self._s3.delete_object(Bucket=bucket, Key=key)

    def _delete_objects(self, bucket: str, keys: list[str]) -> DeleteResult:
        if not keys:
            return DeleteResult()
        out = self._s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in keys], "Quiet": False})
        deleted = [d["Key"] for d in out.get("Deleted", [])]
        errors = {e["Key"]: f"{e.get('Code', 'Error')}: {e.get('Message', '')}".strip() for e in out.get("Errors", [])}
        return DeleteResult(deleted=deleted, errors=errors)

    def _list_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[Listing]:
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if delimiter:
            params["Delimiter"] = delimiter
        if start_after:
            params["StartAfter"] = start_after
        for page in self.aws.pages("s3", "list_objects_v2", f"list objects in {bucket}", **params):
            items: list[tuple[str, Listing]] = []
            for o in page.get("Contents", []):
                items.append((o["Key"], ObjectInfo(
                    bucket=bucket,
                    key=o["Key"],
                    size=int(o.get("Size", 0)),
                    etag=_etag(o.get("ETag")),
                    last_modified=o.get("LastModified"),
                    storage_class=o.get("StorageClass"),
                )))
            for p in page.get("CommonPrefixes", []):
                items.append((p["Prefix"], CommonPrefix(bucket=bucket, prefix=p["Prefix"])))
            items.sort(key=lambda item: item[0])
            for _, item in items:
                yield item

    def _presign_url(self, bucket: str, key: str, method: str, expires_in: int) -> str:
        client_method = "get_object" if method == "GET" else "put_object"
        url: str = self._s3.generate_presigned_url(
            client_method, Params={"Bucket": bucket, "Key": key}, ExpiresIn=expires_in, HttpMethod=method
        )
        return url

    # ---------------------------------------------------------------- lifecycle
    def _set_lifecycle(self, bucket: str, rules: list[LifecycleRule]) -> None:
        if not rules:
            self._s3.delete_bucket_lifecycle(Bucket=bucket)
            return
        native = []
        for rule in rules:
            r: dict[str, Any] = {
                "ID": rule.id,
                "Filter": {"Prefix": rule.prefix},
                "Status": "Enabled" if rule.enabled else "Disabled",
            }
            if rule.archive_after_days is not None:
                r["Transitions"] = [{"Days": rule.archive_after_days, "StorageClass": ARCHIVE_TO_S3[rule.archive_class]}]
            if rule.expire_after_days is not None:
                r["Expiration"] = {"Days": rule.expire_after_days}
            native.append(r)
        self._s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": native})

    def _get_lifecycle(self, bucket: str) -> list[LifecycleRule]:
        from cloudkit.errors import NotFound

        try:
            with mapped(f"get lifecycle of {bucket}"):
                out = self._s3.get_bucket_lifecycle_configuration(Bucket=bucket)
        except NotFound as exc:
            if exc.code == "NoSuchLifecycleConfiguration":
                return []
            raise
        rules = []
        for r in out.get("Rules", []):
            filt = r.get("Filter") or {}
            prefix = filt.get("Prefix", r.get("Prefix", "")) or ""
            archive_days = None
            archive_class = "ARCHIVE"
            for t in r.get("Transitions", []):
                neutral = S3_TO_ARCHIVE.get(t.get("StorageClass", ""))
                if neutral is not None and t.get("Days") is not None:
                    archive_days, archive_class = int(t["Days"]), neutral
            expire = (r.get("Expiration") or {}).get("Days")
            if archive_days is None and expire is None:
                continue  # a rule cloudkit cannot express (other classes, dates); left as it is
            rules.append(LifecycleRule(
                prefix=prefix,
                archive_after_days=archive_days,
                expire_after_days=None if expire is None else int(expire),
                archive_class=archive_class,
                id=r.get("ID"),
                enabled=r.get("Status") == "Enabled",
            ))
        return rules


def make_service(settings: Mapping[str, Any]) -> AwsStorage:
    """The storage service of the aws provider."""
    return AwsStorage(settings)
