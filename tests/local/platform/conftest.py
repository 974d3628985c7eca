"""Shared by the local platform tests: a client loop that watches an environment's URL while something changes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TypeVar

import pytest
import requests

T = TypeVar("T")

#: ``during(url, action)`` runs ``action`` while one keep-alive client polls ``url``; it returns
#: ``(action's result, bodies of the 200 answers, failures)``
PollDuring = Callable[[str, Callable[[], T]], tuple[T, list[str], list[str]]]


def _poll_during(url: str, action: Callable[[], T]) -> tuple[T, list[str], list[str]]:
    seen: list[str] = []
    failures: list[str] = []
    stop = threading.Event()

    def poll() -> None:
        session = requests.Session()
        while not stop.is_set():
            try:
                resp = session.get(url, timeout=10)
                (seen if resp.status_code == 200 else failures).append(resp.text)
            except requests.RequestException as exc:
                failures.append(repr(exc))

    thread = threading.Thread(target=poll)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not seen and not failures and time.monotonic() < deadline:
            time.sleep(0.01)
        result = action()
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    assert len(seen) > 5, f"the client loop got only {len(seen)} answers"
    return result, seen, failures


@pytest.fixture
def poll_during() -> Callable[[str, Callable[[], object]], tuple[object, list[str], list[str]]]:
    """Run an action while a client loop polls a URL: ``(result, answers, failures) = poll_during(url, action)``."""
    return _poll_during
