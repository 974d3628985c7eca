"""The aws test harness: a moto server on loopback for recording, vcrpy cassettes for replay.

Modes (environment variable ``CLOUDKIT_RECORD``):

* unset or ``0`` -- **replay** (default): every HTTP exchange comes from ``tests/cassettes/aws``;
  no server, no network. A request the cassette does not hold fails the test.
* ``1`` -- **record against moto**: a moto server is started in-process on 127.0.0.1 on a free
  port (reset before each test) and every cassette of the tests run is rewritten::

      CLOUDKIT_RECORD=1 .venv/bin/pytest tests/aws

* ``aws`` -- **record against real AWS** with boto3's default credential chain (``AWS_PROFILE``,
  environment, SSO...) and region ``CLOUDKIT_AWS_REGION`` (default ``us-east-1``). Costs money.
  Set ``CLOUDKIT_RANDOM_NAMES=1`` too, because bucket names are global.

``CLOUDKIT_AWS_ENDPOINT=http://127.0.0.1:PORT`` records against a server you started yourself.

Replay is strict (:func:`make_vcr`, :data:`MATCH_ON`). A request matches a recorded one on method,
path and query, on its **body** -- query-protocol forms (EC2, SNS, RDS, Elastic Beanstalk) field by
field, random tokens and secrets aside; JSON as data; XML (Route 53 change batches, S3 lifecycle and
multipart documents) in canonical form without the random ``CallerReference``; zip and gzip
archives by what they hold (they carry the time they were made); other bytes as sent, multipart
boundaries and loopback ports normalised -- and on the **headers that carry meaning**
(content type, checksums, ranges, copy source, storage class, tagging, ``x-amz-meta-*``). Each
recorded exchange plays once, and :func:`assert_all_played` fails a test that sent fewer requests
than were recorded.

Before anything is written, cassettes are cleaned: the ``Authorization``, ``X-Amz-Date``,
``X-Amz-Security-Token``, ``X-Amz-Content-SHA256`` and SDK headers are dropped, signed query
parameters removed, access key ids, the account id and password/token form fields replaced, and
request bodies over :data:`MAX_STORED_REQUEST_BODY` stored as their length and SHA-256 (so they
still match). The same cleaning runs on every request replayed before it is compared.
``test_cassette_secrets.py`` scans every cassette afterwards.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import vcr
from vcr.request import Request

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT / "tests") not in sys.path:  # scripts (tests/faults/measure.py) import this harness outside pytest
    sys.path.insert(0, str(ROOT / "tests"))

import cassette_match as cm  # noqa: E402 - the matching shared with tests/libcloud/lc_harness.py
from cassette_match import UnplayedInteractions, cassette_path, large_body_placeholder  # noqa: E402, F401 - harness API

CASSETTES = ROOT / "tests" / "cassettes" / "aws"

#: What the account id becomes in every cassette.
ACCOUNT_PLACEHOLDER = "000000000000"
#: moto's account id (its default).
MOTO_ACCOUNT = "123456789012"
#: Fake credentials used for moto and for replay (moto accepts anything).
FAKE_KEY_ID = "testing"
FAKE_SECRET = "testing"
#: Endpoint named in replay mode (nothing listens; vcrpy answers every request).
REPLAY_ENDPOINT = "http://127.0.0.1:4566"
REGION = os.environ.get("CLOUDKIT_AWS_REGION", "us-east-1")

#: Request bodies larger than this are stored as their length and SHA-256 (and matched on those).
MAX_STORED_REQUEST_BODY = 64 * 1024

FILTERED_HEADERS = [
    "authorization",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "user-agent",
    "x-amz-id-2",
    "x-amzn-requestid",
    "x-amz-request-id",
]
FILTERED_QUERY = [
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Security-Token",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Algorithm",
    "AWSAccessKeyId",
    "Signature",
    "Expires",
]

_KEY_ID = re.compile(rb"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA)[A-Z0-9]{12,}\b")
_PRIVATE_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----\n?", re.DOTALL)
#: What private key material (EC2 CreateKeyPair) becomes in a cassette.
PRIVATE_KEY_PLACEHOLDER = b"REDACTED-PRIVATE-KEY"
#: Form fields of query-protocol requests whose values are secrets (RDS passwords, SNS confirm tokens).
_SECRET_FORM_FIELD = re.compile(rb"((?:^|&)(?:[A-Za-z0-9.]*Password|Token)=)[^&]*")
#: Signed query parameters of presigned URLs inside a response body (Elastic Beanstalk's log URLs): dropped whole.
_PRESIGNED_PARAM = re.compile(
    rb"(?:&amp;|&)(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)=[^&<\"\s]*"
    rb"|(?<=\?)(?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|AWSAccessKeyId)=[^&<\"\s]*(?:&amp;|&)?"
)


def mode() -> str:
    """``replay``, ``moto`` or ``aws``."""
    value = os.environ.get("CLOUDKIT_RECORD", "").strip().lower()
    if value in ("", "0", "no", "false"):
        return "replay"
    if value == "aws":
        return "aws"
    return "moto"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


#: The AMIs moto loads when recording (its full catalogue adds megabytes of snapshots to cassettes).
MOTO_AMI_IDS = ("ami-03cf127a", "ami-1e749f67", "ami-35e92e4c")


def _small_ami_catalogue() -> None:
    """Point moto at a few of its own AMIs (``MOTO_AMIS_PATH``, read when moto's EC2 loads)."""
    import gzip
    import importlib.util
    import tempfile

    spec = importlib.util.find_spec("moto")
    if spec is None or spec.origin is None or "MOTO_AMIS_PATH" in os.environ:
        return
    source = Path(spec.origin).parent / "ec2" / "resources" / "amis.json.gz"
    amis = [a for a in json.loads(gzip.decompress(source.read_bytes())) if a["ami_id"] in MOTO_AMI_IDS]
    fd, path = tempfile.mkstemp(prefix="cloudkit-moto-amis-", suffix=".json")
    with os.fdopen(fd, "w") as out:
        json.dump(amis, out)
    os.environ["MOTO_AMIS_PATH"] = path


def paginate_instance_types() -> None:
    """Make moto's DescribeInstanceTypes honour MaxResults/NextToken as EC2 does (default page: 100)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.instances import InstanceResponse

    original = InstanceResponse.describe_instance_types
    if getattr(original, "_cloudkit_paged", False):
        return

    def describe_instance_types(self: Any) -> ActionResult:
        everything = original(self).result["InstanceTypes"]  # type: ignore[index]
        size = int(self._get_param("MaxResults") or 100)
        start = int(self._get_param("NextToken") or 0)
        page: dict[str, Any] = {"InstanceTypes": everything[start : start + size]}
        if start + size < len(everything):
            page["NextToken"] = str(start + size)
        return ActionResult(page)

    describe_instance_types._cloudkit_paged = True  # type: ignore[attr-defined]
    InstanceResponse.describe_instance_types = describe_instance_types  # type: ignore[method-assign]


#: Instance families moto offers when recording (its full catalogue is ~900 types, megabytes a listing).
MOTO_INSTANCE_FAMILIES = ("t3", "m5", "c5")


def small_instance_type_catalogue() -> None:
    """Trim moto's instance type catalogue to a few families (a real catalogue, just shorter)."""
    from moto.ec2.models.instance_types import InstanceTypeBackend

    InstanceTypeBackend.instance_types = [
        t for t in InstanceTypeBackend.instance_types if t["InstanceType"].split(".")[0] in MOTO_INSTANCE_FAMILIES
    ]


def honour_client_tokens() -> None:
    """Make moto's RunInstances idempotent on ClientToken, as EC2 is (moto ignores the token)."""
    from moto.core.responses import ActionResult
    from moto.ec2.responses.instances import InstanceResponse

    original = InstanceResponse.run_instances
    if getattr(original, "_cloudkit_tokens", False):
        return

    def run_instances(self: Any) -> ActionResult:
        token = self._get_param("ClientToken")
        if token:
            for reservation in self.ec2_backend.reservations.values():
                if any(getattr(i, "client_token", None) == token for i in reservation.instances):
                    return ActionResult(reservation)  # the instances the first call started
        return original(self)

    run_instances._cloudkit_tokens = True  # type: ignore[attr-defined]
    InstanceResponse.run_instances = run_instances  # type: ignore[method-assign]


if mode() != "replay":
    _small_ami_catalogue()


class MotoServer:
    """moto's threaded server on 127.0.0.1 (in this process, so tests can extend it first).

    ``setup_hooks`` run once before the server starts (part of the harness API: a test module
    that needs moto to answer more actions appends a function here).
    """

    setup_hooks: list[Callable[[], None]] = [small_instance_type_catalogue, paginate_instance_types, honour_client_tokens]

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self._lock = threading.Lock()

    def start(self) -> MotoServer:
        """Start the server (runs the setup hooks first)."""
        from moto.server import ThreadedMotoServer

        for hook in self.setup_hooks:
            hook()
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        return self

    def reset(self) -> None:
        """Forget every resource (called outside any cassette, so it is never recorded)."""
        from moto.moto_api._internal.models import moto_api_backend

        with self._lock:
            moto_api_backend.reset()

    def stop(self) -> None:
        """Stop the server."""
        if self._server is not None:
            self._server.stop()
            self._server = None


# --------------------------------------------------------------------------- vcr

#: Form fields (last dotted part of the name) whose values are random or secret: never compared.
#: Secrets are redacted in cassettes anyway; client tokens are fresh UUIDs on every run, and the
#: conformance kit imports a key pair it generates afresh each run.
VOLATILE_FORM_FIELDS = re.compile(r"^(ClientToken|ClientRequestToken|Token|.*Password|PublicKeyMaterial)$")
#: Request headers compared on replay (besides every prefix in :data:`MEANINGFUL_HEADER_PREFIXES`).
MEANINGFUL_HEADERS = frozenset({
    "content-type", "content-md5", "content-encoding", "content-disposition", "content-language",
    "cache-control", "expires", "range", "if-match", "if-none-match", "if-modified-since",
    "x-amz-storage-class", "x-amz-acl", "x-amz-copy-source", "x-amz-copy-source-range",
    "x-amz-metadata-directive", "x-amz-tagging", "x-amz-tagging-directive", "x-amz-server-side-encryption",
    "x-amz-website-redirect-location", "x-amz-sdk-checksum-algorithm", "x-amz-trailer",
    "x-amz-decoded-content-length",
})
#: Header prefixes compared on replay: user metadata, checksums, object lock settings, grants.
MEANINGFUL_HEADER_PREFIXES = ("x-amz-meta-", "x-amz-checksum-", "x-amz-object-lock-", "x-amz-grant-")
#: The random reference Route 53 requires on CreateHostedZone (left out of the comparison).
_CALLER_REFERENCE = re.compile(r"<CallerReference>[^<]*</CallerReference>")
_LOOPBACK_PORT = cm.LOOPBACK_PORT
_LARGE_BODY = cm.LARGE_BODY
_raw_body = cm.raw_body
_header = cm.header


def _form(request: Request) -> dict[str, list[str]]:
    """The fields of a query-protocol (``application/x-www-form-urlencoded``) POST, else ``{}``."""
    if request.method != "POST" or "x-www-form-urlencoded" not in _header(request, "Content-Type"):
        return {}
    body = _raw_body(request)
    return parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True) if body else {}


