"""botocore's DEBUG logs never carry a password, a session token, a secret key or a signature.

A stub AWS endpoint on 127.0.0.1 answers the requests, so every botocore stage runs and logs:
hooks, parameter building, SigV4 signing (canonical request, signature), the HTTP send (urllib3),
and response parsing. Canary values go in as the RDS master password and as the session's
credentials; the stub's STS answer carries canary credentials back. Every record any logger
creates is collected by a handler attached after cloudkit loaded, and its message, raw ``msg`` and
``args`` are scanned for every canary, in raw and URL-encoded form.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, quote_plus

import pytest

import cloudkit

CANARY_PASSWORD = "CanaryPw-5u&Zk!x9"
CANARY_KEY_ID = "AKIA" + "CANARYKEYID00001"  # assembled at run time: no tracked file holds key-shaped text
CANARY_SECRET = "CanarySecret/Key+9z0123456789abcdefABCDEF"
CANARY_TOKEN = "CanaryTok//session+token=0123456789abcdef"
CANARY_STS_TOKEN = "CanaryStsTok0123456789"
CANARY_STS_SECRET = "CanaryStsSecret0123456789"
CANARIES = (CANARY_PASSWORD, CANARY_SECRET, CANARY_TOKEN, CANARY_STS_TOKEN, CANARY_STS_SECRET)

RDS_CREATED = """<CreateDBInstanceResponse xmlns="http://rds.amazonaws.com/doc/2014-10-31/">
  <CreateDBInstanceResult><DBInstance>
    <DBInstanceIdentifier>ck-canary</DBInstanceIdentifier><DBInstanceClass>db.t3.micro</DBInstanceClass>
    <Engine>postgres</Engine><DBInstanceStatus>creating</DBInstanceStatus><MasterUsername>master</MasterUsername>
    <AllocatedStorage>20</AllocatedStorage><MultiAZ>false</MultiAZ><BackupRetentionPeriod>1</BackupRetentionPeriod>
    <DBInstanceArn>arn:aws:rds:us-east-1:123456789012:db:ck-canary</DBInstanceArn>
  </DBInstance></CreateDBInstanceResult>
  <ResponseMetadata><RequestId>5e1a0f3c-0000-0000-0000-000000000001</RequestId></ResponseMetadata>
</CreateDBInstanceResponse>"""

STS_TOKEN = f"""<GetSessionTokenResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetSessionTokenResult><Credentials>
    <AccessKeyId>ASIACANARY0000000001</AccessKeyId><SecretAccessKey>{CANARY_STS_SECRET}</SecretAccessKey>
    <SessionToken>{CANARY_STS_TOKEN}</SessionToken><Expiration>2030-01-01T00:00:00Z</Expiration>
  </Credentials></GetSessionTokenResult>
  <ResponseMetadata><RequestId>5e1a0f3c-0000-0000-0000-000000000002</RequestId></ResponseMetadata>
