"""Local-only notification behaviour: real http and SMTP delivery, signatures, retries, dead letters, resume."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from notification_helpers import Mailbox, Receiver, free_port  # type: ignore[import-not-found]

import cloudkit
from cloudkit.errors import InvalidInput, NotFound
from cloudkit.verify import TrustedCertificate, VerificationError, string_to_sign, verify_envelope

MakeCloud = Callable[..., cloudkit.Cloud]


def _wait(predicate: Callable[[], Any], timeout: float = 10) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def _confirmed_http(cloud: cloudkit.Cloud, receiver: Receiver, topic: str) -> Any:
    n = cloud.notification
    sub = n.subscribe(topic, protocol="http", endpoint=receiver.url)
    assert sub.status == "pending"
    confirmation = verify_envelope(receiver.wait_for(1)[0], n.signing_certificate())  # type: ignore[attr-defined]
    assert confirmation["Type"] == "SubscriptionConfirmation"
    assert confirmation["TopicArn"] == sub.topic_id
    with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as resp:  # the SNS way: visit the URL
        assert json.loads(resp.read())["Status"] == "confirmed"
    assert n.get_subscription(sub.id).status == "confirmed"
    receiver.bodies.clear()
    receiver.headers.clear()
    return sub


def test_http_delivery_is_signed_and_verifiable(make_cloud: MakeCloud, receiver: Receiver) -> None:
    cloud = make_cloud()
    n = cloud.notification
    topic = n.create_topic("deploys")
    sub = _confirmed_http(cloud, receiver, topic.id)
    result = n.publish(topic, "version 42 is live", subject="Deployed", attributes={"env": "prod"})
    body = receiver.wait_for(1)[0]
    cert = n.signing_certificate()  # type: ignore[attr-defined]
    env = verify_envelope(body, TrustedCertificate(cert))
    assert env["Type"] == "Notification"
    assert env["MessageId"] == result.message_id
    assert env["TopicArn"] == topic.id
    assert env["Subject"] == "Deployed"
    assert env["Message"] == "version 42 is live"
    assert env["SignatureVersion"] == "2"
    assert env["SigningCertURL"].startswith("file://")
    assert env["MessageAttributes"] == {"env": {"Type": "String", "Value": "prod"}}
    headers = receiver.headers[0]
    assert headers["HTTP_X_AMZ_SNS_MESSAGE_TYPE"] == "Notification"
    assert headers["HTTP_X_AMZ_SNS_SUBSCRIPTION_ARN"] == sub.id
    # a forged body, or another root's key, does not verify
    forged = dict(env, Message="version 666 is live")
    with pytest.raises(VerificationError, match="does not match"):
        verify_envelope(forged, cert)
    other = make_cloud(root=str(Path(n.root).parent / "other-root")).notification  # type: ignore[attr-defined]
    with pytest.raises(VerificationError):
        verify_envelope(body, other.signing_certificate())
    with pytest.raises(VerificationError, match="older than"):
        verify_envelope(body, cert, max_age=timedelta(seconds=-1))
    assert string_to_sign(env).startswith(b"Message\nversion 42 is live\nMessageId\n")
    sent = [d for d in n.list_deliveries(topic=topic) if d.protocol == "http"]
    assert [(d.status, d.attempts) for d in sent] == [("sent", 1)]


def test_email_confirmation_and_delivery_through_smtp(make_cloud: MakeCloud, mailbox: Mailbox) -> None:
    cloud = make_cloud(smtp_host="127.0.0.1", smtp_port=mailbox.port, smtp_sender="alerts@example.com")
    n = cloud.notification
    topic = n.create_topic("alerts")
    sub = n.subscribe(topic, protocol="email", endpoint="ops@example.com")
    assert sub.status == "pending"
    rcpt, confirmation = mailbox.wait_for(1)[0]
    assert rcpt == ["ops@example.com"]
    assert confirmation["Subject"] == "Subscription confirmation"
    text = confirmation.get_payload(decode=True).decode()
    token = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("Token: "))
    assert n.confirm_subscription(topic, token).status == "confirmed"
    n.publish(topic, "disk almost full on db-1", subject="Disk alarm")
    rcpt, msg = mailbox.wait_for(2)[1]
    assert rcpt == ["ops@example.com"]
    assert msg["Subject"] == "Disk alarm"
    assert msg["From"] == "alerts@example.com"
    assert msg.get_payload(decode=True).decode().strip() == "disk almost full on db-1"
    with pytest.raises(NotFound):
        n.confirm_subscription(topic, "not-the-token")


def test_queue_delivery_is_the_published_text_with_typed_fields(make_cloud: MakeCloud) -> None:
    n = make_cloud().notification
    topic = n.create_topic("orders")
    queue = n.create_queue("order-worker")
    n.subscribe(topic, protocol="queue", endpoint="order-worker")  # by name
    published = json.dumps({"order": 7})
    before = datetime.now(UTC)
    result = n.publish(topic, published, subject="New order", attributes={"kind": "created"})
    [msg] = n.receive_messages(queue, wait_seconds=2)
    assert msg.body == published  # the text, not an envelope around it (issue 10)
    assert (msg.message_id, msg.topic_id, msg.subject) == (result.message_id, topic.id, "New order")
    assert msg.published_at is not None and msg.published_at.tzinfo is UTC
    assert before - timedelta(seconds=1) <= msg.published_at <= datetime.now(UTC)
    assert dict(msg.attributes) == {"kind": "created"}
    env = verify_envelope(str(msg.extra["envelope"]), n.signing_certificate())  # type: ignore[attr-defined]
    assert env["Message"] == published
    with pytest.raises(NotFound):
        n.ack_message(queue, "stale-receipt")
    n.ack_message(queue, msg.receipt)


def test_failed_deliveries_retry_with_backoff_then_succeed(make_cloud: MakeCloud, receiver: Receiver) -> None:
    cloud = make_cloud(delivery_attempts=5)
    n = cloud.notification
    topic = n.create_topic("flaky")
    _confirmed_http(cloud, receiver, topic.id)
    receiver.fail_first = receiver.calls + 2  # the next two POSTs fail
    n.publish(topic, "eventually")
    body = receiver.wait_for(1)[0]
    assert json.loads(body)["Message"] == "eventually"
    [d] = _wait(lambda: [d for d in n.list_deliveries(topic=topic, status="sent") if d.protocol == "http"])
    assert d.attempts == 3


def test_exhausted_deliveries_end_as_dead_letters(make_cloud: MakeCloud, receiver: Receiver) -> None:
    cloud = make_cloud(delivery_attempts=3)
    n = cloud.notification
    topic = n.create_topic("broken")
    _confirmed_http(cloud, receiver, topic.id)
    receiver.always_fail = True
    result = n.publish(topic, "nobody home")
    [dead] = _wait(lambda: list(n.list_deliveries(topic=topic, status="dead")))
    assert dead.message_id == result.message_id
    assert dead.attempts == 3
    assert dead.body == "nobody home"
    assert "HTTP 500" in (dead.last_error or "")
    assert receiver.calls >= 4  # the confirmation and three attempts


def test_pending_deliveries_survive_a_restart(make_cloud: MakeCloud, root: Path) -> None:
    port = free_port()
    down = Receiver(port=port)
    cloud = make_cloud(delivery_attempts=50)
    n = cloud.notification
    topic = n.create_topic("resume")
    _confirmed_http(cloud, down, topic.id)
    down.close()  # the endpoint goes away
    n.publish(topic, "kept safe")
    _wait(lambda: list(n.list_deliveries(topic=topic, status="retrying")))
    cloud.close()
    up = Receiver(port=port)
    try:
        again = make_cloud(delivery_attempts=50).notification
        assert json.loads(up.wait_for(1)[0])["Message"] == "kept safe"
        _wait(lambda: list(again.list_deliveries(topic=topic, status="sent")))
    finally:
        up.close()


def test_a_process_dying_right_after_publish_loses_nothing(make_cloud: MakeCloud, receiver: Receiver, root: Path) -> None:
    cloud = make_cloud()
    topic = cloud.notification.create_topic("crash")
    sub = _confirmed_http(cloud, receiver, topic.id)
    cloud.close()
    script = (
        "import os, cloudkit\n"
        "from cloudkit_local import _delivery\n"
        "_delivery.Dispatcher.start = lambda self: None  # dies before any delivery thread runs\n"
        f"cloud = cloudkit.connect('local', root={str(root)!r})\n"
        f"cloud.notification.publish({topic.id!r}, 'published just before the crash')\n"
        "os._exit(0)\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
    with sqlite3.connect(root / "notification" / "notification.db") as db:
        left = db.execute("SELECT status FROM deliveries WHERE kind = 'notification'").fetchall()
    assert left == [("pending",)]  # persisted before publish returned, not yet delivered
    n = make_cloud().notification
    env = json.loads(receiver.wait_for(1)[0])
    assert env["Message"] == "published just before the crash"
    assert env["SubscriptionArn"] == sub.id
    _wait(lambda: list(n.list_deliveries(status="sent")))


def test_unsubscribing_turns_undelivered_messages_into_dead_letters(make_cloud: MakeCloud, receiver: Receiver) -> None:
    cloud = make_cloud(delivery_attempts=100)
    n = cloud.notification
    topic = n.create_topic("gone")
    sub = _confirmed_http(cloud, receiver, topic.id)
    receiver.always_fail = True
    n.publish(topic, "never delivered")
    _wait(lambda: list(n.list_deliveries(topic=topic, status="retrying")))
    n.unsubscribe(sub)
    [dead] = list(n.list_deliveries(topic=topic, status="dead"))
    assert dead.last_error == "unsubscribed before delivery"


def test_close_stops_delivery_threads(make_cloud: MakeCloud, receiver: Receiver) -> None:
    cloud = make_cloud()
    n = cloud.notification
    topic = n.create_topic("threads")
    _confirmed_http(cloud, receiver, topic.id)
    assert any(t.name.startswith("cloudkit-dispatcher") for t in threading.enumerate())
    cloud.close()
    cloud.close()  # twice is fine
    names = [t.name for t in threading.enumerate()]
    assert not [name for name in names if name.startswith(("cloudkit-dispatcher", "cloudkit-delivery", "cloudkit-confirm"))]


def test_signing_key_is_private_and_secrets_stay_out_of_reprs(make_cloud: MakeCloud, root: Path) -> None:
    cloud = make_cloud(smtp_password="hunter2-smtp-secret", smtp_username="mailer")
    n = cloud.notification
    key = root / "notification" / "signing-key.pem"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    text = repr(n) + repr(n.settings) + repr(n.dispatcher.settings)  # type: ignore[attr-defined]
    assert "hunter2-smtp-secret" not in text


def test_bad_input_and_missing_queue(make_cloud: MakeCloud) -> None:
    n = make_cloud().notification
    topic = n.create_topic("input")
    with pytest.raises(NotFound):
        n.subscribe(topic, protocol="queue", endpoint="no-such-queue")
    with pytest.raises(InvalidInput) as err:
        n.subscribe(topic, protocol="http", endpoint="ftp://example.com/")
    assert err.value.field == "endpoint"
    with pytest.raises(InvalidInput) as err:
        n.list_deliveries(status="lost")
    assert err.value.field == "status"


def _tls_files(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    import ipaddress
    from datetime import UTC, datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_https_delivery_checks_the_endpoint_certificate(make_cloud: MakeCloud, tmp_path: Path) -> None:
    import http.server
    import ssl

    cert, key = _tls_files(tmp_path)
    bodies: list[bytes] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"https://127.0.0.1:{server.server_address[1]}/hook"
    try:
        untrusting = make_cloud(delivery_attempts=100).notification
        topic = untrusting.create_topic("tls")
        untrusting.subscribe(topic, protocol="https", endpoint=url)
        [retrying] = _wait(lambda: [d for d in _all_rows(untrusting) if d["status"] == "retrying"])
        assert "CERTIFICATE_VERIFY_FAILED" in retrying["last_error"]  # TLS is checked: nothing reached the endpoint
        assert bodies == []
        untrusting.close()
        trusting = make_cloud(delivery_ca_bundle=str(cert)).notification
        confirmation = verify_envelope(_wait(lambda: bodies)[0], trusting.signing_certificate())  # type: ignore[attr-defined]
        trusting.confirm_subscription(topic, confirmation["Token"])
        trusting.publish(topic, "over TLS")
        _wait(lambda: len(bodies) >= 2)
        assert verify_envelope(bodies[-1], trusting.signing_certificate())["Message"] == "over TLS"  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def _all_rows(service: Any) -> list[sqlite3.Row]:
    return service.db.query("SELECT * FROM deliveries")  # type: ignore[no-any-return]


def test_a_process_exiting_without_close_shuts_delivery_down_cleanly(
    make_cloud: MakeCloud, receiver: Receiver, root: Path
) -> None:
    """Issue 9: no 'cannot schedule new futures after interpreter shutdown'; undelivered rows are resumed."""
    cloud = make_cloud()
    topic = cloud.notification.create_topic("no-close")
    _confirmed_http(cloud, receiver, topic.id)
    cloud.close()
    receiver.always_fail = True  # deliveries keep retrying while the process exits
    script = (
        "import time, cloudkit\n"
        f"cloud = cloudkit.connect('local', root={str(root)!r}, delivery_attempts=10000, delivery_backoff=0.005,"
        " delivery_max_backoff=0.01, delivery_poll=0.005)\n"
        f"for i in range(20):\n"
        f"    cloud.notification.publish({topic.id!r}, f'published by a process that never closes {{i}}')\n"
        "deadline = time.monotonic() + 30\n"
        "while time.monotonic() < deadline:\n"
        "    if any(d.attempts >= 3 for d in cloud.notification.list_deliveries()):\n"
        "        break\n"
        "    time.sleep(0.01)\n"
        "# exits here without cloud.close()\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""
    with sqlite3.connect(root / "notification" / "notification.db") as db:
        left = db.execute("SELECT status, attempts FROM deliveries WHERE kind = 'notification'").fetchall()
    assert len(left) == 20 and {status for status, _ in left} <= {"pending", "retrying"}  # kept, not lost or dead
    assert max(attempts for _, attempts in left) >= 3
    receiver.always_fail = False
    n = make_cloud().notification
    bodies = _wait(lambda: len(receiver.bodies) >= 20 and receiver.bodies, timeout=60)
    assert sorted(json.loads(b)["Message"] for b in bodies) == sorted(
        f"published by a process that never closes {i}" for i in range(20))
    _wait(lambda: len(list(n.list_deliveries(status="sent"))) == 20, timeout=60)
