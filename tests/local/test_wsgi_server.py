"""The local provider's background WSGI server (presign endpoint, SubscribeURL server)."""

from __future__ import annotations

import errno
import os
import resource
import socket
import urllib.request
from pathlib import Path
from typing import Any

import pytest
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


def _pong(environ, start_response):  # type: ignore[no-untyped-def]
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"pong"]


def test_stop_does_not_depend_on_the_trigger_descriptor() -> None:
    # Seen once in a full run: the trigger's write end was already closed when stop() pulled it, and
    # stop() raised EBADF, leaving the server running. Stopping must not hinge on that descriptor.
    server = BackgroundServer(_pong, name="test")
    server.start()
    with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as resp:
        assert resp.read() == b"pong"

    def broken() -> None:
        raise OSError(errno.EBADF, "Bad file descriptor")

    server._server.trigger._physical_pull = broken
    server.stop()
    assert not server._thread.is_alive()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", server.port), timeout=2).close()


def test_serves_when_its_sockets_are_numbered_above_1024() -> None:
    # select() cannot watch descriptors >= 1024 (FD_SETSIZE); the connection limit lets a server hold
    # thousands, so the loop must use poll().
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2048
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"the hard open-file limit ({hard}) is below {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    held: list[int] = []
    try:
        base = os.open(os.devnull, os.O_RDONLY)
        held.append(base)
        while held[-1] < 1100:
            held.append(os.dup(base))
        server = BackgroundServer(_pong, name="test")
        assert min(server._server._map) > 1024  # every descriptor the loop watches
        server.start()
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=5) as resp:
                assert resp.read() == b"pong"
        finally:
            server.stop()
    finally:
        for fd in held:
            os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def _hold_idle_connections(port: int, count: int) -> list[socket.socket]:
    """``count`` connections that never finish a request: half send nothing, half a partial header."""
    held = []
    for i in range(count):
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        if i % 2:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never ends its headers
        held.append(sock)
    return held


def test_idle_and_half_open_connections_cannot_lock_clients_out() -> None:
    def app(environ, start_response):  # type: ignore[no-untyped-def]
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"pong"]

    server = BackgroundServer(app, name="test")
    adj = server._server.adj
    assert adj.channel_timeout <= 30
    assert adj.connection_limit >= 400
    server.start()
    held = _hold_idle_connections(server.port, 200)
    try:
        # waitress's defaults (100 connections, 120 s idle timeout) stall this request for minutes.
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}/", timeout=1) as resp:
            assert resp.read() == b"pong"
    finally:
        for sock in held:
            sock.close()
        server.stop()


def test_environment_front_uses_the_same_limits(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import waitress  # type: ignore[import-untyped]
    from cloudkit_local import _appserver
    from cloudkit_local._wsgi import server_limits

    seen: dict[str, Any] = {}
    monkeypatch.setattr(waitress, "serve", lambda app, **kw: seen.update(kw))
    _appserver.main(["--port", "1", "--routes", str(tmp_path / "routes.json")])
    for name, value in server_limits().items():
        assert seen[name] == value
    assert seen["channel_timeout"] <= 30
