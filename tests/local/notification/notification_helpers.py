"""Test servers for the local notification tests: an HTTP receiver (waitress) and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """A real HTTP server (waitress) that records every POST; ``fail_first`` answers 500 that many times."""

    def __init__(self, port: int | None = None, fail_first: int = 0, always_fail: bool = False) -> None:
        from cloudkit_local._wsgi import BackgroundServer

        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.fail_first = fail_first
        self.always_fail = always_fail
        self.calls = 0
        self._lock = threading.Lock()
        self.server = BackgroundServer(self.app, name="test-receiver", port=port or 0)
        self.port = self.server.port
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self.server.start()

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        with self._lock:
            self.calls += 1
            failing = self.always_fail or self.calls <= self.fail_first
            if not failing:
                self.bodies.append(body)
                self.headers.append({k: v for k, v in environ.items() if k.startswith("HTTP_")})
        start_response("500 Internal Server Error" if failing else "200 OK", [("Content-Type", "text/plain")])
        return [b"no" if failing else b"ok"]

    def wait_for(self, count: int, timeout: float = 10) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.bodies) >= count:
                    return list(self.bodies)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} POSTs, got {len(self.bodies)}")

    def close(self) -> None:
        self.server.stop()


class Mailbox:
    """An aiosmtpd server on 127.0.0.1 that keeps every message it accepts."""

    def __init__(self) -> None:
        from aiosmtpd.controller import Controller

        self.messages: list[Any] = []
        self.port = free_port()
        outer = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                import email

                msg = email.message_from_bytes(envelope.content)
                outer.messages.append((envelope.rcpt_tos, msg))
                return "250 OK"

        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def wait_for(self, count: int, timeout: float = 10) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages) >= count:
                return list(self.messages)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} e-mails, got {len(self.messages)}")

    def close(self) -> None:
        self.controller.stop()
