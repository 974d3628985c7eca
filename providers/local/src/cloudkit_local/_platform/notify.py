"""The notification endpoint setting: an environment topic in the local notification family.

Setting ``aws:elasticbeanstalk:sns:topics:Notification Endpoint`` (with ``... Notification Protocol``,
``email`` by default) creates the topic ``cloudkit-env-<environment id>`` in the local notification
family on the same root, subscribes the endpoint to it, and from then on publishes each of the
environment's events there. Changing the endpoint moves the subscription; an empty value removes it;
terminating the environment deletes the topic after its last event.
"""

from __future__ import annotations

from typing import Any

from cloudkit.errors import CloudkitError, NotFound, ProviderError
from cloudkit.models.platform import EnvironmentSettings
from cloudkit_local._platform.base import NOTIFY_ENDPOINT_OPTION, NOTIFY_PROTOCOL_OPTION, PlatformBase, _now
from cloudkit_local.errors import PROVIDER


class Notifications(PlatformBase):
    """Keeps each environment's subscription in step with its settings and publishes its events."""

    _notify_cloud: Any = None

    def _notifier(self) -> Any:
        """The local notification service on the same root."""
        with self._lock:  # rollouts run in background threads too
            if self._notify_cloud is None:
                import cloudkit

                self._notify_cloud = cloudkit.connect("local", root=str(self.base))
        svc = self._notify_cloud.notification
        if not {"create_topic", "subscribe", "publish"} <= svc.capabilities():
            raise ProviderError("the notification endpoint needs the local notification family, which is not installed",
                                provider=PROVIDER)
        return svc

    def _close_notifier(self) -> None:
        if self._notify_cloud is not None:
            self._notify_cloud.close()
            self._notify_cloud = None

    def _sync_notifications(self, env_id: str, env_name: str, application: str, settings: EnvironmentSettings) -> None:
        """Subscribe the settings' endpoint to the environment's topic (and drop a previous one)."""
        endpoint = settings.options.get(NOTIFY_ENDPOINT_OPTION) or None
        protocol = settings.options.get(NOTIFY_PROTOCOL_OPTION) or "email"
        rows = self.db.query("SELECT * FROM env_topics WHERE env_id = ?", (env_id,))
        current = rows[0] if rows else None
        if current is None and endpoint is None:
            return
        if current is not None and (current["endpoint"], current["protocol"]) == (endpoint, protocol if endpoint else None):
            return
        svc = self._notifier()
        if current is not None and current["subscription_id"]:
            try:
                svc.unsubscribe(current["subscription_id"])
            except NotFound:
                pass
            with self._tx() as conn:
                conn.execute("UPDATE env_topics SET subscription_id = NULL, protocol = NULL, endpoint = NULL WHERE env_id = ?",
                             (env_id,))
            self._event("Removed the notification subscription of the environment", application=application,
                        environment=env_name)
        if endpoint is None:
            return
        topic_id = current["topic_id"] if current is not None else None
        if topic_id is None:
            topic_id = svc.create_topic(f"cloudkit-env-{env_id}", display_name=env_name).id
            with self._tx() as conn:
                conn.execute("INSERT INTO env_topics (env_id, env_name, topic_id, created_at) VALUES (?,?,?,?)",
                             (env_id, env_name, topic_id, _now()))
        sub = svc.subscribe(topic_id, protocol=protocol, endpoint=endpoint)
        with self._tx() as conn:
            conn.execute("UPDATE env_topics SET subscription_id = ?, protocol = ?, endpoint = ? WHERE env_id = ?",
                         (sub.id, protocol, endpoint, env_id))
        # The endpoint itself is left out of the event (a URL may carry a token).
        self._event(f"Subscribed a {protocol} endpoint to the environment's notification topic ({sub.status})",
                    application=application, environment=env_name)

    def _publish_event(self, environment: str, severity: str, message: str) -> None:
        """Publish one event of ``environment`` (a name) to its topic, if it has a subscription."""
        rows = self.db.query("SELECT * FROM env_topics WHERE env_name = ? AND subscription_id IS NOT NULL", (environment,))
        for row in rows:
            try:
                self._notifier().publish(row["topic_id"], f"{severity} {message}",
                                         subject=f"cloudkit platform: {environment} ({severity})")
            except CloudkitError as exc:
                with self._tx() as conn:  # recorded, not published again (that could loop)
                    conn.execute("INSERT INTO events (ts, severity, message, environment) VALUES (?,?,?,?)",
                                 (_now(), "WARN", f"Could not publish an event to the notification topic: {exc}",
                                  environment))

    def _drop_topic(self, env_id: str) -> None:
        """Delete the environment's topic (when it is terminated)."""
        rows = self.db.query("SELECT * FROM env_topics WHERE env_id = ?", (env_id,))
        if not rows:
            return
        try:
            self._notifier().delete_topic(rows[0]["topic_id"])
        except NotFound:
            pass
        with self._tx() as conn:
            conn.execute("DELETE FROM env_topics WHERE env_id = ?", (env_id,))
