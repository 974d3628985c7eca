"""Pins the local delivery settings: retry backoff (exponent and cap) and the defaults used when nothing is set."""

from __future__ import annotations

import pytest
from cloudkit_local._delivery import DeliverySettings


def test_backoff_doubles_from_the_base_and_stops_at_the_cap() -> None:
    s = DeliverySettings(backoff=1.5, max_backoff=10.0)
    assert [s.delay(n) for n in (0, 1, 2, 3, 4, 5)] == [1.5, 1.5, 3.0, 6.0, 10.0, 10.0]
    assert isinstance(s.delay(1), float)
    assert DeliverySettings(backoff=2.0, max_backoff=1000.0).delay(4) == 16.0
    assert DeliverySettings(backoff=1.0, max_backoff=8.0).delay(4) == 8.0
    assert DeliverySettings(backoff=1.0, max_backoff=8.0).delay(-3) == 1.0


def test_defaults_when_no_setting_is_given() -> None:
    s = DeliverySettings.from_settings({})
    assert s == DeliverySettings()
    assert (s.attempts, s.backoff, s.max_backoff, s.timeout, s.workers, s.poll) == (5, 1.0, 300.0, 10.0, 4, 0.5)
    assert (s.smtp_host, s.smtp_port, s.smtp_sender) == ("localhost", 25, "cloudkit@localhost")
    assert (s.smtp_starttls, s.smtp_ssl) == (False, False)
    assert (s.ca_bundle, s.smtp_username, s.smtp_password) == (None, None, None)
    assert s.delay(1) == 1.0
    assert s.delay(20) == 300.0


def test_settings_are_read_converted_and_floored() -> None:
    s = DeliverySettings.from_settings(
        {
            "delivery_attempts": "3",
            "delivery_backoff": "0.25",
            "delivery_max_backoff": "7",
            "delivery_timeout": "2",
            "delivery_workers": "2",
            "delivery_poll": "0.2",
            "delivery_ca_bundle": "/ca.pem",
            "smtp_host": "127.0.0.1",
            "smtp_port": "2525",
            "smtp_username": "u",
            "smtp_password": "p",
            "smtp_starttls": " Yes ",
            "smtp_ssl": "on",
            "smtp_sender": "me@example.com",
        }
    )
    assert (s.attempts, s.backoff, s.max_backoff, s.timeout, s.workers, s.poll) == (3, 0.25, 7.0, 2.0, 2, 0.2)
    assert (s.ca_bundle, s.smtp_host, s.smtp_port, s.smtp_username, s.smtp_password) == ("/ca.pem", "127.0.0.1", 2525, "u", "p")
    assert (s.smtp_starttls, s.smtp_ssl, s.smtp_sender) == (True, True, "me@example.com")
    low = DeliverySettings.from_settings(
        {"delivery_attempts": 0, "delivery_backoff": -1, "delivery_max_backoff": -1, "delivery_timeout": 0,
         "delivery_workers": 0, "delivery_poll": 0}
    )
    assert (low.attempts, low.backoff, low.max_backoff, low.timeout, low.workers, low.poll) == (1, 0.0, 0.0, 0.1, 1, 0.01)


@pytest.mark.parametrize(("value", "expected"), [("1", True), ("true", True), ("no", False), ("0", False), ("off", False), (1, True), (0, False)])
def test_tls_flags(value: object, expected: bool) -> None:
    assert DeliverySettings.from_settings({"smtp_starttls": value}).smtp_starttls is expected


def test_smtp_password_is_not_in_the_repr() -> None:
    s = DeliverySettings.from_settings({"smtp_username": "user-x", "smtp_password": "hunter2-secret"})
    assert "hunter2-secret" not in repr(s)
    assert "user-x" not in repr(s)
