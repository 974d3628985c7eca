"""Fixtures of the fault tests: one moto server on 127.0.0.1 for the session, fake AWS credentials."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scenario as sc


@pytest.fixture(autouse=True)
def _aws_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in sc.environment().items():
        monkeypatch.setenv(name, value)


@pytest.fixture(scope="session")
def moto() -> Iterator[Any]:
    """A moto server on 127.0.0.1 (EC2 honouring ClientToken), reset by each test that uses it."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = sc.start_moto()
    try:
        yield server
    finally:
        server.stop()
