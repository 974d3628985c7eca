"""Fixtures for the local notification tests: an HTTP receiver and an SMTP server on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from notification_helpers import Mailbox, Receiver  # type: ignore[import-not-found]

import cloudkit


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    m = Mailbox()
    yield m
    m.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "root"


@pytest.fixture
def make_cloud(root: Path) -> Iterator[Callable[..., cloudkit.Cloud]]:
    """Open local clouds on ``root`` (fast retries); all are closed after the test."""
    opened: list[cloudkit.Cloud] = []

    def make(**settings: Any) -> cloudkit.Cloud:
        base: dict[str, Any] = {"root": str(root), "delivery_backoff": 0.05, "delivery_max_backoff": 0.2, "delivery_poll": 0.05}
        base.update(settings)
        cloud = cloudkit.connect("local", **base)
        opened.append(cloud)
        return cloud

    yield make
    for cloud in opened:
        cloud.close()
