"""The local provider's notification family: topics, subscriptions, real delivery, SQLite queues.

Everything lives in ``<root>/notification/``: ``notification.db`` (SQLite, WAL) holds topics,
subscriptions, queues, queue messages and one *delivery* row per (message, subscription).

- ``publish`` writes every delivery row in one transaction before it returns, so nothing is lost if
  the process dies. ``queue`` deliveries go into the queue in that same transaction (stored as the
  SNS-format envelope; :meth:`receive_messages` returns the neutral message: ``body`` is the
  published text, subject, message id, topic and time are fields of :class:`QueueMessage`); ``sms`` ones
  are recorded in the outbox (status ``sent``). ``http``/``https``/``email`` deliveries are made by
  :class:`~cloudkit_local._delivery.Dispatcher` threads, retried with exponential backoff, and end
  as ``dead`` letters after ``delivery_attempts`` failures. Rows left ``pending``/``retrying`` by a
  service that stopped are resumed by the next service on the same root (rows are leased).
- http/https POST a JSON envelope in the SNS message format, signed with the root's key
  (:mod:`cloudkit_local._signing`); check it with :func:`cloudkit.verify.verify_envelope` and the
  certificate from :meth:`LocalNotification.signing_certificate`.
- http/https/email subscriptions start ``pending``: the endpoint receives a
  ``SubscriptionConfirmation`` with a ``Token`` and a ``SubscribeURL`` (served on 127.0.0.1 by
  this service) and becomes ``confirmed`` by visiting the URL or through ``confirm_subscription``.

Settings: ``smtp_host`` (``localhost``), ``smtp_port`` (25), ``smtp_username``, ``smtp_password``,
``smtp_starttls``, ``smtp_ssl``, ``smtp_sender``; ``delivery_attempts`` (5), ``delivery_backoff``
(1.0 s, doubled per attempt), ``delivery_max_backoff`` (300 s), ``delivery_timeout`` (10 s),
``delivery_workers`` (4), ``delivery_ca_bundle`` (CA file for https endpoints).
"""

from __future__ import annotations

import json
import re
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudkit.errors import NotFound
from cloudkit.models.notification import Delivery, PublishResult, Queue, QueueMessage, Subscription, Topic, TopicNotification
from cloudkit.paging import paginate
from cloudkit.services.notification import NotificationService
from cloudkit_local._delivery import DeliverySettings, Dispatcher
from cloudkit_local._root import Database, root_from
from cloudkit_local._signing import Signer
from cloudkit_local.errors import LocalErrors, mapped

#: The shape of the receipts ``_receive_messages`` issues: ``<message id>.<32 hex digits>``.
_RECEIPT = re.compile(r"[0-9a-f-]{36}\.[0-9a-f]{32}")
PAGE = 100
ARN_PREFIX = "arn:local:sns:local:000000000000:"
QUEUE_PREFIX = "arn:local:sqs:local:000000000000:"

SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, display_name TEXT, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    id TEXT PRIMARY KEY, topic_id TEXT NOT NULL REFERENCES topics(id) ON DELETE CASCADE,
    protocol TEXT NOT NULL, endpoint TEXT NOT NULL, status TEXT NOT NULL, token TEXT,
    created_at REAL NOT NULL, UNIQUE (topic_id, protocol, endpoint));
