"""Benchmark: requests through a local load balancer (HAProxy) against straight to a target, and failover.

Two HTTP backends on 127.0.0.1 (``http.server``, threaded) answer every GET with a few bytes. One
client thread sends ``--requests`` GETs (default 1000) in each case, the same way for both sides:

* *new connection*: one TCP connection per request (``http.client``, ``Connection: close``);
* *keep-alive*: one HTTP/1.1 connection for all requests.

The raw baseline sends the requests straight to one backend; the load balancer case through a local
load balancer spreading them over both. Figures are p50 / p99 latency and their ratio (LB / raw).

Failover: while the client sends requests continuously, one backend is stopped; reported are the
time until ``target_health`` shows it ``unhealthy`` (health check interval 5 s, unhealthy threshold
2), the requests that failed before and after that moment (HAProxy retries a refused connection on
the other target, ``option redispatch``), and whether any request went to the dead target after.

Run: ``.venv/bin/python bench/bench_loadbalancer.py [--requests 1000]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import http.client
import http.server
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "providers" / "local" / "src")]

import cloudkit  # noqa: E402
from cloudkit import HealthCheck, Listener, Target  # noqa: E402


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall on keep-alive

    def do_GET(self) -> None:
        body = str(self.server.server_address[1]).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        pass


def backend() -> _Server:
    server = _Server(("127.0.0.1", 0), _Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def fresh(port: int, n: int) -> list[float]:
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        conn.request("GET", "/", headers={"Connection": "close"})
        conn.getresponse().read()
        conn.close()
        out.append(time.perf_counter() - start)
    return out


def keepalive(port: int, n: int) -> list[float]:
    out = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(n):
        start = time.perf_counter()
        conn.request("GET", "/")
        conn.getresponse().read()
        out.append(time.perf_counter() - start)
    conn.close()
    return out


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def row(name: str, lat: list[float]) -> tuple[float, float]:
    p50, p99 = pct(lat, 50) * 1000, pct(lat, 99) * 1000
    print(f"| {name} | {p50:.3f} ms | {p99:.3f} ms | {statistics.mean(lat) * 1000:.3f} ms |")
    return p50, p99


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=1000)
    args = parser.parse_args()
    servers = [backend(), backend()]
    ports = [int(s.server_address[1]) for s in servers]
    with tempfile.TemporaryDirectory() as tmp, cloudkit.connect("local", root=tmp) as cloud:
        lbs = cloud.loadbalancer
        lb = lbs.create_load_balancer("bench", listeners=[Listener(port=0, target_port=1)],
                                      health_check=HealthCheck(path="/", interval=5, timeout=2, healthy_threshold=2,
                                                               unhealthy_threshold=2), deregistration_delay=0)
        try:
            lbs.register_targets(lb, [Target("127.0.0.1", p) for p in ports])
            while {h.state for h in lbs.target_health(lb)} != {"healthy"}:
                time.sleep(0.2)
            port = lb.listeners[0].port
            fresh(port, 50), fresh(ports[0], 50)  # warm up
            print(f"{args.requests} GETs per line, one client thread\n")
            print("| case | p50 | p99 | mean |\n|---|---|---|---|")
            raw_f = row("straight to one target, new connection each", fresh(ports[0], args.requests))
            lb_f = row("through the load balancer (2 targets), new connection each", fresh(port, args.requests))
            raw_k = row("straight to one target, keep-alive", keepalive(ports[0], args.requests))
            lb_k = row("through the load balancer (2 targets), keep-alive", keepalive(port, args.requests))
            print(f"\nratio LB / raw, new connection: p50 {lb_f[0] / raw_f[0]:.2f}x, p99 {lb_f[1] / raw_f[1]:.2f}x")
            print(f"ratio LB / raw, keep-alive:     p50 {lb_k[0] / raw_k[0]:.2f}x, p99 {lb_k[1] / raw_k[1]:.2f}x")

            # failover
            results: list[tuple[float, str | None]] = []
            stop = threading.Event()

            def client() -> None:
                while not stop.is_set():
                    try:
                        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                        conn.request("GET", "/", headers={"Connection": "close"})
                        body: str | None = conn.getresponse().read().decode()
                        conn.close()
                    except OSError:
                        body = None
                    results.append((time.monotonic(), body))

            thread = threading.Thread(target=client)
            thread.start()
            time.sleep(1)
            dead = servers[1]
            killed = time.monotonic()
            dead.shutdown()
            dead.server_close()
            while {h.target.port: h.state for h in lbs.target_health(lb)}[ports[1]] != "unhealthy":
                time.sleep(0.05)
            detected = time.monotonic()
            time.sleep(2)
            stop.set()
            thread.join()
            before = [b for t, b in results if killed <= t < detected]
            after = [b for t, b in results if t >= detected]
            print(f"\nfailover: target marked unhealthy {detected - killed:.2f} s after it died "
                  f"(interval 5 s, unhealthy threshold 2)")
            print(f"requests meanwhile: {len(before)}, failed {before.count(None)}; after: {len(after)}, failed "
                  f"{after.count(None)}, sent to the dead target {sum(1 for b in after if b == str(ports[1]))}")
        finally:
            lbs.delete_load_balancer(lb)
            servers[0].shutdown()


if __name__ == "__main__":
    main()
