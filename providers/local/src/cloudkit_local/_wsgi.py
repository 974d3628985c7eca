"""The one way the local provider serves a WSGI app in a background thread: waitress on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

#: Seconds a connection may sit idle (no request in progress, nothing read or written) before it
#: is closed. waitress's default is 120 s, long enough for a few hundred idle or half-open
#: connections to fill its connection limit and lock every other client out.
CHANNEL_TIMEOUT = 10
#: Seconds between two sweeps for idle connections (waitress: 30).
CLEANUP_INTERVAL = 2
#: Pending connections the kernel queues while the server is busy (waitress: 1024).
BACKLOG = 1024


def server_limits() -> dict[str, int]:
    """The waitress limits every local server uses (presign endpoint, receivers, environment fronts).

    The connection limit (waitress: 100) is raised to half the process's open-file limit (at
    least 100, at most 4096) so that idle connections cannot use it all up before they time out,
    while the server never runs out of descriptors for its own files.
    """
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 8192
    return {
        "connection_limit": max(100, min(4096, soft // 2)),
        "channel_timeout": CHANNEL_TIMEOUT,
        "cleanup_interval": CLEANUP_INTERVAL,
        "backlog": BACKLOG,
        # poll(), not select(): select() cannot watch a descriptor numbered 1024 or more, and the
        # connection limit above lets a server hold thousands.
        "asyncore_use_poll": True,
    }


def raise_file_limit(want: int = 8192) -> None:
    """Raise this process's soft open-file limit towards ``want`` (never above the hard limit).

    Only for the local provider's own server processes (the detached presign endpoint, an
    environment's front), never for the program that uses cloudkit.
    """
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))


class BackgroundServer:
    """waitress serving ``app`` on 127.0.0.1 (a free port unless ``port`` is given), in a daemon thread.

    The thread runs waitress's poll loop itself, checking a stop flag between rounds, so that
    stopping never depends on a descriptor: the sockets are closed by the loop thread when it
    ends, and ``stop`` only asks (the trigger is pulled to wake the loop early; if it cannot be,
    the loop still notices within its one-second timeout).
    """

    def __init__(self, app: Any, *, name: str, threads: int = 4, port: int = 0) -> None:
        from waitress.server import create_server  # type: ignore[import-untyped]

        self._server: Any = create_server(
            app, host="127.0.0.1", port=port, threads=threads, ident="cloudkit-local",
            clear_untrusted_proxy_headers=True, **server_limits(),
        )
        self.port: int = int(self._server.effective_port)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, name=f"{name}-{self.port}", daemon=True)

    def _serve(self) -> None:
        from waitress import wasyncore

        server = self._server
        socket_map = server._map
        timeout = server.adj.asyncore_loop_timeout
        try:
            while socket_map and not self._stopping.is_set():
                wasyncore.poll2(timeout, socket_map)
        finally:
            wasyncore.close_all(socket_map)

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop serving and wait for the thread to end (its loop closes every socket)."""
        from waitress import wasyncore

        server = self._server
        self._stopping.set()
        if self._thread.is_alive():
            try:
                server.trigger.pull_trigger()  # a wake-up only; the loop checks the flag anyway
            except (OSError, ValueError):
                pass  # the trigger is gone: the loop ends at its next timeout
            self._thread.join(timeout=timeout)
        else:
            wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown()
