"""Storage on any libcloud storage driver (Azure Blobs, S3, Google Cloud Storage, ...).

Buckets are libcloud containers and objects libcloud objects. Uploads go through
``upload_object_via_stream`` and downloads through ``download_object_as_stream``, so memory stays
flat for any object size; listings walk ``iterate_container_objects`` lazily. Operations the
driver class does not implement (libcloud's base class raises ``NotImplementedError``) are left
out of ``capabilities()``; lifecycle rules have no libcloud API and are never supported.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import quote

from cloudkit.errors import CloudkitError, InvalidInput, NotFound
from cloudkit.models.storage import Bucket, CommonPrefix, ObjectInfo
from cloudkit.services.storage import Listing, StorageService
from cloudkit.streams import CHUNK, ObjectReader, iter_chunks
from cloudkit_libcloud._driver import LazyDriver
from cloudkit_libcloud.errors import LibcloudErrors, translate

#: cloudkit operation -> the libcloud StorageDriver methods it needs.
_NEEDS: dict[str, tuple[str, ...]] = {
    "create_bucket": ("create_container",),
    "get_bucket": ("get_container",),
    "list_buckets": ("iterate_containers",),
    "delete_bucket": ("delete_container",),
    "put_object": ("upload_object_via_stream",),
    "get_object": ("get_object", "download_object_as_stream"),
    "head_object": ("get_object",),
    "copy_object": ("get_object", "download_object_as_stream", "upload_object_via_stream"),
    "delete_object": ("delete_object",),
    "list_objects": ("iterate_container_objects",),
    "presign_url": ("get_object_cdn_url",),
}


#: Objects up to this size (when known) go to S3-style drivers in a single PUT.
SINGLE_PUT_MAX = 8 * 1024 * 1024
#: Blobs up to this size (when known) go to Azure in a single Put Blob (libcloud's block size).
AZURE_DIRECT_MAX = 4 * 1024 * 1024
_DASH = "_x2d_"


class _SizedReader:
    """A reader with a length, so the HTTP stack sends ``Content-Length`` instead of chunks.

    It keeps the MD5 of what it hands out (``hexdigest()``) when asked to.
    """

    def __init__(self, reader: IO[bytes], size: int, *, md5: bool = False) -> None:
        self._reader = reader
        self._size = size
        self._md5 = hashlib.md5() if md5 else None

    def hexdigest(self) -> str | None:
        return None if self._md5 is None else self._md5.hexdigest()

    def __len__(self) -> int:
        return self._size

    def __bool__(self) -> bool:
        return True  # libcloud tests ``if stream:``; an empty object is still a stream

    def read(self, n: int = -1) -> bytes:
        data = self._reader.read(n)
        if self._md5 is not None and data:
            self._md5.update(data)
        return data

    # No __iter__ on purpose: requests would take it for a stream of unknown length and send it
    # chunked (refused for an empty body); as a plain file-like it goes with Content-Length.
    # libcloud wants __next__ (it reads what is left through it after the request).
    def __next__(self) -> bytes:
        chunk = self.read(64 * 1024)
        if not chunk:
            raise StopIteration
        return chunk


class _ChunkStream:
    """A file-like view of libcloud's download generator that hands its chunks on without copying.

    ``read(n)`` returns exactly ``n`` bytes until the end (joining chunks only across a boundary);
    when ``n`` matches libcloud's chunk size, each chunk is passed on as it is.
    """

    def __init__(self, chunks: Any) -> None:
        self._chunks = chunks
        self._it = iter(chunks)
        self._buf = b""

    def _next(self) -> bytes:
        for chunk in self._it:
            if chunk:
                return bytes(chunk) if not isinstance(chunk, bytes) else chunk
        return b""

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            parts = [self._buf]
            self._buf = b""
            while chunk := self._next():
                parts.append(chunk)
            return b"".join(parts)
        if not self._buf:
            self._buf = self._next()
        if len(self._buf) >= size:
            if len(self._buf) == size:
                out, self._buf = self._buf, b""
                return out
            out = self._buf[:size]
            self._buf = self._buf[size:]
            return out
        parts, have = [self._buf], len(self._buf)
        self._buf = b""
        while have < size and (chunk := self._next()):
            parts.append(chunk)
            have += len(chunk)
        data = b"".join(parts)
        self._buf = data[size:]
        return data[:size]

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)  # a generator over the HTTP response: release it now
        if close is not None:
            close()


def _parse_time(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if not isinstance(value, str) or not value:
        return None
    try:
        return parsedate_to_datetime(value)
    except (TypeError, ValueError):
        pass
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _plain(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (extra or {}).items() if isinstance(v, (str, int, float, bool)) or v is None}


class LibcloudStorage(LibcloudErrors, LazyDriver, StorageService):
    """The storage family on a libcloud storage driver."""

    def __init__(self, provider: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(provider, settings)
        self._setup_driver("storage")
        from libcloud.storage.base import StorageDriver

        cls = self._driver_cls
        for op, methods in _NEEDS.items():
            lacking = [m for m in methods if getattr(cls, m, None) is getattr(StorageDriver, m, None)]
            if lacking:
                self.unsupported[op] = f"libcloud's {cls.__name__} does not implement {', '.join(lacking)}"
        self._ranges = cls.download_object_range_as_stream is not StorageDriver.download_object_range_as_stream
        try:
            params = inspect.signature(cls.get_object_cdn_url).parameters
        except (TypeError, ValueError):
            params = {}  # type: ignore[assignment]
        self._presign_methods = ("GET", "PUT") if "ex_method" in params else ("GET",)
        self._presign_expiry = "ex_expiry" in params
        from libcloud.storage.drivers.azure_blobs import AzureBlobsStorageDriver
        from libcloud.storage.drivers.s3 import BaseS3StorageDriver

        azure = issubclass(cls, AzureBlobsStorageDriver)
        self._md5_etag = azure
        self._escape_meta = azure
        self._azure = azure
        self._hashes = threading.local()
        self._single_put = issubclass(cls, BaseS3StorageDriver) and hasattr(cls, "_put_object")
        self._direct_put = azure and "blob_size" in inspect.signature(cls._put_object).parameters

    def _prepare_driver(self, driver: Any) -> None:
        if not self._md5_etag:
            return
        # libcloud hashes every Azure upload (and sends the MD5 with the block list) but does not
        # return the digest; keep the hashers it creates on this thread to read it, for free.
        make_hash = driver._get_hash_function
        hashes = self._hashes

        def capturing_hash_function() -> Any:
            hasher = make_hash()
            sink = getattr(hashes, "sink", None)
            if sink is not None:
                sink.append(hasher)
            return hasher

        driver._get_hash_function = capturing_hash_function

    # Azure metadata names must be C# identifiers: '-' is stored as '_x2d_' and turned back on read.
    def _meta_out(self, metadata: Mapping[str, str]) -> dict[str, str]:
        if not self._escape_meta:
            return dict(metadata)
        return {k.replace("-", _DASH): val for k, val in metadata.items()}

    def _meta_in(self, name: str) -> str:
        name = name.lower()
        return name.replace(_DASH, "-") if self._escape_meta else name

    @property
    def native(self) -> Any:
        """The libcloud ``StorageDriver``."""
        return self._driver

    # ---------------------------------------------------------------- helpers
    def _container(self, name: str) -> Any:
        """A libcloud ``Container`` handle without a round trip (the next call proves it exists)."""
        from libcloud.storage.base import Container

        return Container(name=name, extra={}, driver=self._driver)

    def _object(self, bucket: str, key: str) -> Any:
        from libcloud.storage.base import Object

        return Object(name=key, size=0, hash=None,  # type: ignore[arg-type]
                       extra={}, meta_data={}, container=self._container(bucket), driver=self._driver)

    def _info(self, bucket: str, obj: Any) -> ObjectInfo:
        extra = obj.extra or {}
        etag = obj.hash or extra.get("etag")
        if isinstance(etag, str):
            etag = etag.strip('"')
        md5 = extra.get("md5_hash")
        if self._md5_etag and isinstance(md5, str) and re.fullmatch(r"[0-9a-f]{32}", md5):
            etag = md5  # Azure's ETag is an opaque version stamp; the content MD5 is what callers compare
        return ObjectInfo(
            bucket=bucket,
            key=obj.name,
            size=int(obj.size or 0),
            etag=etag or None,
            content_type=extra.get("content_type"),
            last_modified=_parse_time(extra.get("last_modified")),
            metadata={self._meta_in(str(k)): v for k, v in (obj.meta_data or {}).items() if isinstance(v, str)},
            storage_class=extra.get("storage_class") or extra.get("blob_tier"),
            extra=_plain(extra),
        )

    def _bucket(self, container: Any) -> Bucket:
        extra = container.extra or {}
        return Bucket(
            name=container.name,
            region=extra.get("region") or getattr(self._driver, "region_name", None),
            created_at=_parse_time(extra.get("creation_date") or extra.get("last_modified")),
            extra=_plain(extra),
        )

    # ---------------------------------------------------------------- buckets
    def _create_bucket(self, name: str, region: str | None) -> Bucket:
        from libcloud.storage.types import ContainerAlreadyExistsError, ContainerDoesNotExistError

        if self._single_put:
            # S3 in us-east-1 answers 200 to creating a bucket its caller already owns.
            try:
                self._driver.get_container(name)
            except ContainerDoesNotExistError:
                pass
            else:
                raise ContainerAlreadyExistsError(  # type: ignore[no-untyped-call]
                    value=f"bucket {name!r} already exists", driver=self._driver,
                                                  container_name=name)
        if region is not None and region != getattr(self._driver, "region_name", region):
            from cloudkit.errors import InvalidInput

            raise InvalidInput("region", f"this connection serves region {self._driver.region_name!r}; connect with region={region!r}")
        return self._bucket(self._driver.create_container(name))

    def _get_bucket(self, name: str) -> Bucket:
        return self._bucket(self._driver.get_container(name))

    def _list_buckets(self) -> Iterator[Bucket]:
        containers = sorted(self._driver.iterate_containers(), key=lambda c: c.name)
        for c in containers:
            yield self._bucket(c)

    def _delete_bucket(self, name: str) -> None:
        if not self._driver.delete_container(self._container(name)):
            raise NotFound(f"storage.delete_bucket: bucket {name!r} was not deleted", provider=self.provider)

    def _writable_key(self, key: str, field: str = "key") -> None:
        """Refuse a key the service would store under another name (Azure Blob storage turns '\\' into '/')."""
        if self._azure and "\\" in key:
            raise InvalidInput(field, f"{self.provider}: must not contain '\\' (Azure Blob storage stores it as '/', "
                                      "so the object would not come back under its key)")

    # ---------------------------------------------------------------- objects
    def _put_object(
        self, bucket: str, key: str, reader: IO[bytes], size: int | None, content_type: str | None, metadata: dict[str, str]
    ) -> ObjectInfo:
        self._writable_key(key)
        extra: dict[str, Any] = {"meta_data": self._meta_out(metadata)}
        if content_type:
            extra["content_type"] = content_type
        if self._single_put and size is not None and size <= SINGLE_PUT_MAX:
            # libcloud's S3 stream upload is always multipart (three requests, a "-1" ETag);
            # an object of known, small size goes in one PUT through the driver's own helper.
            obj = self._driver._put_object(container=self._container(bucket), object_name=key, extra=extra,
                                           stream=_SizedReader(reader, size), verify_hash=False)
        elif self._direct_put and size is not None and 0 < size <= AZURE_DIRECT_MAX:
            # libcloud's Azure stream upload is always Put Block + Put Block List; a blob of known
            # size up to one block goes in a single Put Blob through the driver's own helper (an empty
            # one keeps the block path: Azure refuses the signature of an empty Put Blob from libcloud).
            source = _SizedReader(reader, size, md5=True)
            obj = self._driver._put_object(container=self._container(bucket), object_name=key, stream=source,
                                           extra=extra, verify_hash=False, blob_size=size)
            obj.hash = source.hexdigest()
        else:
            self._hashes.sink = []
            try:
                obj = self._driver.upload_object_via_stream(iter_chunks(reader, CHUNK), self._container(bucket), key, extra=extra)
                sink = self._hashes.sink
            finally:
                self._hashes.sink = None
            if self._md5_etag and sink:
                obj.hash = sink[0].hexdigest()  # the digest of the whole stream (created first)
        info = self._info(bucket, obj)
        return ObjectInfo(
            bucket=bucket, key=key, size=info.size if size is None else size, etag=info.etag,
            content_type=content_type or info.content_type, last_modified=info.last_modified,
            metadata=metadata, storage_class=info.storage_class, extra=info.extra,
        )

    def _get_object(self, bucket: str, key: str, range: tuple[int, int | None] | None) -> ObjectReader:
        obj = self._driver.get_object(bucket, key)
        info = self._info(bucket, obj)
        if range is None:
            stream = self._driver.download_object_as_stream(obj, chunk_size=CHUNK)
        else:
            start, end = range
            if start >= info.size:
                from cloudkit.errors import InvalidInput

                raise InvalidInput("range", f"starts at {start}, past the end of the {info.size}-byte object")
            if not self._ranges:
                self._not_supported("get_object", f"libcloud's {self._driver_cls.__name__} cannot read byte ranges")
            stop = info.size if end is None else min(end + 1, info.size)
            stream = self._driver.download_object_range_as_stream(obj, start, stop, chunk_size=CHUNK)
        provider = self.provider

        def on_error(exc: Exception) -> CloudkitError:
            return translate(exc, provider, "storage.get_object")

        return ObjectReader(info, _ChunkStream(stream), on_error=on_error)

    def _head_object(self, bucket: str, key: str) -> ObjectInfo:
        return self._info(bucket, self._driver.get_object(bucket, key))

    def _copy_object(self, src_bucket: str, src_key: str, dst_bucket: str, dst_key: str, metadata: dict[str, str] | None) -> ObjectInfo:
        """libcloud has no server-side copy: the bytes stream through this process, in chunks."""
        self._writable_key(dst_key, "dst_key")
        with self._get_object(src_bucket, src_key, None) as src:
            meta = dict(src.info.metadata) if metadata is None else metadata
            self._driver.get_container(dst_bucket)  # fail before reading when the target is missing
            return self._put_object(dst_bucket, dst_key, src, src.info.size, src.info.content_type, meta)  # type: ignore[arg-type]

    def _delete_object(self, bucket: str, key: str) -> None:
        from libcloud.storage.types import ObjectDoesNotExistError

        try:
            self._driver.delete_object(self._object(bucket, key))
        except ObjectDoesNotExistError:
            # Deleting a missing key is not an error (as in S3), a missing bucket is.
            self._driver.get_container(bucket)

    def _list_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[Listing]:
        listing = self._driver.iterate_container_objects(self._container(bucket), prefix=prefix or None)
        last_prefix: str | None = None
        while True:
            try:
                obj = next(listing)
            except StopIteration:
                return
            key = obj.name
            if prefix and not key.startswith(prefix):
                continue
            if start_after is not None and key <= start_after:
                continue
            if delimiter:
                cut = key.find(delimiter, len(prefix))
                if cut >= 0:
                    common = key[: cut + 1]
                    if common != last_prefix:
                        last_prefix = common
                        yield CommonPrefix(bucket=bucket, prefix=common)
                    continue
            yield self._info(bucket, obj)

    def _presign_url(self, bucket: str, key: str, method: str, expires_in: int) -> str:
        if method not in self._presign_methods:
            self._not_supported("presign_url", f"libcloud's {self._driver_cls.__name__} presigns only {', '.join(self._presign_methods)}")
        kwargs: dict[str, Any] = {}
        if self._presign_expiry:
            kwargs["ex_expiry"] = expires_in / 3600.0
        elif expires_in != 24 * 3600:
            self._not_supported("presign_url", f"libcloud's {self._driver_cls.__name__} cannot choose the expiry")
        if method != "GET":
            kwargs["ex_method"] = method
        if self._azure and quote(key) != key:
            # libcloud signs the URL-escaped blob path, Azure checks the signature against the
            # unescaped one: such a URL would always be refused (403).
            self._not_supported("presign_url", "libcloud's Azure driver signs keys that need URL escaping wrongly "
                                               "(only letters, digits, '/', '-', '_', '.' and '~' can be presigned)")
        # Like S3's, a URL can be signed before its object exists: only the bucket must.
        self._driver.get_container(bucket)
        return str(self._driver.get_object_cdn_url(self._object(bucket, key), **kwargs))


def make_service(provider: str, settings: Mapping[str, Any]) -> LibcloudStorage:
    """The storage service of ``provider`` (``libcloud:<name>`` or a bare libcloud name)."""
    return LibcloudStorage(provider, settings)

