"""Pins the "may have been applied" tracking of cloudkit_aws.errors.

``note_attempt`` (botocore's ``needs-retry`` handler) remembers in the request context that one
attempt failed after AWS received it; ``translate`` then marks the call's error and appends
``MAYBE_APPLIED_TEXT`` to its message. These pins drive the handler and the translator with the
objects botocore passes (``request_dict``, ``(http, parsed)`` answers, exceptions), offline.
"""

from __future__ import annotations

from typing import Any

import boto3.exceptions as b3x
import botocore.exceptions as bx
import pytest
import urllib3.exceptions as u3x
from cloudkit_aws import errors as ae

from cloudkit.errors import CloudkitError, NotFound, ProviderError, Throttled, Timeout

URL = "http://127.0.0.1:9"
FLAG = "cloudkit_may_have_been_applied"
TEXT = (
    "The call failed after its request was sent, so its effect may have been applied: "
    "check the resource before repeating a call that is not idempotent."
)


class _Http:
    def __init__(self, status_code: int) -> None:
        self.status_code = status_code


def _answer(status: int, code: str | None = None) -> tuple[_Http, dict[str, Any]]:
    parsed: dict[str, Any] = {"ResponseMetadata": {"HTTPStatusCode": status}}
    if code is not None:
        parsed["Error"] = {"Code": code, "Message": "m"}
    return _Http(status), parsed


def _client_error(status: int, code: str, **meta: Any) -> bx.ClientError:
    response: dict[str, Any] = {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status, **meta}}
    return bx.ClientError(response, "Op")  # type: ignore[arg-type]


def test_the_constants() -> None:
    assert ae.MAYBE_APPLIED == FLAG
    assert ae.MAYBE_APPLIED_TEXT == TEXT


@pytest.mark.parametrize(
    ("status", "code", "reached"),
    [
        (499, None, False),
        (500, None, True),
        (502, None, True),
        (503, None, False),  # a bodiless 503 is S3's SlowDown: throttled, not processed
        (503, "ServiceUnavailable", True),
        (500, "SlowDown", False),
        (500, "Throttling", False),
        (404, "InternalError", False),
        (0, None, False),
    ],
)
def test_which_answers_reached_the_service(status: int, code: str | None, reached: bool) -> None:
    http, parsed = _answer(status, code)
    assert ae._answer_reached(status, parsed) is reached
    assert ae._reached_server((http, parsed), None) is reached


def test_answer_reached_with_a_parsed_body_that_is_not_a_dict() -> None:
    assert ae._answer_reached(500, b"<html>") is True
    assert ae._answer_reached(503, b"<html>") is False
    assert ae._answer_reached(503, {"Error": None}) is False
    assert ae._answer_reached(500, {"Error": {"Code": None}}) is True


@pytest.mark.parametrize(
    ("exc", "reached"),
    [
        (bx.EndpointConnectionError(endpoint_url=URL), False),
        (bx.ConnectTimeoutError(endpoint_url=URL), False),
        (bx.ProxyConnectionError(proxy_url=URL, error="refused"), False),
        (bx.SSLError(endpoint_url=URL, error="bad cert"), False),
        (bx.ReadTimeoutError(endpoint_url=URL), True),
        (bx.ConnectionClosedError(endpoint_url=URL), True),
        (bx.HTTPClientError(error="reset"), True),
        (ConnectionResetError(104, "reset"), True),
        (ValueError("not transport"), False),
    ],
)
def test_which_exceptions_came_after_the_request_was_sent(exc: BaseException, reached: bool) -> None:
    assert ae._exception_reached(exc) is reached
    assert ae._reached_server(None, exc) is reached
    # an exception decides even when an answer is passed along
    assert ae._reached_server(_answer(500), exc) is reached


def test_reached_server_without_answer_or_status() -> None:
    assert ae._reached_server(None, None) is False
    assert ae._reached_server((), None) is False
    assert ae._reached_server((object(), {"Error": {"Code": "InternalError"}}), None) is False
    assert ae._reached_server((_Http(None), {}), None) is False  # type: ignore[arg-type]


