"""Pins cloudkit_aws.errors: codes, code shapes and bare HTTP statuses map to the right cloudkit error."""

from __future__ import annotations

from typing import Any

import botocore.exceptions as bx
import pytest
from cloudkit_aws import errors as ae

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


def _client_error(code: str | None, message: str | None, status: int | None, headers: dict[str, str] | None = None) -> bx.ClientError:
    response: dict[str, Any] = {"Error": {}, "ResponseMetadata": {}}
    if code is not None:
        response["Error"]["Code"] = code
    if message is not None:
        response["Error"]["Message"] = message
    if status is not None:
        response["ResponseMetadata"]["HTTPStatusCode"] = status
    if headers is not None:
        response["ResponseMetadata"]["HTTPHeaders"] = headers
    return bx.ClientError(response, "Op")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, InvalidInput), (401, AuthenticationError), (403, PermissionDenied), (404, NotFound),
        (408, Timeout), (409, Conflict), (410, InvalidInput), (416, InvalidInput), (429, Throttled), (499, InvalidInput),
        (500, ProviderError), (501, NotSupported), (502, ProviderError), (503, Throttled), (504, Timeout), (599, ProviderError),
    ],
)
def test_unknown_code_falls_back_on_the_http_status(status: int, kind: type[CloudkitError]) -> None:
    assert ae.error_class("SomethingNew", "", status) is kind
    assert type(ae.translate(_client_error(None, None, status), "op")) is kind


def test_no_status_and_unknown_code_is_a_provider_error() -> None:
    assert ae.error_class("SomethingNew") is ProviderError
    assert ae.error_class("SomethingNew", "", None) is ProviderError
    assert ae.error_class("SomethingNew", "", 399) is ProviderError
    assert ae.error_class("SomethingNew", "", 500) is ProviderError


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("InvalidWidget.NotFound", NotFound), ("InvalidWidget.Malformed", NotFound), ("InvalidWidget.Duplicate", AlreadyExists),
        ("InvalidWidget.InUse", Conflict), ("Throttling.Extra", Throttled), ("WidgetNotFound", NotFound),
        ("WidgetNotFoundFault", NotFound), ("WidgetNotFoundException", NotFound), ("WidgetAlreadyExists", AlreadyExists),
        ("WidgetAlreadyExistsFault", AlreadyExists), ("WidgetAlreadyExistsException", AlreadyExists),
        ("WidgetQuotaExceeded", QuotaExceeded), ("WidgetQuotaExceededFault", QuotaExceeded), ("WidgetLimitExceeded", QuotaExceeded),
        ("Odd.Suffix", ProviderError),
    ],
)
def test_code_shapes(code: str, kind: type[CloudkitError]) -> None:
    assert ae.error_class(code) is kind


def test_code_shapes_win_over_the_status() -> None:
    assert ae.error_class("WidgetNotFound", "", 400) is NotFound
    assert ae.error_class("NoSuchBucket", "", 400) is NotFound


def test_message_dependent_codes() -> None:
    assert ae.error_class("InvalidChangeBatch", "Tried to delete but it was NOT FOUND") is NotFound
    assert ae.error_class("InvalidChangeBatch", "it already exists") is AlreadyExists
    assert ae.error_class("InvalidParameterValue", "No Application named x") is NotFound
    assert ae.error_class("InvalidChangeBatch", "something else") is InvalidInput


def test_response_message_code_and_provider() -> None:
    err = ae.translate(_client_error("NoSuchKey", "The key does not exist", 404), "get_object")
    assert type(err) is NotFound
    assert err.message == "get_object: The key does not exist (NoSuchKey)"
    assert err.code == "NoSuchKey"
    assert err.provider == "aws"


@pytest.mark.parametrize(
    ("status", "text"),
    [(404, "not found"), (403, "access denied"), (400, "bad request"), (412, "precondition failed"),
     (416, "the requested range is not satisfiable"), (418, "failed with 418")],
)
def test_bodiless_responses_get_a_default_text(status: int, text: str) -> None:
    err = ae.translate(_client_error(None, None, status), "head_object")
    assert text in str(err)
    assert f"({status})" in str(err)


def test_no_code_and_no_status_is_unknown() -> None:
    err = ae.translate(_client_error(None, None, None), "op")
    assert type(err) is ProviderError
    assert err.message == "op: failed with Unknown (Unknown)"


def test_invalid_input_and_not_supported_shapes() -> None:
    bad = ae.translate(_client_error("ValidationError", "bad value", 400), "create_thing")
    assert type(bad) is InvalidInput
    assert bad.field == "create_thing"
    assert bad.provider == "aws"
    unsupported = ae.translate(_client_error("NotImplemented", "nope", 501), "op")
    assert type(unsupported) is NotSupported
    assert "nope" in str(unsupported)


def test_throttling_keeps_retry_after() -> None:
    err = ae.translate(_client_error("SlowDown", "slow", 503, {"retry-after": "2.5"}), "put")
    assert type(err) is Throttled
    assert err.retry_after == 2.5
    assert err.code == "SlowDown"
    assert err.message == "put: slow (SlowDown)"
    assert ae.translate(_client_error("SlowDown", "slow", 503, {"retry-after": "soon"}), "put").retry_after is None
    assert ae.translate(_client_error("SlowDown", "slow", 503, {}), "put").retry_after is None
    assert ae.translate(_client_error("SlowDown", "slow", 503), "put").retry_after is None


def test_secrets_are_scrubbed_from_messages() -> None:
    key = "AKIA" + "ABCDEFGHIJKLMNOP"
    secret = "a" * 20 + "B/c+" * 5
    err = ae.translate(_client_error("SignatureDoesNotMatch", f"key {key} secret {secret} X-Amz-Signature=deadbeef&x=1", 403), "op")
    text = str(err)
    assert key not in text
    assert secret not in text
    assert "deadbeef" not in text
    assert "X-Amz-Signature=***" in text
    assert ae.scrub("<StringToSign>abc</StringToSign>") == "<StringToSign>***</StringToSign>"


def test_transport_errors() -> None:
    timeout = ae.translate(bx.ConnectTimeoutError(endpoint_url="http://127.0.0.1:1"), "op")
    assert type(timeout) is Timeout
    assert timeout.code == "ConnectTimeoutError"
    unreachable = ae.translate(bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), "op")
    assert type(unreachable) is ProviderError
    assert "could not reach the AWS endpoint (EndpointConnectionError" in str(unreachable)
    creds = ae.translate(bx.NoCredentialsError(), "op")
    assert type(creds) is AuthenticationError
    assert creds.code == "NoCredentialsError"
    region = ae.translate(bx.NoRegionError(), "op")
    assert isinstance(region, InvalidInput)
    assert region.field == "region"
    other = ae.translate(OSError(5, "io failure"), "op")
    assert type(other) is ProviderError
    assert other.message == "op: io failure"
    plain = ae.translate(RuntimeError("boom"), "op")
    assert plain.message == "op: RuntimeError: boom"


def test_translate_error_only_takes_the_aws_stack() -> None:
    mixin = ae.AwsErrors()
    assert isinstance(mixin.translate_error(_client_error("NoSuchKey", "x", 404), "op"), NotFound)
    assert isinstance(mixin.translate_error(OSError(2, "x"), "op"), ProviderError)
    assert mixin.translate_error(KeyError("x"), "op") is None
