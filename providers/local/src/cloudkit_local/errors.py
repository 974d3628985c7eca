"""The one place the local provider turns native errors (sqlite3, OSError) into cloudkit errors.

Every local service class inherits :class:`LocalErrors`, so the core applies :func:`translate`
around each driver call and each listing's iteration (see :mod:`cloudkit.provider`). :func:`mapped`
is kept where the message needs local context or an error is caught and acted upon in the driver
(cleanup, background threads, recovery).
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

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
from cloudkit.provider import TranslatedService

PROVIDER = "local"


def _native(exc: BaseException) -> bool:
    """Whether ``exc`` is one of the errors this provider's stack raises (sqlite3, OS, subprocess, psycopg)."""
    return isinstance(exc, (sqlite3.Error, OSError, subprocess.SubprocessError)) or type(exc).__module__.startswith("psycopg")


def translate(exc: BaseException, operation: str) -> CloudkitError:
    """The cloudkit error for a native ``exc`` raised while doing ``operation``."""
    if isinstance(exc, CloudkitError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict(f"{operation}: conflicting change ({exc})", provider=PROVIDER)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return Conflict(f"{operation}: the metadata database is busy", provider=PROVIDER)
    if isinstance(exc, subprocess.TimeoutExpired):
        return Timeout(f"{operation}: {exc.cmd[0] if isinstance(exc.cmd, list) else exc.cmd} did not finish in {exc.timeout:g}s",
                       provider=PROVIDER)
    if isinstance(exc, subprocess.CalledProcessError):
        argv = [str(a) for a in exc.cmd] if isinstance(exc.cmd, (list, tuple)) else [str(exc.cmd)]
        if argv and argv[0].endswith("setpriv") and "--" in argv:  # run as another user: name the real tool
            argv = argv[argv.index("--") + 1:]
        tool = argv[0].rsplit("/", 1)[-1] if argv else "a command"
        detail = (exc.stderr or exc.output or "")
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        tail = " ".join(str(detail).strip().splitlines()[-3:])
        if tool == "pg_ctl" and "in time" in tail:  # pg_ctl -w -t gave up waiting: the server may still come up
            return Timeout(f"{operation}: {tail}", provider=PROVIDER)
        return ProviderError(f"{operation}: {tool} exited with status {exc.returncode}: {tail}", provider=PROVIDER)
    if type(exc).__module__.startswith("psycopg"):
        sqlstate = getattr(exc, "sqlstate", None) or ""
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if sqlstate == "28P01" or "password authentication failed" in text:
            return AuthenticationError(f"{operation}: the database refused the credentials", provider=PROVIDER)
        return ProviderError(f"{operation}: {type(exc).__name__}: {text}", provider=PROVIDER, code=sqlstate or None)
    if isinstance(exc, OSError):
        code = exc.errno
        reason = exc.strerror or str(exc)
        if code == errno.ENOENT:
            return NotFound(f"{operation}: {reason}", provider=PROVIDER)
        if code in (errno.EACCES, errno.EPERM):
            return PermissionDenied(f"{operation}: {reason}", provider=PROVIDER)
        if code in (errno.ENOSPC, errno.EDQUOT):
            return QuotaExceeded(f"{operation}: {reason}", provider=PROVIDER)
        return ProviderError(f"{operation}: {reason}", provider=PROVIDER)
    return ProviderError(f"{operation}: {exc}", provider=PROVIDER)


class LocalErrors(TranslatedService):
    """Mixin of every local service: sqlite3, OS, subprocess and psycopg errors translated by the core."""

    def translate_error(self, exc: BaseException, operation: str) -> CloudkitError | None:
        """:func:`translate` for the local stack's errors; ``None`` for anything else (a driver bug)."""
        return translate(exc, operation) if _native(exc) else None


@contextmanager
def mapped(operation: str) -> Iterator[None]:
    """Run a block, re-raising sqlite3 and OS errors as cloudkit errors (native error as ``__cause__``)."""
    try:
        yield
    except CloudkitError:
        raise
    except Exception as exc:
        if _native(exc):  # psycopg is imported only where PostgreSQL is used, so it is matched by module
            raise translate(exc, operation) from exc
        raise
