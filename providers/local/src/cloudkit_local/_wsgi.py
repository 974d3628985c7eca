"""The one way the local provider serves a WSGI app in a background thread: waitress on 127.0.0.1."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BackgroundServer:
    """waitress serving ``app`` on 127.0.0.1 (a free port unless ``port`` is given), in a daemon thread."""

    def __init__(self, app: Any, *, name: str, threads: int = 4, port: int = 0) -> None:
        from waitress.server import create_server  # type: ignore[import-untyped]

        self._server: Any = create_server(
            app, host="127.0.0.1", port=port, threads=threads, ident="cloudkit-local",
            clear_untrusted_proxy_headers=True,
        )
        self.port: int = int(self._server.effective_port)
        self._thread = threading.Thread(target=self._server.run, name=f"{name}-{self.port}", daemon=True)

    def start(self) -> None:
        """Start serving in the background."""
        self._thread.start()

    def stop(self, timeout: float = 10) -> None:
        """Stop serving and wait for the thread to end.

        The sockets are closed by the server's own loop thread (through its trigger), so the loop
        never polls a descriptor closed under it.
        """
        from waitress import wasyncore

        server = self._server
        if self._thread.is_alive():
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            self._thread.join(timeout=timeout)
        else:
            wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown()
