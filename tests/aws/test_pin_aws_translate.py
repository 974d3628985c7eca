"""Pins every branch of cloudkit_aws.errors.translate for errors that are not a ClientError.

Waiter, credential, configuration, transport and s3transfer/boto3 transfer errors each map to one
cloudkit error; these pins compare the whole error (class, message, code, provider, and for
``InvalidInput`` the field and rule), so a changed word or a dropped keyword fails a test.
"""

from __future__ import annotations

from typing import Any

import boto3.exceptions as b3x
import botocore.exceptions as bx
import pytest
import s3transfer.exceptions as s3x
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
    Throttled,
    Timeout,
)

URL = "http://127.0.0.1:9"
KEY = "AKIA" + "ABCDEFGHIJKLMNOP"


def _fields(err: CloudkitError) -> tuple[type[CloudkitError], str, str | None, str | None]:
    return type(err), err.message, err.code, err.provider


def _t(exc: BaseException, operation: str = "op") -> CloudkitError:
    return ae.translate(exc, operation)


# --- waiters -------------------------------------------------------------------------------------


def test_waiter_error_answer_is_translated_as_the_answer() -> None:
    last = {"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    err = _t(bx.WaiterError(name="BucketExists", reason="Waiter encountered an error", last_response=last), "wait")
    assert _fields(err) == (PermissionDenied, "wait: no (AccessDenied)", "AccessDenied", "aws")


def test_waiter_giving_up_with_an_error_answer_is_a_timeout() -> None:
    last = {"Error": {"Code": "NoSuchBucket", "Message": "no"}}
    err = _t(bx.WaiterError(name="BucketExists", reason="Max attempts exceeded", last_response=last), "wait")
    assert _fields(err) == (
        Timeout,
        "wait: gave up waiting (Waiter BucketExists failed: Max attempts exceeded); its state is unknown and is left as it is "
        "(a timeout deletes nothing)",
        None,
        "aws",
    )


def test_waiter_terminal_state_is_a_conflict() -> None:
    exc = bx.WaiterError(name="InstanceRunning", reason="Waiter encountered a terminal failure state", last_response={"Reservations": []})
    assert _fields(_t(exc, "start")) == (
        Conflict,
        "start: the resource reached a state it cannot leave for the one awaited",
        "WaiterFailure",
        "aws",
    )


def test_waiter_terminal_state_with_an_error_answer_is_the_answer() -> None:
    last = {"Error": {"Code": "InvalidInstanceID.NotFound", "Message": "gone"}}
    exc = bx.WaiterError(name="InstanceRunning", reason="Waiter encountered a terminal failure state", last_response=last)
    assert _fields(_t(exc, "start")) == (NotFound, "start: gone (InvalidInstanceID.NotFound)", "InvalidInstanceID.NotFound", "aws")


def test_waiter_timeout_names_the_last_state() -> None:
    last: dict[str, Any] = {"Reservations": [{"Instances": [{"State": {"Name": "pending"}}]}]}
    exc = bx.WaiterError(name="InstanceRunning", reason="Max attempts exceeded", last_response=last)
    assert _fields(_t(exc, "create")) == (
        Timeout,
        "create: gave up waiting (Waiter InstanceRunning failed: Max attempts exceeded); it was last seen pending and is left "
        "as it is (a timeout deletes nothing)",
        None,
        "aws",
    )


def test_waiter_without_a_last_response() -> None:
    exc = bx.WaiterError(name="W", reason="Max attempts exceeded", last_response=None)
    assert (
        _t(exc).message
        == "op: gave up waiting (Waiter W failed: Max attempts exceeded); its state is unknown and is left as it is (a timeout deletes nothing)"
    )


def test_waiter_message_is_scrubbed() -> None:
    exc = bx.WaiterError(name="W", reason=f"Max attempts exceeded {KEY}", last_response={})
    assert KEY not in _t(exc).message
    assert "Max attempts exceeded ***)" in _t(exc).message


@pytest.mark.parametrize(
    ("answer", "state"),
    [
        ({"DBInstances": [{"DBInstanceStatus": "backing-up"}]}, "backing-up"),
        ({"Volumes": [{"VolumeState": "creating"}]}, "creating"),
        ({"Environments": [{"Status": "Launching"}]}, "Launching"),
        ({"State": {"Name": "stopping"}}, "stopping"),
        ({"State": {"Name": 3}}, None),
        ({"State": ""}, None),
        ({"State": 5}, None),
        ({"ResponseMetadata": {"Status": "200"}}, None),
        ({"Items": [[{"Status": "deep"}]]}, "deep"),
        ({"A": {"B": {"Status": "deeper"}}, "Status": "top"}, "top"),
        ({"A": [{"Status": "deeper"}], "B": {"Status": "nearer"}}, "nearer"),  # breadth first
        ([], None),
        ("text", None),
    ],
)
def test_last_state(answer: Any, state: str | None) -> None:
    assert ae.last_state(answer) == state


def test_last_state_key_order() -> None:
    assert ae.last_state({"Status": "s", "DBInstanceStatus": "db"}) == "db"
    assert ae.last_state({"State": "st", "Status": "s"}) == "s"
    assert ae.last_state({"VolumeState": "v", "State": "st"}) == "st"
    assert ae.last_state({"A": [{"Status": "near"}], "B": [[{"Status": "far"}]]}) == "near"


# --- credentials, configuration, parameters ------------------------------------------------------------


@pytest.mark.parametrize(
    "exc",
    [
        bx.NoCredentialsError(),
        bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"),
        bx.CredentialRetrievalError(provider="sso", error_msg="expired"),
        bx.NoAuthTokenError(),
        bx.TokenRetrievalError(provider="sso", error_msg="expired"),
        bx.SSOError(),
        bx.UnauthorizedSSOTokenError(),
    ],
)
def test_credential_errors(exc: BaseException) -> None:
    name = type(exc).__name__
    assert _fields(_t(exc, "list")) == (
        AuthenticationError,
        f"list: no usable AWS credentials ({name}); configure boto3's chain (environment, ~/.aws files, SSO or an instance role)",
        name,
        "aws",
    )


def _invalid(err: CloudkitError) -> tuple[type[CloudkitError], str, str, str | None]:
    assert isinstance(err, InvalidInput)
    return type(err), err.field, err.rule, err.provider


def test_profile_not_found() -> None:
    assert _invalid(_t(bx.ProfileNotFound(profile="prod"))) == (
        InvalidInput,
        "profile",
        "AWS profile not found (The config profile (prod) could not be found)",
        "aws",
    )


def test_no_region() -> None:
    assert _invalid(_t(bx.NoRegionError())) == (InvalidInput, "region", "no region in settings nor in the AWS configuration chain", "aws")


@pytest.mark.parametrize(
    ("exc", "rule"),
    [
        (bx.ParamValidationError(report="Invalid bucket name"), "Parameter validation failed:\nInvalid bucket name"),
        (
            bx.InvalidS3AddressingStyleError(s3_addressing_style="odd"),
            "S3 addressing style odd is invalid. Valid options are: 'auto', 'virtual', and 'path'",
        ),
        (bx.InvalidRegionError(region_name="moon-1"), "Provided region_name 'moon-1' doesn't match a supported format."),
        (bx.InvalidEndpointConfigurationError(msg=f"bad {KEY}"), "Invalid endpoint configuration: bad ***"),
    ],
)
def test_parameter_and_configuration_errors(exc: BaseException, rule: str) -> None:
    assert _invalid(_t(exc, "put_object")) == (InvalidInput, "put_object", rule, "aws")


# --- transport --------------------------------------------------------------------------------------


@pytest.mark.parametrize("exc", [bx.ConnectTimeoutError(endpoint_url=URL), bx.ReadTimeoutError(endpoint_url=URL)])
def test_timeouts(exc: BaseException) -> None:
    err = ae._translate(exc, "get")
    assert _fields(err) == (Timeout, "get: the AWS endpoint did not answer in time", type(exc).__name__, "aws")


@pytest.mark.parametrize(
    ("exc", "text"),
    [
        (bx.EndpointConnectionError(endpoint_url=URL), f'Could not connect to the endpoint URL: "{URL}"'),
        (bx.ConnectionClosedError(endpoint_url=URL), f'Connection was closed before we received a valid response from endpoint URL: "{URL}".'),
        (bx.ProxyConnectionError(proxy_url=URL, error="refused"), f'Failed to connect to proxy URL: "{URL}"'),
        (bx.SSLError(endpoint_url=URL, error="bad cert"), f"SSL validation failed for {URL} bad cert"),
        (bx.HTTPClientError(error=f"reset {KEY}"), "An HTTP Client raised an unhandled exception: reset ***"),
    ],
)
def test_unreachable(exc: BaseException, text: str) -> None:
    name = type(exc).__name__
    err = ae._translate(exc, "get")
    assert _fields(err) == (ProviderError, f"get: could not reach the AWS endpoint ({name}: {text})", name, "aws")


def test_unknown_service() -> None:
    err = _t(bx.UnknownServiceError(service_name="x", known_service_names="s3"), "connect")
    assert isinstance(err, NotSupported)
    assert (err.provider, err.operation, err.reason) == ("aws", "connect", "this botocore does not know the service")
    assert err.message == "aws does not support connect: this botocore does not know the service"


def test_other_botocore_errors() -> None:
    err = _t(bx.DataNotFoundError(data_path=f"x/{KEY}"), "op")
    assert _fields(err) == (ProviderError, "op: Unable to load data for: x/***", "DataNotFoundError", "aws")


def test_os_errors() -> None:
    assert _fields(_t(OSError(5, "io failure"), "read")) == (ProviderError, "read: io failure", "OSError", "aws")
    assert _fields(_t(FileNotFoundError("no such file"), "read")) == (ProviderError, "read: no such file", "FileNotFoundError", "aws")


def test_anything_else() -> None:
    assert _fields(_t(RuntimeError(f"boom {KEY}"), "op")) == (ProviderError, "op: RuntimeError: boom ***", None, "aws")


# --- boto3 / s3transfer transfer errors ---------------------------------------------------------------


def _client_error(code: str, status: int) -> bx.ClientError:
    return bx.ClientError({"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}}, "PutObject")  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", [b3x.S3UploadFailedError, b3x.S3TransferFailedError])
def test_transfer_error_caused_by_a_client_error_is_that_error(cls: type[Exception]) -> None:
    exc = cls("Failed to upload f to b/k: An error occurred (NoSuchBucket) when calling the PutObject operation: m")
    exc.__cause__ = _client_error("NoSuchBucket", 404)
    assert _fields(_t(exc, "upload")) == (NotFound, "upload: m (NoSuchBucket)", "NoSuchBucket", "aws")


def test_transfer_error_with_a_context_only() -> None:
    exc = b3x.S3UploadFailedError("Failed")
    exc.__context__ = _client_error("AccessDenied", 403)
    assert _fields(_t(exc, "upload")) == (PermissionDenied, "upload: m (AccessDenied)", "AccessDenied", "aws")


@pytest.mark.parametrize("cls", [b3x.RetriesExceededError, s3x.RetriesExceededError])
def test_retries_exceeded_is_its_last_exception(cls: type[Exception]) -> None:
    exc = cls(bx.ReadTimeoutError(endpoint_url=URL))
    err = _t(exc, "download")
    assert (type(err), err.code, err.provider) == (Timeout, "ReadTimeoutError", "aws")
    assert err.message.startswith("download: the AWS endpoint did not answer in time. ")


def test_transfer_error_wrapping_the_same_kind_uses_its_text() -> None:
    exc = b3x.S3UploadFailedError("Failed to upload f: An error occurred (SlowDown) when calling the UploadPart operation: slow")
    exc.__cause__ = b3x.S3UploadFailedError("inner")
    err = _t(exc, "upload")
    assert isinstance(err, Throttled)
    assert _fields(err) == (
        Throttled,
        "upload: Failed to upload f: An error occurred (SlowDown) when calling the UploadPart operation: slow",
        "SlowDown",
        "aws",
    )
    assert err.retry_after is None


def test_transfer_error_with_a_code_in_its_text() -> None:
    exc = b3x.S3UploadFailedError(f"Failed to upload f: An error occurred (NoSuchUpload) when calling the CompleteMultipartUpload operation: {KEY}")
    assert _fields(_t(exc, "upload")) == (
        NotFound,
        "upload: Failed to upload f: An error occurred (NoSuchUpload) when calling the CompleteMultipartUpload operation: ***",
        "NoSuchUpload",
        "aws",
    )


def test_transfer_error_without_a_cause_or_code() -> None:
    assert _fields(_t(b3x.S3TransferFailedError(f"Failed {KEY}"), "copy")) == (ProviderError, "copy: Failed ***", None, "aws")
    with_bad_cause = b3x.S3TransferFailedError("Failed")
    with_bad_cause.__cause__ = KeyboardInterrupt()  # not an Exception: not translated
    assert _fields(_t(with_bad_cause, "copy")) == (ProviderError, "copy: Failed", None, "aws")


# --- error responses ---------------------------------------------------------------------------------


def test_client_error_without_a_response() -> None:
    exc = bx.ClientError({}, "Op")  # type: ignore[typeddict-item]
    del exc.response
    assert _fields(_t(exc)) == (ProviderError, "op: failed with Unknown (Unknown)", "Unknown", "aws")


def test_throttled_retry_after_defaults_to_none() -> None:
    err = ae._from_response({"Error": {"Code": "Throttling", "Message": "slow"}}, "op")
    assert isinstance(err, Throttled)
    assert err.retry_after is None
    err = ae._from_response({"Error": {"Code": "Throttling", "Message": "slow"}, "ResponseMetadata": {"HTTPHeaders": {"retry-after": "0"}}}, "op")
    assert isinstance(err, Throttled)
    assert err.retry_after == 0.0


def test_make_keeps_the_code_of_a_throttled_error_and_the_operation_of_not_supported() -> None:
    err = ae._make(NotSupported, "op", "nope", "NotImplemented")
    assert isinstance(err, NotSupported)
    assert (err.operation, err.reason, err.provider) == ("op", "nope", "aws")
    throttled = ae._make(Throttled, "op", "slow", "SlowDown", 2.0)
    assert isinstance(throttled, Throttled)
    assert (_fields(throttled), throttled.retry_after) == ((Throttled, "op: slow", "SlowDown", "aws"), 2.0)


def test_error_class_message_defaults_to_empty() -> None:
    assert ae.error_class("InvalidChangeBatch") is InvalidInput


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, InvalidInput),
        (401, AuthenticationError),
        (402, InvalidInput),
        (499, InvalidInput),
        (500, ProviderError),
        (505, ProviderError),
        (399, ProviderError),
    ],
)
def test_status_fallback_bounds(status: int, kind: type[CloudkitError]) -> None:
    assert ae.error_class("SomethingNew", "", status) is kind


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("Widget.NotFound", NotFound),
        ("Throttling.X.Duplicate", Throttled),
        ("InvalidWidget.Malformed.Extra", ProviderError),
        ("Throttling.X.Y", Throttled),
    ],
)
def test_dotted_codes_split_at_the_first_dot(code: str, kind: type[CloudkitError]) -> None:
    assert ae.error_class(code) is kind


