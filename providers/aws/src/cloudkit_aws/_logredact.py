"""Secrets out of botocore's own DEBUG logs.

With DEBUG logging on, botocore's loggers write request parameters (an RDS master password),
request headers (``X-Amz-Security-Token``), the SigV4 canonical request and signature, and
response bodies (STS session tokens). :func:`install` wraps the process's log record factory so
that every record created by a ``botocore``, ``boto3``, ``s3transfer`` or ``urllib3`` logger
(their child loggers included) is formatted at once and its text redacted; the record then
carries no arguments, so no handler, filter or formatter -- also one configured after cloudkit
loaded -- can see the secret.

A record is only created when its logger is enabled for its level, so with DEBUG off the wrapper
costs nothing for those loggers and one name check for every other record. A program that later
installs its own record factory without calling the previous one also removes this one.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import Any

#: Top-level logger names whose records are redacted (children included).
LOGGERS = ("botocore", "boto3", "s3transfer", "urllib3")
MASK = "***"

_NAME = r"[\w.-]*(?:password|passwd|secret|token|signature|credential|authorization|private[_-]?key)[\w.-]*"
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Python reprs and JSON: 'MasterUserPassword': 'x', "SessionToken": "x", 'X-Amz-Security-Token': b'x'
    (re.compile(rf"""(['"])({_NAME})\1(\s*:\s*)b?(['"])(?:\\.|(?!\4).)*\4""", re.IGNORECASE | re.DOTALL), rf"\1\2\1\3'{MASK}'"),
    # XML elements: <SessionToken>x</SessionToken>
    (re.compile(rf"<({_NAME})(\s[^>]*)?>.*?</\1\s*>", re.IGNORECASE | re.DOTALL), rf"<\1\2>{MASK}</\1>"),
    # query strings, form bodies and header parameters: MasterUserPassword=x&, X-Amz-Signature=x, Signature=x
    (re.compile(rf"""(?<![\w.-])({_NAME})=[^&\s'"<>]*""", re.IGNORECASE), rf"\1={MASK}"),
    # header lines (canonical request, HTTP): x-amz-security-token:x / Authorization: x
    (re.compile(rf"^({_NAME})[ \t]*:[ \t]*\S.*$", re.IGNORECASE | re.MULTILINE), rf"\1:{MASK}"),
    # botocore.auth's "Signature:\n<hex>"
    (re.compile(r"(Signature:[ \t]*\r?\n)[0-9a-fA-F]+", re.IGNORECASE), rf"\1{MASK}"),
)

_lock = threading.Lock()


def redact(text: str) -> str:
    """``text`` with the values of password, secret, token, signature and credential fields masked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _covered(name: str) -> bool:
    return name.partition(".")[0] in LOGGERS


def _scrub(record: logging.LogRecord) -> None:
    try:
        text = record.getMessage()
    except Exception:  # arguments that do not fit the message: keep neither, they may hold a secret
        text = f"{record.msg!s} (log arguments withheld)"
    record.msg = redact(text)
    record.args = None


def install() -> None:
    """Wrap the log record factory so that records of :data:`LOGGERS` are redacted (idempotent)."""
    with _lock:
        current = logging.getLogRecordFactory()
        if getattr(current, "cloudkit_redacting", False):
            return

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = current(*args, **kwargs)
            if _covered(record.name):
                _scrub(record)
            return record

        factory.cloudkit_redacting = True  # type: ignore[attr-defined]
        logging.setLogRecordFactory(factory)
