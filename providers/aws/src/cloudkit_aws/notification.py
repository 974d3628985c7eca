"""The notification family on Amazon SNS (topics, subscriptions, publish) and SQS (queues).

Ids are ARNs throughout: a topic's id is its topic ARN, a subscription's its subscription ARN and a
queue's its queue ARN (``Queue.url`` holds the queue URL SQS calls take). A ``queue`` subscription
is an SNS ``sqs`` subscription that delivers the SNS ``Notification`` envelope (no raw message
delivery, so the subject, message id, topic and time survive); :meth:`receive_messages` unwraps it
into the neutral :class:`~cloudkit.QueueMessage` -- ``body`` is the published text, as on every
provider, and ``message_id``/``topic_id``/``subject``/``published_at``/``attributes`` come from the
envelope. (A subscription made with raw delivery elsewhere still works: its messages arrive with
only ``body`` and ``attributes`` filled.) Subscribing also adds a statement to the queue's access
policy that lets the topic (and only that topic) send to it, as AWS requires. SNS keeps no delivery
records that an API can list, so ``list_deliveries`` is not supported here (SNS delivery status goes to CloudWatch Logs).
"""

from __future__ import annotations

import hashlib
import json
import math
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from cloudkit.errors import InvalidInput, NotFound
from cloudkit.models.notification import PublishResult, Queue, QueueMessage, Subscription, Topic, TopicNotification
from cloudkit.services.notification import NotificationService
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors, mapped

#: Neutral protocol -> SNS protocol.
_TO_SNS = {"http": "http", "https": "https", "email": "email", "sms": "sms", "queue": "sqs"}
_FROM_SNS = {v: k for k, v in _TO_SNS.items()}
_PENDING = "PendingConfirmation"


def make_service(settings: Mapping[str, Any]) -> AwsNotification:
    """The aws provider's notification service (the plugin calls this)."""
    return AwsNotification(settings)


