"""Pins how the local dispatcher records one attempt: sent, retrying after the backoff, or dead.

A second :class:`Dispatcher` (never started) holds the lease on a hand-made delivery row, so the
service's own dispatcher leaves the row alone, and ``_record``/``_attempt`` are driven directly.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudkit_local._delivery import DeliverySettings, Dispatcher
from cloudkit_local.notification import LocalNotification

SETTINGS = DeliverySettings(attempts=3, backoff=100.0, max_backoff=250.0)


@pytest.fixture
def service(tmp_path: Path) -> Iterator[LocalNotification]:
    svc = LocalNotification({"root": str(tmp_path / "root")})
    yield svc
    svc.close()


@pytest.fixture
def dispatcher(service: LocalNotification) -> Iterator[Dispatcher]:
    d = Dispatcher(service, SETTINGS)
    yield d
    d._pool.shutdown(wait=True)


def _row(
    service: LocalNotification,
    owner: str,
    *,
    attempts: int,
    status: str = "retrying",
    protocol: str = "http",
    kind: str = "confirmation",
    subscription: str = "missing-sub",
) -> Any:
    now = time.time()
    delivery_id = str(uuid.uuid4())
    with service.db.transaction() as conn:
        conn.execute(
            "INSERT INTO deliveries (id, kind, topic_id, subscription_id, protocol, endpoint, message_id, status, attempts,"
            " body, subject, attributes, token, published_at, next_attempt_at, lease_owner, lease_until, last_error, created_at)"
            " VALUES (?, ?, 't', ?, ?, 'http://127.0.0.1:9/', 'm', ?, ?, 'b', NULL, '{}', 'tok', ?, ?, ?, ?, 'old', ?)",
            (delivery_id, kind, subscription, protocol, status, attempts, now, now, owner, now + 10_000, now),
        )
    return service.db.query("SELECT * FROM deliveries WHERE id = ?", (delivery_id,))[0]


def _state(service: LocalNotification, row: Any) -> dict[str, Any]:
    got = service.db.query(
        "SELECT status, attempts, last_error, lease_owner, lease_until, next_attempt_at FROM deliveries WHERE seq = ?", (row["seq"],)
    )[0]
    return dict(zip(got.keys(), tuple(got), strict=True))


def test_a_success_is_sent_and_releases_the_lease(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, dispatcher.owner, attempts=2)
    dispatcher._record(row, None)
    state = _state(service, row)
    del state["next_attempt_at"]
    assert state == {"status": "sent", "attempts": 3, "last_error": None, "lease_owner": None, "lease_until": None}


@pytest.mark.parametrize(("attempts", "delay"), [(0, 100.0), (1, 200.0)])
def test_a_failure_before_the_last_attempt_is_retried_after_the_backoff(
    service: LocalNotification, dispatcher: Dispatcher, attempts: int, delay: float
) -> None:
    row = _row(service, dispatcher.owner, attempts=attempts)
    before = time.time()
    dispatcher._record(row, "boom")
    after = time.time()
    state = _state(service, row)
    due = state.pop("next_attempt_at")
    assert state == {"status": "retrying", "attempts": attempts + 1, "last_error": "boom", "lease_owner": None, "lease_until": None}
    assert before + delay <= due <= after + delay


def test_the_backoff_stops_at_its_cap(service: LocalNotification) -> None:
    capped = Dispatcher(service, DeliverySettings(attempts=10, backoff=100.0, max_backoff=250.0))
    try:
        row = _row(service, capped.owner, attempts=4)
        before = time.time()
        capped._record(row, "boom")
        after = time.time()
        assert before + 250.0 <= _state(service, row)["next_attempt_at"] <= after + 250.0
    finally:
        capped._pool.shutdown(wait=True)


def test_the_last_failed_attempt_is_dead(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, dispatcher.owner, attempts=2)
    dispatcher._record(row, "x" * 1500)
    state = _state(service, row)
    assert state["next_attempt_at"] == row["next_attempt_at"]
    del state["next_attempt_at"]
    assert state == {"status": "dead", "attempts": 3, "last_error": "x" * 1000, "lease_owner": None, "lease_until": None}


def test_a_retry_keeps_the_first_1000_characters_of_the_error(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, dispatcher.owner, attempts=0)
    dispatcher._record(row, "y" * 1001)
    assert _state(service, row)["last_error"] == "y" * 1000


@pytest.mark.parametrize("status", ["sent", "dead"])
def test_a_finished_delivery_is_left_alone(service: LocalNotification, dispatcher: Dispatcher, status: str) -> None:
    row = _row(service, dispatcher.owner, attempts=1, status=status)
    before = _state(service, row)
    dispatcher._record(row, "boom")
    assert _state(service, row) == before


def test_a_pending_delivery_is_recorded(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, dispatcher.owner, attempts=0, status="pending")
    dispatcher._record(row, None)
    assert _state(service, row)["status"] == "sent"


def test_a_delivery_leased_by_another_dispatcher_is_left_alone(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, "someone-else", attempts=1)
    before = _state(service, row)
    dispatcher._record(row, None)
    assert _state(service, row) == before


def test_a_delivery_that_went_away_is_not_recreated(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, dispatcher.owner, attempts=1)
    with service.db.transaction() as conn:
        conn.execute("DELETE FROM deliveries WHERE seq = ?", (row["seq"],))
    dispatcher._record(row, None)
    assert service.db.query("SELECT COUNT(*) FROM deliveries WHERE seq = ?", (row["seq"],))[0][0] == 0


def test_an_attempt_records_why_it_failed(service: LocalNotification, dispatcher: Dispatcher) -> None:
    row = _row(service, dispatcher.owner, attempts=0, protocol="sms")
    dispatcher._slots.acquire()
    dispatcher._attempt(row)
    assert _state(service, row)["last_error"] == "protocol 'sms' is not delivered by the dispatcher"
    gone = _row(service, dispatcher.owner, attempts=0, kind="notification")
    dispatcher._slots.acquire()
    dispatcher._attempt(gone)
    assert _state(service, gone)["last_error"] == "the subscription no longer exists"


def test_an_unexpected_error_is_recorded_with_its_class(service: LocalNotification, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(row: Any) -> None:
        raise KeyError("endpoint")

    monkeypatch.setattr(dispatcher, "_deliver", broken)
    row = _row(service, dispatcher.owner, attempts=0)
    dispatcher._slots.acquire()
    dispatcher._attempt(row)
    assert _state(service, row)["last_error"] == "KeyError: 'endpoint'"
    assert dispatcher._wake.is_set()


def test_a_successful_attempt_is_recorded_as_sent(service: LocalNotification, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher, "_deliver", lambda row: None)
    row = _row(service, dispatcher.owner, attempts=0)
    dispatcher._slots.acquire()
    dispatcher._attempt(row)
    assert (_state(service, row)["status"], _state(service, row)["last_error"]) == ("sent", None)


@pytest.mark.parametrize(("protocol", "route"), [("http", "post"), ("https", "post"), ("email", "email")])
def test_each_protocol_goes_its_own_way(
    service: LocalNotification, dispatcher: Dispatcher, monkeypatch: pytest.MonkeyPatch, protocol: str, route: str
) -> None:
    calls: list[tuple[str, Any, Any]] = []
    monkeypatch.setattr(dispatcher, "_envelope", lambda row: {"for": row["seq"]})
    monkeypatch.setattr(dispatcher, "_post", lambda row, envelope: calls.append(("post", row["seq"], envelope)))
    monkeypatch.setattr(dispatcher, "_email", lambda row: calls.append(("email", row["seq"], None)))
    row = _row(service, dispatcher.owner, attempts=0, protocol=protocol)
    dispatcher._deliver(row)
    assert calls == ([("post", row["seq"], {"for": row["seq"]})] if route == "post" else [("email", row["seq"], None)])


def test_a_notification_whose_subscription_exists_is_delivered(service: LocalNotification, dispatcher: Dispatcher) -> None:
    topic = service.create_topic("pins")
    sub = service.subscribe(topic, protocol="sms", endpoint="+15555550100")
    row = _row(service, dispatcher.owner, attempts=0, protocol="sms", kind="notification", subscription=sub.id)
    dispatcher._slots.acquire()
    dispatcher._attempt(row)
    assert _state(service, row)["last_error"] == "protocol 'sms' is not delivered by the dispatcher"