def action_matcher(r1: Request, r2: Request) -> None:
    """Query-protocol services (EC2, SNS, RDS, EB) all POST to ``/``: match on the ``Action`` field."""
    a1, a2 = _form(r1).get("Action"), _form(r2).get("Action")
    if a1 != a2:
        raise AssertionError(f"Action {a1} != {a2}")


def canonical_form(request: Request) -> dict[str, list[str]]:
    """The form fields compared on replay: all but :data:`VOLATILE_FORM_FIELDS`, loopback ports normalised."""
    return {k: [_LOOPBACK_PORT.sub(r"\1:PORT", v) for v in vs] for k, vs in _form(request).items()
            if not VOLATILE_FORM_FIELDS.match(k.split(".")[-1])}


def canonical_body(request: Request, ignore_json_keys: frozenset[str] = frozenset()) -> Any:
    """The body as compared on replay: a form, JSON data, canonical XML, or bytes (see the module doc).

    ``ignore_json_keys``: keys left out of JSON objects at any depth (see :func:`make_vcr`).
    """
    body = _raw_body(request)
    if not body:
        return None
    if body.startswith(_LARGE_BODY):
        return ("large", body)
    if _form(request):
        return ("form", canonical_form(request))
    archive = _archive_content(body)
    if archive is not None:
        return archive
    return cm.canonical_payload(request, body, ignore_json_keys, lambda text: _CALLER_REFERENCE.sub("", text))


