"""``cloudkit notification``: topics, subscriptions, publish, queues and delivery records."""

from __future__ import annotations

import sys

import click

from cloudkit.cli._common import CloudkitGroup, confirm_destructive, get_cloud, render, render_one, yes_option
from cloudkit.errors import InvalidInput


def _pairs(items: tuple[str, ...], field: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidInput(field, f"{item!r} must be NAME=VALUE")
        out[name] = value
    return out


#: Names of the first release, kept working (hidden, with a note) for one more release.
ALIASES = {
    "topics": "list-topics",
    "subscriptions": "list-subscriptions",
    "confirm": "confirm-subscription",
    "queues": "list-queues",
    "receive": "receive-messages",
    "ack": "ack-message",
    "deliveries": "list-deliveries",
}


@click.group(cls=CloudkitGroup, aliases=ALIASES)
def group() -> None:
    """Topics, subscriptions, publishing, and the queues subscriptions deliver into."""


# ---------------------------------------------------------------- topics
@group.command("list-topics")
def topics() -> None:
    """List topics."""
    render(get_cloud().notification.list_topics(), ["id", "name", "display_name"], title="topics")


@group.command("create-topic")
@click.argument("name")
@click.option("--display-name", help="A short name shown in e-mail and SMS deliveries.")
def create_topic(name: str, display_name: str | None) -> None:
    """Create topic NAME (nothing changes if it exists)."""
    render_one(get_cloud().notification.create_topic(name, display_name=display_name))


@group.command("delete-topic")
@click.argument("topic")
@yes_option
def delete_topic(topic: str, yes: bool) -> None:
    """Delete TOPIC (id or name) and its subscriptions."""
    confirm_destructive(f"Delete topic {topic} and its subscriptions?", yes)
    get_cloud().notification.delete_topic(topic)
    click.echo(f"deleted topic {topic}")


# ---------------------------------------------------------------- subscriptions
@group.command("list-subscriptions")
@click.argument("topic", required=False)
def subscriptions(topic: str | None) -> None:
    """List subscriptions (of TOPIC, or of every topic)."""
    render(get_cloud().notification.list_subscriptions(topic), ["id", "protocol", "endpoint", "status"], title="subscriptions")


@group.command("subscribe")
@click.argument("topic")
@click.argument("protocol", type=click.Choice(["http", "https", "email", "sms", "queue"]))
@click.argument("endpoint")
def subscribe(topic: str, protocol: str, endpoint: str) -> None:
    """Subscribe ENDPOINT to TOPIC over PROTOCOL (http/https/email start pending until confirmed)."""
    render_one(get_cloud().notification.subscribe(topic, protocol=protocol, endpoint=endpoint))


@group.command("confirm-subscription")
@click.argument("topic")
@click.argument("token")
def confirm(topic: str, token: str) -> None:
    """Confirm a pending subscription of TOPIC with the TOKEN its endpoint received."""
    render_one(get_cloud().notification.confirm_subscription(topic, token))


@group.command("unsubscribe")
@click.argument("subscription")
@yes_option
def unsubscribe(subscription: str, yes: bool) -> None:
    """Remove SUBSCRIPTION (its id)."""
    confirm_destructive(f"Remove subscription {subscription}?", yes)
    get_cloud().notification.unsubscribe(subscription)
    click.echo(f"removed subscription {subscription}")


@group.command("publish")
@click.argument("topic")
@click.argument("message")
@click.option("--subject", help="Subject line (e-mail deliveries).")
@click.option("--attr", "attrs", multiple=True, metavar="NAME=VALUE", help="A message attribute (repeatable).")
def publish(topic: str, message: str, subject: str | None, attrs: tuple[str, ...]) -> None:
    """Publish MESSAGE (or - to read it from standard input) to every confirmed subscription of TOPIC."""
    text = sys.stdin.read() if message == "-" else message
    render_one(get_cloud().notification.publish(topic, text, subject=subject, attributes=_pairs(attrs, "attr")))


# ---------------------------------------------------------------- queues
@group.command("list-queues")
def queues() -> None:
    """List queues."""
    render(get_cloud().notification.list_queues(), ["id", "name", "url"], title="queues")


@group.command("create-queue")
@click.argument("name")
def create_queue(name: str) -> None:
    """Create queue NAME (nothing changes if it exists)."""
    render_one(get_cloud().notification.create_queue(name))


@group.command("delete-queue")
@click.argument("queue")
@yes_option
def delete_queue(queue: str, yes: bool) -> None:
    """Delete QUEUE and the messages in it."""
    confirm_destructive(f"Delete queue {queue} and the messages in it?", yes)
    get_cloud().notification.delete_queue(queue)
    click.echo(f"deleted queue {queue}")


@group.command("receive-messages")
@click.argument("queue")
@click.option("--max", "max_messages", type=int, default=10, show_default=True, help="At most this many (1-10).")
@click.option("--wait", "wait_seconds", type=float, default=0, show_default=True, help="Long-poll up to this many seconds.")
@click.option("--visibility", type=int, default=30, show_default=True, help="Seconds received messages stay hidden.")
@click.option("--ack", is_flag=True, help="Acknowledge (delete) each message once printed.")
def receive(queue: str, max_messages: int, wait_seconds: float, visibility: int, ack: bool) -> None:
    """Receive messages from QUEUE."""
    svc = get_cloud().notification
    messages = svc.receive_messages(queue, max_messages=max_messages, wait_seconds=wait_seconds, visibility_timeout=visibility)
    render(messages, ["id", "receive_count", "sent_at", "receipt", "body"], title=queue)
    if ack:
        for msg in messages:
            svc.ack_message(queue, msg.receipt)


@group.command("ack-message")
@click.argument("queue")
@click.argument("receipt")
def ack(queue: str, receipt: str) -> None:
    """Acknowledge the message of QUEUE received with RECEIPT."""
    get_cloud().notification.ack_message(queue, receipt)
    click.echo("acknowledged")


@group.command("list-deliveries")
@click.option("--topic", help="Only this topic's deliveries.")
@click.option("--status", type=click.Choice(["pending", "retrying", "sent", "dead"]), help="Only deliveries in this state.")
def deliveries(topic: str | None, status: str | None) -> None:
    """Delivery records: the sms outbox, retries and dead letters."""
    render(get_cloud().notification.list_deliveries(topic=topic, status=status),
           ["message_id", "protocol", "endpoint", "status", "attempts", "last_error"], title="deliveries")
