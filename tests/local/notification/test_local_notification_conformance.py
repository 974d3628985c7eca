"""The notification conformance suite, run on the local provider."""

from __future__ import annotations

from cloudkit.testing.notification import NotificationConformance


class TestLocalNotificationConformance(NotificationConformance):
    """Every provider-neutral notification test, against a local provider in a fresh root folder."""

    delivery_timeout = 5.0