def _archive_content(body: bytes) -> tuple[str, Any] | None:
    """What a zip or gzip body holds (``None`` if it is neither).

    Archives built during a test (application versions, backup archives) carry the time they were
    made, so they are compared by what they hold: a zip by each member's name and SHA-256, a gzip
    stream by the SHA-256 of its decompressed bytes.
    """
    import gzip
    import io
    import zipfile
    import zlib

    try:
        if body.startswith(b"PK\x03\x04"):
            with zipfile.ZipFile(io.BytesIO(body)) as archive:
                return ("zip", [(i.filename, hashlib.sha256(archive.read(i)).hexdigest()) for i in archive.infolist()])
        if body.startswith(b"\x1f\x8b"):
            return ("gzip", hashlib.sha256(gzip.decompress(body)).hexdigest())
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, NotImplementedError):
        return None
    return None


def body_matcher(r1: Request, r2: Request, ignore_json_keys: frozenset[str] = frozenset()) -> None:
    """Bodies carry meaning: form fields, Route 53 / S3 XML, JSON, object bytes (see :func:`canonical_body`)."""
    if _raw_body(r1) == _raw_body(r2):
        return
    b1, b2 = canonical_body(r1, ignore_json_keys), canonical_body(r2, ignore_json_keys)
    if b1 == b2:
        return
    if b1 and b2 and b1[0] == b2[0] == "form":
        raise AssertionError(f"form fields differ (sent, recorded): {cm.short(cm.differing(b1[1], b2[1]), 600)}")
    raise AssertionError(f"body differs (sent, recorded): {_difference(b1, b2)}")


