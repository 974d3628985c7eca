"""The libcloud test harness: modes, vcrpy cassettes, and what is kept out of them.

Each backend (Azurite, PowerDNS, moto) runs in one of three modes:

* **replay** (default): every HTTP exchange comes from ``tests/cassettes/libcloud``; no server is
  started, nothing listens. A request the cassette does not hold fails the test.
* **live**: ``CLOUDKIT_LIBCLOUD_LIVE=1`` (or ``CLOUDKIT_CI=1``) and the server's binary is
  installed -- the server is started on 127.0.0.1 and the tests talk to it; cassettes are untouched.
* **record**: ``CLOUDKIT_RECORD=1`` -- as live, and every cassette of the tests run is rewritten::

      CLOUDKIT_RECORD=1 .venv/bin/pytest tests/libcloud

Requests match on method, host, path and query (not the port: live servers run on free ports).
Before anything is written, credentials headers (``Authorization``, ``X-API-Key``, dates and
content hashes) and signed or random query parameters (SAS and SigV4 signatures, EC2 client
tokens) are dropped, and EC2 private key material is replaced by a placeholder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import vcr

ROOT = Path(__file__).resolve().parents[2]
CASSETTES = ROOT / "tests" / "cassettes" / "libcloud"

FILTERED_HEADERS = [
    "authorization",
    "x-api-key",
    "x-ms-date",
    "x-amz-date",
    "x-amz-content-sha256",
    "x-amz-security-token",
    "user-agent",
]
FILTERED_QUERY = [
    "ClientToken",
    "PublicKeyMaterial",
    "X-Amz-Date",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Expires",
    "st",
    "se",
    "sig",
    "Signature",
    "AWSAccessKeyId",
    "Timestamp",
]
#: Request bodies larger than this are not stored (replay does not match on bodies).
MAX_STORED_REQUEST_BODY = 64 * 1024
_KEY_MATERIAL = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
PRIVATE_KEY_PLACEHOLDER = b"-----BEGIN RSA PRIVATE KEY-----\nREDACTED\n-----END RSA PRIVATE KEY-----"


def mode(binary_present: bool) -> str:
    """``record``, ``live`` or ``replay`` for a backend whose server is (not) installed."""
    if os.environ.get("CLOUDKIT_RECORD") == "1":
        return "record" if binary_present else "replay"
    if binary_present and (os.environ.get("CLOUDKIT_LIBCLOUD_LIVE") == "1" or os.environ.get("CLOUDKIT_CI")):
        return "live"
    return "replay"


def _scrub_request(request: Any) -> Any:
    body = request.body
    if body is not None and not isinstance(body, (bytes, str)):
        request.body = b"<streamed body not stored>"
    elif body is not None and len(body) > MAX_STORED_REQUEST_BODY:
        request.body = b"<large body not stored>"
    return request


def _scrub_response(response: dict[str, Any]) -> dict[str, Any]:
    body = response.get("body", {}).get("string")
    if isinstance(body, bytes) and b"PRIVATE KEY" in body:
        response["body"]["string"] = _KEY_MATERIAL.sub(PRIVATE_KEY_PLACEHOLDER, body)
    headers = response.get("headers", {})
    for name in list(headers):
        if name.lower() in ("x-amz-id-2", "x-amzn-requestid", "x-ms-request-id", "x-amz-request-id"):
            headers.pop(name)
    return response


def make_vcr(record: bool) -> vcr.VCR:
    """The VCR of the libcloud tests (replay: ``record_mode='none'``; record: ``'all'``)."""
    return vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        match_on=["method", "scheme", "host", "path", "query"],
        filter_headers=FILTERED_HEADERS,
        filter_query_parameters=FILTERED_QUERY,
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )


def cassette_path(nodeid: str) -> str:
    """``<module without test_>/<test name>.yaml`` for a pytest node id (class names kept)."""
    path, _, rest = nodeid.partition("::")
    module = Path(path).stem.removeprefix("test_")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", rest.replace("::", ".")).strip("_")
    return f"{module}/{name}.yaml"