CREATE TABLE IF NOT EXISTS queues (id TEXT PRIMARY KEY, name TEXT UNIQUE NOT NULL, created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS queue_messages (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL,
    queue_id TEXT NOT NULL REFERENCES queues(id) ON DELETE CASCADE,
    body TEXT NOT NULL, attributes TEXT NOT NULL, sent_at REAL NOT NULL, visible_at REAL NOT NULL,
    receipt TEXT, receive_count INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS queue_messages_ready ON queue_messages (queue_id, visible_at, seq);
CREATE TABLE IF NOT EXISTS deliveries (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE NOT NULL, kind TEXT NOT NULL,
    topic_id TEXT NOT NULL, subscription_id TEXT NOT NULL, protocol TEXT NOT NULL, endpoint TEXT NOT NULL,
    message_id TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
    body TEXT NOT NULL, subject TEXT, attributes TEXT NOT NULL, token TEXT,
    published_at REAL NOT NULL, next_attempt_at REAL NOT NULL, lease_owner TEXT, lease_until REAL,
    last_error TEXT, created_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS deliveries_topic ON deliveries (topic_id, seq);
"""


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def iso(ts: float) -> str:
    """SNS's timestamp format: ``2026-11-26T14:00:00.123Z``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def notification_envelope(
    *, topic_id: str, message_id: str, message: str, subject: str | None, attributes: Mapping[str, str],
    published_at: float, subscription_id: str, unsubscribe_url: str | None,
) -> dict[str, Any]:
    """An unsigned ``Notification`` envelope in the SNS message format."""
    env: dict[str, Any] = {
        "Type": "Notification",
        "MessageId": message_id,
        "TopicArn": topic_id,
        "Message": message,
        "Timestamp": iso(published_at),
    }
    if subject is not None:
        env["Subject"] = subject
    if attributes:
        env["MessageAttributes"] = {k: {"Type": "String", "Value": v} for k, v in attributes.items()}
    env["SubscriptionArn"] = subscription_id
    if unsubscribe_url:
        env["UnsubscribeURL"] = unsubscribe_url
    return env


class LocalNotification(LocalErrors, NotificationService):
    """Topics, subscriptions and queues in ``<root>/notification``, with real delivery."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__("local", settings)
        self.root = root_from(self.settings)
        self.folder = self.root / "notification"
        with mapped("create notification folder"):
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.db = Database(self.folder / "notification.db", SCHEMA)
        self.signer = Signer(self.folder)
        self._queue_event = threading.Condition()
        self.dispatcher = Dispatcher(self, DeliverySettings.from_settings(self.settings))
        self.dispatcher.start()

    # ---------------------------------------------------------------- extras (local only)
    def signing_certificate(self) -> str:
        """The PEM certificate whose key signs this root's http/https envelopes."""
        return self.signer.certificate_pem

    @property
    def native(self) -> Database:
        """The SQLite metadata database."""
        return self.db

    def close(self) -> None:
        """Stop the delivery threads (in-flight attempts finish) and the confirmation server."""
        self.dispatcher.stop()
        self.db.close()

    def wait_for_deliveries(self, timeout: float = 30.0) -> bool:
        """Block until no delivery is ``pending`` (retries not yet due do not count); for tests and scripts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.db.query("SELECT COUNT(*) FROM deliveries WHERE status = 'pending'")
            if rows[0][0] == 0:
                return True
            time.sleep(0.01)
        return False

    # ---------------------------------------------------------------- models
    @staticmethod
    def _topic(row: Any) -> Topic:
        return Topic(id=row["id"], name=row["name"], display_name=row["display_name"],
                     extra={"created_at": _dt(row["created_at"])})

    @staticmethod
    def _subscription(row: Any) -> Subscription:
        return Subscription(id=row["id"], topic_id=row["topic_id"], protocol=row["protocol"], endpoint=row["endpoint"],
                            status=row["status"], extra={"created_at": _dt(row["created_at"])})

    @staticmethod
    def _queue(row: Any) -> Queue:
        return Queue(id=row["id"], name=row["name"], url=None, extra={"created_at": _dt(row["created_at"])})

    @staticmethod
    def _delivery(row: Any) -> Delivery:
        return Delivery(
            id=row["id"], topic_id=row["topic_id"], subscription_id=row["subscription_id"], protocol=row["protocol"],
            endpoint=row["endpoint"], message_id=row["message_id"], status=row["status"], attempts=row["attempts"],
            body=row["body"], subject=row["subject"], last_error=row["last_error"], created_at=_dt(row["created_at"]),
        )

    def _topic_row(self, conn: Any, topic_id: str) -> Any:
        row = conn.execute("SELECT * FROM topics WHERE id = ? OR name = ?", (topic_id, topic_id)).fetchone()
        if row is None:
            raise NotFound(f"topic {topic_id!r} does not exist", provider="local", code="NotFound")
        return row

    def _queue_row(self, conn: Any, queue_id: str) -> Any:
        row = conn.execute("SELECT * FROM queues WHERE id = ? OR name = ?", (queue_id, queue_id)).fetchone()
        if row is None:
            raise NotFound(f"queue {queue_id!r} does not exist", provider="local", code="NonExistentQueue")
        return row

    # ---------------------------------------------------------------- topics
    def _create_topic(self, name: str, display_name: str | None) -> Topic:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO topics (id, name, display_name, created_at) VALUES (?, ?, ?, ?) ON CONFLICT (name) DO NOTHING",
                (ARN_PREFIX + name, name, display_name, time.time()),
            )
            if display_name is not None:
                conn.execute("UPDATE topics SET display_name = ? WHERE name = ?", (display_name, name))
            return self._topic(self._topic_row(conn, name))

    def _get_topic(self, topic_id: str) -> Topic:
        with self.db.transaction() as conn:
            return self._topic(self._topic_row(conn, topic_id))

    def _list_topics(self) -> Iterator[Topic]:
        def fetch(after: str | None) -> tuple[list[Topic], str | None]:
            rows = self.db.query("SELECT * FROM topics WHERE id > ? ORDER BY id LIMIT ?", (after or "", PAGE))
            return [self._topic(r) for r in rows], (rows[-1]["id"] if len(rows) == PAGE else None)

        return paginate(fetch)

    def _delete_topic(self, topic_id: str) -> None:
        with self.db.transaction() as conn:
            row = self._topic_row(conn, topic_id)
            conn.execute(
                "UPDATE deliveries SET status = 'dead', last_error = 'topic deleted before delivery', lease_owner = NULL"
                " WHERE topic_id = ? AND status IN ('pending', 'retrying')",
                (row["id"],),
            )
            conn.execute("DELETE FROM topics WHERE id = ?", (row["id"],))

    # ---------------------------------------------------------------- subscriptions
    def _subscribe(self, topic_id: str, protocol: str, endpoint: str) -> Subscription:
        now = time.time()
        with self.db.transaction() as conn:
            topic = self._topic_row(conn, topic_id)
            if protocol == "queue":
                endpoint = self._queue_row(conn, endpoint)["id"]
            existing = conn.execute(
                "SELECT * FROM subscriptions WHERE topic_id = ? AND protocol = ? AND endpoint = ?",
                (topic["id"], protocol, endpoint),
            ).fetchone()
            if existing is not None:
                return self._subscription(existing)
            sub_id = f"{topic['id']}:{uuid.uuid4()}"
            needs_confirmation = protocol in ("http", "https", "email")
            token = uuid.uuid4().hex + uuid.uuid4().hex if needs_confirmation else None
            conn.execute(
                "INSERT INTO subscriptions (id, topic_id, protocol, endpoint, status, token, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (sub_id, topic["id"], protocol, endpoint, "pending" if needs_confirmation else "confirmed", token, now),
            )
            if needs_confirmation:
                message = (
                    f"You have chosen to subscribe to the topic {topic['id']}.\n"
                    "To confirm the subscription, visit the SubscribeURL included in this message."
                )
                self._insert_delivery(conn, kind="confirmation", topic_id=topic["id"], sub_id=sub_id, protocol=protocol,
                                      endpoint=endpoint, message_id=str(uuid.uuid4()), body=message, subject=None,
                                      attributes={}, token=token, now=now, status="pending")
            row = conn.execute("SELECT * FROM subscriptions WHERE id = ?", (sub_id,)).fetchone()
        if needs_confirmation:
            self.dispatcher.wake()
        return self._subscription(row)

    def _confirm_subscription(self, topic_id: str, token: str) -> Subscription:
        with self.db.transaction() as conn:
            topic = self._topic_row(conn, topic_id)
            row = conn.execute("SELECT * FROM subscriptions WHERE topic_id = ? AND token = ?", (topic["id"], token)).fetchone()
            if row is None:
                raise NotFound(f"no subscription of topic {topic['id']!r} has that token", provider="local", code="InvalidToken")
            conn.execute("UPDATE subscriptions SET status = 'confirmed' WHERE id = ?", (row["id"],))
            return self._subscription(conn.execute("SELECT * FROM subscriptions WHERE id = ?", (row["id"],)).fetchone())

    def _get_subscription(self, subscription_id: str) -> Subscription:
        rows = self.db.query("SELECT * FROM subscriptions WHERE id = ?", (subscription_id,))
        if not rows:
            raise NotFound(f"subscription {subscription_id!r} does not exist", provider="local", code="NotFound")
        return self._subscription(rows[0])

    def _list_subscriptions(self, topic_id: str | None) -> Iterator[Subscription]:
        if topic_id is not None:
            with self.db.transaction() as conn:
                topic_id = self._topic_row(conn, topic_id)["id"]

        def fetch(after: str | None) -> tuple[list[Subscription], str | None]:
            sql = "SELECT * FROM subscriptions WHERE id > ?"
            params: list[Any] = [after or ""]
            if topic_id is not None:
                sql += " AND topic_id = ?"
                params.append(topic_id)
            rows = self.db.query(sql + " ORDER BY id LIMIT ?", (*params, PAGE))
            return [self._subscription(r) for r in rows], (rows[-1]["id"] if len(rows) == PAGE else None)

        return paginate(fetch)

    def _unsubscribe(self, subscription_id: str) -> None:
        with self.db.transaction() as conn:
            row = conn.execute("SELECT id FROM subscriptions WHERE id = ?", (subscription_id,)).fetchone()
            if row is None:
                raise NotFound(f"subscription {subscription_id!r} does not exist", provider="local", code="NotFound")
            conn.execute(
                "UPDATE deliveries SET status = 'dead', last_error = 'unsubscribed before delivery', lease_owner = NULL"
                " WHERE subscription_id = ? AND status IN ('pending', 'retrying')",
                (subscription_id,),
            )
            conn.execute("DELETE FROM subscriptions WHERE id = ?", (subscription_id,))

    # ---------------------------------------------------------------- publish
    def _insert_delivery(
        self, conn: Any, *, kind: str, topic_id: str, sub_id: str, protocol: str, endpoint: str, message_id: str,
        body: str, subject: str | None, attributes: Mapping[str, str], token: str | None, now: float, status: str,
        last_error: str | None = None,
    ) -> None:
        conn.execute(
            "INSERT INTO deliveries (id, kind, topic_id, subscription_id, protocol, endpoint, message_id, status, attempts,"
            " body, subject, attributes, token, published_at, next_attempt_at, last_error, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (str(uuid.uuid4()), kind, topic_id, sub_id, protocol, endpoint, message_id, status,
             0 if status == "pending" else 1, body, subject, json.dumps(dict(attributes)), token, now, now, last_error, now),
        )

    def _publish(self, topic_id: str, message: str, subject: str | None, attributes: dict[str, str]) -> PublishResult:
        now = time.time()
        message_id = str(uuid.uuid4())
        wake = queued = False
        with self.db.transaction() as conn:
            topic = self._topic_row(conn, topic_id)
            subs = conn.execute("SELECT * FROM subscriptions WHERE topic_id = ? AND status = 'confirmed'", (topic["id"],))
            for sub in subs.fetchall():
                common: dict[str, Any] = {
                    "kind": "notification", "topic_id": topic["id"], "sub_id": sub["id"], "protocol": sub["protocol"],
                    "endpoint": sub["endpoint"], "message_id": message_id, "body": message, "subject": subject,
                    "attributes": attributes, "token": None, "now": now,
                }
                if sub["protocol"] == "queue":
                    queue = conn.execute("SELECT id FROM queues WHERE id = ?", (sub["endpoint"],)).fetchone()
                    if queue is None:
                        self._insert_delivery(conn, status="dead", last_error="the queue no longer exists", **common)
                        continue
                    envelope = self.signer.sign(notification_envelope(
                        topic_id=topic["id"], message_id=message_id, message=message, subject=subject,
                        attributes=attributes, published_at=now, subscription_id=sub["id"], unsubscribe_url=None))
                    conn.execute(
                        "INSERT INTO queue_messages (id, queue_id, body, attributes, sent_at, visible_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)",
                        (str(uuid.uuid4()), queue["id"], json.dumps(envelope), json.dumps(attributes), now, now),
                    )
                    self._insert_delivery(conn, status="sent", **common)
                    queued = True
                elif sub["protocol"] == "sms":
                    self._insert_delivery(conn, status="sent", **common)  # the outbox
                else:
                    self._insert_delivery(conn, status="pending", **common)
                    wake = True
        if wake:
            self.dispatcher.wake()
        if queued:
            with self._queue_event:
                self._queue_event.notify_all()
        return PublishResult(message_id=message_id, topic_id=topic["id"])

    # ---------------------------------------------------------------- queues
    def _create_queue(self, name: str) -> Queue:
        with self.db.transaction() as conn:
            conn.execute("INSERT INTO queues (id, name, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
                         (QUEUE_PREFIX + name, name, time.time()))
            return self._queue(self._queue_row(conn, name))

    def _get_queue(self, queue_id: str) -> Queue:
        with self.db.transaction() as conn:
            return self._queue(self._queue_row(conn, queue_id))

    def _list_queues(self) -> Iterator[Queue]:
        def fetch(after: str | None) -> tuple[list[Queue], str | None]:
            rows = self.db.query("SELECT * FROM queues WHERE id > ? ORDER BY id LIMIT ?", (after or "", PAGE))
            return [self._queue(r) for r in rows], (rows[-1]["id"] if len(rows) == PAGE else None)

        return paginate(fetch)

    def _delete_queue(self, queue_id: str) -> None:
        with self.db.transaction() as conn:
            row = self._queue_row(conn, queue_id)
            conn.execute("DELETE FROM queues WHERE id = ?", (row["id"],))

    def _receive_messages(self, queue_id: str, max_messages: int, wait_seconds: float, visibility_timeout: int) -> list[QueueMessage]:
        deadline = time.monotonic() + wait_seconds
        while True:
            now = time.time()
            with self.db.transaction() as conn:
                qid = self._queue_row(conn, queue_id)["id"]
                rows = conn.execute(
                    "SELECT * FROM queue_messages WHERE queue_id = ? AND visible_at <= ? ORDER BY seq LIMIT ?",
                    (qid, now, max_messages),
                ).fetchall()
                out: list[QueueMessage] = []
                for row in rows:
                    receipt = f"{row['id']}.{uuid.uuid4().hex}"
                    conn.execute(
                        "UPDATE queue_messages SET visible_at = ?, receipt = ?, receive_count = receive_count + 1 WHERE seq = ?",
                        (now + visibility_timeout, receipt, row["seq"]),
                    )
                    out.append(self._queue_message(row, receipt))
            remaining = deadline - time.monotonic()
            if out or remaining <= 0:
                return out
            with self._queue_event:
                self._queue_event.wait(min(remaining, 0.05))

    @staticmethod
    def _queue_message(row: Any, receipt: str) -> QueueMessage:
        """The neutral message: the stored SNS-format envelope is unwrapped (body = published text)."""
        note = TopicNotification.from_envelope(row["body"])
        common: dict[str, Any] = {"id": row["id"], "receipt": receipt, "attributes": json.loads(row["attributes"]),
                                  "sent_at": _dt(row["sent_at"]), "receive_count": row["receive_count"] + 1}
        if note is None:
            return QueueMessage(body=row["body"], **common)
        return QueueMessage(body=note.message, message_id=note.message_id, topic_id=note.topic_id, subject=note.subject,
                            published_at=note.published_at, extra={"envelope": row["body"]}, **common)

    def _ack_message(self, queue_id: str, receipt: str) -> None:
        with self.db.transaction() as conn:
            qid = self._queue_row(conn, queue_id)["id"]
            cur = conn.execute("DELETE FROM queue_messages WHERE queue_id = ? AND receipt = ?", (qid, receipt))
            if cur.rowcount == 0 and not _RECEIPT.fullmatch(receipt):
                raise NotFound("not a receipt this queue issued", provider="local", code="ReceiptHandleIsInvalid")
            # A receipt issued here but no longer current (the message was acknowledged already, or
            # received again since) acknowledges nothing and is not an error, as on SQS.

    # ---------------------------------------------------------------- deliveries
    def _list_deliveries(self, topic_id: str | None, status: str | None) -> Iterator[Delivery]:
        if topic_id is not None:
            with self.db.transaction() as conn:
                topic_id = self._topic_row(conn, topic_id)["id"]

        def fetch(after: int | None) -> tuple[list[Delivery], int | None]:
            sql = "SELECT * FROM deliveries WHERE seq > ? AND kind = 'notification'"
            params: list[Any] = [after or 0]
            if topic_id is not None:
                sql += " AND topic_id = ?"
                params.append(topic_id)
            if status is not None:
                sql += " AND status = ?"
                params.append(status)
            rows = self.db.query(sql + " ORDER BY seq LIMIT ?", (*params, PAGE))
            return [self._delivery(r) for r in rows], (rows[-1]["seq"] if len(rows) == PAGE else None)

        return paginate(fetch)


def make_service(settings: Mapping[str, Any]) -> LocalNotification:
    """Build the local notification service (the plugin calls this)."""
    return LocalNotification(settings)


__all__ = ["LocalNotification", "make_service", "notification_envelope", "Path"]
