"""Models of the notification family (topics, subscriptions, queues; the SNS model)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import attrs

from cloudkit.models._base import extra_field, frozen_map

#: Subscription protocols every provider understands.
PROTOCOLS = ("http", "https", "email", "sms", "queue")


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

    ``status`` is ``pending`` until the endpoint confirms (http, https, email), else ``confirmed``.
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
    """A message received from a queue. Acknowledge it with its ``receipt``."""

    id: str
    body: str
    receipt: str
    attributes: Mapping[str, str] = attrs.field(factory=dict, converter=frozen_map)
    sent_at: datetime | None = None
    receive_count: int = 1


@attrs.frozen
class Delivery:
    """A record of one delivery attempt series (outbox entries, dead letters)."""

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
    created_at: datetime | None = None