</GetSessionTokenResponse>"""


class _Stub(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        action = (parse_qs(body).get("Action") or [""])[0]
        answer = {"CreateDBInstance": RDS_CREATED, "GetSessionToken": STS_TOKEN}.get(action)
        data = (answer or "<ErrorResponse/>").encode()
        self.send_response(200 if answer else 400)
        self.send_header("Content-Type", "text/xml")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def stub() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def canary_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CANARY_KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CANARY_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", CANARY_TOKEN)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def debug_logs() -> Iterator[_Collect]:
    """DEBUG on for botocore, boto3 and urllib3; a handler added now, after cloudkit loaded."""
    handler = _Collect()
    root = logging.getLogger()
    names = ("botocore", "boto3", "urllib3")
    levels = {n: logging.getLogger(n).level for n in names}
    for n in names:
        logging.getLogger(n).setLevel(logging.DEBUG)
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        for n, level in levels.items():
            logging.getLogger(n).setLevel(level)


def _forms(value: str) -> set[str]:
    return {value, quote(value, safe=""), quote_plus(value), quote(value), value.encode().hex()}


def _leaks(records: list[logging.LogRecord]) -> list[tuple[str, str]]:
    found = []
    for record in records:
        texts = [record.getMessage(), str(record.msg), repr(record.args)]
        for canary in CANARIES:
            for form in _forms(canary):
                if any(form in t for t in texts):
                    found.append((record.name, canary))
    return found


def _connect(endpoint: str) -> cloudkit.Cloud:
    return cloudkit.connect("aws", region="us-east-1", endpoint_url=endpoint, max_attempts=1)


def test_debug_logs_hold_no_password_token_or_signature(stub: str, canary_credentials: None, debug_logs: _Collect) -> None:
    cloud = _connect(stub)
    made = cloud.database.create_instance(
        "ck-canary", engine="postgres", instance_class="db.t3.micro", storage_gb=20,
        master_username="master", master_password=CANARY_PASSWORD, wait=False,
    )
    assert made.id == "ck-canary"
    from cloudkit_aws._session import AwsSession

    answer = AwsSession({"region": "us-east-1", "endpoint_url": stub, "max_attempts": 1}).call(
        "sts", "get_session_token", "get session token")
    assert answer["Credentials"]["SessionToken"] == CANARY_STS_TOKEN

    names = {r.name for r in debug_logs.records}
    # The logging really happened, at the stages that print parameters, headers and bodies.
    for expected in ("botocore.endpoint", "botocore.auth", "botocore.parsers", "botocore.hooks", "urllib3.connectionpool"):
        assert expected in names, f"no record from {expected}: {sorted(names)}"
    assert len(debug_logs.records) > 50
    assert _leaks(debug_logs.records) == []
    texts = "\n".join(r.getMessage() for r in debug_logs.records)
    assert "MasterUserPassword" in texts and "***" in texts  # the field is named, its value masked


def test_records_of_botocore_loggers_made_later_are_redacted_too(debug_logs: _Collect) -> None:
    import cloudkit_aws._session  # noqa: F401 - installs the redaction

    late = logging.getLogger("botocore.some_module_imported_later")
    late.debug("params: %s", {"MasterUserPassword": CANARY_PASSWORD, "SessionToken": CANARY_TOKEN})
    late.debug("Sending: x-amz-security-token:%s", CANARY_TOKEN)
    assert len(debug_logs.records) == 2
    assert _leaks(debug_logs.records) == []


def test_redaction_costs_nothing_while_debug_is_off(
    stub: str, canary_credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cloudkit_aws import _logredact

    scrubbed: list[str] = []
    real = _logredact._scrub
    monkeypatch.setattr(_logredact, "_scrub", lambda record: (scrubbed.append(record.name), real(record)))
    for name in ("botocore", "boto3", "urllib3"):
        monkeypatch.setattr(logging.getLogger(name), "level", logging.WARNING)
    _connect(stub).database.create_instance(
        "ck-canary", engine="postgres", instance_class="db.t3.micro", storage_gb=20,
        master_username="master", master_password=CANARY_PASSWORD, wait=False,
    )
    assert scrubbed == []
    logging.getLogger("botocore.endpoint").warning("a warning is still scrubbed")
    assert scrubbed == ["botocore.endpoint"]


@pytest.mark.parametrize(
    "line",
    [
        "{'MasterUserPassword': 'CanaryPw-5u&Zk!x9'}",
        "body=Action=CreateDBInstance&MasterUserPassword=CanaryPw-5u%26Zk%21x9&MultiAZ=false",
        "<SessionToken>CanaryStsTok0123456789</SessionToken>",
        "x-amz-security-token:CanaryTok//session+token=0123456789abcdef",
        "{'X-Amz-Security-Token': b'CanaryTok//session+token=0123456789abcdef'}",
        "/b/k?X-Amz-Security-Token=CanaryTok%2F%2Fsession%2Btoken%3D0123456789abcdef&X-Amz-Signature=ab12",
        '{"SecretAccessKey": "CanaryStsSecret0123456789"}',
    ],
)
def test_redact_masks_every_form_botocore_prints(line: str) -> None:
    from cloudkit_aws._logredact import redact

    out = redact(line)
    assert "***" in out
    assert not any(form in out for canary in CANARIES for form in _forms(canary))
