"""The one place the local provider turns native errors (sqlite3, OSError) into cloudkit errors."""

from __future__ import annotations

import errno
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

from cloudkit.errors import CloudkitError, Conflict, NotFound, PermissionDenied, ProviderError, QuotaExceeded

PROVIDER = "local"


def translate(exc: BaseException, operation: str) -> CloudkitError:
    """The cloudkit error for a native ``exc`` raised while doing ``operation``."""
    if isinstance(exc, CloudkitError):
        return exc
    if isinstance(exc, sqlite3.IntegrityError):
        return Conflict(f"{operation}: conflicting change ({exc})", provider=PROVIDER)
    if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
        return Conflict(f"{operation}: the metadata database is busy", provider=PROVIDER)
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


@contextmanager
def mapped(operation: str) -> Iterator[None]:
    """Run a block, re-raising sqlite3 and OS errors as cloudkit errors (native error as ``__cause__``)."""
    try:
        yield
    except CloudkitError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise translate(exc, operation) from exc
