"""SNS + SQS through cloudkit's aws provider, replayed from cassettes (re-record: CLOUDKIT_RECORD=1).

moto's SNS delivers to SQS for real, so the publish -> receive tests prove delivery end to end when
recording, and replay the same exchanges afterwards.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import _harness as h
import pytest

import cloudkit
from cloudkit import errors


def test_publish_reaches_a_subscribed_queue_with_subject_and_attributes(aws_cloud: cloudkit.Cloud) -> None:
    n = aws_cloud.notification
    topic = n.create_topic("ck-deploys", display_name="Deploys")
    queue = n.create_queue("ck-deploys-inbox")
    assert queue.id.startswith("arn:aws:sqs:") and queue.name == "ck-deploys-inbox" and queue.url

    sub = n.subscribe(topic, protocol="queue", endpoint=queue.name)
    assert (sub.protocol, sub.endpoint, sub.status, sub.topic_id) == ("queue", queue.id, "confirmed", topic.id)
    assert sub.extra.get("RawMessageDelivery", "false") == "false"  # the envelope, unwrapped on receive

    # The queue policy lets this topic (and only it) send, as AWS requires for SNS -> SQS.
    policy = json.loads(n.sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    [statement] = policy["Statement"]
    assert statement["Principal"] == {"Service": "sns.amazonaws.com"}
    assert statement["Condition"] == {"ArnEquals": {"aws:SourceArn": topic.id}}
    n.subscribe(topic, protocol="queue", endpoint=queue.id)  # subscribing again adds no second statement
    policy = json.loads(n.sqs.get_queue_attributes(QueueUrl=queue.url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert len(policy["Statement"]) == 1

    result = n.publish(topic, "version 42 is live", subject="Deployed", attributes={"env": "prod", "team": "ops"})
    assert result.topic_id == topic.id and result.message_id

    [message] = n.receive_messages(queue, max_messages=10, visibility_timeout=30)
    assert message.body == "version 42 is live"
    assert dict(message.attributes) == {"env": "prod", "team": "ops"}
    assert message.receive_count == 1 and message.sent_at is not None
    # the same neutral fields as on every provider (issue 10)
    assert (message.message_id, message.topic_id, message.subject) == (result.message_id, topic.id, "Deployed")
    assert message.published_at is not None and message.published_at.utcoffset() == timedelta(0)
    n.ack_message(queue, message.receipt)
    assert n.receive_messages(queue) == []


def test_visibility_timeout_hides_a_message_until_it_expires(aws_cloud: cloudkit.Cloud) -> None:
    n = aws_cloud.notification
    topic = n.create_topic("ck-jobs")
    queue = n.create_queue("ck-jobs-queue")
    n.subscribe(topic, protocol="queue", endpoint=queue.url)
    n.publish(topic, "job 1")

    [first] = n.receive_messages(queue, visibility_timeout=0)  # visible again at once
    [again] = n.receive_messages(queue, visibility_timeout=60)
    assert (again.id, again.body, again.receive_count) == (first.id, "job 1", 2)
    assert n.receive_messages(queue) == []  # hidden for 60 s now
    n.ack_message(queue, again.receipt)


def test_topics_and_subscriptions_of_every_protocol(aws_cloud: cloudkit.Cloud) -> None:
    n = aws_cloud.notification
    topic = n.create_topic("ck-alerts", display_name="Alerts")
    assert (topic.name, topic.display_name) == ("ck-alerts", "Alerts") and topic.id.startswith("arn:aws:sns:")
    assert n.create_topic("ck-alerts", display_name="Alerts") == topic  # idempotent, as in SNS
    assert n.get_topic("ck-alerts") == topic and n.get_topic(topic.id) == topic
    other = n.create_topic("ck-other")
    assert {t.name for t in n.list_topics()} == {"ck-alerts", "ck-other"}

    subs = {
        "email": n.subscribe(topic, protocol="email", endpoint="ops@example.com"),
        "sms": n.subscribe(topic, protocol="sms", endpoint="+1 415 555 0100"),
        "http": n.subscribe(topic, protocol="http", endpoint="http://hooks.example.com/sns"),
        "https": n.subscribe(topic, protocol="https", endpoint="https://hooks.example.com/sns"),
    }
    assert subs["sms"].endpoint == "+14155550100"
    assert {s.protocol for s in subs.values()} == {"email", "sms", "http", "https"}
    listed = {s.id: s for s in n.list_subscriptions(topic)}
    assert set(listed) == {s.id for s in subs.values()}
    assert listed[subs["email"].id].endpoint == "ops@example.com"
    n.subscribe(other, protocol="email", endpoint="dev@example.com")
    assert len(list(n.list_subscriptions())) == 5
    assert n.get_subscription(subs["http"].id) == subs["http"]

    n.unsubscribe(subs["sms"])
    with pytest.raises(errors.NotFound):
        n.get_subscription(subs["sms"].id)
    with pytest.raises(errors.NotFound):
        n.unsubscribe(subs["sms"].id)
    assert len(list(n.list_subscriptions(topic))) == 3

    n.delete_topic(topic)
    with pytest.raises(errors.NotFound):
        n.get_topic(topic.id)
    with pytest.raises(errors.NotFound):
        n.delete_topic(topic.id)
    assert [t.name for t in n.list_topics()] == ["ck-other"]
    assert {s.endpoint for s in n.list_subscriptions()} == {"dev@example.com"}


def test_queues_crud_and_missing_things_map_to_cloudkit_errors(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    n = aws_cloud.notification
    q = n.create_queue("ck-work")
    assert n.create_queue("ck-work") == q
    assert n.get_queue("ck-work") == q and n.get_queue(q.id) == q and n.get_queue(q.url or "") == q
    n.create_queue("ck-work-2")
    assert {x.name for x in n.list_queues()} == {"ck-work", "ck-work-2"}
    n.delete_queue(q)
    with pytest.raises(errors.NotFound) as missing:
        n.get_queue("ck-work")
    assert missing.value.provider == "aws"
    assert type(missing.value.__cause__).__module__.startswith("botocore")
    with pytest.raises(errors.NotFound):
        n.receive_messages("ck-work")
    with pytest.raises(errors.NotFound):
        n.get_topic("ck-nope")
    with pytest.raises(errors.NotFound):
        n.publish("arn:aws:sns:us-east-1:000000000000:ck-nope", "x")
    with pytest.raises(errors.NotFound):
        n.subscribe("ck-nope", protocol="email", endpoint="ops@example.com")
    topic = n.create_topic("ck-confirm")
    with pytest.raises(errors.NotFound):  # moto confirms everything at once; no pending subscription holds this token
        n.confirm_subscription(topic, "not-a-real-token")


def test_bad_input_is_rejected_before_any_request(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    n = aws_cloud.notification
    topic = "arn:aws:sns:us-east-1:000000000000:ck-x"
    cases = [
        (lambda: n.create_topic("bad name!"), "name"),
        (lambda: n.subscribe(topic, protocol="email", endpoint="not-an-address"), "endpoint"),
        (lambda: n.subscribe(topic, protocol="sms", endpoint="12"), "endpoint"),
        (lambda: n.subscribe(topic, protocol="https", endpoint="http://plain.example.com"), "endpoint"),
        (lambda: n.subscribe(topic, protocol="pigeon", endpoint="x"), "protocol"),
        (lambda: n.publish(topic, ""), "message"),
        (lambda: n.publish(topic, "x" * (256 * 1024 + 1)), "message"),
        (lambda: n.publish(topic, "x", subject="two\nlines"), "subject"),
        (lambda: n.publish(topic, "x", attributes={str(i): "v" for i in range(11)}), "attributes"),
        (lambda: n.receive_messages("q", max_messages=11), "max_messages"),
        (lambda: n.receive_messages("q", visibility_timeout=-1), "visibility_timeout"),
        (lambda: n.create_queue("x" * 81), "name"),
    ]
    for call, field in cases:
        with pytest.raises(errors.InvalidInput) as bad:
            call()
        assert bad.value.field == field
    assert h.recorded_requests(aws_cassette) == 0


def test_delivery_records_are_not_offered(aws_cloud: cloudkit.Cloud) -> None:
    n = aws_cloud.notification
    assert "list_deliveries" not in n.capabilities()
    assert set(n.capabilities()) == set(n.OPERATIONS) - {"list_deliveries"}
    with pytest.raises(errors.NotSupported):
        list(n.list_deliveries())


def test_fifo_topic_delivers_in_order_to_a_fifo_queue(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    n = aws_cloud.notification
    topic = n.create_topic("ck-ledger.fifo")
    queue = n.create_queue("ck-ledger.fifo")
    assert topic.extra["FifoTopic"] == "true" and queue.extra["FifoQueue"] == "true"
    n.subscribe(topic, protocol="queue", endpoint=queue.id)
    for text in ("debit 10", "credit 5", "debit 1"):
        n.publish(topic, text, attributes={"account": "7"})
    got = n.receive_messages(queue, max_messages=10)
    assert [m.body for m in got] == ["debit 10", "credit 5", "debit 1"]
    assert all(dict(m.attributes) == {"account": "7"} for m in got)
    assert h.recorded_requests(aws_cassette, action="Publish") == 3
