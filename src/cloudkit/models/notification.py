"""Models of the notification family (topics, subscriptions, queues; the SNS model)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import datetime_field, extra_field, frozen_map, to_utc

#: Subscription protocols every provider understands.
PROTOCOLS = ("http", "https", "email", "sms", "queue")

#: Neutral subscription states (``Subscription.status``).
SUBSCRIPTION_STATES = ("pending", "confirmed")

#: Neutral delivery states (``Delivery.status``): ``pending`` (not tried yet), ``retrying``
#: (failed, another attempt is due), ``sent``, ``dead`` (given up).
DELIVERY_STATES = ("pending", "retrying", "sent", "dead")


@attrs.frozen
class Topic:
    """A publish/subscribe topic."""

    id: str
    name: str
    display_name: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Subscription:
    """A subscription of an endpoint to a topic.

    ``status`` (one of :data:`SUBSCRIPTION_STATES`) is ``pending`` until the endpoint confirms
    (http, https, email), else ``confirmed``.
    """

    id: str
    topic_id: str
    protocol: str
    endpoint: str
    status: str
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class PublishResult:
    """What publish returned: the message id the provider assigned."""

    message_id: str
    topic_id: str


@attrs.frozen
class Queue:
    """A message queue a ``queue`` subscription delivers into (SQS-like)."""

    id: str
    name: str
    url: str | None = None
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class QueueMessage:
    """A message received from a queue. Acknowledge it with its ``receipt``.

    The same on every provider: ``body`` is the text that was published (never a provider's
    envelope around it), ``attributes`` the message attributes given to publish. A message that
    came from a topic also carries ``message_id`` (the id :meth:`publish` returned), ``topic_id``,
    ``subject`` (``None`` if publish had none) and ``published_at``; for a message sent to the queue
    directly these are ``None``. ``id`` is the queue's own id of the message, ``sent_at`` when the
    queue received it. ``extra`` holds the provider's native view (the local provider's signed
    envelope under ``"envelope"``, SQS's system attributes on aws).
    """

    id: str
    body: str
    receipt: str
    attributes: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    sent_at: datetime | None = datetime_field()
    receive_count: int = 1
    message_id: str | None = None
    topic_id: str | None = None
    subject: str | None = None
    published_at: datetime | None = datetime_field()
    extra: Mapping[str, object] = extra_field()


@attrs.frozen
class Delivery:
    """A record of one delivery attempt series (outbox entries, dead letters).

    ``status`` is one of :data:`DELIVERY_STATES`.
    """

    id: str
    topic_id: str
    subscription_id: str
    protocol: str
    endpoint: str
    message_id: str
    status: str
    attempts: int
    body: str = ""
    subject: str | None = None
    last_error: str | None = None
    created_at: datetime | None = datetime_field()


@attrs.frozen
class TopicNotification:
    """What a topic delivered into a queue, read from the SNS-format ``Notification`` envelope."""

    message: str
    message_id: str | None
    topic_id: str | None
    subject: str | None
    published_at: datetime | None = datetime_field()
    attributes: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)

    @classmethod
    def from_envelope(cls, body: str) -> TopicNotification | None:
        """Read a ``Notification`` envelope (the SNS message format); ``None`` if ``body`` is not one.

        Providers whose topics deliver the envelope into queues use this to build the neutral
        :class:`QueueMessage` (``body`` = the published text). Message attributes are read from
        ``MessageAttributes`` (``{"name": {"Type": "String", "Value": "..."}}``).
        """
        if not body.startswith("{"):
            return None
        try:
            data = json.loads(body)
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("Type") != "Notification" or not isinstance(data.get("Message"), str):
            return None

        def text(key: str) -> str | None:
            value = data.get(key)
            return value if isinstance(value, str) else None

        raw_attrs = data.get("MessageAttributes")
        attributes: dict[str, str] = {}
        if isinstance(raw_attrs, dict):
            for name, item in raw_attrs.items():
                if isinstance(item, dict) and isinstance(item.get("Value"), str):
                    attributes[str(name)] = item["Value"]
        stamp = text("Timestamp")
        try:
            published = to_utc(stamp) if stamp else None
        except (ValueError, OverflowError):
            published = None
        return cls(
            message=data["Message"], message_id=text("MessageId"), topic_id=text("TopicArn"), subject=text("Subject"),
            published_at=published if isinstance(published, datetime) and published.tzinfo else None,
            attributes=attributes,
        )
