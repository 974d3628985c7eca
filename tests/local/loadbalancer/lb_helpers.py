"""Backends for the local load balancer tests: small HTTP and TCP servers on 127.0.0.1."""

from __future__ import annotations

import http.server
import socket
import socketserver
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable

from cloudkit import LoadBalancer, LoadBalancerService


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path.startswith("/slow"):
            time.sleep(2)
        body = str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Quiet(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """Health checks that reset their connection are normal here: print nothing."""


class Backend:
    """An HTTP server answering every GET with its own port (``/slow...`` after 2 s)."""

    def __init__(self) -> None:
        self.server = _Quiet(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """Stop serving and close the listening socket (connections are then refused)."""
        self.server.shutdown()
        self.server.server_close()


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        data = self.request.recv(1024)
        self.request.sendall(b"echo:" + data)


class EchoBackend:
    """A TCP server echoing one message back, prefixed with ``echo:``."""

    def __init__(self) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Stop serving."""
        self.server.shutdown()
        self.server.server_close()


def get(url: str, timeout: float = 10) -> str:
    """The body of a GET of ``url``."""
    with urllib.request.urlopen(url, timeout=timeout) as resp:
        return str(resp.read().decode())


def try_get(url: str, timeout: float = 10) -> str | None:
    """:func:`get`, ``None`` on any failure."""
    try:
        return get(url, timeout)
    except (OSError, urllib.error.URLError):
        return None


def tcp_roundtrip(port: int, message: bytes) -> bytes:
    """Send ``message`` to 127.0.0.1:``port`` and return the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(message)
        return sock.recv(1024)


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``check`` until true; fail naming ``what`` after ``timeout`` s (a generous does-not-hang bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {timeout:g}s")


def states(lbs: LoadBalancerService, lb: LoadBalancer) -> dict[int | None, str]:
    """Target port -> health state."""
    return {h.target.port: h.state for h in lbs.target_health(lb)}
