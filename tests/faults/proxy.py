"""A fault-injecting HTTP proxy on 127.0.0.1 for tests: it sits between a client and a server (moto).

Each request is read in full, then with probability ``rate`` (drawn from a seeded RNG, so a run
of sequential calls is reproducible) one fault of :data:`KINDS` is injected instead of a clean
exchange:

``503-before`` / ``429-before`` / ``500-before``
    An error answer (S3 ``SlowDown``, ``Throttling``, ``InternalError``) without forwarding: the
    server never sees the request.
``reset-before``
    The connection is reset (TCP RST) without forwarding.
``500-after`` / ``reset-after``
    The request is forwarded and the server applies it; the client gets an ``InternalError``, or a
    reset connection, instead of the answer.

Throttling answers are only injected before forwarding: a service that says "slow down" has not
processed the request. Error bodies are shaped after the protocol of the service named in the
request's SigV4 credential scope (S3, EC2, and the ``ErrorResponse`` of Route 53, SNS and the
other query services), so that botocore parses them as it parses the real ones; a request signed
with Azure's ``SharedKey`` gets Azure Storage's ``<Error>`` document (``ServerBusy`` for
throttling), one carrying PowerDNS's ``X-API-Key`` gets its JSON ``{"error": ...}``.

Only loopback: the proxy binds 127.0.0.1 and forwards to the ``upstream`` it is given.
"""

from __future__ import annotations

import http.client
import json
import random
import re
import socket
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: Every fault the proxy injects.
KINDS = ("503-before", "429-before", "500-before", "reset-before", "500-after", "reset-after")
#: Faults after which the server has applied the request.
AFTER = frozenset({"500-after", "reset-after"})

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection", "expect"}
_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([a-z0-9-]+)/aws4_request")

_ERRORS = {
    "503": (503, "SlowDown", "Please reduce your request rate."),
    "429": (429, "Throttling", "Rate exceeded"),
    "500": (500, "InternalError", "We encountered an internal error. Please try again."),
}


@dataclass
class Injected:
    """One injected fault: its kind and the request it hit."""

    kind: str
    service: str
    method: str
    path: str
    action: str | None


@dataclass
class Stats:
    """What the proxy did: requests seen, faults injected by kind, the list of faults."""

    requests: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    injected: list[Injected] = field(default_factory=list)


def error_body(service: str, code: str, message: str) -> bytes:
    """An error document for ``service`` in that service's protocol (AWS services, ``azure``, ``powerdns``)."""
    if service == "powerdns":
        return json.dumps({"error": f"{code}: {message}"}).encode()
    if service == "azure":
        code = {"SlowDown": "ServerBusy", "Throttling": "ServerBusy"}.get(code, code)
        text = f"<Error><Code>{code}</Code><Message>{message}\nRequestId:fault</Message></Error>"
    elif service == "s3":
        text = f"<Error><Code>{code}</Code><Message>{message}</Message><RequestId>fault</RequestId></Error>"
    elif service == "ec2":
        text = (f"<Response><Errors><Error><Code>{code}</Code><Message>{message}</Message></Error></Errors>"
                "<RequestID>fault</RequestID></Response>")
    else:
        kind = "Receiver" if code == "InternalError" else "Sender"
        text = (f"<ErrorResponse><Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
                "<RequestId>fault</RequestId></ErrorResponse>")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + text).encode()


class FaultProxy:
    """The proxy: ``start()`` it, point clients at :attr:`url`, read :attr:`stats`, ``stop()`` it.

    ``rate`` may be changed while it runs (``0`` passes everything through untouched).
    ``kinds`` restricts the faults drawn (default: all of :data:`KINDS`).
    """

    def __init__(self, upstream: str, rate: float, seed: int = 0, kinds: tuple[str, ...] = KINDS) -> None:
        parts = urlsplit(upstream)
        if parts.hostname != "127.0.0.1" or parts.port is None:
            raise ValueError("the fault proxy forwards to 127.0.0.1:<port> only")
        unknown = set(kinds) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds: {sorted(unknown)}")
        self.upstream = (parts.hostname, parts.port)
        self.rate = rate
        self.kinds = kinds
        self.stats = Stats()
        #: Faults (or ``None`` for a clean exchange) for the next requests, used before the RNG is.
        self.script: list[str | None] = []
        #: When set, only requests whose ``"METHOD path"`` matches it can get a fault.
        self.only: re.Pattern[str] | None = None
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.url = ""

    def draw(self, request: str = "") -> str | None:
        """The fault for the next request, ``"METHOD path"`` (``None``: a clean exchange)."""
        with self._lock:
            self.stats.requests += 1
            if self.only is not None and not self.only.search(request):
                return None
            if self.script:
                scripted = self.script.pop(0)
                if scripted is not None:
                    self.stats.faults[scripted] += 1
                return scripted
            hit = self._rng.random() < self.rate
            kind = self._rng.choice(self.kinds)  # drawn either way, so the sequence does not depend on rate
            if not hit:
                return None
            self.stats.faults[kind] += 1
            return kind

    def record(self, item: Injected) -> None:
        """Remember one injected fault."""
        with self._lock:
            self.stats.injected.append(item)

    def start(self) -> FaultProxy:
        """Listen on a free port of 127.0.0.1 in a background thread."""
        proxy = self

        class Handler(_Handler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening (safe to call twice)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: FaultProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: tests read :class:`Stats` instead."""

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _reset(self) -> None:
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()

    def _answer(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.wfile.flush()

    def _error(self, service: str, key: str) -> None:
        status, code, message = _ERRORS[key]
        body = error_body(service, code, message)
        kind = "application/json" if service == "powerdns" else "text/xml"
        self._answer(status, [("Content-Type", kind), ("Content-Length", str(len(body)))], body)

    def _forward(self, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        conn = http.client.HTTPConnection(*self.owner.upstream, timeout=120)
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            conn.request(self.command, self.path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP_BY_HOP and k.lower() != "content-length"]
            length = resp.getheader("Content-Length") if self.command == "HEAD" else None
            out.append(("Content-Length", length or str(len(data))))
            return resp.status, out, data
        finally:
            conn.close()

    def _handle(self) -> None:
        body = self._body()
        authorization = self.headers.get("Authorization") or ""
        scope = _SCOPE.search(authorization)
        service = scope.group(1) if scope else "unknown"
        if authorization.startswith("SharedKey "):
            service = "azure"
        elif self.headers.get("X-API-Key") is not None:
            service = "powerdns"
        action = None
        if "x-www-form-urlencoded" in (self.headers.get("Content-Type") or ""):
            found = re.search(rb"(?:^|&)Action=([A-Za-z0-9]+)", body)
            action = found.group(1).decode() if found else None
        kind = self.owner.draw(f"{self.command} {self.path}")
        if kind is not None:
            self.owner.record(Injected(kind, service, self.command, self.path, action))
        if kind == "reset-before":
            self._reset()
            return
        if kind in ("503-before", "429-before", "500-before"):
            self._error(service, kind.split("-")[0])
            return
        status, headers, data = self._forward(body)
        if kind == "reset-after":
            self._reset()
        elif kind == "500-after":
            self._error(service, "500")
        else:
            self._answer(status, headers, data)

    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = _handle
