"""The notification conformance suite on aws (SNS + SQS), replayed from cassettes recorded against moto."""

from __future__ import annotations

import pytest

from cloudkit.testing.notification import NotificationConformance


class TestAwsNotificationConformance(NotificationConformance):
    """Every notification conformance test on aws; ``list_deliveries`` drops out through capabilities."""

    @pytest.mark.skip(reason="moto confirms every SNS subscription at once, so an email subscription is never "
                             "pending there; on AWS it is (PendingConfirmation), which the driver reports as 'pending'")
    def test_http_and_email_subscriptions_start_pending(self) -> None:  # type: ignore[override]
        """Kept out: moto cannot show a pending subscription."""
