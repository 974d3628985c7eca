"""Real servers on 127.0.0.1 for the libcloud provider's live tests and benchmark.

Each launcher starts its server on a free loopback port in a temporary folder, waits until it
answers, and returns a handle whose ``stop()`` ends the process (and only that process).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

PDNS_SCHEMAS = (
    Path("/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql"),
    Path("/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql"),
)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (DNS listens on both)."""
    for _ in range(50):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            try:
                u.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port for DNS on 127.0.0.1")


def _wait(check: Callable[[], bool], proc: subprocess.Popen[bytes] | None, what: str, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before it was ready")
        with contextlib.suppress(OSError):
            if check():
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not become ready within {timeout} s")


def _port_open(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True


@dataclass
class Server:
    """A running server: its endpoint and how to stop it."""

    name: str
    port: int
    settings: dict[str, Any]
    folder: Path | None = None
    proc: subprocess.Popen[bytes] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    _stop: Callable[[], None] | None = None

    def stop(self) -> None:
        """Stop the server (its own process only) and remove its folder."""
        if self._stop is not None:
            self._stop()
            self._stop = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def have_azurite() -> str | None:
    """The ``azurite-blob`` executable, if installed."""
    return shutil.which("azurite-blob")


def have_pdns() -> str | None:
    """The ``pdns_server`` executable, if installed with its SQLite backend schema."""
    exe = shutil.which("pdns_server") or (str(Path("/usr/sbin/pdns_server")) if Path("/usr/sbin/pdns_server").exists() else None)
    if exe and any(p.is_file() for p in PDNS_SCHEMAS):
        return exe
    return None


def start_azurite() -> Server:
    """Azurite's blob service on a free loopback port, data in a temporary folder."""
    exe = have_azurite()
    if exe is None:
        raise RuntimeError("azurite-blob is not installed (npm install -g azurite)")
    folder = Path(tempfile.mkdtemp(prefix="ck-azurite-"))
    port = free_port()
    proc = subprocess.Popen(
        [exe, "--blobHost", "127.0.0.1", "--blobPort", str(port), "--skipApiVersionCheck", "--loose",
         "--location", str(folder), "--silent"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    server = Server("azurite", port, {"key": AZURITE_ACCOUNT, "secret": AZURITE_KEY, "host": "127.0.0.1",
                                      "port": port, "secure": False}, folder, proc)
    try:
        _wait(lambda: _port_open(port), proc, "azurite")
    except BaseException:
        server.stop()
        raise
    return server


def start_pdns(api_key: str = "ck-test-api-key") -> Server:
    """PowerDNS (gsqlite3 backend) with its HTTP API and DNS port on free loopback ports."""
    exe = have_pdns()
    if exe is None:
        raise RuntimeError("pdns_server with pdns-backend-sqlite3 is not installed")
    folder = Path(tempfile.mkdtemp(prefix="ck-pdns-"))
    schema = next(p for p in PDNS_SCHEMAS if p.is_file())
    db = folder / "pdns.sqlite3"
    con = sqlite3.connect(db)
    try:
        con.executescript(schema.read_text())
        con.commit()
    finally:
        con.close()
    api_port = free_port()
    dns_port = free_udp_tcp_port()
    (folder / "pdns.conf").write_text(
        "\n".join([
            "launch=gsqlite3",
            f"gsqlite3-database={db}",
            "gsqlite3-pragma-synchronous=0",
            "api=yes",
            f"api-key={api_key}",
            "webserver=yes",
            "webserver-address=127.0.0.1",
            f"webserver-port={api_port}",
            "webserver-allow-from=127.0.0.0/8",
            "local-address=127.0.0.1",
            f"local-port={dns_port}",
            f"socket-dir={folder}",
            "guardian=no",
            "daemon=no",
            "disable-syslog=yes",
            "write-pid=no",
            "loglevel=3",
            "cache-ttl=0",
            "negquery-cache-ttl=0",
            "query-cache-ttl=0",
            "zone-cache-refresh-interval=0",
            "",
        ])
    )
    if os.geteuid() == 0:
        os.chmod(folder, 0o755)
    proc = subprocess.Popen(
        [exe, f"--config-dir={folder}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )
    server = Server("powerdns", api_port, {"key": api_key, "host": "127.0.0.1", "port": api_port, "secure": False,
                                           "api_version": "v1"}, folder, proc, {"dns_port": dns_port})
    try:
        _wait(lambda: _port_open(api_port), proc, "pdns_server")
    except BaseException:
        server.stop()
        raise
    return server


def start_moto() -> Server:
    """A moto server (S3, EC2, ...) in this process, on a free loopback port."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    moto.start()
    server = Server("moto", port, {"key": "testing-key-id", "secret": "testing-secret-key", "host": "127.0.0.1",
                                   "port": port, "secure": False, "region": "us-east-1"}, _stop=moto.stop)
    try:
        _wait(lambda: _port_open(port), None, "moto")
    except BaseException:
        server.stop()
        raise
    return server
