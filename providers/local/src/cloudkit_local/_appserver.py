"""An environment's front: a small reverse proxy on a stable port, served by waitress.

Run as ``python -m cloudkit_local._appserver --port PORT --routes FILE``. For every request it
reads the routes file (a JSON document ``{"backends": [port, ...], "version": label}`` that the
platform replaces atomically to switch traffic), picks a backend round-robin and forwards the
request to ``127.0.0.1:<port>``. A backend that refuses the connection, or drops it before
answering an idempotent request, is skipped and the next one is tried, so switching versions
never fails a client's request. The URL of an environment is this proxy's URL: it does not
change when new versions are deployed.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Any

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailers",
    "transfer-encoding", "upgrade", "proxy-connection",
})
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})
StartResponse = Callable[..., Any]


class Routes:
    """The current backends, re-read whenever the routes file is replaced."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._backends: list[int] = []
        self._counter = itertools.count()

    def backends(self) -> list[int]:
        """The backends in the order to try them (rotated for round-robin)."""
        try:
            st = os.stat(self.path)
            stamp = (st.st_ino, st.st_mtime_ns)
        except OSError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                try:
                    with open(self.path) as fh:
                        self._backends = [int(p) for p in json.load(fh).get("backends", [])]
                except (OSError, ValueError):
                    self._backends = []
                self._stamp = stamp
            ports = list(self._backends)
        if not ports:
            return ports
        start = next(self._counter) % len(ports)
        return ports[start:] + ports[:start]


def _request_headers(environ: dict[str, Any]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith("HTTP_"):
            name = key[5:].replace("_", "-").title()
            if name.lower() not in HOP_BY_HOP:
                headers[name] = value
    if environ.get("CONTENT_TYPE"):
        headers["Content-Type"] = environ["CONTENT_TYPE"]
    client = environ.get("REMOTE_ADDR", "")
    prior = headers.get("X-Forwarded-For")
    headers["X-Forwarded-For"] = f"{prior}, {client}" if prior else client
    headers["X-Forwarded-Proto"] = environ.get("wsgi.url_scheme", "http")
    if "Host" in headers:
        headers["X-Forwarded-Host"] = headers["Host"]
    return headers


def _stream(conn: http.client.HTTPConnection, resp: http.client.HTTPResponse) -> Iterator[bytes]:
    try:
        while True:
            chunk = resp.read(65536)
            if not chunk:
                return
            yield chunk
    finally:
        conn.close()


def make_app(routes: Routes, timeout: float = 60.0) -> Callable[[dict[str, Any], StartResponse], Iterable[bytes]]:
    """The proxy as a WSGI application."""

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        path = environ.get("PATH_INFO", "/") or "/"
        if environ.get("QUERY_STRING"):
            path += "?" + environ["QUERY_STRING"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else None
        headers = _request_headers(environ)
        if body is not None:
            headers["Content-Length"] = str(len(body))
        tried = 0
        for port in routes.backends():
            tried += 1
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
            except ConnectionRefusedError:
                conn.close()
                continue
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()
                if method in IDEMPOTENT:
                    continue
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [b"the application closed the connection\n"]
            except OSError:
                conn.close()
                continue
            except http.client.HTTPException:
                conn.close()
                start_response("502 Bad Gateway", [("Content-Type", "text/plain")])
                return [b"the application sent an invalid HTTP response\n"]
            out = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            start_response(f"{resp.status} {resp.reason}", out)
            return _stream(conn, resp)
        status = "503 Service Unavailable" if tried == 0 else "502 Bad Gateway"
        start_response(status, [("Content-Type", "text/plain"), ("Retry-After", "1")])
        return [b"no healthy instance is serving this environment\n" if tried == 0 else b"no instance answered\n"]

    return app


def main(argv: list[str] | None = None) -> None:
    """Serve the proxy until killed."""
    import waitress  # type: ignore[import-untyped]

    from cloudkit_local._wsgi import raise_file_limit, server_limits

    parser = argparse.ArgumentParser(description="cloudkit-local environment front proxy")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--routes", required=True)
    parser.add_argument("--threads", type=int, default=16)
    args = parser.parse_args(argv)
    app = make_app(Routes(args.routes))
    raise_file_limit()
    waitress.serve(app, host="127.0.0.1", port=args.port, threads=args.threads, ident="cloudkit-local",
                   clear_untrusted_proxy_headers=False, _quiet=True, **server_limits())


if __name__ == "__main__":
    main()
