"""Pins cloudkit_local.errors: errno, sqlite3, subprocess and psycopg errors map to the right cloudkit error."""

from __future__ import annotations

import errno
import sqlite3
import subprocess

import pytest
from cloudkit_local import errors as le

from cloudkit.errors import (
    AuthenticationError,
    CloudkitError,
    Conflict,
    NotFound,
    PermissionDenied,
    ProviderError,
    QuotaExceeded,
    Timeout,
)


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        (errno.ENOENT, NotFound),
        (errno.EACCES, PermissionDenied),
        (errno.EPERM, PermissionDenied),
        (errno.ENOSPC, QuotaExceeded),
        (errno.EDQUOT, QuotaExceeded),
        (errno.EIO, ProviderError),
    ],
)
def test_errno_mapping(code: int, kind: type[CloudkitError]) -> None:
    err = le.translate(OSError(code, "why it failed"), "op")
    assert type(err) is kind
    assert err.message == "op: why it failed"
    assert err.provider == "local"


def test_oserror_without_strerror_uses_its_text() -> None:
    err = le.translate(OSError("plain text"), "op")
    assert type(err) is ProviderError
    assert err.message == "op: plain text"


def test_sqlite_errors() -> None:
    err = le.translate(sqlite3.IntegrityError("UNIQUE failed"), "put")
    assert type(err) is Conflict
    assert err.message == "put: conflicting change (UNIQUE failed)"
    busy = le.translate(sqlite3.OperationalError("database is locked"), "put")
    assert type(busy) is Conflict
    assert busy.message == "put: the metadata database is busy"
    other = le.translate(sqlite3.OperationalError("no such table"), "put")
    assert type(other) is ProviderError
    assert other.message == "put: no such table"
    assert other.provider == "local"


def test_cloudkit_error_passes_through() -> None:
    original = NotFound("gone")
    assert le.translate(original, "op") is original


def test_subprocess_timeout_names_the_tool() -> None:
    err = le.translate(subprocess.TimeoutExpired(["/usr/bin/pg_ctl", "start"], 2.5), "start")
    assert type(err) is Timeout
    assert err.message == "start: /usr/bin/pg_ctl did not finish in 2.5s"
    assert err.provider == "local"
    text = le.translate(subprocess.TimeoutExpired("initdb -D x", 3), "init")
    assert text.message == "init: initdb -D x did not finish in 3s"


def test_called_process_error_names_the_real_tool_and_the_last_lines() -> None:
    exc = subprocess.CalledProcessError(2, ["/usr/bin/setpriv", "--reuid", "pg", "--", "/usr/lib/pg/initdb", "-D", "x"],
                                        stderr=b"one\ntwo\nthree\nfour\n")
    err = le.translate(exc, "create")
    assert type(err) is ProviderError
    assert err.message == "create: initdb exited with status 2: two three four"
    assert err.provider == "local"
    plain = le.translate(subprocess.CalledProcessError(1, "tar", output="bad"), "x")
    assert plain.message == "x: tar exited with status 1: bad"
    setpriv_only = le.translate(subprocess.CalledProcessError(1, ["setpriv", "x"], stderr="e"), "x")
    assert setpriv_only.message == "x: setpriv exited with status 1: e"
    nothing = le.translate(subprocess.CalledProcessError(1, ["ls"]), "x")
    assert nothing.message == "x: ls exited with status 1: "


def test_pg_ctl_giving_up_waiting_is_a_timeout() -> None:
    exc = subprocess.CalledProcessError(1, ["pg_ctl", "start"], stderr="pg_ctl: server did not start in time\n")
    err = le.translate(exc, "start")
    assert type(err) is Timeout
    assert err.message == "start: pg_ctl: server did not start in time"
    other = le.translate(subprocess.CalledProcessError(1, ["initdb"], stderr="not in time"), "start")
    assert type(other) is ProviderError


def _psycopg_error(message: str, sqlstate: str | None) -> Exception:
    cls = type("OperationalError", (Exception,), {"__module__": "psycopg.errors", "sqlstate": sqlstate})
    return cls(message)  # type: ignore[no-any-return]


def test_psycopg_errors_by_sqlstate_and_text() -> None:
    auth = le.translate(_psycopg_error("FATAL: boom", "28P01"), "connect")
    assert type(auth) is AuthenticationError
    assert auth.message == "connect: the database refused the credentials"
    assert "boom" not in str(auth)
    by_text = le.translate(_psycopg_error("password authentication failed for user x", None), "connect")
    assert type(by_text) is AuthenticationError
    other = le.translate(_psycopg_error("first line\nsecond", "57P01"), "query")
    assert type(other) is ProviderError
    assert other.message == "query: OperationalError: first line"
    assert other.code == "57P01"
    empty = le.translate(_psycopg_error("", None), "query")
    assert empty.message == "query: OperationalError: OperationalError"
    assert empty.code is None
    assert empty.provider == "local"


def test_anything_else_is_a_provider_error() -> None:
    err = le.translate(RuntimeError("odd"), "op")
    assert type(err) is ProviderError
    assert err.message == "op: odd"
    assert err.provider == "local"


def test_translate_error_only_takes_native_errors() -> None:
    mixin = le.LocalErrors()
    assert isinstance(mixin.translate_error(OSError(errno.ENOENT, "x"), "op"), NotFound)
    assert isinstance(mixin.translate_error(sqlite3.DatabaseError("x"), "op"), ProviderError)
    assert isinstance(mixin.translate_error(subprocess.SubprocessError("x"), "op"), ProviderError)
    assert isinstance(mixin.translate_error(_psycopg_error("x", None), "op"), ProviderError)
    assert mixin.translate_error(KeyError("x"), "op") is None


def test_mapped_reraises_native_errors_with_cause_and_leaves_others() -> None:
    native = OSError(errno.EACCES, "denied")
    with pytest.raises(PermissionDenied) as info, le.mapped("write"):
        raise native
    assert info.value.__cause__ is native
    assert info.value.message == "write: denied"
    with pytest.raises(KeyError), le.mapped("write"):
        raise KeyError("bug")
    gone = NotFound("gone")
    with pytest.raises(NotFound) as kept, le.mapped("write"):
        raise gone
    assert kept.value is gone


def test_every_mapped_error_names_the_local_provider() -> None:
    cases = [
        sqlite3.IntegrityError("x"),
        sqlite3.OperationalError("database is locked"),
        subprocess.CalledProcessError(1, ["pg_ctl"], stderr="did not start in time"),
        _psycopg_error("FATAL", "28P01"),
    ]
    for exc in cases:
        assert le.translate(exc, "op").provider == "local"


def test_called_process_error_edge_cases() -> None:
    empty = le.translate(subprocess.CalledProcessError(3, []), "x")
    assert empty.message == "x: a command exited with status 3: "
    undecodable = le.translate(subprocess.CalledProcessError(1, ["tool"], stderr=b"bad \xff byte"), "x")
    assert undecodable.message == "x: tool exited with status 1: bad \ufffd byte"


def test_psycopg_error_without_sqlstate_attribute() -> None:
    cls = type("InterfaceError", (Exception,), {"__module__": "psycopg"})
    err = le.translate(cls("connection lost"), "query")
    assert type(err) is ProviderError
    assert err.code is None
    assert err.message == "query: InterfaceError: connection lost"


def test_translate_error_passes_the_operation() -> None:
    err = le.LocalErrors().translate_error(OSError(errno.ENOENT, "missing"), "get_object")
    assert err is not None
    assert err.message == "get_object: missing"