def test_scrub_replaces_with_three_stars() -> None:
    assert ae.scrub(f"key {KEY} end") == "key *** end"
    secret = "a" * 20 + "B/c+" * 5
    assert ae.scrub(f"s {secret} e") == "s *** e"


def test_a_dotted_code_in_the_table_keeps_its_table_class() -> None:
    assert ae.error_class("InvalidSnapshot.InUse") is AlreadyExists  # not Conflict, which the ".InUse" suffix would give
    assert ae.error_class("InvalidVolume.ZoneMismatch") is Conflict


def test_the_not_found_suffix_wins_over_the_base_code() -> None:
    assert ae.error_class("Throttling.NotFound") is NotFound


def test_waiter_error_without_a_last_response_attribute() -> None:
    exc = bx.WaiterError(name="W", reason="Max attempts exceeded", last_response={})
    del exc.last_response
    assert type(_t(exc)) is Timeout


def test_an_unknown_code_in_a_5xx_answer_is_judged_by_its_status() -> None:
    assert ae._answer_reached(503, {"Error": {"Code": "SomethingNew"}}) is False  # a 503 is throttling
    assert ae._answer_reached(500, {"Error": {"Code": "SomethingNew"}}) is True


def test_a_throttling_code_in_a_500_answer_was_not_applied() -> None:
    exc = bx.ClientError({"Error": {"Code": "SlowDown", "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": 500}}, "Op")  # type: ignore[typeddict-item]
    err = _t(exc)
    assert (type(err), err.may_have_been_applied, err.message) == (Throttled, False, "op: m (SlowDown)")


def test_only_trailing_periods_are_dropped_before_the_applied_text() -> None:
    exc = OSError(27, "file too large: MAX.")
    setattr(exc, ae.MAYBE_APPLIED, True)
    assert _t(exc).message == f"op: file too large: MAX. {ae.MAYBE_APPLIED_TEXT}"
