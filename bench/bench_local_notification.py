"""Benchmark: publish-to-delivery latency of local notifications, against the raw libraries.

Two subscriptions, each measured with ``--messages`` messages (default 1000), one publish call each,
in two modes: *paced* (publish one message, wait until it is delivered, then the next: the latency
of one delivery on an idle system) and *burst* (publish all as fast as possible: throughput, and
latency that includes the time spent queued behind earlier messages).

* ``queue``: a consumer thread receives (10 at a time, long polling) and acknowledges; latency is
  the time from just before ``publish`` to the moment the consumer holds the message. The raw
  baseline is the same producer/consumer over a bare SQLite WAL table (insert; select + delete).
* ``http``: a waitress endpoint on 127.0.0.1 records when each POST arrives; latency is from
  just before ``publish`` to arrival (signature made and JSON envelope built on the way). The raw
  baseline is ``requests.post`` of the same payload from the producer itself.

Run: ``.venv/bin/python bench/bench_local_notification.py [--messages 1000]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "providers" / "local" / "src")]

import cloudkit  # noqa: E402


def summary(name: str, latencies: list[float], wall: float) -> dict[str, float]:
    lat = sorted(latencies)
    out = {
        "p50_ms": statistics.median(lat) * 1000,
        "p95_ms": lat[int(len(lat) * 0.95) - 1] * 1000,
        "max_ms": lat[-1] * 1000,
        "msgs_per_s": len(lat) / wall,
    }
    print(f"  {name:<34} p50 {out['p50_ms']:8.2f} ms   p95 {out['p95_ms']:8.2f} ms   max {out['max_ms']:8.2f} ms"
          f"   {out['msgs_per_s']:8.0f} msg/s")
    return out


class Endpoint:
    """A waitress server recording the arrival time of each POST by message id."""

    def __init__(self) -> None:
        from cloudkit_local._wsgi import BackgroundServer

        self.arrived: dict[str, float] = {}
        self.done = threading.Event()
        self.expect = 0
        self.server = BackgroundServer(self.app, name="bench-endpoint", threads=8)
        self.url = f"http://127.0.0.1:{self.server.port}/hook"
        self.server.start()
        self.bodies: list[bytes] = []

    def app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        now = time.perf_counter()
        data = json.loads(body)
        if data.get("Type") == "SubscriptionConfirmation":
            self.bodies.append(body)
        else:
            self.arrived[data.get("MessageId") or data["id"]] = now
            if len(self.arrived) >= self.expect:
                self.done.set()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    def close(self) -> None:
        self.server.stop()


def bench_queue(n: int, cloud: cloudkit.Cloud, paced: bool) -> dict[str, float]:
    svc = cloud.notification
    topic = svc.create_topic(f"bench-queue-{paced}")
    queue = svc.create_queue(f"bench-queue-{paced}")
    svc.subscribe(topic, protocol="queue", endpoint=queue.id)
    sent: dict[str, float] = {}
    got: dict[str, float] = {}

    def consume() -> None:
        while len(got) < n:
            for msg in svc.receive_messages(queue, max_messages=10, wait_seconds=1):
                got[json.loads(msg.body)["MessageId"]] = time.perf_counter()
                svc.ack_message(queue, msg.receipt)

    consumer = threading.Thread(target=consume)
    consumer.start()
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        result = svc.publish(topic, f"message {i}")
        sent[result.message_id] = t
        while paced and result.message_id not in got:
            time.sleep(0.0001)
    consumer.join()
    wall = time.perf_counter() - start
    return summary(f"cloudkit publish -> queue ({'paced' if paced else 'burst'})", [got[k] - sent[k] for k in sent], wall)


def bench_raw_sqlite(n: int, folder: Path, paced: bool) -> dict[str, float]:
    path = folder / f"raw-queue-{paced}.db"
    setup = sqlite3.connect(path)
    setup.execute("PRAGMA journal_mode=WAL")
    setup.execute("CREATE TABLE q (seq INTEGER PRIMARY KEY, id TEXT, body TEXT)")
    setup.close()
    sent: dict[str, float] = {}
    got: dict[str, float] = {}

    def consume() -> None:
        conn = sqlite3.connect(path, isolation_level=None, timeout=30)
        while len(got) < n:
            conn.execute("BEGIN IMMEDIATE")
            rows = conn.execute("SELECT seq, id FROM q ORDER BY seq LIMIT 10").fetchall()
            for seq, ident in rows:
                got[ident] = time.perf_counter()
                conn.execute("DELETE FROM q WHERE seq = ?", (seq,))
            conn.execute("COMMIT")
            if not rows:
                time.sleep(0.001)

    consumer = threading.Thread(target=consume)
    consumer.start()
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        ident = f"m{i}"
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO q (id, body) VALUES (?, ?)", (ident, f"message {i}"))
        conn.execute("COMMIT")
        sent[ident] = t
        while paced and ident not in got:
            time.sleep(0.0001)
    consumer.join()
    wall = time.perf_counter() - start
    return summary(f"raw sqlite3 queue ({'paced' if paced else 'burst'})", [got[k] - sent[k] for k in sent], wall)


def bench_http(n: int, cloud: cloudkit.Cloud, endpoint: Endpoint, paced: bool) -> dict[str, float]:
    svc = cloud.notification
    topic = svc.create_topic(f"bench-http-{paced}")
    endpoint.bodies.clear()
    endpoint.arrived.clear()
    endpoint.done.clear()
    sub = svc.subscribe(topic, protocol="http", endpoint=endpoint.url)
    deadline = time.monotonic() + 10
    while not endpoint.bodies and time.monotonic() < deadline:
        time.sleep(0.01)
    token = json.loads(endpoint.bodies[0])["Token"]
    svc.confirm_subscription(topic, token)
    assert svc.get_subscription(sub.id).status == "confirmed"
    endpoint.expect = n
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(n):
        t = time.perf_counter()
        result = svc.publish(topic, f"message {i}")
        sent[result.message_id] = t
        while paced and result.message_id not in endpoint.arrived:
            time.sleep(0.0001)
    endpoint.done.wait(300)
    wall = time.perf_counter() - start
    return summary(f"cloudkit publish -> http ({'paced' if paced else 'burst'})",
                   [endpoint.arrived[k] - sent[k] for k in sent], wall)


def bench_raw_http(n: int, endpoint: Endpoint, paced: bool) -> dict[str, float]:
    import requests

    endpoint.arrived.clear()
    endpoint.done.clear()
    endpoint.expect = n
    session = requests.Session()
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(n):
        ident = f"raw-{i}"
        t = time.perf_counter()
        session.post(endpoint.url, data=json.dumps({"id": ident, "Message": f"message {i}"}), timeout=10)
        sent[ident] = t
    endpoint.done.wait(300)
    wall = time.perf_counter() - start
    session.close()
    return summary(f"raw requests.post ({'paced' if paced else 'burst'})", [endpoint.arrived[k] - sent[k] for k in sent], wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    n = args.messages
    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"publish-to-delivery latency, {n} messages per line")
        endpoint = Endpoint()
        try:
            for paced in (True, False):
                mode = "paced" if paced else "burst"
                with cloudkit.connect("local", root=str(folder / f"root-{mode}")) as cloud:
                    results[f"queue {mode}"] = bench_queue(n, cloud, paced)
                    results[f"raw queue {mode}"] = bench_raw_sqlite(n, folder, paced)
                    results[f"http {mode}"] = bench_http(n, cloud, endpoint, paced)
                    results[f"raw http {mode}"] = bench_raw_http(n, endpoint, paced)
        finally:
            endpoint.close()
    print("ratios (cloudkit / raw):")
    for kind in ("queue", "http"):
        for mode in ("paced", "burst"):
            mine, raw = results[f"{kind} {mode}"], results[f"raw {kind} {mode}"]
            print(f"  {kind:<5} {mode}: p50 latency {mine['p50_ms'] / raw['p50_ms']:6.1f}x"
                  f"   throughput {mine['msgs_per_s'] / raw['msgs_per_s']:5.2f}x")

if __name__ == "__main__":
    main()
