"""Pins every field of the errors cloudkit_libcloud.errors builds: class, message, code, provider.

The first pin file (``test_pin_libcloud_errors.py``) pins which class each libcloud error maps to;
this one pins the whole error, so a dropped ``provider=``/``code=``, a lost message, a changed
status boundary or a renamed lookup key in ``_describe`` fails a test.
"""

from __future__ import annotations

import pytest
import requests
from cloudkit_libcloud import errors as le
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import LibcloudError, MalformedResponseError
from libcloud.common.types import ProviderError as LCProviderError
from libcloud.dns.types import RecordDoesNotExistError, ZoneAlreadyExistsError
from libcloud.storage.types import (
    ContainerAlreadyExistsError,
    ContainerDoesNotExistError,
    InvalidContainerNameError,
    ObjectHashMismatchError,
)

from cloudkit.errors import (
    AlreadyExists,
    CloudkitError,
    Conflict,
    InvalidInput,
    NotFound,
    NotSupported,
    ProviderError,
    QuotaExceeded,
    Throttled,
    Timeout,
)

APPLIED = ". " + le.MAYBE_APPLIED_TEXT


def _fields(err: CloudkitError) -> tuple[type[CloudkitError], str, str | None, str | None]:
    return type(err), err.message, err.code, err.provider


def _t(exc: BaseException) -> CloudkitError:
    return le.translate(exc, "s3", "op")


@pytest.mark.parametrize(
    ("exc", "expected"),
    [
        (ContainerAlreadyExistsError(None, None, "bkt"), (AlreadyExists, "op: bucket 'bkt' already exists", "ContainerAlreadyExistsError")),
        (ZoneAlreadyExistsError(None, None, "z1"), (AlreadyExists, "op: zone 'z1' already exists", "ZoneAlreadyExistsError")),
        (RecordDoesNotExistError(None, None, "r1"), (NotFound, "op: record 'r1' does not exist", "RecordDoesNotExistError")),
        (ContainerDoesNotExistError(None, None, "bkt"), (NotFound, "op: bucket 'bkt' does not exist", "ContainerDoesNotExistError")),
    ],
)
def test_typed_errors_without_text_are_described_from_their_fields(exc: BaseException, expected: tuple[object, ...]) -> None:
    assert _fields(_t(exc)) == (*expected, "s3")


def test_typed_error_missing_its_field_still_translates() -> None:
    exc = ContainerDoesNotExistError(None, None, "bkt")
    del exc.container_name
    assert _fields(_t(exc)) == (NotFound, "op: bucket None does not exist", "ContainerDoesNotExistError", "s3")


def test_message_attribute_is_used_when_there_is_no_value() -> None:
    class Odd(Exception):
        message = "the real text"

        def __str__(self) -> str:
            return "<Odd object>"

    assert _fields(_t(Odd())) == (ProviderError, "op: the real text", "Odd", "s3")


def test_plain_exception_text_and_its_class_name_fallback() -> None:
    assert _fields(_t(ValueError("v"))) == (ProviderError, "op: v", "ValueError", "s3")
    assert _fields(_t(ValueError())) == (ProviderError, "op: ValueError", "ValueError", "s3")
    assert _fields(_t(ValueError("<obj at 0x1>"))) == (ProviderError, "op: ValueError", "ValueError", "s3")


def test_status_is_read_from_code_then_http_code_then_status() -> None:
    exc = LCProviderError("gone", None)
    exc.status = 404  # type: ignore[attr-defined]
    assert _fields(_t(exc)) == (NotFound, "op: gone", "ProviderError", "s3")
    exc.status = 700  # type: ignore[attr-defined]
    assert type(_t(exc)) is ProviderError


@pytest.mark.parametrize(("status", "kind"), [(99, ProviderError), (100, QuotaExceeded), (599, QuotaExceeded), (600, ProviderError)])
def test_status_range_bounds(status: int, kind: type[CloudkitError]) -> None:
    # "LimitExceeded" maps to a quota only when the error carries a valid HTTP status (100..599)
    assert _fields(_t(LCProviderError("LimitExceeded", status))) == (kind, "op: LimitExceeded", "ProviderError", "s3")


def test_rate_limit_error_fields() -> None:
    exc = RateLimitReachedError()
    exc.retry_after = 7  # type: ignore[attr-defined]
    err = _t(exc)
    assert _fields(err) == (Throttled, "op: 429 Rate limit exceeded", "RateLimitReachedError", "s3")
    assert isinstance(err, Throttled)
    assert err.retry_after == 7.0
    del exc.retry_after  # type: ignore[attr-defined]
    err = _t(exc)
    assert isinstance(err, Throttled)
    assert err.retry_after is None


def test_http_429_fields() -> None:
    err = _t(BaseHTTPError(429, "slow"))
    assert _fields(err) == (Throttled, "op: slow", "BaseHTTPError", "s3")
    assert isinstance(err, Throttled)
    assert err.retry_after is None


