"""The local provider's background WSGI server (presign endpoint, SubscribeURL server)."""

from __future__ import annotations

import urllib.request

from cloudkit_local._wsgi import BackgroundServer


def test_serves_on_loopback_and_never_polls_without_a_timeout() -> None:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"pong"]

    server = BackgroundServer(app, name="test")
    # waitress truncates its loop timeout to whole seconds: a fraction would become 0, a busy loop
    # that keeps a core at 40-60% while idle (the endpoint lives for hours).
    assert server._server.adj.asyncore_loop_timeout >= 1
    assert server._server.adj.host == "127.0.0.1"
    server.start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as resp:
            assert resp.read() == b"pong"
    finally:
        server.stop()