def test_note_attempt_flags_the_context_then_every_later_attempt() -> None:
    context: dict[str, Any] = {}
    request = {"context": context}
    ok_http, ok_parsed = _answer(200)
    ae.note_attempt(request_dict=request, response=(ok_http, ok_parsed))
    assert context == {}
    assert ok_parsed == {"ResponseMetadata": {"HTTPStatusCode": 200}}

    http, parsed = _answer(500, "InternalError")
    ae.note_attempt(request_dict=request, response=(http, parsed))
    assert context == {FLAG: True}
    assert parsed["ResponseMetadata"] == {"HTTPStatusCode": 500, FLAG: True}

    refused = bx.EndpointConnectionError(endpoint_url=URL)
    ae.note_attempt(request_dict=request, caught_exception=refused)
    assert getattr(refused, FLAG) is True
    assert context == {FLAG: True}

    later: dict[str, Any] = {"Other": 1}
    ae.note_attempt(request_dict=request, response=(_Http(200), later))
    assert later == {"Other": 1, "ResponseMetadata": {FLAG: True}}
    ae.note_attempt(request_dict=request, response=(_Http(200), b"raw"))  # a body that is not a dict is left alone


def test_note_attempt_flags_an_exception_that_came_after_sending() -> None:
    context: dict[str, Any] = {}
    late = bx.ReadTimeoutError(endpoint_url=URL)
    ae.note_attempt(request_dict={"context": context}, response=None, caught_exception=late)
    assert context == {FLAG: True}
    assert getattr(late, FLAG) is True


def test_note_attempt_leaves_calls_that_never_reached_aws_alone() -> None:
    context: dict[str, Any] = {}
    refused = bx.EndpointConnectionError(endpoint_url=URL)
    ae.note_attempt(request_dict={"context": context}, caught_exception=refused)
    assert context == {}
    assert not hasattr(refused, FLAG)
    http, parsed = _answer(503)
    ae.note_attempt(request_dict={"context": context}, response=(http, parsed))
    assert context == {}
    assert parsed == {"ResponseMetadata": {"HTTPStatusCode": 503}}


def test_note_attempt_without_a_context_does_nothing() -> None:
    http, parsed = _answer(500)
    ae.note_attempt(request_dict={}, response=(http, parsed))
    ae.note_attempt(request_dict=None, response=(http, parsed))
    ae.note_attempt(response=(http, parsed))
    assert parsed == {"ResponseMetadata": {"HTTPStatusCode": 500}}
    ae.note_attempt({"context": {}}, None, None, extra="ignored")


def _fields(err: CloudkitError) -> tuple[type[CloudkitError], str, str | None, bool, tuple[Any, ...]]:
    return type(err), err.message, err.code, err.may_have_been_applied, err.args


def test_a_server_error_is_marked_and_says_so() -> None:
    err = ae.translate(_client_error(500, "InternalError"), "put")
    message = f"put: m (InternalError). {TEXT}"
    assert _fields(err) == (ProviderError, message, "InternalError", True, (message,))
    assert str(err) == message


def test_a_flag_from_an_earlier_attempt_marks_a_client_error() -> None:
    err = ae.translate(_client_error(404, "NoSuchKey", **{FLAG: True}), "get")
    message = f"get: m (NoSuchKey). {TEXT}"
    assert _fields(err) == (NotFound, message, "NoSuchKey", True, (message,))


def test_throttling_and_client_errors_are_not_marked() -> None:
    assert _fields(ae.translate(_client_error(503, "SlowDown"), "put")) == (Throttled, "put: m (SlowDown)", "SlowDown", False, ("put: m (SlowDown)",))
    assert ae.translate(_client_error(404, "NoSuchKey"), "get").may_have_been_applied is False
    no_meta = bx.ClientError({"Error": {"Code": "NoSuchKey"}}, "Op")  # type: ignore[typeddict-item]
    assert ae.translate(no_meta, "get").may_have_been_applied is False


