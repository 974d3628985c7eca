"""Pins cloudkit_libcloud.errors: libcloud's errors map to cloudkit errors by class, HTTP status and text."""

from __future__ import annotations

import pytest
import requests
from cloudkit_libcloud import errors as le
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError, MalformedResponseError
from libcloud.common.types import ProviderError as LCProviderError
from libcloud.dns.types import RecordAlreadyExistsError, ZoneDoesNotExistError
from libcloud.storage.types import (
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    ContainerIsNotEmptyError,
    InvalidContainerNameError,
    ObjectDoesNotExistError,
    ObjectHashMismatchError,
)

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

APPLIED = ". " + le.MAYBE_APPLIED_TEXT


def _t(exc: BaseException) -> CloudkitError:
    return le.translate(exc, "s3", "op")


@pytest.mark.parametrize(
    ("status", "text", "kind"),
    [
        (429, "slow", Throttled), (401, "who", AuthenticationError), (403, "no", PermissionDenied), (404, "gone", NotFound),
        (400, "NoSuchBucket here", NotFound), (409, "in use", Conflict), (400, "BucketNotEmpty", Conflict), (409, "boom", AlreadyExists),
        (400, "Duplicate name", AlreadyExists), (412, "precondition", Conflict), (503, "SlowDown please", Throttled),
        (503, "busy", ProviderError), (400, "VcpuLimitExceeded", QuotaExceeded), (500, "oops", ProviderError),
    ],
)
def test_http_errors_by_status_then_text(status: int, text: str, kind: type[CloudkitError]) -> None:
    err = _t(BaseHTTPError(status, text))
    assert type(err) is kind
    assert err.provider == "s3"
    if kind not in (NotSupported, InvalidInput):
        # a server error (5xx, not throttling) may have been applied, and says so
        applied = status >= 500 and kind is ProviderError
        assert err.message == f"op: {text}" + (APPLIED if applied else "")
        assert err.may_have_been_applied is applied
        assert err.code == "BaseHTTPError"


def test_provider_error_status_comes_from_http_code() -> None:
    assert type(_t(LCProviderError("denied", 403))) is PermissionDenied
    assert type(_t(LCProviderError("odd", 999))) is ProviderError
    assert type(_t(LCProviderError("LimitExceeded", 999))) is ProviderError  # no valid status: not a quota


def test_rate_limit_keeps_retry_after() -> None:
    err = _t(RateLimitReachedError(headers={"retry-after": "3"}))
    assert type(err) is Throttled
    exc = RateLimitReachedError()
    exc.retry_after = 4  # type: ignore[attr-defined]
    assert _t(exc).retry_after == 4.0
    exc.retry_after = 0  # type: ignore[attr-defined]
    assert _t(exc).retry_after is None


def test_typed_errors() -> None:
    missing = _t(ContainerDoesNotExistError(None, None, "bkt"))
    assert type(missing) is NotFound
    assert missing.message == "op: bucket 'bkt' does not exist"
    assert type(_t(ObjectDoesNotExistError(None, None, "k"))) is NotFound
    assert _t(ObjectDoesNotExistError(None, None, "k")).message == "op: object 'k' does not exist"
    assert _t(ZoneDoesNotExistError(None, None, "z1")).message == "op: zone 'z1' does not exist"
    assert type(_t(ContainerAlreadyExistsError(None, None, "bkt"))) is AlreadyExists
    assert _t(RecordAlreadyExistsError(None, None, "r1")).message == "op: record 'r1' already exists"
    assert _t(ContainerIsNotEmptyError(None, None, "bkt")).message == "op: bucket 'bkt' is not empty"
    assert type(_t(ContainerIsNotEmptyError(None, None, "bkt"))) is Conflict
    bad = _t(InvalidContainerNameError("bad name", None, "B"))
    assert isinstance(bad, InvalidInput)
    assert bad.field == "bucket"
    corrupt = _t(ObjectHashMismatchError("x", None, "k"))
    assert type(corrupt) is ProviderError
    assert corrupt.message == "op: data corrupted in transit (checksum mismatch)"
    assert type(_t(InvalidCredsError())) is AuthenticationError
    with_text = _t(ContainerDoesNotExistError("custom text", None, "bkt"))
    assert with_text.message == "op: custom text"


def test_not_implemented_and_timeouts() -> None:
    err = _t(NotImplementedError())
    assert type(err) is NotSupported
    assert "NotImplementedError" in str(err)
    assert type(_t(requests.exceptions.ReadTimeout("late"))) is Timeout
    assert type(_t(TimeoutError("late"))) is Timeout


def test_libcloud_errors_by_text() -> None:
    assert type(_t(LibcloudError("Unexpected status code: 404"))) is NotFound
    assert type(_t(LibcloudError("status_code=409"))) is Conflict
    assert type(_t(MalformedResponseError("zone could not find"))) is NotFound
    assert type(_t(LibcloudError("it already exists"))) is AlreadyExists
    assert type(_t(LibcloudError("status code: 500"))) is ProviderError


def test_connection_and_os_errors() -> None:
    err = _t(requests.exceptions.ConnectionError("refused"))
    assert err.message == "op: cannot reach the provider (ConnectionError)" + APPLIED  # dropped: may have been sent
    os_err = _t(OSError(5, "read failed"))
    assert os_err.message == "op: read failed"
    assert type(_t(ValueError("v"))) is ProviderError


def test_messages_are_scrubbed_and_capped() -> None:
    err = _t(BaseHTTPError(400, "https://x/?Signature=abc123&X-Amz-Credential=AKIAX&y=1"))
    assert "abc123" not in str(err)
    assert "AKIAX" not in str(err)
    assert "Signature=***" in str(err)
    long = _t(BaseHTTPError(400, "x" * 600))
    assert long.message == "op: " + "x" * 497 + "..."
    exact = _t(BaseHTTPError(400, "x" * 500))
    assert exact.message == "op: " + "x" * 500
    html = _t(BaseHTTPError(400, "<html>"))
    assert html.message == "op: BaseHTTPError"


def test_translate_error_only_takes_native_errors() -> None:
    class Svc(le.LibcloudErrors):
        provider = "s3"

    assert type(Svc().translate_error(BaseHTTPError(404, "x"), "op")) is NotFound
    assert type(Svc().translate_error(NotImplementedError(), "op")) is NotSupported
    assert Svc().translate_error(KeyError("x"), "op") is None
    with pytest.raises(NotFound) as info, le.mapped("s3", "get"):
        raise BaseHTTPError(404, "gone")
    assert isinstance(info.value.__cause__, BaseHTTPError)
