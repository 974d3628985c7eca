"""Benchmark: cloudkit on ``libcloud:azure_blobs`` against raw libcloud, side by side on one Azurite.

Measures, in one run on the same Azurite (started here on 127.0.0.1):

* small objects: put + get of a 1 KiB object, repeated (median and total time per pair);
* a streamed transfer of ``--size-mib`` MiB (default 1024): upload from a generator, download
  into nothing, with the peak resident memory above the baseline during each transfer;
* HTTP requests per operation, counted on each driver's HTTP session.

Usage::

    .venv/bin/python bench/bench_libcloud.py [--small 200] [--size-mib 1024]

Ratios are cloudkit / raw libcloud (1.00 = no overhead). Nothing here is asserted.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "libcloud"))

import lc_servers  # noqa: E402  (the test harness's server launcher)

import cloudkit  # noqa: E402

MiB = 1024 * 1024


def rss() -> int:
    """This process's resident set size in bytes."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@contextmanager
def peak_rss() -> Iterator[dict[str, int]]:
    """Sample RSS every 20 ms; ``result['peak']`` is the growth over the starting RSS."""
    result = {"peak": 0}
    base = rss()
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            result["peak"] = max(result["peak"], rss() - base)
            stop.wait(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield result
    finally:
        stop.set()
        thread.join()
        result["peak"] = max(result["peak"], rss() - base)


@contextmanager
def counting(driver: Any) -> Iterator[list[str]]:
    """Count HTTP requests sent through a libcloud driver's session."""
    session = driver.connection.connection.session
    sent: list[str] = []
    original = session.send

    def send(request: Any, **kw: Any) -> Any:
        sent.append(request.method)
        return original(request, **kw)

    session.send = send
    try:
        yield sent
    finally:
        session.send = original


def chunks(total: int, size: int = MiB) -> Iterator[bytes]:
    block = os.urandom(size)
    left = total
    while left > 0:
        yield block[: min(size, left)]
        left -= size


CPU: dict[str, float] = {"cloudkit": 0.0, "raw": 0.0}


def timed(fn: Callable[[], Any], side: str | None = None) -> float:
    """Wall time of ``fn()``; its CPU time (this process) is added to ``CPU[side]``."""
    cpu = time.process_time()
    start = time.perf_counter()
    fn()
    took = time.perf_counter() - start
    if side is not None:
        CPU[side] += time.process_time() - cpu
    return took


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=200, help="small put+get pairs per side")
    parser.add_argument("--size-mib", type=int, default=1024, help="size of the streamed transfer")
    args = parser.parse_args()

    server = lc_servers.start_azurite()
    try:
        settings = dict(server.settings)
        cloud = cloudkit.connect("libcloud:azure_blobs", **settings)
        storage = cloud.storage
        from libcloud.storage.providers import get_driver

        raw = get_driver("azure_blobs")(settings["key"], settings["secret"], secure=False, host="127.0.0.1", port=server.port)
        storage.create_bucket("bench-ck")
        raw_container = raw.create_container("bench-raw")
        payload = os.urandom(1024)

        # ---- HTTP requests per operation
        counts: dict[str, tuple[int, int]] = {}
        with counting(storage.native) as ck:
            storage.put_object("bench-ck", "count", payload)
        with counting(raw) as rw:
            raw.upload_object_via_stream(iter([payload]), raw_container, "count")
        counts["put (1 KiB)"] = (len(ck), len(rw))
        with counting(storage.native) as ck, storage.get_object("bench-ck", "count") as r:
            r.read()
        with counting(raw) as rw:
            b"".join(raw.download_object_as_stream(raw.get_object("bench-raw", "count")))
        counts["get"] = (len(ck), len(rw))
        with counting(storage.native) as ck:
            storage.head_object("bench-ck", "count")
        with counting(raw) as rw:
            raw.get_object("bench-raw", "count")
        counts["head"] = (len(ck), len(rw))
        with counting(storage.native) as ck:
            list(storage.list_objects("bench-ck"))
        with counting(raw) as rw:
            list(raw.iterate_container_objects(raw_container))
        counts["list (1 page)"] = (len(ck), len(rw))
        with counting(storage.native) as ck:
            storage.delete_object("bench-ck", "count")
        with counting(raw) as rw:
            raw.delete_object(raw.get_object("bench-raw", "count"))
        counts["delete"] = (len(ck), len(rw))

        # ---- small objects, interleaved so both sides see the same server state and noise
        ck_times: list[float] = []
        raw_times: list[float] = []
        for i in range(args.small):
            def ck_pair(i: int = i) -> None:
                storage.put_object("bench-ck", f"small/{i}", payload)
                with storage.get_object("bench-ck", f"small/{i}") as r:
                    assert r.read() == payload

            def raw_pair(i: int = i) -> None:
                raw.upload_object_via_stream(iter([payload]), raw_container, f"small/{i}")
                assert b"".join(raw.download_object_as_stream(raw.get_object("bench-raw", f"small/{i}"))) == payload

            if i % 2:
                raw_times.append(timed(raw_pair, "raw"))
                ck_times.append(timed(ck_pair, "cloudkit"))
            else:
                ck_times.append(timed(ck_pair, "cloudkit"))
                raw_times.append(timed(raw_pair, "raw"))

        # ---- streamed transfer
        size = args.size_mib * MiB
        results: dict[str, dict[str, float]] = {}
        for side in ("raw", "cloudkit", "cloudkit", "raw"):  # ABBA: neither side always runs second
            cpu0 = time.process_time()
            with peak_rss() as up_mem:
                start = time.perf_counter()
                if side == "raw":
                    raw.upload_object_via_stream(chunks(size), raw_container, "big")
                else:
                    storage.put_object("bench-ck", "big", chunks(size))
                up = time.perf_counter() - start
            with peak_rss() as down_mem:
                start = time.perf_counter()
                got = 0
                if side == "raw":
                    for chunk in raw.download_object_as_stream(raw.get_object("bench-raw", "big"), chunk_size=MiB):
                        got += len(chunk)
                else:
                    with storage.get_object("bench-ck", "big") as reader:
                        for chunk in reader.iter_chunks(MiB):
                            got += len(chunk)
                down = time.perf_counter() - start
            assert got == size, (side, got)
            cpu = time.process_time() - cpu0
            best = results.setdefault(side, {"up": up, "down": down, "up_mem": 0.0, "down_mem": 0.0, "cpu": cpu})
            best["cpu"] = min(best["cpu"], cpu)
            best["up"] = min(best["up"], up)
            best["down"] = min(best["down"], down)
            best["up_mem"] = max(best["up_mem"], up_mem["peak"] / MiB)
            best["down_mem"] = max(best["down_mem"], down_mem["peak"] / MiB)

        # ---- report
        ck_med, raw_med = statistics.median(ck_times), statistics.median(raw_times)
        print(f"libcloud:azure_blobs on Azurite (127.0.0.1), {args.small} small pairs, {args.size_mib} MiB stream")
        print("\nHTTP requests per operation        cloudkit   raw libcloud")
        for op, (a, b) in counts.items():
            print(f"  {op:<32}{a:>8}{b:>15}")
        print("\nsmall object put+get (1 KiB)       cloudkit   raw libcloud   ratio")
        print(f"  median per pair (ms)          {ck_med * 1000:>9.2f}{raw_med * 1000:>15.2f}{ck_med / raw_med:>8.3f}")
        print(f"  total (s)                     {sum(ck_times):>9.2f}{sum(raw_times):>15.2f}{sum(ck_times) / sum(raw_times):>8.3f}")
        ck_cpu, raw_cpu = CPU["cloudkit"] / args.small * 1000, CPU["raw"] / args.small * 1000
        print(f"  client CPU per pair (ms)      {ck_cpu:>9.2f}{raw_cpu:>15.2f}{ck_cpu / raw_cpu:>8.3f}")
        ck, rw = results["cloudkit"], results["raw"]
        print(f"\nstreamed {args.size_mib} MiB (best of 2)         cloudkit   raw libcloud   ratio")
        print(f"  upload (s)                    {ck['up']:>9.2f}{rw['up']:>15.2f}{ck['up'] / rw['up']:>8.3f}")
        print(f"  download (s)                  {ck['down']:>9.2f}{rw['down']:>15.2f}{ck['down'] / rw['down']:>8.3f}")
        print(f"  upload MiB/s                  {args.size_mib / ck['up']:>9.1f}{args.size_mib / rw['up']:>15.1f}")
        print(f"  download MiB/s                {args.size_mib / ck['down']:>9.1f}{args.size_mib / rw['down']:>15.1f}")
        print(f"  client CPU up+down (s)        {ck['cpu']:>9.2f}{rw['cpu']:>15.2f}{ck['cpu'] / rw['cpu']:>8.3f}")
        print(f"  peak RSS growth, upload (MiB) {ck['up_mem']:>9.1f}{rw['up_mem']:>15.1f}")
        print(f"  peak RSS growth, download     {ck['down_mem']:>9.1f}{rw['down_mem']:>15.1f}")
        storage.delete_bucket("bench-ck", force=True)
        cloud.close()
    finally:
        server.stop()


if __name__ == "__main__":
    main()