def _name_of_arn(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


def _queue_message(m: Mapping[str, Any]) -> QueueMessage:
    """The neutral message of one SQS message: an SNS envelope is unwrapped (body = published text)."""
    system = m.get("Attributes", {})
    sent = system.get("SentTimestamp")
    body = str(m.get("Body", ""))
    common: dict[str, Any] = {
        "id": m["MessageId"],
        "receipt": m["ReceiptHandle"],
        "sent_at": None if sent is None else datetime.fromtimestamp(int(sent) / 1000, tz=UTC),
        "receive_count": int(system.get("ApproximateReceiveCount", 1)),
        "extra": dict(system),
    }
    sqs_attributes = {k: str(v.get("StringValue", v.get("BinaryValue", ""))) for k, v in m.get("MessageAttributes", {}).items()}
    note = TopicNotification.from_envelope(body)
    if note is None:
        return QueueMessage(body=body, attributes=sqs_attributes, **common)
    return QueueMessage(body=note.message, attributes={**sqs_attributes, **note.attributes}, message_id=note.message_id,
                        topic_id=note.topic_id, subject=note.subject, published_at=note.published_at, **common)


class AwsNotification(AwsErrors, NotificationService):
    """SNS topics and subscriptions, SQS queues."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self._aws = AwsSession(self.settings)
        self._urls: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def native(self) -> Any:
        """The boto3 SNS client (``self.sqs`` is the SQS one)."""
        return self._aws.client("sns")

    @property
    def sns(self) -> Any:
        """The boto3 SNS client."""
        return self._aws.client("sns")

    @property
    def sqs(self) -> Any:
        """The boto3 SQS client."""
        return self._aws.client("sqs")

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._aws.close()

    # ------------------------------------------------------------------ topics
    def _topic_arn(self, topic: str, operation: str) -> str:
        if topic.startswith("arn:"):
            return topic
        for item in self._topic_arns(operation):
            if _name_of_arn(item) == topic:
                return item
        raise NotFound(f"{operation}: no topic named {topic!r}", provider=PROVIDER)

    def _topic_arns(self, operation: str) -> Iterator[str]:
        for page in self._aws.pages("sns", "list_topics", operation):
            for item in page.get("Topics", []):
                yield item["TopicArn"]

    def _topic(self, arn: str, operation: str) -> Topic:
        with mapped(operation):
            attrs = self.sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        return Topic(id=arn, name=_name_of_arn(arn), display_name=attrs.get("DisplayName") or None, extra=attrs)

    def _create_topic(self, name: str, display_name: str | None) -> Topic:
        attributes: dict[str, str] = {}
        if display_name:
            attributes["DisplayName"] = display_name
        if name.endswith(".fifo"):
            attributes["FifoTopic"] = "true"
        arn = self.sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]
        return self._topic(arn, "notification.create_topic")

    def _get_topic(self, topic_id: str) -> Topic:
        return self._topic(self._topic_arn(topic_id, "notification.get_topic"), "notification.get_topic")

    def _list_topics(self) -> Iterator[Topic]:
        for arn in self._topic_arns("notification.list_topics"):
            try:
                yield self._topic(arn, "notification.list_topics")
            except NotFound:  # deleted while we were listing
                continue

    def _delete_topic(self, topic_id: str) -> None:
        arn = self._topic_arn(topic_id, "notification.delete_topic")
        self._topic(arn, "notification.delete_topic")  # SNS deletes a missing topic silently: say NotFound
        subs = list(self._list_subscriptions(arn))
        self.sns.delete_topic(TopicArn=arn)
        for sub in subs:  # SNS drops them with the topic; make sure none is left behind
            if sub.id.startswith("arn:"):
                try:
                    with mapped("notification.delete_topic"):
                        self.sns.unsubscribe(SubscriptionArn=sub.id)
                except NotFound:
                    pass

    # ------------------------------------------------------------------ subscriptions
    def _subscription(self, arn: str, operation: str) -> Subscription:
        with mapped(operation):
            attrs = self.sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        pending = str(attrs.get("PendingConfirmation", "false")).lower() == "true"
        proto = attrs.get("Protocol", "")
        return Subscription(
            id=arn,
            topic_id=attrs.get("TopicArn", ""),
            protocol=_FROM_SNS.get(proto, proto),
            endpoint=attrs.get("Endpoint", ""),
            status="pending" if pending else "confirmed",
            extra=attrs,
        )

    def _subscribe(self, topic_id: str, protocol: str, endpoint: str) -> Subscription:
        op = "notification.subscribe"
        arn = self._topic_arn(topic_id, op)
        self._topic(arn, op)  # SNS's own error for a missing topic is a vague NotFound; this names it
        attributes: dict[str, str] = {}
        if protocol == "queue":
            queue = self._get_queue(endpoint)
            endpoint = queue.id
            self._allow_topic(queue, arn)
        sub_arn = self.sns.subscribe(
            TopicArn=arn, Protocol=_TO_SNS[protocol], Endpoint=endpoint, Attributes=attributes,
            ReturnSubscriptionArn=True,
        )["SubscriptionArn"]
        return self._subscription(sub_arn, op)

    def _allow_topic(self, queue: Queue, topic_arn: str) -> None:
        """Add a statement to the queue's policy letting ``topic_arn`` (only) send messages to it."""
        sid = "cloudkit-sns-" + _name_of_arn(topic_arn).replace(".", "-")
        url = queue.url or self._queue_url(queue.id, "notification.subscribe")
        with mapped("notification.subscribe"):
            current = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"]).get("Attributes", {})
        try:
            policy = json.loads(current.get("Policy") or "{}")
        except ValueError:
            policy = {}
        statements = policy.setdefault("Statement", [])
        for statement in statements:
            condition = statement.get("Condition", {}).get("ArnEquals", {})
            if statement.get("Effect") == "Allow" and condition.get("aws:SourceArn") == topic_arn:
                return
        policy.setdefault("Version", "2012-10-17")
        statements.append({
            "Sid": sid,
            "Effect": "Allow",
            "Principal": {"Service": "sns.amazonaws.com"},
            "Action": "sqs:SendMessage",
            "Resource": queue.id,
            "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
        })
        with mapped("notification.subscribe"):
            self.sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})

    def _confirm_subscription(self, topic_id: str, token: str) -> Subscription:
        op = "notification.confirm_subscription"
        arn = self._topic_arn(topic_id, op)
        sub_arn = self.sns.confirm_subscription(TopicArn=arn, Token=token)["SubscriptionArn"]
        return self._subscription(sub_arn, op)

    def _get_subscription(self, subscription_id: str) -> Subscription:
        if not subscription_id.startswith("arn:"):
            raise InvalidInput("subscription", "must be a subscription ARN")
        return self._subscription(subscription_id, "notification.get_subscription")

    def _list_subscriptions(self, topic_id: str | None) -> Iterator[Subscription]:
        op = "notification.list_subscriptions"
        if topic_id is None:
            pages = self._aws.pages("sns", "list_subscriptions", op)
        else:
            arn = self._topic_arn(topic_id, op)
            self._topic(arn, op)
            pages = self._aws.pages("sns", "list_subscriptions_by_topic", op, TopicArn=arn)
        for page in pages:
            for item in page.get("Subscriptions", []):
                proto = item.get("Protocol", "")
                sub_arn = item.get("SubscriptionArn", "")
                yield Subscription(
                    id=sub_arn,
                    topic_id=item.get("TopicArn", ""),
                    protocol=_FROM_SNS.get(proto, proto),
                    endpoint=item.get("Endpoint", ""),
                    status="pending" if sub_arn == _PENDING else "confirmed",
                    extra=item,
                )

    def _unsubscribe(self, subscription_id: str) -> None:
        sub = self._get_subscription(subscription_id)  # SNS ignores unknown ARNs: say NotFound instead
        self.sns.unsubscribe(SubscriptionArn=sub.id)

    def _publish(self, topic_id: str, message: str, subject: str | None, attributes: dict[str, str]) -> PublishResult:
        op = "notification.publish"
        arn = self._topic_arn(topic_id, op)
        kwargs: dict[str, Any] = {"TopicArn": arn, "Message": message}
        if subject is not None:
            kwargs["Subject"] = subject
        if attributes:
            kwargs["MessageAttributes"] = {k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()}
        if arn.endswith(".fifo"):
            digest = hashlib.sha256(json.dumps([message, subject, sorted(attributes.items())]).encode()).hexdigest()
            kwargs["MessageGroupId"] = "cloudkit"
            kwargs["MessageDeduplicationId"] = digest
        message_id = self.sns.publish(**kwargs)["MessageId"]
        return PublishResult(message_id=message_id, topic_id=arn)

    # ------------------------------------------------------------------ queues
    def _queue_url(self, queue: str, operation: str) -> str:
        """The URL of a queue given by ARN, URL or name."""
        if queue.startswith(("http://", "https://")):
            return queue
        with self._lock:
            found = self._urls.get(queue)
        if found:
            return found
        kwargs: dict[str, str] = {}
        if queue.startswith("arn:"):
            parts = queue.split(":")
            if len(parts) != 6 or parts[2] != "sqs":
                raise InvalidInput("queue", "must be an SQS queue ARN, URL or name")
            kwargs = {"QueueName": parts[5], "QueueOwnerAWSAccountId": parts[4]}
        else:
            kwargs = {"QueueName": queue}
        with mapped(operation):
            url = self.sqs.get_queue_url(**kwargs)["QueueUrl"]
        with self._lock:
            self._urls[queue] = url
        return str(url)

    def _queue(self, url: str, operation: str) -> Queue:
        with mapped(operation):
            attrs = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"]).get("Attributes", {})
        arn = attrs["QueueArn"]
        with self._lock:
            self._urls[arn] = url
        return Queue(id=arn, name=_name_of_arn(arn), url=url, extra=attrs)

    def _create_queue(self, name: str) -> Queue:
        attributes = {"FifoQueue": "true"} if name.endswith(".fifo") else {}
        url = self.sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        return self._queue(url, "notification.create_queue")

    def _get_queue(self, queue_id: str) -> Queue:
        return self._queue(self._queue_url(queue_id, "notification.get_queue"), "notification.get_queue")

    def _list_queues(self) -> Iterator[Queue]:
        op = "notification.list_queues"
        for page in self._aws.pages("sqs", "list_queues", op):
            for url in page.get("QueueUrls", []):
                try:
                    yield self._queue(url, op)
                except NotFound:  # deleted while we were listing
                    continue

    def _delete_queue(self, queue_id: str) -> None:
        queue = self._get_queue(queue_id)
        self.sqs.delete_queue(QueueUrl=queue.url)
        with self._lock:
            for key in [k for k, v in self._urls.items() if v == queue.url]:
                del self._urls[key]

    def _receive_messages(self, queue_id: str, max_messages: int, wait_seconds: float, visibility_timeout: int) -> list[QueueMessage]:
        op = "notification.receive_messages"
        url = self._queue_url(queue_id, op)
        reply = self.sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=max_messages,
            WaitTimeSeconds=math.ceil(wait_seconds),
            VisibilityTimeout=visibility_timeout,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        )
        return [_queue_message(m) for m in reply.get("Messages", [])]

    def _ack_message(self, queue_id: str, receipt: str) -> None:
        op = "notification.ack_message"
        url = self._queue_url(queue_id, op)
        self.sqs.delete_message(QueueUrl=url, ReceiptHandle=receipt)
