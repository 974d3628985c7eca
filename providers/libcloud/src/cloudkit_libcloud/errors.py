"""The one place the libcloud provider turns native errors into cloudkit errors.

Every libcloud service class inherits :class:`LibcloudErrors`, so the core applies
:func:`translate` around each driver call and each listing's iteration (see
:mod:`cloudkit.provider`); :func:`mapped` is kept where the message needs local context or an error
is caught and acted upon in the driver. The native error is kept as ``__cause__``.
Messages are built from the error's class, HTTP status and libcloud's text, which never hold
credentials (request headers and signatures are not part of libcloud's messages).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

from cloudkit.errors import (
    AlreadyExists,
    AuthenticationError,
    CloudkitError,
    Conflict,
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    ProviderError,
    QuotaExceeded,
    Throttled,
    Timeout,
)
from cloudkit.provider import TranslatedService

_SIG = re.compile(r"(Signature|sig|X-Amz-Signature|X-Amz-Credential|AWSAccessKeyId|api[-_]?key)=[^&\s'\"]+", re.IGNORECASE)
_NOT_FOUND = re.compile(r"NoSuch\w+|NotFound|does not exist|not found|could not find|InvalidInstanceID|\.NotFound", re.IGNORECASE)
_EXISTS = re.compile(r"already exists|AlreadyExists|Duplicate|BucketAlreadyOwnedByYou", re.IGNORECASE)
_CONFLICT = re.compile(r"not empty|NotEmpty|IncorrectState|InvalidState|in use|InUse|currently attached|DependencyViolation|"
                       r"Conflicts with", re.IGNORECASE)


def _clean(text: str) -> str:
    text = _SIG.sub(lambda m: f"{m.group(1)}=***", text)
    return text if len(text) <= 500 else text[:497] + "..."


def _describe(exc: BaseException) -> str:
    """libcloud's text for ``exc``; its errors without a message get one from their fields."""
    value = getattr(exc, "value", None) or getattr(exc, "message", None)
    if isinstance(value, str) and value and not value.startswith("<"):
        return value
    what = {
        "ContainerDoesNotExistError": ("bucket", "container_name", "does not exist"),
        "ContainerAlreadyExistsError": ("bucket", "container_name", "already exists"),
        "ContainerIsNotEmptyError": ("bucket", "container_name", "is not empty"),
        "ObjectDoesNotExistError": ("object", "object_name", "does not exist"),
        "ZoneDoesNotExistError": ("zone", "zone_id", "does not exist"),
        "ZoneAlreadyExistsError": ("zone", "zone_id", "already exists"),
        "RecordDoesNotExistError": ("record", "record_id", "does not exist"),
        "RecordAlreadyExistsError": ("record", "record_id", "already exists"),
    }.get(type(exc).__name__)
    if what is not None:
        kind, attr, state = what
        return f"{kind} {getattr(exc, attr, None)!r} {state}"
    text = str(exc)
    return text if text and not text.startswith("<") else type(exc).__name__