def test_invalid_bucket_name_fields() -> None:
    err = _t(InvalidContainerNameError("bad name", None, "B"))
    assert isinstance(err, InvalidInput)
    assert (err.field, err.rule, err.provider, err.message) == ("bucket", "bad name", "s3", "bucket: bad name")


def test_checksum_mismatch_fields() -> None:
    err = _t(ObjectHashMismatchError("x", None, "k"))
    assert _fields(err) == (ProviderError, "op: data corrupted in transit (checksum mismatch)", "ObjectHashMismatchError", "s3")


def test_not_implemented_fields() -> None:
    err = _t(NotImplementedError("no lifecycle here"))
    assert isinstance(err, NotSupported)
    assert (err.provider, err.operation, err.reason) == ("s3", "op", "no lifecycle here")
    assert err.message == "s3 does not support op: no lifecycle here"
    bare = _t(NotImplementedError())
    assert isinstance(bare, NotSupported)
    assert bare.message == "s3 does not support op: NotImplementedError"


def test_timeout_fields() -> None:
    # a read timeout came after the request was sent: it may have been applied
    assert _fields(_t(requests.exceptions.ReadTimeout("late"))) == (Timeout, "op: late" + APPLIED, "ReadTimeout", "s3")
    assert _fields(_t(TimeoutError("late"))) == (Timeout, "op: late" + APPLIED, "TimeoutError", "s3")


@pytest.mark.parametrize(
    ("exc", "kind", "message", "code"),
    [
        (BaseHTTPError(400, "NoSuchKey"), NotFound, "op: NoSuchKey", "BaseHTTPError"),
        (BaseHTTPError(412, "precondition"), Conflict, "op: precondition", "BaseHTTPError"),
        (BaseHTTPError(400, "in use"), Conflict, "op: in use", "BaseHTTPError"),
        (BaseHTTPError(503, "SlowDown"), Throttled, "op: SlowDown", "BaseHTTPError"),
        (BaseHTTPError(400, "VcpuLimitExceeded"), QuotaExceeded, "op: VcpuLimitExceeded", "BaseHTTPError"),
        (BaseHTTPError(500, "boom"), ProviderError, "op: boom" + APPLIED, "BaseHTTPError"),
        (LibcloudError("Unexpected status code: 404"), NotFound, "op: Unexpected status code: 404", "LibcloudError"),
        (LibcloudError("status_code=409"), Conflict, "op: status_code=409", "LibcloudError"),
        (MalformedResponseError("zone could not find"), NotFound, "op: zone could not find", "MalformedResponseError"),
        (LibcloudError("it already exists"), AlreadyExists, "op: it already exists", "LibcloudError"),
        (LibcloudError("status code: 500"), ProviderError, "op: status code: 500" + APPLIED, "LibcloudError"),
        (requests.exceptions.ConnectionError("refused"), ProviderError, "op: cannot reach the provider (ConnectionError)" + APPLIED,
         "ConnectionError"),
        (OSError(5, "read failed"), ProviderError, "op: read failed", "OSError"),
        (OSError("no errno"), ProviderError, "op: no errno", "OSError"),
        (KeyError("k"), ProviderError, "op: 'k'", "KeyError"),
    ],
)
def test_every_branch_keeps_message_code_and_provider(exc: BaseException, kind: type[CloudkitError], message: str, code: str) -> None:
    assert _fields(_t(exc)) == (kind, message, code, "s3")


@pytest.mark.parametrize(("length", "expected"), [(500, "x" * 500), (501, "x" * 497 + "..."), (502, "x" * 497 + "...")])
def test_message_cap_boundary(length: int, expected: str) -> None:
    assert _t(BaseHTTPError(400, "x" * length)).message == "op: " + expected


def test_translate_error_names_the_service_provider() -> None:
    class Svc(le.LibcloudErrors):
        provider = "powerdns"

    err = Svc().translate_error(BaseHTTPError(404, "x"), "get_zone")
    assert err is not None
    assert _fields(err) == (NotFound, "get_zone: x", "BaseHTTPError", "powerdns")


@pytest.mark.parametrize("text", ["Unexpected status code: 429", "Unexpected Status Code: 503", "status_code=503", "STATUS CODE:429"])
def test_throttling_reported_as_text(text: str) -> None:
    # Azure Blobs and S3 drivers report 429 and 503 (ServerBusy, SlowDown) as text, in any case
    assert _fields(_t(LibcloudError(text))) == (Throttled, f"op: {text}", "LibcloudError", "s3")


@pytest.mark.parametrize("text", ["status code: 4290", "status code: 5031"])
def test_other_statuses_in_text_are_not_throttling(text: str) -> None:
    assert type(_t(LibcloudError(text))) is ProviderError
