"""The storage family: buckets and objects."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, ClassVar, Union

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.models.storage import (
    Bucket,
    CommonPrefix,
    DeleteResult,
    LifecycleReport,
    LifecycleRule,
    ObjectInfo,
)
from cloudkit.refs import BucketRef, ObjectRef, ref, refs
from cloudkit.services.base import Service, operation
from cloudkit.streams import Data, ObjectReader, Progress, ProgressReader, as_reader

Listing = Union[ObjectInfo, CommonPrefix]


def bucket_of(bucket: object, field: str = "bucket") -> str:
    """The bucket name of a :class:`Bucket` or a name, validated (see :func:`cloudkit.refs.ref`)."""
    return ref(bucket, field, Bucket)


class StorageService(Service):
    """Buckets of objects (S3, Azure Blobs, GCS, a local folder...).

    Objects stream both ways: uploads read the data in chunks and downloads return an
    :class:`~cloudkit.streams.ObjectReader`, so memory stays flat for any object size.
    """

    family: ClassVar[str] = "storage"

    # ---------------------------------------------------------------- buckets
    @operation()
    def create_bucket(self, name: str, *, region: str | None = None) -> Bucket:
        """Create a bucket. Raises ``AlreadyExists`` when the name is taken."""
        return self._create_bucket(v.bucket_name(name, "name"), None if region is None else v.reference("region", region, max_len=64))

    @operation()
    def get_bucket(self, bucket: BucketRef) -> Bucket:
        """Return a bucket, or raise ``NotFound``."""
        return self._get_bucket(bucket_of(bucket))

    @operation()
    def list_buckets(self) -> Iterator[Bucket]:
        """All buckets, lazily, in name order."""
        return self._list_buckets()

    @operation()
    def delete_bucket(self, bucket: BucketRef, *, force: bool = False) -> None:
        """Delete a bucket. A bucket holding objects raises ``Conflict`` unless ``force`` deletes them first."""
        name = bucket_of(bucket)
        if force:
            # One pass over the listing, deleting behind it in batches of 1,000 (listings page by key).
            batch: list[str] = []
            for item in self._list_objects(name, "", None, None):
                if isinstance(item, ObjectInfo):
                    batch.append(item.key)
                if len(batch) == 1000:
                    self._delete_objects(name, batch)
                    batch = []
            if batch:
                self._delete_objects(name, batch)
        self._delete_bucket(name)

    # ---------------------------------------------------------------- objects
    @operation()
    def put_object(
        self,
        bucket: BucketRef,
        key: str,
        data: Data,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Store ``data`` (bytes, a binary file object or an iterable of bytes) under ``key``.

        The write is atomic: readers see the old object or the new one, never a part.
        """
        name, key = bucket_of(bucket), v.object_key(key)
        ctype = v.content_type(content_type)
        meta = v.user_metadata(metadata)
        reader, size = as_reader(data)
        if progress is not None:
            reader = ProgressReader(reader, size, progress)  # type: ignore[assignment]
        return self._put_object(name, key, reader, size, ctype, meta)

    @operation()
    def get_object(self, bucket: BucketRef, key: ObjectRef, *, range: tuple[int, int | None] | None = None) -> ObjectReader:
        """Open an object for reading; ``range=(start, end)`` reads bytes start..end inclusive."""
        name = bucket_of(bucket)
        return self._get_object(name, ref(key, "key", ObjectInfo, within=name), v.byte_range(range))

    @operation()
    def head_object(self, bucket: BucketRef, key: ObjectRef) -> ObjectInfo:
        """An object's size, ETag, content type and metadata, without its bytes."""
        name = bucket_of(bucket)
        return self._head_object(name, ref(key, "key", ObjectInfo, within=name))

    @operation(derives=("put_object",))
    def upload_file(
        self,
        path: str | os.PathLike[str],
        bucket: BucketRef,
        key: str,
        *,
        content_type: str | None = None,
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Upload a local file (multipart and concurrent where the provider supports it)."""
        name, key = bucket_of(bucket), v.object_key(key)
        ctype = v.content_type(content_type)
        meta = v.user_metadata(metadata)
        p = Path(path)
        if not p.is_file():
            raise InvalidInput("path", f"{str(p)!r} is not a readable file")
        return self._upload_file(p, name, key, ctype, meta, progress)

    @operation(derives=("get_object",))
    def download_file(
        self,
        bucket: BucketRef,
        key: ObjectRef,
        path: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> ObjectInfo:
        """Download an object to ``path``; the file appears whole or not at all."""
        name = bucket_of(bucket)
        key = ref(key, "key", ObjectInfo, within=name)
        p = Path(path)
        if p.is_dir():
            raise InvalidInput("path", f"{str(p)!r} is a directory")
        if not p.parent.is_dir():
            raise InvalidInput("path", f"folder {str(p.parent)!r} does not exist")
        return self._download_file(name, key, p, progress)

    @operation()
    def copy_object(
        self,
        src_bucket: BucketRef,
        src_key: ObjectRef,
        dst_bucket: BucketRef,
        dst_key: str,
        *,
        metadata: Mapping[str, str] | None = None,
    ) -> ObjectInfo:
        """Copy an object; ``metadata`` replaces the source's metadata when given."""
        src = bucket_of(src_bucket, "src_bucket")
        return self._copy_object(
            src,
            ref(src_key, "src_key", ObjectInfo, within=src),
            bucket_of(dst_bucket, "dst_bucket"),
            v.object_key(dst_key, "dst_key"),
            None if metadata is None else v.user_metadata(metadata),
        )

    @operation()
    def delete_object(self, bucket: BucketRef, key: ObjectRef) -> None:
        """Delete an object. Deleting a key that does not exist is not an error (as in S3)."""
        name = bucket_of(bucket)
        self._delete_object(name, ref(key, "key", ObjectInfo, within=name))

    @operation(derives=("delete_object",))
    def delete_objects(self, bucket: BucketRef, keys: Iterable[ObjectRef]) -> DeleteResult:
        """Delete many keys, batched as the provider allows; returns what was deleted and what failed."""
        name = bucket_of(bucket)
        if isinstance(keys, str):
            raise InvalidInput("keys", "must be an iterable of keys, not a single string")
        checked = refs(keys, "keys", ObjectInfo, within=name)
        deleted: list[str] = []
        errors: dict[str, str] = {}
        for i in range(0, len(checked), 1000):
            result = self._delete_objects(name, checked[i : i + 1000])
            deleted.extend(result.deleted)
            errors.update(result.errors)
        return DeleteResult(deleted=deleted, errors=errors)

    @operation()
    def list_objects(
        self,
        bucket: BucketRef,
        *,
        prefix: str = "",
        delimiter: str | None = None,
        start_after: str | None = None,
    ) -> Iterator[Listing]:
        """Objects in key order, lazily. With ``delimiter``, keys past it roll up into ``CommonPrefix``."""
        name = bucket_of(bucket)
        prefix = v.key_prefix(prefix)
        if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1):
            raise InvalidInput("delimiter", "must be a single character such as '/'")
        if delimiter is not None:
            v.key_prefix(delimiter, "delimiter")
        if start_after is not None:
            v.key_prefix(start_after, "start_after")
        return self._list_objects(name, prefix, delimiter, start_after)

    @operation()
    def presign_url(self, bucket: BucketRef, key: ObjectRef, *, method: str = "GET", expires_in: int = 3600) -> str:
        """A URL that lets anyone holding it GET or PUT this object until it expires."""
        name = bucket_of(bucket)
        return self._presign_url(name, ref(key, "key", ObjectInfo, within=name), v.presign_method(method),
                                 v.expires_in(expires_in))

    @operation()
    def set_lifecycle(self, bucket: BucketRef, rules: Sequence[LifecycleRule]) -> None:
        """Replace the bucket's lifecycle rules (an empty list removes them)."""
        self._set_lifecycle(bucket_of(bucket), v.lifecycle_rules(rules))

    @operation()
    def get_lifecycle(self, bucket: BucketRef) -> list[LifecycleRule]:
        """The bucket's lifecycle rules."""
        return self._get_lifecycle(bucket_of(bucket))

    @operation()
    def apply_lifecycle(self, bucket: BucketRef | None = None, *, now: datetime | None = None) -> LifecycleReport:
        """Run one lifecycle sweep now (for providers that do not apply rules by themselves)."""
        name = None if bucket is None else bucket_of(bucket)
        when = None if now is None else v.aware_datetime("now", now)
        return self._apply_lifecycle(name, when)

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _create_bucket(self, name: str, region: str | None) -> Bucket:
            ...

        def _get_bucket(self, name: str) -> Bucket:
            ...

        def _list_buckets(self) -> Iterator[Bucket]:
            ...

        def _delete_bucket(self, name: str) -> None:
            ...

        def _put_object(
            self, bucket: str, key: str, reader: IO[bytes], size: int | None, content_type: str | None, metadata: dict[str, str]
        ) -> ObjectInfo:
            ...

        def _get_object(self, bucket: str, key: str, range: tuple[int, int | None] | None) -> ObjectReader:
            ...

        def _head_object(self, bucket: str, key: str) -> ObjectInfo:
            ...

        def _copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, metadata: dict[str, str] | None) -> ObjectInfo:
            ...

        def _delete_object(self, bucket: str, key: str) -> None:
            ...

        def _list_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[Listing]:
            ...

        def _presign_url(self, bucket: str, key: str, method: str, expires_in: int) -> str:
            ...

        def _set_lifecycle(self, bucket: str, rules: list[LifecycleRule]) -> None:
            ...

        def _get_lifecycle(self, bucket: str) -> list[LifecycleRule]:
            ...

        def _apply_lifecycle(self, bucket: str | None, now: datetime | None) -> LifecycleReport:
            ...

    def _upload_file(
        self, path: Path, bucket: str, key: str, content_type: str | None, metadata: dict[str, str], progress: Progress | None
    ) -> ObjectInfo:
        """Default: stream the file through ``_put_object``. Providers with multipart override it."""
        size = path.stat().st_size
        with open(path, "rb") as fh:
            reader: IO[bytes] = fh
            if progress is not None:
                reader = ProgressReader(fh, size, progress)  # type: ignore[assignment]
            return self._put_object(bucket, key, reader, size, content_type, metadata)

    def _download_file(self, bucket: str, key: str, path: Path, progress: Progress | None) -> ObjectInfo:
        """Default: stream ``_get_object`` into a temp file beside ``path``, then rename it into place."""
        import tempfile  # here, not at the top: it pulls in shutil and the compression modules

        with self._get_object(bucket, key, None) as src:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
            try:
                done = 0
                with os.fdopen(fd, "wb") as out:
                    for chunk in src.iter_chunks():
                        out.write(chunk)
                        done += len(chunk)
                        if progress is not None:
                            progress(done, src.info.size)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return src.info

    def _delete_objects(self, bucket: str, keys: list[str]) -> DeleteResult:
        """Default: one ``_delete_object`` per key. Providers with a batch call override it."""
        for key in keys:
            self._delete_object(bucket, key)
        return DeleteResult(deleted=keys)