def _status(exc: BaseException) -> int | None:
    for attr in ("code", "http_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int) and 100 <= value <= 599:
            return value
    return None


def translate(exc: BaseException, provider: str, operation: str) -> CloudkitError:
    """The cloudkit error for a native ``exc`` raised by libcloud while doing ``operation``."""
    if isinstance(exc, CloudkitError):
        return exc
    import requests
    from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
    from libcloud.common.types import InvalidCredsError, LibcloudError, MalformedResponseError
    from libcloud.common.types import ProviderError as LCProviderError
    from libcloud.dns.types import RecordAlreadyExistsError, RecordDoesNotExistError, ZoneAlreadyExistsError, ZoneDoesNotExistError
    from libcloud.storage.types import (
        ContainerAlreadyExistsError,
        ContainerDoesNotExistError,
        ContainerIsNotEmptyError,
        InvalidContainerNameError,
        ObjectDoesNotExistError,
        ObjectHashMismatchError,
    )

    name = type(exc).__name__
    text = _clean(_describe(exc))
    msg = f"{operation}: {text}"
    kw = {"provider": provider, "code": name}
    if isinstance(exc, RateLimitReachedError):
        after = getattr(exc, "retry_after", None)
        return Throttled(msg, provider=provider, code=name, retry_after=float(after) if after else None)
    if isinstance(exc, (ContainerDoesNotExistError, ObjectDoesNotExistError, ZoneDoesNotExistError, RecordDoesNotExistError)):
        return NotFound(msg, **kw)
    if isinstance(exc, (ContainerAlreadyExistsError, ZoneAlreadyExistsError, RecordAlreadyExistsError)):
        return AlreadyExists(msg, **kw)
    if isinstance(exc, ContainerIsNotEmptyError):
        return Conflict(msg, **kw)
    if isinstance(exc, InvalidContainerNameError):
        return InvalidInput("bucket", text, provider=provider)
    if isinstance(exc, ObjectHashMismatchError):
        return ProviderError(f"{operation}: data corrupted in transit (checksum mismatch)", **kw)
    if isinstance(exc, InvalidCredsError):
        return AuthenticationError(msg, **kw)
    if isinstance(exc, NotImplementedError):
        return NotSupported(provider, operation, text or "the libcloud driver does not implement it")
    if isinstance(exc, (requests.exceptions.Timeout, TimeoutError)):
        return Timeout(msg, **kw)
    if isinstance(exc, (BaseHTTPError, LCProviderError)):
        status = _status(exc)
        if status == 429:
            return Throttled(msg, provider=provider, code=name, retry_after=None)
        if status == 401:
            return AuthenticationError(msg, **kw)
        if status == 403:
            return PermissionDenied(msg, **kw)
        if status == 404 or _NOT_FOUND.search(text):
            return NotFound(msg, **kw)
        if _CONFLICT.search(text):
            return Conflict(msg, **kw)
        if status == 409 or _EXISTS.search(text):
            return AlreadyExists(msg, **kw)
        if status == 412:
            return Conflict(msg, **kw)
        if status == 503 and "SlowDown" in text:
            return Throttled(msg, provider=provider, code=name)
        if status is not None and "LimitExceeded" in text:
            return QuotaExceeded(msg, **kw)
        return ProviderError(msg, **kw)
    if isinstance(exc, (MalformedResponseError, LibcloudError)):
        # Azure Blobs and S3 report a refused request as text ("... Status code: 429."): 429 and
        # 503 (Azure's ServerBusy, S3's SlowDown) are throttling there.
        if re.search(r"status[ _]code[=:]\s*(429|503)\b", text, re.IGNORECASE):
            return Throttled(msg, provider=provider, code=name)
        if re.search(r"status[ _]code[=:]\s*404", text):
            return NotFound(msg, **kw)
        if re.search(r"status[ _]code[=:]\s*409", text):
            return Conflict(msg, **kw)
        if _NOT_FOUND.search(text):
            return NotFound(msg, **kw)
        if _EXISTS.search(text):
            return AlreadyExists(msg, **kw)
        return ProviderError(msg, **kw)
    if isinstance(exc, (requests.exceptions.RequestException, ConnectionError)):
        return ProviderError(f"{operation}: cannot reach the provider ({name})", **kw)
    if isinstance(exc, OSError):  # for example the data source of an upload failing
        return ProviderError(f"{operation}: {_clean(exc.strerror or str(exc))}", **kw)
    return ProviderError(msg, **kw)


_NATIVE_MODULES = ("libcloud", "requests", "urllib3", "ssl", "socket", "http")


def _native(exc: BaseException) -> bool:
    """Whether ``exc`` comes from libcloud or the HTTP stack under it (or is an OS/not-implemented error)."""
    module = (type(exc).__module__ or "").split(".")[0]
    return module in _NATIVE_MODULES or isinstance(exc, (OSError, NotImplementedError))


class LibcloudErrors(TranslatedService):
    """Mixin of every libcloud service: libcloud's and the HTTP stack's errors translated by the core."""

    provider: str

    def translate_error(self, exc: BaseException, operation: str) -> CloudkitError | None:
        """:func:`translate` for libcloud's errors; ``None`` for anything else (a driver bug)."""
        return translate(exc, self.provider, operation) if _native(exc) else None


@contextmanager
def mapped(provider: str, operation: str) -> Iterator[None]:
    """Run a block, re-raising anything libcloud (or the HTTP stack under it) raises as a cloudkit error."""
    try:
        yield
    except CloudkitError:
        raise
    except Exception as exc:
        raise translate(exc, provider, operation) from exc
