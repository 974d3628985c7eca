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

Before anything is written, cassettes are cleaned: the ``Authorization``, ``X-Amz-Date``,
``X-Amz-Security-Token``, ``X-Amz-Content-SHA256`` and SDK headers are dropped, signed query
parameters removed, access key ids and the account id replaced, and large request bodies (which
replay never needs: requests match on method, path, query and the ``Action`` form field) omitted.
``test_cassette_secrets.py`` scans every cassette afterwards.
"""

from __future__ import annotations

import copy
import json
import os
import re
import socket
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import vcr
from vcr.request import Request

ROOT = Path(__file__).resolve().parents[2]
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

#: Request bodies larger than this are not stored (replay does not match on bodies).
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


def _form(request: Request) -> dict[str, list[str]]:
    ctype = request.headers.get("Content-Type") or ""
    if isinstance(ctype, bytes):
        ctype = ctype.decode("latin-1")
    if request.method != "POST" or "x-www-form-urlencoded" not in ctype:
        return {}
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    if not isinstance(body, str):
        return {}
    return parse_qs(body)


def action_matcher(r1: Request, r2: Request) -> None:
    """Query-protocol services (EC2, SNS, RDS, EB) all POST to ``/``: match on the ``Action`` field."""
    a1, a2 = _form(r1).get("Action"), _form(r2).get("Action")
    if a1 != a2:
        raise AssertionError(f"Action {a1} != {a2}")


def _replace(data: bytes, secrets: Iterable[bytes]) -> bytes:
    for secret in secrets:
        if secret:
            data = data.replace(secret, ACCOUNT_PLACEHOLDER.encode() if secret.isdigit() else b"REDACTED")
    data = _PRIVATE_KEY.sub(PRIVATE_KEY_PLACEHOLDER, data)
    return _KEY_ID.sub(b"REDACTED", data)


class Scrubber:
    """Removes account ids and access keys from requests and responses before they are stored."""

    def __init__(self, account_ids: Iterable[str] = (), key_ids: Iterable[str] = ()) -> None:
        self.secrets = [s.encode() for s in (*account_ids, *key_ids) if s and s != ACCOUNT_PLACEHOLDER]

    def request(self, request: Request) -> Request:
        request.uri = _replace(request.uri.encode(), self.secrets).decode()
        body = request.body
        if hasattr(body, "read"):
            body = body.read()
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            if len(body) > MAX_STORED_REQUEST_BODY:
                request.headers["X-Cloudkit-Omitted-Body"] = str(len(body))
                body = b""
            body = _SECRET_FORM_FIELD.sub(rb"\1REDACTED", _replace(body, self.secrets))
            if request._was_file:  # keep the shape vcrpy expects
                request._body = body
            else:
                request.body = body
        return request

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        response = copy.deepcopy(response)
        body = response.get("body", {}).get("string")
        if isinstance(body, str):
            body = body.encode()
        if isinstance(body, bytes):
            response["body"]["string"] = _replace(body, self.secrets)
        headers = response.get("headers", {})
        for name in list(headers):
            if name.lower() in FILTERED_HEADERS:
                del headers[name]
            else:
                headers[name] = [_replace(str(v).encode(), self.secrets).decode() for v in headers[name]]
        return response


def make_vcr(record: bool, scrubber: Scrubber) -> vcr.VCR:
    """The VCR every aws test uses (replay: ``record_mode='none'``; record: ``'all'``)."""
    recorder = vcr.VCR(
        cassette_library_dir=str(CASSETTES),
        record_mode="all" if record else "none",
        match_on=["method", "path", "query", "action"],
        filter_headers=FILTERED_HEADERS,
        filter_query_parameters=FILTERED_QUERY,
        before_record_request=scrubber.request,
        before_record_response=scrubber.response,
        decode_compressed_response=True,
    )
    recorder.register_matcher("action", action_matcher)
    return recorder


def cassette_path(nodeid: str) -> str:
    """``<module without test_>/<test name>.yaml`` for a pytest node id (class names kept)."""
    path, _, rest = nodeid.partition("::")
    module = Path(path).stem.removeprefix("test_")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", rest.replace("::", ".")).strip("_")
    return f"{module}/{name}.yaml"


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
