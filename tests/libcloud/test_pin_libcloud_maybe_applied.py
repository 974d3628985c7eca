"""Pins ``may_have_been_applied`` of the libcloud provider's errors (cloudkit_libcloud.errors).

Which failed attempt may have been acted on (:func:`attempt_reached`), how the flag of an earlier
attempt reaches the error of the last one (:func:`noting_attempts`, used by the retry loop of
``build_driver``), and what :func:`translate` makes of it. The same behaviour behind a real proxy in
front of Azurite and PowerDNS is in ``tests/faults/test_pin_libcloud_applied_faults.py``.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from typing import Any

import pytest
import requests
import urllib3.exceptions as ux
from cloudkit_libcloud import errors as le
from cloudkit_libcloud._driver import build_driver
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import LibcloudError, MalformedResponseError
from libcloud.common.types import ProviderError as LCProviderError

from cloudkit.errors import CloudkitError, NotFound, ProviderError, Throttled, Timeout

APPLIED = ". " + le.MAYBE_APPLIED_TEXT


def _refused() -> requests.exceptions.ConnectionError:
    reason = ux.NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")  # type: ignore[arg-type]
    return requests.exceptions.ConnectionError(ux.MaxRetryError(None, "/", reason))  # type: ignore[arg-type]


def _reset() -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(ux.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset")))


@pytest.mark.parametrize(
    ("exc", "reached"),
    [
        # answers: a 5xx that is a plain server error may have been acted on; nothing else
        (BaseHTTPError(500, "boom"), True),
        (BaseHTTPError(503, "busy"), True),
        (BaseHTTPError(599, "odd"), True),
        (BaseHTTPError(499, "odd"), False),
        (BaseHTTPError(503, "SlowDown"), False),  # throttling: not processed
        (BaseHTTPError(429, "slow"), False),
        (BaseHTTPError(404, "gone"), False),
        (BaseHTTPError(500, "NoSuchKey"), False),  # read as a missing resource, not a server error
        (LCProviderError("LimitExceeded", 500), False),  # a quota
        (LCProviderError("internal", 500), True),
        (LCProviderError("no status", 999), False),
        (LibcloudError("Unexpected status code: 500"), True),
        (LibcloudError("status_code=502"), True),
        (LibcloudError("status code: 499"), False),
        (LibcloudError("Unexpected status code: 503"), False),  # Azure's ServerBusy: throttling
        (LibcloudError("Unexpected status code: 404"), False),
        (LibcloudError("something went wrong"), False),  # no status: not an answer we can judge
        (MalformedResponseError("garbled"), False),
        (RateLimitReachedError(), False),
        # transport: dropped after the request was on its way, or never sent
        (_reset(), True),
        (requests.exceptions.ConnectionError("dropped"), True),
        (requests.exceptions.ReadTimeout("late"), True),
        (requests.exceptions.ChunkedEncodingError("cut"), True),
        (http.client.RemoteDisconnected("closed"), True),
        (http.client.IncompleteRead(b"x"), True),
        (ConnectionResetError(104, "reset"), True),
        (BrokenPipeError(32, "pipe"), True),
        (TimeoutError("late"), True),
        (_refused(), False),
        (requests.exceptions.ConnectTimeout("no connection"), False),
        (requests.exceptions.SSLError("handshake"), False),
        (requests.exceptions.ProxyError("proxy"), False),
        (ConnectionRefusedError(111, "refused"), False),
        (socket.gaierror(-2, "unknown host"), False),
        (ssl.SSLError("handshake"), False),
        (OSError(5, "read failed"), False),  # the data source of an upload, not the network
        (KeyError("k"), False),
        (ProviderError("already translated"), False),
    ],
)
def test_attempt_reached(exc: BaseException, reached: bool) -> None:
    assert le.attempt_reached(exc) is reached


def test_a_flagged_error_keeps_its_fields_and_says_so() -> None:
    err = le.translate(BaseHTTPError(500, "boom."), "s3", "op")
    assert (type(err), err.message, err.args, err.code, err.provider, err.may_have_been_applied) == (
        ProviderError, "op: boom" + APPLIED, ("op: boom" + APPLIED,), "BaseHTTPError", "s3", True)
    assert str(err) == "op: boom" + APPLIED


def test_only_the_final_period_is_dropped_before_the_text() -> None:
    assert le.translate(BaseHTTPError(500, "ERROR_X"), "s3", "op").message == "op: ERROR_X" + APPLIED
    assert le.translate(BaseHTTPError(500, "done..."), "s3", "op").message == "op: done" + APPLIED


def test_an_unflagged_error_is_left_alone() -> None:
    err = le.translate(BaseHTTPError(404, "gone"), "s3", "op")
    assert (type(err), err.message, err.may_have_been_applied) == (NotFound, "op: gone", False)


def test_the_mark_of_an_earlier_attempt_flags_any_error() -> None:
    exc = BaseHTTPError(404, "gone")
    setattr(exc, le.MAYBE_APPLIED, True)
    err = le.translate(exc, "s3", "op")
    assert (type(err), err.message, err.may_have_been_applied) == (NotFound, "op: gone" + APPLIED, True)
    setattr(exc, le.MAYBE_APPLIED, False)
    assert le.translate(exc, "s3", "op").may_have_been_applied is False


def test_the_text_is_added_once() -> None:
    exc = BaseHTTPError(500, "boom. " + le.MAYBE_APPLIED_TEXT)
    err = le.translate(exc, "s3", "op")
    assert err.message == "op: boom. " + le.MAYBE_APPLIED_TEXT
    assert err.may_have_been_applied is True


def test_an_error_raised_while_handling_a_reset_is_flagged() -> None:
    try:
        try:
            raise _reset()
        except requests.exceptions.ConnectionError as first:
            raise KeyError("parse") from first
    except KeyError as exc:
        caught: BaseException = exc
    assert le.translate(caught, "s3", "op").may_have_been_applied is True
    try:
        try:
            raise _refused()
        except requests.exceptions.ConnectionError as first:
            raise KeyError("parse") from first
    except KeyError as exc:
        caught = exc
    assert le.translate(caught, "s3", "op").may_have_been_applied is False


def test_an_error_raised_implicitly_while_handling_a_reset_is_flagged() -> None:
    try:
        try:
            raise _reset()
        except requests.exceptions.ConnectionError:
            raise KeyError("parse")  # noqa: B904 - implicit chaining: only __context__ is set
    except KeyError as exc:
        caught: BaseException = exc
    assert caught.__cause__ is None
    assert le.translate(caught, "s3", "op").may_have_been_applied is True


def test_a_cycle_of_causes_ends() -> None:
    first, second = KeyError("a"), KeyError("b")
    first.__cause__, second.__cause__ = second, first
    assert le.translate(first, "s3", "op").may_have_been_applied is False


def test_cloudkit_errors_pass_through_untouched() -> None:
    original = ProviderError("op: boom")
    assert le.translate(original, "s3", "op") is original
    assert original.may_have_been_applied is False
    assert original.message == "op: boom"


def _attempts(*outcomes: BaseException | str) -> tuple[Any, list[int]]:
    """A retry-loop stand-in: call the noted attempt until one succeeds or the outcomes run out."""
    calls = [0]

    def attempt() -> str:
        outcome = outcomes[calls[0]]
        calls[0] += 1
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return le.noting_attempts(attempt), calls


def _last_error(*outcomes: BaseException | str) -> BaseException:
    noted, _ = _attempts(*outcomes)
    last: BaseException | None = None
    for _ in outcomes:
        try:
            noted()
        except Exception as exc:
            last = exc
    assert last is not None
    return last


def test_an_earlier_reached_attempt_marks_every_later_one() -> None:
    last = _last_error(_reset(), RateLimitReachedError(), RateLimitReachedError())
    assert getattr(last, le.MAYBE_APPLIED, False) is True
    err = le.translate(last, "powerdns", "dns.change_records")
    assert (type(err), err.may_have_been_applied) == (Throttled, True)
    assert err.message.endswith(APPLIED)


def test_attempts_that_never_reached_leave_no_mark() -> None:
    last = _last_error(_refused(), RateLimitReachedError(), _refused())
    assert not hasattr(last, le.MAYBE_APPLIED)
    assert le.translate(last, "s3", "op").may_have_been_applied is False


def test_a_reached_attempt_marks_its_own_exception() -> None:
    last = _last_error(requests.exceptions.ReadTimeout("late"))
    assert getattr(last, le.MAYBE_APPLIED, False) is True
    assert type(le.translate(last, "s3", "op")) is Timeout


def test_a_success_after_a_reset_is_returned() -> None:
    noted, calls = _attempts(_reset(), "answer")
    with pytest.raises(requests.exceptions.ConnectionError):
        noted()
    assert noted() == "answer"
    assert calls == [2]


def test_each_request_starts_unmarked() -> None:
    _last_error(_reset())
    fresh = _last_error(RateLimitReachedError())
    assert not hasattr(fresh, le.MAYBE_APPLIED)


def test_the_retry_loop_of_a_driver_notes_its_attempts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A PowerDNS driver whose first attempt is reset and whose next ones are refused: the last error is flagged."""
    from libcloud.utils import retry

    monkeypatch.setattr(retry.time, "sleep", lambda seconds: None)
    driver = build_driver("dns", "libcloud:powerdns", {"key": "k", "host": "127.0.0.1", "port": 1, "secure": False,
                                                       "retry_timeout": 0.5, "retry_delay": 0.0})
    outcomes: list[BaseException] = [_reset()]
    sent = [0]

    def fail(*args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        raise outcomes.pop(0) if outcomes else _refused()

    monkeypatch.setattr(driver.connection, "_retryable_request", fail)
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        driver.list_zones()
    assert sent[0] >= 2  # retried after the reset
    err = le.translate(caught.value, "libcloud:powerdns", "dns.list_zones")
    assert (type(err), err.may_have_been_applied) == (ProviderError, True)
    assert err.message == "dns.list_zones: cannot reach the provider (ConnectionError)" + APPLIED


def test_without_retries_the_last_attempt_alone_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    driver = build_driver("dns", "libcloud:powerdns", {"key": "k", "host": "127.0.0.1", "port": 1, "secure": False,
                                                       "retry_timeout": 0})
    monkeypatch.setattr(driver.connection, "_retryable_request", lambda *a, **k: (_ for _ in ()).throw(_refused()))
    with pytest.raises(requests.exceptions.ConnectionError) as caught:
        driver.list_zones()
    assert isinstance(le.translate(caught.value, "libcloud:powerdns", "op"), CloudkitError)
    assert le.translate(caught.value, "libcloud:powerdns", "op").may_have_been_applied is False
