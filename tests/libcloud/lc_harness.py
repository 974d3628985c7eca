"""The libcloud test harness: modes, vcrpy cassettes, and what is kept out of them.

Each backend (Azurite, PowerDNS, moto) runs in one of three modes:

* **replay** (default): every HTTP exchange comes from ``tests/cassettes/libcloud``; no server is
  started, nothing listens. A request the cassette does not hold fails the test.
* **live**: ``CLOUDKIT_LIBCLOUD_LIVE=1`` (or ``CLOUDKIT_CI=1``) and the server's binary is
  installed -- the server is started on 127.0.0.1 and the tests talk to it; cassettes are untouched.
* **record**: ``CLOUDKIT_RECORD=1`` -- as live, and every cassette of the tests run is rewritten::

      CLOUDKIT_RECORD=1 .venv/bin/pytest tests/libcloud

Replay is strict. A request matches a recorded one on method, scheme, host, path and query (not
the port: live servers run on free ports), on its **body** (JSON compared as data, XML in canonical
form, multipart boundaries and ``127.0.0.1:<port>`` normalised, bodies too large to store compared
by their SHA-256) and on the **headers that carry meaning** (content type, checksums, ranges,
user metadata, storage class, Azure blob properties). Every recorded exchange is played once
(``allow_playback_repeats=False``) and :func:`assert_all_played` fails a test that sent fewer
requests than were recorded. Recording deletes the old cassette first, so one cassette always
holds one recording, from one server (:func:`servers_in`).

Before anything is written, credentials headers (``Authorization``, ``X-API-Key``, dates and
content hashes of the signature) and signed or random query parameters (SAS and SigV4 signatures,
EC2 client tokens) are dropped, and EC2 private key material is replaced by a placeholder.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import lc_servers as servers
import vcr
from vcr.request import Request
from vcr.serialize import deserialize
from vcr.serializers import yamlserializer

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests") not in sys.path:  # scripts (tests/faults/measure_libcloud.py) import this harness outside pytest
    sys.path.insert(0, str(ROOT / "tests"))

import cassette_match as cm  # noqa: E402 - the matching shared with tests/aws/_harness.py
from cassette_match import UnplayedInteractions, cassette_path, large_body_placeholder  # noqa: E402, F401 - harness API

CASSETTES = ROOT / "tests" / "cassettes" / "libcloud"

#: Port named in replay mode (nothing listens there; vcrpy answers every request).
REPLAY_PORT = 9
#: The settings each backend is reached with in replay mode.
REPLAY_SETTINGS: dict[str, dict[str, Any]] = {
    "azurite": {"key": servers.AZURITE_ACCOUNT, "secret": servers.AZURITE_KEY, "host": "127.0.0.1",
                "port": REPLAY_PORT, "secure": False},
    "powerdns": {"key": "ck-test-api-key", "host": "127.0.0.1", "port": REPLAY_PORT, "secure": False,
                 "api_version": "v1"},
    "moto": {"key": "testing-key-id", "secret": "testing-secret-key", "host": "127.0.0.1", "port": REPLAY_PORT,
             "secure": False, "region": "us-east-1"},
}

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
#: Request bodies larger than this are stored as their length and SHA-256 (and matched on those).
MAX_STORED_REQUEST_BODY = 64 * 1024
_KEY_MATERIAL = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S)
PRIVATE_KEY_PLACEHOLDER = b"-----BEGIN RSA PRIVATE KEY-----\nREDACTED\n-----END RSA PRIVATE KEY-----"

#: Request headers compared on replay (besides every ``x-amz-meta-*``, ``x-ms-meta-*`` and ``x-ms-blob-*``).
MEANINGFUL_HEADERS = frozenset({
    "content-type", "content-md5", "content-encoding", "content-disposition", "content-language",
    "cache-control", "range", "x-ms-range", "x-amz-storage-class", "x-amz-acl", "x-amz-copy-source",
    "x-amz-copy-source-range", "x-amz-tagging", "x-amz-checksum-crc32", "x-amz-checksum-sha256",
    "x-amz-server-side-encryption", "x-ms-copy-source", "x-ms-access-tier", "x-ms-blob-condition-maxsize",
    "if-match", "if-none-match",
})
MEANINGFUL_HEADER_PREFIXES = ("x-amz-meta-", "x-ms-meta-", "x-ms-blob-")


def mode(binary_present: bool) -> str:
    """``record``, ``live`` or ``replay`` for a backend whose server is (not) installed."""
    if os.environ.get("CLOUDKIT_RECORD") == "1":
        return "record" if binary_present else "replay"
    if binary_present and (os.environ.get("CLOUDKIT_LIBCLOUD_LIVE") == "1" or os.environ.get("CLOUDKIT_CI")):
        return "live"
    return "replay"


_raw_body = cm.raw_body


def _scrub_request(request: Request) -> Request:
    body = _raw_body(request)
    if body is not None and len(body) > MAX_STORED_REQUEST_BODY:
        body = large_body_placeholder(body)
    # Stored as plain bytes whatever was sent (a file object would be written as a pickled BytesIO).
    request._was_file = False
    request._was_iter = False
    request.body = body
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


def _canonical_body(request: Request) -> Any:
    """The body as compared on replay: JSON as data, XML canonicalised, ports and boundaries normalised."""
    body = _raw_body(request)
    return cm.canonical_payload(request, body) if body else None


def body_matcher(r1: Request, r2: Request) -> None:
    """Bodies carry meaning: JSON (PowerDNS) and XML (block lists, multipart completion) and bytes."""
    if _raw_body(r1) == _raw_body(r2):
        return
    b1, b2 = _canonical_body(r1), _canonical_body(r2)
    if b1 != b2:
        raise AssertionError(f"body {cm.short(b1)} != recorded {cm.short(b2)}")


def meaningful_headers(request: Request) -> dict[str, str]:
    """The headers compared on replay, lower-cased, with loopback ports normalised."""
    return cm.meaningful_headers(request, MEANINGFUL_HEADERS, MEANINGFUL_HEADER_PREFIXES)


def headers_matcher(r1: Request, r2: Request) -> None:
    """Content type, checksums, ranges, metadata and blob properties must be the recorded ones."""
    cm.assert_same_headers(meaningful_headers(r1), meaningful_headers(r2))


MATCH_ON = ("method", "scheme", "host", "path", "query", "body_meaning", "headers_meaning")


def make_vcr(record: bool) -> vcr.VCR:
    """The VCR of the libcloud tests (replay: ``record_mode='none'``, strict; record: ``'all'``)."""
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        match_on=list(MATCH_ON),
        filter_headers=FILTERED_HEADERS,
        filter_query_parameters=FILTERED_QUERY,
        before_record_request=_scrub_request,
        before_record_response=_scrub_response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("body_meaning", body_matcher)
    recorder.register_matcher("headers_meaning", headers_matcher)
    return recorder


def use_cassette(record: bool, path: str, library: Path | None = None) -> Any:
    """The cassette at ``path`` (under ``library``, default :data:`CASSETTES`); each exchange plays once."""
    recorder = make_vcr(record)
    if library is not None:
        recorder.cassette_library_dir = str(library)
    return recorder.use_cassette(path, allow_playback_repeats=False)


def assert_all_played(cassette: Any) -> None:
    """Fail when a replayed cassette still holds exchanges nobody asked for (each listed)."""
    cm.assert_all_played(cassette, lambda req: f"{req.method} {req.uri}")


def load_requests(path: Path) -> list[Request]:
    """The recorded requests of one cassette file."""
    requests, _ = deserialize(path.read_text(encoding="utf-8"), yamlserializer)
    return list(requests)


def servers_in(requests: Iterable[Request]) -> set[str]:
    """The ``host:port`` endpoints a list of requests went to."""
    found = set()
    for request in requests:
        parts = urlsplit(request.uri)
        default = 443 if parts.scheme == "https" else 80
        found.add(f"{parts.hostname}:{parts.port or default}")
    return found

