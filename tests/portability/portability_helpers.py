"""The http subscriber of the portability tests: a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


class Subscriber:
    """An http subscriber on 127.0.0.1: confirms subscriptions (GETs ``SubscribeURL``) and keeps notifications."""

    def __init__(self) -> None:
        self.notifications: list[dict[str, Any]] = []
        self.confirmed: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    doc = json.loads(body)
                except ValueError:
                    doc = {"raw": body.decode("utf-8", "replace")}
                if doc.get("Type") == "SubscriptionConfirmation" and "SubscribeURL" in doc:
                    url = str(doc["SubscribeURL"])
                    assert urlsplit(url).hostname == "127.0.0.1", url  # test traffic stays on loopback
                    with urllib.request.urlopen(url, timeout=10) as reply:
                        reply.read()
                    outer.confirmed.append(str(doc.get("TopicArn", "")))
                else:
                    outer.notifications.append(doc)
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/nightly-hook"
        self.thread = threading.Thread(target=self.server.serve_forever, name="nightly-subscriber", daemon=True)
        self.thread.start()

    def wait_for(self, count: int, timeout: float = 30) -> list[dict[str, Any]]:
        """The notifications once ``count`` arrived (generous bound: delivery must not hang)."""
        deadline = time.monotonic() + timeout
        while len(self.notifications) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} notifications, got {len(self.notifications)}")
            time.sleep(0.05)
        return list(self.notifications)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
