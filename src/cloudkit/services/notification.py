"""The notification family: topics, subscriptions, publish, and the queues subscriptions feed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, ClassVar

from cloudkit import validation as v
from cloudkit.models.notification import Delivery, PublishResult, Queue, QueueMessage, Subscription, Topic
from cloudkit.refs import MessageRef, QueueRef, SubscriptionRef, TopicRef, optional_ref, ref
from cloudkit.services.base import Service, operation


class NotificationService(Service):
    """Publish/subscribe topics (the SNS model) and the queues ``queue`` subscriptions deliver into.

    ``http``, ``https`` and ``email`` subscriptions start ``pending``: the endpoint receives a
    confirmation token and the subscription becomes ``confirmed`` through
    :meth:`confirm_subscription`. Publishing delivers to every confirmed subscription.

    http(s) endpoints on link-local or cloud metadata addresses (169.254.0.0/16, fe80::/10,
    fd00:ec2::254) are refused unless the provider setting ``allow_link_local_endpoints`` is true.
    """

    family: ClassVar[str] = "notification"

    # ---------------------------------------------------------------- topics
    @operation()
    def create_topic(self, name: str, *, display_name: str | None = None) -> Topic:
        """Create a topic (idempotent for the same name, as in SNS)."""
        if display_name is not None:
            v.subject(display_name, "display_name")
        return self._create_topic(v.topic_name(name), display_name)

    @operation()
    def get_topic(self, topic: TopicRef) -> Topic:
        """A topic by id (or name), or ``NotFound``."""
        return self._get_topic(ref(topic, "topic", Topic))

    @operation()
    def list_topics(self) -> Iterator[Topic]:
        """All topics, lazily."""
        return self._list_topics()

    @operation()
    def delete_topic(self, topic: TopicRef) -> None:
        """Delete a topic and its subscriptions."""
        self._delete_topic(ref(topic, "topic", Topic))

    # ---------------------------------------------------------------- subscriptions
    @operation()
    def subscribe(self, topic: TopicRef, *, protocol: str, endpoint: QueueRef) -> Subscription:
        """Subscribe ``endpoint`` over ``protocol`` (``http``, ``https``, ``email``, ``sms``, ``queue``).

        A ``queue`` endpoint is a :class:`Queue` (or its id, name, ARN or URL); the others are strings.
        """
        if isinstance(protocol, str) and protocol.lower() == "queue" and not isinstance(endpoint, str):
            endpoint = ref(endpoint, "endpoint", Queue)
        allow = v.flag("allow_link_local_endpoints", self.settings.get("allow_link_local_endpoints", False))
        proto, ep = v.endpoint(protocol, endpoint, allow_link_local=allow)
        return self._subscribe(ref(topic, "topic", Topic), proto, ep)

    @operation()
    def confirm_subscription(self, topic: TopicRef, token: str) -> Subscription:
        """Confirm a pending subscription with the token its endpoint received."""
        return self._confirm_subscription(ref(topic, "topic", Topic), v.reference("token", token))

    @operation()
    def get_subscription(self, subscription: SubscriptionRef) -> Subscription:
        """A subscription by id, or ``NotFound``."""
        return self._get_subscription(ref(subscription, "subscription", Subscription))

    @operation()
    def list_subscriptions(self, topic: TopicRef | None = None) -> Iterator[Subscription]:
        """Subscriptions of one topic, or of all topics, lazily."""
        return self._list_subscriptions(optional_ref(topic, "topic", Topic))

    @operation()
    def unsubscribe(self, subscription: SubscriptionRef) -> None:
        """Remove a subscription."""
        self._unsubscribe(ref(subscription, "subscription", Subscription))

    @operation()
    def publish(
        self,
        topic: TopicRef,
        message: str,
        *,
        subject: str | None = None,
        attributes: Mapping[str, str] | None = None,
    ) -> PublishResult:
        """Publish ``message`` (at most 256 KiB) to every confirmed subscription of ``topic``."""
        return self._publish(
            ref(topic, "topic", Topic), v.message(message), v.subject(subject), v.message_attributes(attributes)
        )

    # ---------------------------------------------------------------- queues
    @operation()
    def create_queue(self, name: str) -> Queue:
        """Create a queue (idempotent for the same name)."""
        return self._create_queue(v.queue_name(name))

    @operation()
    def get_queue(self, queue: QueueRef) -> Queue:
        """A queue by id (or name), or ``NotFound``."""
        return self._get_queue(ref(queue, "queue", Queue))

    @operation()
    def list_queues(self) -> Iterator[Queue]:
        """All queues, lazily."""
        return self._list_queues()

    @operation()
    def delete_queue(self, queue: QueueRef) -> None:
        """Delete a queue and its messages."""
        self._delete_queue(ref(queue, "queue", Queue))

    @operation()
    def receive_messages(
        self, queue: QueueRef, *, max_messages: int = 10, wait_seconds: float = 0, visibility_timeout: int = 30
    ) -> list[QueueMessage]:
        """Receive up to ``max_messages``; they stay hidden for ``visibility_timeout`` until acknowledged."""
        return self._receive_messages(
            ref(queue, "queue", Queue),
            v.int_range("max_messages", max_messages, 1, 10),
            v.number_range("wait_seconds", wait_seconds, 0, 20),
            v.int_range("visibility_timeout", visibility_timeout, 0, 43200),
        )

    @operation()
    def ack_message(self, queue: QueueRef, receipt: MessageRef) -> None:
        """Acknowledge (delete) a received message: the :class:`QueueMessage` or its receipt."""
        self._ack_message(ref(queue, "queue", Queue), ref(receipt, "receipt", QueueMessage))

    @operation()
    def list_deliveries(self, *, topic: TopicRef | None = None, status: str | None = None) -> Iterator[Delivery]:
        """Delivery records: outbox entries (``sent``), retries (``retrying``), dead letters (``dead``)."""
        st = None if status is None else v.one_of("status", status, ("pending", "retrying", "sent", "dead"))
        return self._list_deliveries(optional_ref(topic, "topic", Topic), st)

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _create_topic(self, name: str, display_name: str | None) -> Topic:
            ...

        def _get_topic(self, topic_id: str) -> Topic:
            ...

        def _list_topics(self) -> Iterator[Topic]:
            ...

        def _delete_topic(self, topic_id: str) -> None:
            ...

        def _subscribe(self, topic_id: str, protocol: str, endpoint: str) -> Subscription:
            ...

        def _confirm_subscription(self, topic_id: str, token: str) -> Subscription:
            ...

        def _get_subscription(self, subscription_id: str) -> Subscription:
            ...

        def _list_subscriptions(self, topic_id: str | None) -> Iterator[Subscription]:
            ...

        def _unsubscribe(self, subscription_id: str) -> None:
            ...

        def _publish(self, topic_id: str, message: str, subject: str | None, attributes: dict[str, str]) -> PublishResult:
            ...

        def _create_queue(self, name: str) -> Queue:
            ...

        def _get_queue(self, queue_id: str) -> Queue:
            ...

        def _list_queues(self) -> Iterator[Queue]:
            ...

        def _delete_queue(self, queue_id: str) -> None:
            ...

        def _receive_messages(self, queue_id: str, max_messages: int, wait_seconds: float, visibility_timeout: int) -> list[QueueMessage]:
            ...

        def _ack_message(self, queue_id: str, receipt: str) -> None:
            ...

        def _list_deliveries(self, topic_id: str | None, status: str | None) -> Iterator[Delivery]:
            ...

