def _difference(sent: Any, recorded: Any, context: int = 80) -> str:
    """Where two canonical bodies first differ, with some context on each side."""
    t1, t2 = (v[1] if isinstance(v, tuple) and isinstance(v[1], str) else repr(v) for v in (sent, recorded))
    kinds = tuple(v[0] if isinstance(v, tuple) else None for v in (sent, recorded))
    at = next((i for i, (a, b) in enumerate(zip(t1, t2, strict=False)) if a != b), min(len(t1), len(t2)))
    start = max(0, at - context)
    return f"{kinds[0]} ...{t1[start:at + context]}... != {kinds[1]} ...{t2[start:at + context]}..."


def meaningful_headers(request: Request) -> dict[str, str]:
    """The headers compared on replay, lower-cased, boundaries and loopback ports normalised."""
    return cm.meaningful_headers(request, MEANINGFUL_HEADERS, MEANINGFUL_HEADER_PREFIXES)


def headers_matcher(r1: Request, r2: Request) -> None:
    """Content type, checksums, ranges, copy source, storage class and metadata must be the recorded ones."""
    h1, h2 = meaningful_headers(r1), meaningful_headers(r2)
    if _raw_body(r1) != _raw_body(r2):
        # The bodies differ only in what body_matcher normalises (archive time stamps, ports, ignored
        # JSON keys), so checksums of the bytes differ too: compare which checksums were sent, not values.
        for headers in (h1, h2):
            for name in headers:
                if name == "content-md5" or name.startswith("x-amz-checksum-"):
                    headers[name] = "<checksum of the body>"
    cm.assert_same_headers(h1, h2)


def _replace(data: bytes, secrets: Iterable[bytes]) -> bytes:
    for secret in secrets:
        if secret:
            data = data.replace(secret, ACCOUNT_PLACEHOLDER.encode() if secret.isdigit() else b"REDACTED")
    data = _PRIVATE_KEY.sub(PRIVATE_KEY_PLACEHOLDER, data)
    return _KEY_ID.sub(b"REDACTED", data)