def test_a_flag_set_on_the_exception_marks_it() -> None:
    exc = bx.EndpointConnectionError(endpoint_url=URL)
    assert ae.translate(exc, "op").may_have_been_applied is False
    setattr(exc, FLAG, True)
    err = ae.translate(exc, "op")
    assert err.may_have_been_applied is True
    assert err.message == f'op: could not reach the AWS endpoint (EndpointConnectionError: Could not connect to the endpoint URL: "{URL}"). {TEXT}'


def test_a_read_timeout_is_marked() -> None:
    err = ae.translate(bx.ReadTimeoutError(endpoint_url=URL), "op")
    message = f"op: the AWS endpoint did not answer in time. {TEXT}"
    assert _fields(err) == (Timeout, message, "ReadTimeoutError", True, (message,))


def test_only_the_aws_stacks_transport_errors_count() -> None:
    # an OSError of the caller's own (a file that cannot be read) happened before anything was sent
    err = ae.translate(ConnectionResetError(104, "reset"), "op")
    assert (err.may_have_been_applied, err.message) == (False, "op: reset")
    urllib3_err = ae.translate(u3x.ProtocolError("Connection aborted."), "op")
    assert urllib3_err.may_have_been_applied is False  # not an HTTPClientError nor an OSError


def test_the_chain_of_causes_and_contexts_is_walked() -> None:
    wrapped = b3x.S3UploadFailedError("Failed to upload x: boom")
    wrapped.__cause__ = bx.ReadTimeoutError(endpoint_url=URL)
    assert ae._maybe_applied(wrapped) is True
    by_context = b3x.S3UploadFailedError("Failed to upload x: boom")
    by_context.__context__ = _client_error(500, "InternalError")
    assert ae._maybe_applied(by_context) is True
    deep = RuntimeError("outer")
    middle = RuntimeError("middle")
    deep.__cause__ = middle
    middle.__cause__ = bx.ConnectionClosedError(endpoint_url=URL)
    assert ae._maybe_applied(deep) is True
    plain = RuntimeError("alone")
    assert ae._maybe_applied(plain) is False


def test_a_cycle_in_the_chain_ends_the_walk() -> None:
    first = RuntimeError("a")
    second = RuntimeError("b")
    first.__cause__ = second
    second.__cause__ = first
    assert ae._maybe_applied(first) is False


def test_a_response_attribute_that_is_not_a_dict_is_ignored() -> None:
    class Odd(Exception):
        response = "not a dict"

    assert ae._maybe_applied(Odd()) is False
    odd = Odd()
    odd.__cause__ = bx.ReadTimeoutError(endpoint_url=URL)
    assert ae._maybe_applied(odd) is True


def test_the_text_is_not_appended_twice_and_a_trailing_period_is_not_doubled() -> None:
    exc = _client_error(500, "InternalError")
    exc.response["Error"]["Message"] = f"already. {TEXT}"
    err = ae.translate(exc, "op")
    assert err.message == f"op: already. {TEXT} (InternalError)"
    assert err.may_have_been_applied is True
    dotted = OSError(28, "no space left.")
    setattr(dotted, FLAG, True)
    err = ae.translate(dotted, "op")
    assert (err.message, err.args) == (f"op: no space left. {TEXT}", (f"op: no space left. {TEXT}",))


def test_a_cloudkit_error_passes_through_unmarked() -> None:
    mine = NotFound("gone", provider="aws")
    setattr(mine, FLAG, True)
    assert ae.translate(mine, "op") is mine
    assert (mine.may_have_been_applied, mine.message) == (False, "gone")


@pytest.mark.parametrize(
    ("exc", "native"),
    [
        (bx.NoRegionError(), True),
        (b3x.S3UploadFailedError("x"), True),
        (u3x.ProtocolError("x"), True),
        (OSError("x"), False),
        (ValueError("x"), False),
    ],
)
def test_native_modules(exc: BaseException, native: bool) -> None:
    assert ae._native(exc) is native


def test_native_s3transfer_error() -> None:
    from s3transfer.exceptions import RetriesExceededError

    assert ae._native(RetriesExceededError(ValueError("x"))) is True
