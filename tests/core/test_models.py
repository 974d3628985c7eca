"""The models validate and normalise at construction, and the kit checks every returned model (issue 10)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import attrs
import pytest
from dateutil.tz import tzlocal

import cloudkit.models as m
from cloudkit.errors import InvalidInput
from cloudkit.testing.checks import ModelCheckFailed, check_model

# ---------------------------------------------------------------- hashable, read-only


def test_every_frozen_model_with_maps_is_hashable_and_read_only() -> None:
    obj = m.ObjectInfo("b", "k", 1, metadata={"owner": "ops"}, extra={"native": [1, 2]})
    assert hash(obj) == hash(m.ObjectInfo("b", "k", 1, metadata={"owner": "ops"}))
    assert len({obj, m.ObjectInfo("b", "k", 1, metadata={"owner": "ops"})}) == 1
    with pytest.raises(TypeError):
        obj.metadata["owner"] = "me"  # type: ignore[index]
    with pytest.raises(TypeError):
        obj.extra["native"] = []  # type: ignore[index]
    hash(m.Instance("i-1", "web", "running", tags={"Name": "web"}))
    hash(m.QueueMessage("1", "text", "r", attributes={"a": "b"}))
    hash(m.EnvironmentSettings(env_vars={"A": "1"}, options={"aws:x:y": "z"}))
    hash(m.ConfigurationTemplate("app", "t"))
    hash(m.DeleteResult(("a",), {"b": "AccessDenied"}))


# ---------------------------------------------------------------- datetimes


def test_iso_strings_are_parsed_to_aware_utc() -> None:
    image = m.Image("ami-1", "img", created_at="2026-12-01T15:10:21.000Z")  # what aws returned as a str
    assert image.created_at == datetime(2026, 12, 1, 15, 10, 21, tzinfo=UTC)
    assert image.created_at is not None and image.created_at.tzinfo is UTC


def test_aware_datetimes_are_converted_to_utc() -> None:
    plus2 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    snap = m.VolumeSnapshot("snap-1", "vol-1", 1, "completed", created_at=plus2)
    assert snap.created_at == plus2 and snap.created_at is not None and snap.created_at.tzinfo is UTC
    local = datetime(2026, 1, 1, 12, 0, tzinfo=tzlocal())  # what botocore hands out
    inst = m.Instance("i-1", "web", "running", launched_at=local)
    assert inst.launched_at is not None and inst.launched_at.tzinfo is UTC and inst.launched_at == local
    event = m.Event(timestamp=plus2, message="deployed")
    assert event.timestamp.tzinfo is UTC


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda v: m.Image("ami-1", "img", created_at=v), "Image.created_at"),
        (lambda v: m.Bucket("b", created_at=v), "Bucket.created_at"),
        (lambda v: m.ObjectInfo("b", "k", 1, last_modified=v), "ObjectInfo.last_modified"),
        (lambda v: m.QueueMessage("1", "x", "r", sent_at=v), "QueueMessage.sent_at"),
        (lambda v: m.Event(timestamp=v, message="x"), "Event.timestamp"),
        (lambda v: m.DatabaseInstance("db", "mysql", "available", latest_restorable_time=v), "DatabaseInstance.latest_restorable_time"),
    ],
)
@pytest.mark.parametrize("value", [datetime(2026, 1, 1, 12, 0), "2026-01-01T12:00:00", "yesterday", 1767225600])
def test_naive_or_unparsable_times_are_refused_naming_the_field(build: object, field: str, value: object) -> None:
    with pytest.raises(InvalidInput) as err:
        build(value)  # type: ignore[operator]
    assert err.value.field == field


# ---------------------------------------------------------------- record sets


def test_record_sets_normalise_type_and_ttl() -> None:
    rs = m.RecordSet("www", "a", "300", ["1.2.3.4"])  # type: ignore[arg-type]
    assert (rs.type, rs.ttl, rs.values) == ("A", 300, ("1.2.3.4",))
    assert rs == m.RecordSet("www", "A", 300, ("1.2.3.4",))


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"type": "A B"}, "RecordSet.type"),
        ({"type": 1}, "RecordSet.type"),
        ({"type": ""}, "RecordSet.type"),
        ({"ttl": "five"}, "RecordSet.ttl"),
        ({"ttl": -1}, "RecordSet.ttl"),
        ({"ttl": 2**31}, "RecordSet.ttl"),
        ({"ttl": True}, "RecordSet.ttl"),
        ({"ttl": 300.5}, "RecordSet.ttl"),
        ({"values": (1, 2)}, "RecordSet.values"),
        ({"name": ""}, "RecordSet.name"),
        ({"name": None}, "RecordSet.name"),
    ],
)
def test_record_sets_refuse_bad_fields(kwargs: dict[str, object], field: str) -> None:
    base: dict[str, object] = {"name": "www", "type": "A", "ttl": 300, "values": ("1.2.3.4",)}
    with pytest.raises(InvalidInput) as err:
        m.RecordSet(**{**base, **kwargs})  # type: ignore[arg-type]
    assert err.value.field == field


# ---------------------------------------------------------------- the SNS envelope


def test_topic_notification_reads_the_sns_envelope() -> None:
    envelope = {
        "Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:000000000000:t",
        "Subject": "Deployed", "Message": "v42", "Timestamp": "2026-11-26T14:00:00.123Z",
        "MessageAttributes": {"env": {"Type": "String", "Value": "prod"}},
    }
    note = m.TopicNotification.from_envelope(json.dumps(envelope))
    assert note is not None
    assert (note.message, note.message_id, note.topic_id, note.subject) == ("v42", "m-1", envelope["TopicArn"], "Deployed")
    assert note.published_at == datetime(2026, 11, 26, 14, 0, 0, 123000, tzinfo=UTC)
    assert dict(note.attributes) == {"env": "prod"}
    for text in ["plain text", '{"Message": "no Type"}', '{"Type": "Notification", "Message": 5}', "{not json", "[]",
                 json.dumps({**envelope, "Timestamp": "garbage"})[:-1]]:
        assert m.TopicNotification.from_envelope(text) is None
    odd = m.TopicNotification.from_envelope(json.dumps({**envelope, "Timestamp": "garbage"}))
    assert odd is not None and odd.published_at is None


# ---------------------------------------------------------------- the kit's model check


def test_check_model_accepts_good_models_and_names_what_is_wrong() -> None:
    check_model(m.Instance("i-1", "web", "running", launched_at=datetime.now(UTC), tags={"a": "b"}))
    check_model(m.RecordSet("www", "A", 300, ("1.2.3.4",)))
    bad_state = m.VolumeSnapshot("s", "v", 1, "available")  # libcloud's old value
    with pytest.raises(ModelCheckFailed, match=r"VolumeSnapshot\.state: 'available' is not one of"):
        check_model(bad_state)
    sneaky = m.Bucket("b", created_at=datetime.now(UTC))
    object.__setattr__(sneaky, "created_at", datetime(2026, 1, 1))  # bypasses the converter
    with pytest.raises(ModelCheckFailed, match=r"Bucket\.created_at: .* is not an aware UTC datetime"):
        check_model(sneaky)
    wrong_type = m.Volume("v", 1, "available")
    object.__setattr__(wrong_type, "size_gb", "1")
    with pytest.raises(ModelCheckFailed, match=r"Volume\.size_gb: expected an int"):
        check_model(wrong_type)
    not_hashable = m.Instance("i-1", "web", "running")
    object.__setattr__(not_hashable, "tags", {"a": "b"})
    with pytest.raises(ModelCheckFailed, match="hashable"):
        check_model(not_hashable)


BROKEN_SUITE = '''
from __future__ import annotations

import attrs
import pytest

import cloudkit
from cloudkit.models.notification import QueueMessage
from cloudkit.testing.notification import NotificationConformance
from cloudkit_local.notification import LocalNotification

MODE = {mode!r}


class Broken(LocalNotification):
    def _receive_messages(self, queue_id, max_messages, wait_seconds, visibility_timeout):
        got = super()._receive_messages(queue_id, max_messages, wait_seconds, visibility_timeout)
        out = []
        for msg in got:
            if MODE == "envelope":  # the published text wrapped in the SNS envelope, as local used to
                msg = QueueMessage(id=msg.id, body=str(msg.extra["envelope"]), receipt=msg.receipt,
                                   attributes=msg.attributes, sent_at=msg.sent_at, receive_count=msg.receive_count)
            elif MODE == "naive":  # a driver building a model with a naive time
                msg = attrs.evolve(msg, sent_at=msg.sent_at.replace(tzinfo=None))
            elif MODE == "sneaky-naive":  # a naive time smuggled past the converter
                object.__setattr__(msg, "sent_at", msg.sent_at.replace(tzinfo=None))
            out.append(msg)
        return out

    def _list_subscriptions(self, topic_id):
        for sub in super()._list_subscriptions(topic_id):
            yield attrs.evolve(sub, status="Confirmed") if MODE == "native-state" else sub


class BrokenPlugin:
    @cloudkit.hookimpl(tryfirst=True)
    def cloudkit_make_service(self, provider, family, settings):
        if provider == "local" and family == "notification" and MODE != "none":
            return Broken(settings)
        return None


cloudkit.register_plugin(BrokenPlugin(), name="broken-notification")


class TestBroken(NotificationConformance):
    pass
'''


@pytest.mark.parametrize(
    ("mode", "test", "expected"),
    [
        ("none", "test_publish_reaches_a_queue_subscription", "1 passed"),
        ("envelope", "test_publish_reaches_a_queue_subscription", "1 failed"),
        ("naive", "test_publish_reaches_a_queue_subscription", "1 failed"),
        ("sneaky-naive", "test_publish_reaches_a_queue_subscription", "1 failed"),
        ("none", "test_subscriptions_list_and_unsubscribe", "1 passed"),
        ("native-state", "test_subscriptions_list_and_unsubscribe", "1 failed"),
    ],
)
def test_a_broken_plugin_fails_the_kit(tmp_path: Path, mode: str, test: str, expected: str) -> None:
    suite = tmp_path / "test_broken_kit.py"
    suite.write_text(textwrap.dedent(BROKEN_SUITE.format(mode=mode)))
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(tmp_path), str(suite), "-k", test],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr
    assert expected in summary, proc.stdout[-4000:]
    if mode == "envelope":
        assert "assert ['{" in proc.stdout  # failed on the body, not on something else
    if mode == "sneaky-naive":
        assert "not an aware UTC datetime" in proc.stdout
    if mode == "native-state":
        assert "Subscription.status: 'Confirmed' is not one of the documented values" in proc.stdout


def test_state_fields_name_real_fields() -> None:
    for (cls, name), choices in m.STATE_FIELDS.items():
        assert name in attrs.fields_dict(cls) and choices
