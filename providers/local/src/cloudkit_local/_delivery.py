"""Delivery threads of the local notification service: http/https POSTs and SMTP e-mail.

A :class:`Dispatcher` leases due rows of the ``deliveries`` table (``pending`` or ``retrying``
whose ``next_attempt_at`` has come), hands them to a small thread pool, and records the outcome:
``sent``; ``retrying`` with an exponential backoff; or ``dead`` after the last attempt. Leases
expire, so rows a crashed process held are picked up again by the next service on the same root.
It also serves the ``SubscribeURL`` of confirmation messages on 127.0.0.1 (waitress).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

import attrs

from cloudkit.errors import CloudkitError

if TYPE_CHECKING:
    from cloudkit_local.notification import LocalNotification


def _flag(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


@attrs.frozen
class DeliverySettings:
    """How deliveries are attempted (from the provider settings)."""

    attempts: int = 5
    backoff: float = 1.0
    max_backoff: float = 300.0
    timeout: float = 10.0
    workers: int = 4
    poll: float = 0.5
    ca_bundle: str | None = None
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_username: str | None = attrs.field(default=None, repr=False)
    smtp_password: str | None = attrs.field(default=None, repr=False)
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_sender: str = "cloudkit@localhost"

    @classmethod
    def from_settings(cls, s: Mapping[str, Any]) -> DeliverySettings:
        """Read ``delivery_*`` and ``smtp_*`` settings (strings from config files are converted)."""
        return cls(
            attempts=max(1, int(s.get("delivery_attempts", 5))),
            backoff=max(0.0, float(s.get("delivery_backoff", 1.0))),
            max_backoff=max(0.0, float(s.get("delivery_max_backoff", 300.0))),
            timeout=max(0.1, float(s.get("delivery_timeout", 10.0))),
            workers=max(1, int(s.get("delivery_workers", 4))),
            poll=max(0.01, float(s.get("delivery_poll", 0.5))),
            ca_bundle=s.get("delivery_ca_bundle"),
            smtp_host=str(s.get("smtp_host", "localhost")),
            smtp_port=int(s.get("smtp_port", 25)),
            smtp_username=s.get("smtp_username"),
            smtp_password=s.get("smtp_password"),
            smtp_starttls=_flag(s.get("smtp_starttls", False)),
            smtp_ssl=_flag(s.get("smtp_ssl", False)),
            smtp_sender=str(s.get("smtp_sender", "cloudkit@localhost")),
        )

    def delay(self, attempts: int) -> float:
        """Seconds before the next try after ``attempts`` failed ones."""
        return float(min(self.max_backoff, self.backoff * (2 ** max(0, attempts - 1))))


class DeliveryFailed(Exception):
    """One attempt failed; the message is safe to record (no secrets)."""


class Dispatcher:
    """Leases due deliveries and attempts them on a thread pool."""

    def __init__(self, service: LocalNotification, settings: DeliverySettings) -> None:
        self.service = service
        self.settings = settings
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self.lease = settings.timeout * 2 + 30
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._slots = threading.Semaphore(settings.workers * 2)
        self._pool = ThreadPoolExecutor(settings.workers, thread_name_prefix="cloudkit-delivery")
        # Not a daemon: when the program ends without close(), the thread notices that the main
        # thread has finished, stops claiming work and releases its leases (see _run), and the
        # interpreter waits for that instead of killing it half-way.
        self._thread = threading.Thread(target=self._run, name="cloudkit-dispatcher", daemon=False)
        self._http: Any = None
        self._http_lock = threading.Lock()
        self._confirm_server: Any = None
        self._confirm_lock = threading.Lock()
        self.confirm_base: str | None = None

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Start the dispatcher thread."""
        self._thread.start()

    def wake(self) -> None:
        """New work is there: look now instead of at the next poll."""
        self._wake.set()

    def stop(self) -> None:
        """Stop cleanly: no new attempts, in-flight ones finish, our leases are released."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self._pool.shutdown(wait=True)
        self._release_leases()
        if self._http is not None:
            self._http.close()
        if self._confirm_server is not None:
            self._confirm_server.stop()

    def _release_leases(self) -> None:
        """Give back every delivery this dispatcher leased, so the next service resumes it at once."""
        try:
            with self.service.db.transaction() as conn:
                conn.execute("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", (self.owner,))
        except CloudkitError:
            pass

    def _exiting(self) -> bool:
        """The program is ending without close(): the main thread has finished (the thread pool
        then refuses new work, concurrent.futures having shut it down)."""
        return not threading.main_thread().is_alive()

    # ------------------------------------------------------------ loop
    def _release_dead_owners(self) -> None:
        """Free leases held by processes of this machine that no longer run (they crashed)."""
        now = time.time()
        owners = self.service.db.query(
            "SELECT DISTINCT lease_owner FROM deliveries WHERE lease_until >= ? AND status IN ('pending', 'retrying')", (now,)
        )
        for (owner,) in owners:
            pid_text = str(owner).split("-", 1)[0]
            if owner == self.owner or not pid_text.isdigit():
                continue
            try:
                os.kill(int(pid_text), 0)
                continue
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            with self.service.db.transaction() as conn:
                conn.execute("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?", (owner,))

    def _claim(self, limit: int) -> list[Any]:
        now = time.time()
        with self.service.db.transaction() as conn:
            rows = conn.execute(
                "SELECT * FROM deliveries WHERE status IN ('pending', 'retrying') AND next_attempt_at <= ?"
                " AND (lease_until IS NULL OR lease_until < ?) ORDER BY next_attempt_at, seq LIMIT ?",
                (now, now, limit),
            ).fetchall()
            for row in rows:
                conn.execute("UPDATE deliveries SET lease_owner = ?, lease_until = ? WHERE seq = ?",
                             (self.owner, now + self.lease, row["seq"]))
        return rows

    def _unclaim(self, rows: list[Any]) -> None:
        for _ in rows:
            self._slots.release()
        try:
            with self.service.db.transaction() as conn:
                for row in rows:
                    conn.execute("UPDATE deliveries SET lease_owner = NULL, lease_until = NULL WHERE seq = ? AND lease_owner = ?",
                                 (row["seq"], self.owner))
        except CloudkitError:
            pass

    def _next_due(self) -> float | None:
        rows = self.service.db.query(
            "SELECT MIN(MAX(next_attempt_at, COALESCE(lease_until, 0))) FROM deliveries WHERE status IN ('pending', 'retrying')"
        )
        due = rows[0][0]
        return None if due is None else float(due)

    def _run(self) -> None:
        try:
            self._loop()
        finally:
            if self._exiting() and not self._stop.is_set():
                # Interpreter shutdown: in-flight attempts were finished by concurrent.futures'
                # exit handler; pending rows stay in the database for the next service.
                self._stop.set()
                self._release_leases()

    def _loop(self) -> None:
        last_sweep = 0.0
        while not self._stop.is_set() and not self._exiting():
            self._wake.clear()
            if time.monotonic() - last_sweep > 5:
                last_sweep = time.monotonic()
                try:
                    self._release_dead_owners()
                except CloudkitError:
                    pass
            try:
                free = 0
                while self._slots.acquire(blocking=False):
                    free += 1
                rows = self._claim(free) if free else []
                for _ in range(free - len(rows)):
                    self._slots.release()
                for index, row in enumerate(rows):
                    try:
                        self._pool.submit(self._attempt, row)
                    except RuntimeError:  # the interpreter is shutting down: leave the rest for later
                        self._unclaim(rows[index:])
                        return
            except CloudkitError:
                rows = []
            if rows:
                continue
            try:
                due = self._next_due()
            except CloudkitError:
                due = None
            wait = self.settings.poll if due is None else min(self.settings.poll, max(0.0, due - time.time()))
            self._wake.wait(max(wait, 0.005))

    def _attempt(self, row: Any) -> None:
        try:
            error: str | None = None
            try:
                self._deliver(row)
            except DeliveryFailed as exc:
                error = str(exc)
            except Exception as exc:  # any failure of one attempt is recorded, never raised
                error = f"{type(exc).__name__}: {exc}"
            self._record(row, error)
        finally:
            self._slots.release()
            self._wake.set()

    def _record(self, row: Any, error: str | None) -> None:
        attempts = row["attempts"] + 1
        now = time.time()
        with self.service.db.transaction() as conn:
            current = conn.execute("SELECT status, lease_owner FROM deliveries WHERE seq = ?", (row["seq"],)).fetchone()
            if current is None or current["status"] not in ("pending", "retrying") or current["lease_owner"] != self.owner:
                return  # the topic or subscription went away meanwhile: that recorded the outcome
            if error is None:
                conn.execute("UPDATE deliveries SET status = 'sent', attempts = ?, last_error = NULL, lease_owner = NULL,"
                             " lease_until = NULL WHERE seq = ?", (attempts, row["seq"]))
            elif attempts >= self.settings.attempts:
                conn.execute("UPDATE deliveries SET status = 'dead', attempts = ?, last_error = ?, lease_owner = NULL,"
                             " lease_until = NULL WHERE seq = ?", (attempts, error[:1000], row["seq"]))
            else:
                conn.execute("UPDATE deliveries SET status = 'retrying', attempts = ?, last_error = ?, next_attempt_at = ?,"
                             " lease_owner = NULL, lease_until = NULL WHERE seq = ?",
                             (attempts, error[:1000], now + self.settings.delay(attempts), row["seq"]))

    # ------------------------------------------------------------ one attempt
    def _deliver(self, row: Any) -> None:
        if row["kind"] == "notification":
            sub = self.service.db.query("SELECT status FROM subscriptions WHERE id = ?", (row["subscription_id"],))
            if not sub:
                raise DeliveryFailed("the subscription no longer exists")
        if row["protocol"] in ("http", "https"):
            self._post(row, self._envelope(row))
        elif row["protocol"] == "email":
            self._email(row)
        else:
            raise DeliveryFailed(f"protocol {row['protocol']!r} is not delivered by the dispatcher")

    def _envelope(self, row: Any) -> dict[str, Any]:
        from cloudkit_local.notification import iso, notification_envelope

        attributes = json.loads(row["attributes"])
        if row["kind"] == "confirmation":
            env: dict[str, Any] = {
                "Type": "SubscriptionConfirmation",
                "MessageId": row["message_id"],
                "Token": row["token"],
                "TopicArn": row["topic_id"],
                "Message": row["body"],
                "SubscribeURL": self.confirm_url(row["topic_id"], row["token"]),
                "Timestamp": iso(row["published_at"]),
            }
        else:
            env = notification_envelope(
                topic_id=row["topic_id"], message_id=row["message_id"], message=row["body"], subject=row["subject"],
                attributes=attributes, published_at=row["published_at"], subscription_id=row["subscription_id"],
                unsubscribe_url=None,
            )
        return self.service.signer.sign(env)

    def _session(self) -> Any:
        with self._http_lock:
            if self._http is None:
                import requests

                self._http = requests.Session()
                self._http.trust_env = False  # no proxies: endpoints are reached directly
            return self._http

    def _post(self, row: Any, envelope: dict[str, Any]) -> None:
        import requests

        headers = {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": envelope["Type"],
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": envelope["TopicArn"],
            "User-Agent": "cloudkit-local-notification",
        }
        if row["kind"] == "notification":
            headers["x-amz-sns-subscription-arn"] = row["subscription_id"]
        verify: bool | str = self.settings.ca_bundle or True
        try:
            resp = self._session().post(row["endpoint"], data=json.dumps(envelope).encode("utf-8"), headers=headers,
                                        timeout=self.settings.timeout, verify=verify, allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryFailed(f"{type(exc).__name__}: {exc}") from exc
        if not 200 <= resp.status_code < 300:
            raise DeliveryFailed(f"endpoint answered HTTP {resp.status_code}")

    def _email(self, row: Any) -> None:
        s = self.settings
        msg = EmailMessage()
        msg["From"] = s.smtp_sender
        msg["To"] = row["endpoint"]
        msg["Message-ID"] = f"<{row['message_id']}@cloudkit.local>"
        if row["kind"] == "confirmation":
            msg["Subject"] = "Subscription confirmation"
            url = self.confirm_url(row["topic_id"], row["token"])
            msg.set_content(f"{row['body']}\n\nSubscribeURL: {url}\nToken: {row['token']}\nTopicArn: {row['topic_id']}\n")
        else:
            msg["Subject"] = row["subject"] or "Notification"
            msg.set_content(row["body"])
        try:
            context = ssl.create_default_context(cafile=s.ca_bundle)
            smtp: smtplib.SMTP
            if s.smtp_ssl:
                smtp = smtplib.SMTP_SSL(s.smtp_host, s.smtp_port, timeout=s.timeout, context=context)
            else:
                smtp = smtplib.SMTP(s.smtp_host, s.smtp_port, timeout=s.timeout)
            with smtp:
                if s.smtp_starttls:
                    smtp.starttls(context=context)
                if s.smtp_username:
                    smtp.login(s.smtp_username, s.smtp_password or "")
                smtp.send_message(msg)
        except smtplib.SMTPAuthenticationError as exc:
            raise DeliveryFailed(f"SMTP server {s.smtp_host}:{s.smtp_port} refused the login ({exc.smtp_code})") from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(f"SMTP to {s.smtp_host}:{s.smtp_port} failed: {type(exc).__name__}: {exc}") from exc

    # ------------------------------------------------------------ SubscribeURL server
    def confirm_url(self, topic_id: str, token: str) -> str:
        """The ``SubscribeURL`` for ``token``, served by this process on 127.0.0.1."""
        base = self._confirm_base()
        return f"{base}/confirm?{urlencode({'TopicArn': topic_id, 'Token': token})}"

    def _confirm_base(self) -> str:
        with self._confirm_lock:
            if self.confirm_base is None:
                from cloudkit_local._wsgi import BackgroundServer

                server = BackgroundServer(self._confirm_app, name="cloudkit-confirm", threads=2)
                server.start()
                self._confirm_server = server
                self.confirm_base = f"http://127.0.0.1:{server.port}"
            return self.confirm_base

    def _confirm_app(self, environ: Mapping[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        from cloudkit.errors import NotFound

        query = parse_qs(environ.get("QUERY_STRING", ""))
        if environ.get("PATH_INFO") != "/confirm" or "Token" not in query or "TopicArn" not in query:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found\n"]
        try:
            sub = self.service.confirm_subscription(query["TopicArn"][0], query["Token"][0])
        except NotFound:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"unknown token\n"]
        except CloudkitError as exc:
            start_response("400 Bad Request", [("Content-Type", "text/plain")])
            return [str(exc).encode() + b"\n"]
        body = json.dumps({"SubscriptionArn": sub.id, "Status": sub.status}).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
