"""The local endpoint that serves presigned storage URLs (a WSGI app on waitress, 127.0.0.1 only).

The endpoint is a detached process per root (see :func:`ensure_endpoint` below), started on demand
by ``LocalStorage.presign_url`` so that URLs keep working after the program that made them exits,
and ending by itself once the last URL it may serve has expired. It answers ``GET /<bucket>/<key>`` and
``PUT /<bucket>/<key>`` whose ``method``, ``expires`` and ``signature`` query parameters carry a
valid, unexpired HMAC-SHA256 signature; everything else gets 403, 404 or 405.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from email.utils import format_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

from cloudkit.errors import CloudkitError, InvalidInput, NotFound
from cloudkit_local._root import dir_fd, open_in, write_atomic

if TYPE_CHECKING:
    from cloudkit_local.storage import LocalStorage

StartResponse = Callable[..., Any]
_log = logging.getLogger(__name__)


def _reply(start_response: StartResponse, status: str, text: str) -> list[bytes]:
    body = (text + "\n").encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))])
    return [body]


class _BodyReader(io.RawIOBase):
    """At most ``length`` bytes of the request body (``None``: until the server says it ended)."""

    def __init__(self, stream: Any, length: int | None) -> None:
        self._stream = stream
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        want = len(b) if self._left is None else min(len(b), self._left)
        if want <= 0:
            return 0
        data = self._stream.read(want)
        if not data:
            return 0
        b[: len(data)] = data
        if self._left is not None:
            self._left -= len(data)
        return len(data)


class PresignApp:
    """The WSGI application: checks the signature, then streams the object in or out."""

    def __init__(self, storage: LocalStorage) -> None:
        self.storage = storage

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        # PATH_INFO is percent-decoded by the server as latin-1; turn it back into UTF-8 text.
        try:
            path = path.encode("latin-1").decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            return _reply(start_response, "400 Bad Request", "malformed path")
        bucket, _, key = path.lstrip("/").partition("/")
        query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        signed = (query.get("method") or [""])[0]
        expires = (query.get("expires") or [""])[0]
        signature = (query.get("signature") or [""])[0]
        if method not in ("GET", "HEAD", "PUT"):
            return _reply(start_response, "405 Method Not Allowed", "only GET and PUT are served")
        if (method in ("GET", "HEAD") and signed != "GET") or (method == "PUT" and signed != "PUT"):
            return _reply(start_response, "403 Forbidden", "the URL was not signed for this method")
        if not bucket or not key:
            return _reply(start_response, "404 Not Found", "no such object")
        try:
            refused = self.storage.verify(signed, bucket, key, expires, signature)
        except CloudkitError:
            return _reply(start_response, "500 Internal Server Error", "cannot check the signature")
        if refused is not None:
            return _reply(start_response, "403 Forbidden", refused)
        try:
            if method == "PUT":
                return self._put(environ, start_response, bucket, key)
            return self._get(start_response, bucket, key, head=method == "HEAD")
        except NotFound as exc:
            return _reply(start_response, "404 Not Found", str(exc))
        except InvalidInput as exc:
            return _reply(start_response, "400 Bad Request", str(exc))
        except CloudkitError as exc:
            _log.warning("presigned %s of %s/%s failed: %s", method, bucket, key, exc)
            return _reply(start_response, "500 Internal Server Error", "the request failed")

    def _get(self, start_response: StartResponse, bucket: str, key: str, *, head: bool) -> Iterable[bytes]:
        reader = self.storage.get_object(bucket, key)
        info = reader.info
        headers = [
            ("Content-Type", info.content_type or "application/octet-stream"),
            ("Content-Length", str(info.size)),
            ("ETag", f'"{info.etag}"'),
        ]
        if info.last_modified is not None:
            headers.append(("Last-Modified", format_datetime(info.last_modified, usegmt=True)))
        start_response("200 OK", headers)
        if head:
            reader.close()
            return []

        def body() -> Iterator[bytes]:
            with reader:
                yield from reader.iter_chunks(256 * 1024)

        return body()

    def _put(self, environ: dict[str, Any], start_response: StartResponse, bucket: str, key: str) -> Iterable[bytes]:
        length_text = environ.get("CONTENT_LENGTH") or ""
        length = int(length_text) if length_text.isdigit() else None
        ctype = environ.get("CONTENT_TYPE") or None
        try:
            from cloudkit import validation

            ctype = validation.content_type(ctype)
        except InvalidInput:
            ctype = None
        body = io.BufferedReader(_BodyReader(environ["wsgi.input"], length), 1024 * 1024)
        info = self.storage.put_object(bucket, key, body, content_type=ctype)
        start_response("200 OK", [("ETag", f'"{info.etag}"'), ("Content-Length", "0")])
        return []


def PresignServer(storage: LocalStorage) -> Any:
    """A :class:`~cloudkit_local._wsgi.BackgroundServer` serving :class:`PresignApp` for ``storage``."""
    from cloudkit_local._wsgi import BackgroundServer

    return BackgroundServer(PresignApp(storage), name="cloudkit-presign")


# ---------------------------------------------------------------------------------------------
# The detached endpoint: one per root, shared by every process, alive while a URL may be used.
#
# A presigned URL must work after the program that made it has exited (a CLI call, a short
# script). So the endpoint runs as its own process (``python -m cloudkit_local._presign ROOT``),
# started on demand by the first presign_url of a root and found again by later ones through
# ``<root>/storage/presign.endpoint``. Each presign_url pushes ``presign.horizon`` (the latest
# expiry handed out) forward; the endpoint exits once the horizon has passed, when its root
# folder is removed, or when stop_endpoint() asks it to.

ENDPOINT_FILE = "presign.endpoint"
HORIZON_FILE = "presign.horizon"
LOCK_FILE = "presign.lock"
#: Seconds the endpoint stays up after the last URL it may serve has expired.
IDLE_GRACE = 10.0
_MARK = "cloudkit_local._presign"


def _read_json(path: Any) -> dict[str, Any] | None:
    """The JSON object in ``path``; ``None`` when absent, unreadable, not an object, or a symbolic link."""
    import json

    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        with os.fdopen(fd, "rb") as fh:
            data = json.loads(fh.read(65536))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _is_endpoint_process(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            return _MARK.encode() in fh.read()
    except OSError:
        return False


def _answers(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def live_endpoint(base: Any) -> int | None:
    """The port of the running endpoint of storage folder ``base``, or ``None``."""
    info = _read_json(base / ENDPOINT_FILE)
    if not info:
        return None
    pid, port = info.get("pid"), info.get("port")
    if not isinstance(pid, int) or not isinstance(port, int):
        return None
    if _is_endpoint_process(pid) and _answers(port):
        return port
    return None


def ensure_endpoint(root: Any, base: Any, until: int, *, timeout: float = 15.0) -> int:
    """Make sure the endpoint of ``root`` runs until at least ``until`` (unix time); return its port."""
    import fcntl
    import subprocess
    import sys
    import time

    with dir_fd(root, "storage") as folder:
        lock = open_in(folder, LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600, shown=base / LOCK_FILE)
    with os.fdopen(lock, "r+b") as lock_fh, dir_fd(root, "storage") as folder:
        fcntl.flock(lock_fh, fcntl.LOCK_EX)
        try:
            current = _read_json(base / HORIZON_FILE) or {}
            horizon = max(int(current.get("until", 0)), until)
            write_atomic(Path(HORIZON_FILE), f'{{"until": {horizon}}}', dir_fd=folder)
            port = live_endpoint(base)
            if port is not None:
                return port
            with contextlib.suppress(FileNotFoundError):
                os.unlink(ENDPOINT_FILE, dir_fd=folder)
            proc = subprocess.Popen(
                [sys.executable, "-m", _MARK, str(root)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                close_fds=True,
                env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
            )
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                info = _read_json(base / ENDPOINT_FILE)
                if info and info.get("pid") == proc.pid and isinstance(info.get("port"), int):
                    return int(info["port"])
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            proc.kill()
            from cloudkit.errors import ProviderError

            raise ProviderError("the presigned-URL endpoint did not start", provider="local")
        finally:
            fcntl.flock(lock_fh, fcntl.LOCK_UN)


def stop_endpoint(base: Any, *, timeout: float = 10.0) -> bool:
    """Stop the endpoint of storage folder ``base`` (URLs it served stop working). True if one ran."""
    import signal
    import time

    info = _read_json(base / ENDPOINT_FILE)
    pid = info.get("pid") if info else None
    if not isinstance(pid, int) or not _is_endpoint_process(pid):
        return False
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _is_endpoint_process(pid):
        time.sleep(0.02)
    return True


def serve(root: str) -> None:
    """Run the endpoint of ``root`` until its horizon passes (the body of the detached process)."""
    import signal
    import time

    from cloudkit_local._wsgi import raise_file_limit
    from cloudkit_local.storage import LocalStorage

    raise_file_limit()
    storage = LocalStorage({"root": root})
    base = storage.base
    server = PresignServer(storage)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    with dir_fd(storage.root, "storage") as folder:
        write_atomic(Path(ENDPOINT_FILE), f'{{"pid": {os.getpid()}, "port": {server.port}}}', dir_fd=folder)
    try:
        while not stop.wait(0.5):
            if not Path(base).is_dir():
                break
            info = _read_json(base / ENDPOINT_FILE) or {}
            if info.get("pid") != os.getpid():
                break  # replaced by another endpoint
            until = (_read_json(base / HORIZON_FILE) or {}).get("until", 0)
            if time.time() > float(until) + IDLE_GRACE:
                break
    finally:
        info = _read_json(base / ENDPOINT_FILE) or {}
        if info.get("pid") == os.getpid():
            (base / ENDPOINT_FILE).unlink(missing_ok=True)
        server.stop()
        storage.close()


if __name__ == "__main__":
    import sys

    serve(sys.argv[1])
