"""The neutral comparison sees every field that differs, and only those."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloudkit.models import Bucket, RecordSet
from cloudkit.models.notification import QueueMessage
from cloudkit.testing.portability import assert_portable, neutral, neutral_diff


def message(body: str, *, msg_id: str = "m-1", at: datetime | None = None) -> QueueMessage:
    return QueueMessage(id=msg_id, body=body, receipt=f"r-{msg_id}", sent_at=at, message_id=msg_id, topic_id="t",
                        subject="Nightly", extra={"native": msg_id})


def test_ids_times_and_extra_are_left_out() -> None:
    a = message("done", msg_id="a", at=datetime(2026, 1, 1, tzinfo=UTC))
    b = message("done", msg_id="b", at=None)
    assert neutral_diff({"m": [a]}, {"m": [b]}) == []
    assert "extra" not in neutral(a) and "sent_at" not in neutral(a) and "receipt" not in neutral(a)


def test_a_different_neutral_field_is_named_by_its_path() -> None:
    got = neutral_diff({"q": [message("done")]}, {"q": [message("{\"Message\": \"done\"}")]})
    assert got == ["q.0.body: 'done' != '{\"Message\": \"done\"}'"]
    records = neutral_diff([RecordSet("www", "A", 300, ("192.0.2.1",))], [RecordSet("www", "A", 60, ("192.0.2.1",))])
    assert records == ["0.ttl: 300 != 60"]
    assert neutral_diff([1, 2], [1]) and neutral_diff({"a": 1}, {"b": 1})


def test_ignored_paths_need_a_reason_and_match_one_step_per_star() -> None:
    first, second = {"s": [Bucket(name="b", region=None)]}, {"s": [Bucket(name="b", region="us-east-1")]}
    assert neutral_diff(first, second) == ["s.0.region: None != 'us-east-1'"]
    assert neutral_diff(first, second, {"s.*.region": "provider's"}) == []
    assert neutral_diff(first, second, {"*.region": "one step only"}) != []
    with pytest.raises(AssertionError, match="local and aws differ in 1 neutral fields"):
        assert_portable(first, second, names=("local", "aws"))
