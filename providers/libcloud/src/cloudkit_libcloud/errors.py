"""The one place the libcloud provider turns native errors into cloudkit errors.

Every libcloud service class inherits :class:`LibcloudErrors`, so the core applies
:func:`translate` around each driver call and each listing's iteration (see
:mod:`cloudkit.provider`); :func:`mapped` is kept where the message needs local context or an error
is caught and acted upon in the driver. The native error is kept as ``__cause__``.
Messages are built from the error's class, HTTP status and libcloud's text, which never hold
credentials (request headers and signatures are not part of libcloud's messages).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

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
    """The cloudkit error for a native ``exc`` raised by libcloud while doing ``operation``.

    When the request may have been acted on before it failed (see :func:`attempt_reached`, on the
    failing attempt or an earlier one, :func:`noting_attempts`) the error's ``may_have_been_applied``
    is ``True`` and its message says so.
    """
    error = _translate(exc, provider, operation)
    if error is not exc and _maybe_applied(exc):
        error.may_have_been_applied = True
        if MAYBE_APPLIED_TEXT not in error.message:
            error.message = f"{error.message.rstrip('.')}. {MAYBE_APPLIED_TEXT}"
            error.args = (error.message,)
    return error


def _translate(exc: BaseException, provider: str, operation: str) -> CloudkitError:
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


#: Set on a native exception when its attempt, or an earlier attempt of the same request, failed
#: after the provider may have acted on the request (see :func:`noting_attempts`).
MAYBE_APPLIED = "cloudkit_may_have_been_applied"

#: Appended to the message of an error whose call may have taken effect (the aws provider's text).
MAYBE_APPLIED_TEXT = (
    "The call failed after its request was sent, so its effect may have been applied: "
    "check the resource before repeating a call that is not idempotent."
)

_TEXT_STATUS = re.compile(r"status[ _]code[=:]\s*(\d{3})\b", re.IGNORECASE)


def _text_status(text: str) -> int | None:
    """The HTTP status Azure Blobs and S3 drivers put in their error text (``Unexpected status code: 500``)."""
    found = _TEXT_STATUS.search(text)
    return int(found[1]) if found else None


def _never_sent(exc: BaseException) -> bool:
    """Whether a transport failure happened before the request could be sent (no connection, no TLS)."""
    import socket
    import ssl

    import requests
    import urllib3.exceptions as ux

    early = (ConnectionRefusedError, socket.gaierror, ssl.SSLError, ux.ConnectTimeoutError, ux.ProxyError, ux.SSLError,
             requests.exceptions.ConnectTimeout, requests.exceptions.ProxyError, requests.exceptions.SSLError)
    if isinstance(exc, early):
        return True
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)  # requests wraps urllib3's MaxRetryError
    return isinstance(reason, early)


def attempt_reached(exc: BaseException) -> bool:
    """Whether one failed attempt may have been acted on by the provider.

    True for an answer with a 5xx status that maps to :class:`~cloudkit.errors.ProviderError` (not
    throttling: a service that says "slow down" or "busy" has not processed the request; nor a quota
    or a missing resource), a connection dropped or reset once the request was on its way, and a read
    timeout; false for any other answer and for a connection that could not be opened. A reset
    looks the same whether it came before or after the server acted, so this errs on the side of
    "may".
    """
    import http.client

    import requests
    from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
    from libcloud.common.types import LibcloudError
    from libcloud.common.types import ProviderError as LCProviderError

    if isinstance(exc, (CloudkitError, RateLimitReachedError)) or _never_sent(exc):
        return False
    if isinstance(exc, (BaseHTTPError, LCProviderError, LibcloudError)):  # an answer (or libcloud's reading of one)
        status = _status(exc) if isinstance(exc, (BaseHTTPError, LCProviderError)) else _text_status(_describe(exc))
        return status is not None and status >= 500 and type(_translate(exc, "", "")) is ProviderError
    transport = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.ChunkedEncodingError,
                 http.client.HTTPException, ConnectionError, TimeoutError)
    return isinstance(exc, transport)


def _maybe_applied(exc: BaseException) -> bool:
    """Whether ``exc`` (or an error it was raised from) marks a request that may have been acted on."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if getattr(current, MAYBE_APPLIED, False) or (_native(current) and attempt_reached(current)):
            return True
        current = current.__cause__ or current.__context__
    return False


F = TypeVar("F", bound=Callable[..., Any])


def noting_attempts(attempt: F) -> F:
    """Wrap the function libcloud's retry loop calls once per attempt of one request.

    Once an attempt failed after the provider may have acted on it (:func:`attempt_reached`), the
    exception of that attempt and of every later one carries :data:`MAYBE_APPLIED`, so the error the
    request finally raises (often a later attempt's, for example a retried reset followed by a
    dropped connection) says the call may have been applied.
    """
    reached = False

    @functools.wraps(attempt)
    def noted(*args: Any, **kwargs: Any) -> Any:
        nonlocal reached
        try:
            return attempt(*args, **kwargs)
        except Exception as exc:
            reached = reached or attempt_reached(exc)
            if reached:
                try:
                    setattr(exc, MAYBE_APPLIED, True)
                except AttributeError:  # pragma: no cover - exceptions with slots
                    pass
            raise

    return noted  # type: ignore[return-value]


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
