"""Models of the storage family (buckets and objects)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import datetime_field, extra_field, frozen_map, frozen_tuple


@attrs.frozen
class Bucket:
    """A bucket (container) of objects."""

    name: str
    region: str | None = None
    created_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class ObjectInfo:
    """What is known about one stored object, without its bytes.

    ``etag`` is the provider's entity tag (the hex MD5 of the bytes for single-part uploads on
    local and S3); ``metadata`` holds the user metadata given at upload.
    """

    bucket: str
    key: str
    size: int
    etag: str | None = None
    content_type: str | None = None
    last_modified: datetime | None = datetime_field()
    metadata: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    storage_class: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class CommonPrefix:
    """A "folder" rolled up by a delimiter in :meth:`StorageService.list_objects`."""

    bucket: str
    prefix: str


@attrs.frozen
class LifecycleRule:
    """Archive and/or expire objects under ``prefix`` after a number of days.

    ``archive_class`` is the neutral class name objects move to (``ARCHIVE`` or ``DEEP_ARCHIVE``);
    providers map it to their own (for example S3 ``GLACIER`` / ``DEEP_ARCHIVE``).
    """

    prefix: str = ""
    archive_after_days: int | None = None
    expire_after_days: int | None = None
    archive_class: str = "ARCHIVE"
    id: str | None = None
    enabled: bool = True


@attrs.frozen
class DeleteResult:
    """Outcome of a batch delete: keys deleted and keys that failed with their reason."""

    deleted: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
    errors: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)


@attrs.frozen
class LifecycleReport:
    """What one lifecycle sweep did."""

    archived: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
    expired: tuple[str, ...] = attrs.field(default=(), converter=frozen_tuple)