class Scrubber:
    """Removes account ids, access keys and secret form fields from requests and responses.

    Runs on every request before it is stored and, in replay, before it is compared, so a
    recorded request and its replayed twin are cleaned the same way.
    """

    def __init__(self, account_ids: Iterable[str] = (), key_ids: Iterable[str] = ()) -> None:
        self.secrets = [s.encode() for s in (*account_ids, *key_ids) if s and s != ACCOUNT_PLACEHOLDER]

    def request(self, request: Request) -> Request:
        """Clean a request (large bodies become :func:`large_body_placeholder`, stored as plain bytes)."""
        request.uri = _replace(request.uri.encode(), self.secrets).decode()
        body = _raw_body(request)
        if body is not None:
            # Cleaned first, so that a large body's digest is the same in the recording and in replay.
            body = _SECRET_FORM_FIELD.sub(rb"\1REDACTED", _replace(body, self.secrets))
            if len(body) > MAX_STORED_REQUEST_BODY:
                body = large_body_placeholder(body)
        # Stored as plain bytes whatever was sent (a file object would be written as a pickled BytesIO).
        request._was_file = False
        request._was_iter = False
        request.body = body
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """Clean a response (body and headers)."""
        response = copy.deepcopy(response)
        body = response.get("body", {}).get("string")
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            response["body"]["string"] = _PRESIGNED_PARAM.sub(b"", _replace(body, self.secrets))
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in FILTERED_HEADERS:
                del headers[name]
            else:
                headers[name] = [_replace(str(v).encode(), self.secrets).decode() for v in headers[name]]
        return response


#: What a replayed request is matched on (the custom matchers are registered by :func:`make_vcr`).
MATCH_ON = ("method", "path", "query", "action", "body_meaning", "headers_meaning")


def make_vcr(record: bool, scrubber: Scrubber,
             before_record_request: Callable[[Request], Request | None] | None = None,
             ignore_json_keys: Iterable[str] = ()) -> vcr.VCR:
    """The VCR of the aws tests (replay: ``record_mode='none'``, strict; record: ``'all'``).

    ``before_record_request`` replaces ``scrubber.request`` (a wrapper that drops some requests and
    passes the others to the scrubber). ``ignore_json_keys`` names JSON keys whose values vary from
    run to run in a suite's bodies (left out of the comparison wherever they appear).
    """
    ignored = frozenset(ignore_json_keys)

    def body_meaning(r1: Request, r2: Request) -> None:
        body_matcher(r1, r2, ignored)

    body_meaning.__name__ = body_meaning.__qualname__ = "body_matcher"

    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        match_on=list(MATCH_ON),
        filter_headers=FILTERED_HEADERS,
        filter_query_parameters=FILTERED_QUERY,
        before_record_request=before_record_request or scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("action", action_matcher)
    recorder.register_matcher("body_meaning", body_meaning)
    recorder.register_matcher("headers_meaning", headers_matcher)
    return recorder


def describe(request: Request) -> str:
    """``METHOD path?query Action`` of a request, for failure messages."""
    action = _form(request).get("Action", [""])[0]
    query = f"?{request.parsed_uri.query}" if request.parsed_uri.query else ""
    return f"{request.method} {request.path}{query} {action}".rstrip()


def assert_all_played(cassette: Any) -> None:
    """Fail when a replayed cassette still holds exchanges nobody asked for (each listed)."""
    cm.assert_all_played(cassette, describe)


def recorded_requests(cassette: Any, method: str | None = None, path: str | None = None, action: str | None = None) -> int:
    """How many requests this test made so far (recorded, or replayed from ``cassette``) match the filters."""
    count = 0
    replaying = str(cassette.record_mode).lower().endswith("none")
    for index, (request, _) in enumerate(cassette.data):
        if replaying and not cassette.play_counts[index]:
            continue
        if method and request.method != method:
            continue
        if path and not re.search(path, request.path):
            continue
        if action and _form(request).get("Action") != [action]:
            continue
        count += 1
    return count


def settings_for(endpoint: str | None, replaying: bool) -> dict[str, Any]:
    """Provider settings for a test cloud."""
    settings: dict[str, Any] = {"region": REGION, "max_attempts": 2, "connect_timeout": 5, "read_timeout": 60}
    if endpoint:
        settings["endpoint_url"] = endpoint
    if replaying or endpoint:
        settings["waiter_delay"] = 0 if replaying else 0.2
    return settings


def dump(obj: Any) -> str:
    """JSON for assertion messages."""
    return json.dumps(obj, default=str, indent=1)
