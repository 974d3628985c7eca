"""The notification conformance suite: what every provider's topics, subscriptions and queues must do.

Subclass :class:`NotificationConformance` in a provider's tests (with a ``cloudkit_cloud``
fixture), or run ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. Delivery is
checked through a ``queue`` subscription, which every SNS-like provider can do without a
public endpoint; operations the provider's capabilities exclude are skipped with that reason.

Class attributes a provider may set:

``delivery_timeout``
    Seconds to wait for a published message to reach a queue (default 15).

The acknowledgement contract the suite checks: acknowledging a message twice, or with a receipt
from an earlier delivery of it, is not an error (as on SQS, and as gocloud.dev's drivertest asks);
only the receipt of the latest delivery is sure to delete the message. A receive with
``visibility_timeout=0`` leaves the message visible at once (a negative acknowledgement), and each
delivery carries a new receipt. Delivery order is not promised.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import ClassVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import CloudkitError, InvalidInput, NotFound
from cloudkit.models.notification import Queue, QueueMessage, Topic
from cloudkit.services.base import Service
from cloudkit.services.notification import NotificationService
from cloudkit.testing.helpers import Conformance, requires, unique_name


class NotificationConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.NotificationService`."""

    delivery_timeout: ClassVar[float] = 15.0

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def notification(self, cloudkit_cloud: Cloud) -> NotificationService:
        """The notification service under test."""
        return cloudkit_cloud.notification

    @pytest.fixture
    def topic(self, cloudkit_cloud: Cloud, notification: NotificationService) -> Iterator[Topic]:
        """A fresh topic, deleted after the test."""
        requires(cloudkit_cloud, "notification", "create_topic", "delete_topic")
        created = notification.create_topic(unique_name("ck"))
        yield created
        try:
            notification.delete_topic(created)
        except CloudkitError:
            pass

    @pytest.fixture
    def queue(self, cloudkit_cloud: Cloud, notification: NotificationService) -> Iterator[Queue]:
        """A fresh queue, deleted after the test."""
        requires(cloudkit_cloud, "notification", "create_queue", "delete_queue")
        created = notification.create_queue(unique_name("ckq"))
        yield created
        try:
            notification.delete_queue(created)
        except CloudkitError:
            pass

    def _receive(self, notification: NotificationService, queue: Queue, count: int = 1,
                 visibility_timeout: int = 30) -> list[QueueMessage]:
        deadline = time.monotonic() + self.delivery_timeout
        got: list[QueueMessage] = []
        while len(got) < count and time.monotonic() < deadline:
            got += notification.receive_messages(queue, max_messages=min(10, count - len(got)), wait_seconds=1,
                                                 visibility_timeout=visibility_timeout)
        return got

    def _queue_on(self, notification: NotificationService, topic: Topic, queue: Queue) -> None:
        notification.subscribe(topic, protocol="queue", endpoint=queue.id)

    # ------------------------------------------------------------ capabilities
    def test_capabilities_are_known_operations(self, notification: NotificationService) -> None:
        caps = notification.capabilities()
        assert caps <= set(NotificationService.OPERATIONS)
        for op in NotificationService.OPERATIONS:
            assert notification.supports(op) == (op in caps)

    # ------------------------------------------------------------ topics
    def test_topic_lifecycle(self, cloudkit_cloud: Cloud, notification: NotificationService) -> None:
        requires(cloudkit_cloud, "notification", "create_topic", "get_topic", "list_topics", "delete_topic")
        name = unique_name("ck")
        topic = notification.create_topic(name)
        try:
            assert topic.name == name
            assert notification.create_topic(name).id == topic.id  # idempotent, as in SNS
            assert notification.get_topic(topic.id).name == name
            assert topic.id in {t.id for t in notification.list_topics()}
        finally:
            notification.delete_topic(topic)
        assert topic.id not in {t.id for t in notification.list_topics()}
        with pytest.raises(NotFound):
            notification.get_topic(topic.id)

    def test_bad_input_is_rejected_before_any_call(self, notification: NotificationService) -> None:
        with pytest.raises(InvalidInput) as err:
            notification.create_topic("no spaces allowed")
        assert err.value.field == "name"
        with pytest.raises(InvalidInput) as err:
            notification.subscribe("any-topic", protocol="carrier-pigeon", endpoint="coo")
        assert err.value.field == "protocol"
        with pytest.raises(InvalidInput):
            notification.subscribe("any-topic", protocol="email", endpoint="not-an-address")
        with pytest.raises(InvalidInput):
            notification.subscribe("any-topic", protocol="sms", endpoint="12345")
        with pytest.raises(InvalidInput):
            notification.subscribe("any-topic", protocol="https", endpoint="http://example.com/hook")
        with pytest.raises(InvalidInput) as err:
            notification.publish("any-topic", "x" * (256 * 1024 + 1))
        assert err.value.field == "message"
        with pytest.raises(InvalidInput):
            notification.publish("any-topic", "")
        with pytest.raises(InvalidInput):
            notification.publish("any-topic", "hello", subject="two\nlines")
        with pytest.raises(InvalidInput):
            notification.receive_messages("any-queue", max_messages=11)

    def test_message_of_exactly_256_kib_is_accepted(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                    topic: Topic) -> None:
        requires(cloudkit_cloud, "notification", "publish")
        result = notification.publish(topic, "x" * (256 * 1024))
        assert result.message_id
        assert result.topic_id == topic.id

    # ------------------------------------------------------------ queues and delivery
    def test_queue_lifecycle(self, cloudkit_cloud: Cloud, notification: NotificationService) -> None:
        requires(cloudkit_cloud, "notification", "create_queue", "get_queue", "list_queues", "delete_queue")
        name = unique_name("ckq")
        queue = notification.create_queue(name)
        try:
            assert queue.name == name
            assert notification.create_queue(name).id == queue.id
            assert notification.get_queue(queue.id).name == name
            assert queue.id in {q.id for q in notification.list_queues()}
        finally:
            notification.delete_queue(queue)
        assert queue.id not in {q.id for q in notification.list_queues()}

    def test_publish_reaches_a_queue_subscription(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                  topic: Topic, queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        sub = notification.subscribe(topic, protocol="queue", endpoint=queue.id)
        assert sub.protocol == "queue"
        assert sub.status == "confirmed"
        assert sub.topic_id == topic.id
        text = '{"looks": "like json"} deployed version 42 ✓'
        result = notification.publish(topic, text, subject="Deployed", attributes={"env": "prod"})
        got = self._receive(notification, queue)
        # The same message on every provider: the published text, never an envelope around it.
        assert [m.body for m in got] == [text]
        message = got[0]
        assert (message.message_id, message.topic_id, message.subject) == (result.message_id, topic.id, "Deployed")
        assert dict(message.attributes) == {"env": "prod"}
        # Replayed recordings carry the time they were recorded: a plausible past time, never the future.
        assert message.published_at is not None
        assert datetime(2020, 1, 1, tzinfo=UTC) <= message.published_at <= datetime.now(UTC) + timedelta(minutes=5)
        notification.ack_message(queue, got[0].receipt)
        assert notification.receive_messages(queue, wait_seconds=0, visibility_timeout=0) == []

    def test_unacknowledged_message_comes_back_after_visibility_timeout(
        self, cloudkit_cloud: Cloud, notification: NotificationService, topic: Topic, queue: Queue
    ) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        notification.subscribe(topic, protocol="queue", endpoint=queue.id)
        notification.publish(topic, "at least once")
        deadline = time.monotonic() + self.delivery_timeout
        first: list[QueueMessage] = []
        while not first and time.monotonic() < deadline:
            first = notification.receive_messages(queue, wait_seconds=1, visibility_timeout=2)
        assert len(first) == 1
        assert notification.receive_messages(queue, wait_seconds=0) == []  # hidden while the first receiver works
        again: list[QueueMessage] = []
        while not again and time.monotonic() < deadline:
            again = notification.receive_messages(queue, wait_seconds=1, visibility_timeout=30)
        assert len(again) == 1
        assert again[0].body == "at least once"
        assert again[0].subject is None
        assert again[0].receive_count >= 2
        notification.ack_message(queue, again[0].receipt)
        assert notification.receive_messages(queue, wait_seconds=0, visibility_timeout=0) == []

    def test_every_subscription_gets_each_message(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                  topic: Topic) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "create_queue", "delete_queue")
        queues = [notification.create_queue(unique_name("ckq")) for _ in range(2)]
        try:
            for q in queues:
                notification.subscribe(topic, protocol="queue", endpoint=q.id)
            for i in range(3):
                notification.publish(topic, f"message {i}")
            for q in queues:
                got = self._receive(notification, q, count=3)
                assert sorted(m.body for m in got) == ["message 0", "message 1", "message 2"]
        finally:
            for q in queues:
                notification.delete_queue(q)

    # ------------------------------------------------------------ subscriptions
    def test_subscriptions_list_and_unsubscribe(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                topic: Topic, queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "list_subscriptions", "get_subscription", "unsubscribe")
        sub = notification.subscribe(topic, protocol="queue", endpoint=queue.id)
        sms = notification.subscribe(topic, protocol="sms", endpoint="+14155550100")
        assert sms.status == "confirmed"
        assert {s.id for s in notification.list_subscriptions(topic)} == {sub.id, sms.id}
        assert sub.id in {s.id for s in notification.list_subscriptions()}
        assert notification.get_subscription(sub.id).endpoint == sub.endpoint
        notification.unsubscribe(sub)
        assert {s.id for s in notification.list_subscriptions(topic)} == {sms.id}
        with pytest.raises(NotFound):
            notification.get_subscription(sub.id)

    def test_deleting_a_topic_removes_its_subscriptions(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                       queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "create_topic", "subscribe", "list_subscriptions", "delete_topic")
        topic = notification.create_topic(unique_name("ck"))
        sub = notification.subscribe(topic, protocol="queue", endpoint=queue.id)
        notification.delete_topic(topic)
        assert sub.id not in {s.id for s in notification.list_subscriptions()}

    def test_http_and_email_subscriptions_start_pending(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                        topic: Topic) -> None:
        requires(cloudkit_cloud, "notification", "subscribe")
        sub = notification.subscribe(topic, protocol="email", endpoint="ops@example.com")
        assert sub.protocol == "email"
        assert sub.status == "pending"

    def test_sms_goes_to_the_outbox(self, cloudkit_cloud: Cloud, notification: NotificationService, topic: Topic) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "list_deliveries")
        notification.subscribe(topic, protocol="sms", endpoint="+1 415 555 0100")
        result = notification.publish(topic, "your code is 123456")
        sent = [d for d in notification.list_deliveries(topic=topic, status="sent") if d.message_id == result.message_id]
        assert [(d.protocol, d.endpoint, d.body) for d in sent] == [("sms", "+14155550100", "your code is 123456")]

    def test_missing_resources_raise_not_found(self, cloudkit_cloud: Cloud, notification: NotificationService) -> None:
        requires(cloudkit_cloud, "notification", "get_topic", "publish", "get_queue")
        with pytest.raises(NotFound):
            notification.get_topic(unique_name("ck-missing"))
        with pytest.raises(NotFound):
            notification.publish(unique_name("ck-missing"), "hello")
        with pytest.raises(NotFound):
            notification.get_queue(unique_name("ckq-missing"))

    # ------------------------------------------------------------ acknowledgement and redelivery
    # The tests below match gocloud.dev's pubsub drivertest (docs/testing.md maps one to the other).
    def test_acknowledging_twice_is_not_an_error(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                 topic: Topic, queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        self._queue_on(notification, topic, queue)
        for i in range(3):
            notification.publish(topic, str(i))
        got = self._receive(notification, queue, count=3)
        assert sorted(m.body for m in got) == ["0", "1", "2"]
        by_body = {m.body: m for m in got}
        for body in ("0", "1"):
            notification.ack_message(queue, by_body[body])
        for body in ("0", "1"):
            notification.ack_message(queue, by_body[body].receipt)  # again: no error
        # Nothing is visible: '0' and '1' are gone, '2' is still with its receiver.
        assert notification.receive_messages(queue, wait_seconds=0) == []
        notification.ack_message(queue, by_body["2"])
        notification.ack_message(queue, by_body["2"])

    def test_visibility_timeout_zero_redelivers_at_once(self, cloudkit_cloud: Cloud, notification: NotificationService,
                                                       topic: Topic, queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        self._queue_on(notification, topic, queue)
        for i in range(2):
            notification.publish(topic, f"nack {i}")
        deadline = time.monotonic() + self.delivery_timeout
        first: set[str] = set()
        while first != {"nack 0", "nack 1"} and time.monotonic() < deadline:
            first |= {m.body for m in notification.receive_messages(queue, wait_seconds=1, visibility_timeout=0)}
        assert first == {"nack 0", "nack 1"}
        second = self._receive(notification, queue, count=2)
        assert sorted(m.body for m in second) == ["nack 0", "nack 1"]
        for m in second:
            notification.ack_message(queue, m)
        assert notification.receive_messages(queue, wait_seconds=0, visibility_timeout=0) == []

    def test_redelivery_carries_a_new_receipt_and_a_stale_ack_is_harmless(
        self, cloudkit_cloud: Cloud, notification: NotificationService, topic: Topic, queue: Queue
    ) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        self._queue_on(notification, topic, queue)
        notification.publish(topic, "twice")
        [first] = self._receive(notification, queue, visibility_timeout=0)
        [second] = self._receive(notification, queue)
        assert (first.body, second.body) == ("twice", "twice")
        assert first.message_id == second.message_id
        assert first.receipt != second.receipt, "a redelivery must carry a new receipt"
        notification.ack_message(queue, first.receipt)  # stale: not an error
        notification.ack_message(queue, second.receipt)  # the latest one deletes the message
        assert notification.receive_messages(queue, wait_seconds=0, visibility_timeout=0) == []

    def test_batches_deliver_every_message_once_in_any_order(self, cloudkit_cloud: Cloud,
                                                            notification: NotificationService, topic: Topic,
                                                            queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        self._queue_on(notification, topic, queue)
        sent = [f"batch {i:02d}" for i in range(12)]
        for body in sent:
            notification.publish(topic, body, attributes={"n": body[-2:]})
        got = self._receive(notification, queue, count=12)
        assert sorted(m.body for m in got) == sent  # each once; the order is not promised
        assert all(dict(m.attributes) == {"n": m.body[-2:]} for m in got)
        assert len({m.receipt for m in got}) == 12
        for m in got:
            notification.ack_message(queue, m)
        assert notification.receive_messages(queue, wait_seconds=0, visibility_timeout=0) == []

    def test_unusual_bodies_and_attributes_arrive_unchanged(self, cloudkit_cloud: Cloud,
                                                           notification: NotificationService, topic: Topic,
                                                           queue: Queue) -> None:
        requires(cloudkit_cloud, "notification", "subscribe", "publish", "receive_messages", "ack_message")
        self._queue_on(notification, topic, queue)
        weird = ["fwd/slash", "back\\slash", "quote'\"", "percent%20", "ünïcödé ключ 日本", "emoji 🙂", "<xml>&amp;</xml>",
                 "  spaces  ", "tab\there"]
        body = " | ".join(weird)
        attributes = {f"k{i}": w for i, w in enumerate(weird[:8])}
        notification.publish(topic, body, attributes=attributes)
        notification.publish(topic, '{"Foo": "Bar"}')
        got = self._receive(notification, queue, count=2)
        by_body = {m.body: m for m in got}
        assert set(by_body) == {body, '{"Foo": "Bar"}'}
        assert dict(by_body[body].attributes) == attributes
        assert dict(by_body['{"Foo": "Bar"}'].attributes) == {}
        for m in got:
            notification.ack_message(queue, m)

    def test_missing_queue_raises_not_found_on_receive_and_ack(self, cloudkit_cloud: Cloud,
                                                              notification: NotificationService) -> None:
        requires(cloudkit_cloud, "notification", "receive_messages", "ack_message")
        missing = unique_name("ckq-missing")
        with pytest.raises(NotFound):
            notification.receive_messages(missing, wait_seconds=0)
        with pytest.raises(NotFound):
            notification.ack_message(missing, "receipt-of-nothing")

    def test_surrogates_in_attributes_are_refused(self, notification: NotificationService) -> None:
        for attributes in ({"k": "bad \ud800"}, {"bad\ud800": "v"}):
            with pytest.raises(InvalidInput) as err:
                notification.publish("any-topic", "hello", attributes=attributes)
            assert err.value.field.startswith("attributes")

    # ------------------------------------------------------------ the native escape hatch
    def test_native_escape_hatch_is_there_and_documented(self, notification: NotificationService) -> None:
        prop = type(notification).native
        assert prop is not Service.native, f"{type(notification).__name__} does not offer .native"
        assert prop.__doc__ and prop.__doc__.strip(), f"{type(notification).__name__}.native has no docstring"
        assert notification.native is not None
