"""Benchmark: local storage transfers against ``cp`` and listing against raw SQLite.

* ``upload_file`` and ``download_file`` of one big file (default 1 GiB) against ``cp`` of the same
  file on the same disk, and against ``cp`` followed by an fsync of the copy (cloudkit fsyncs every
  object before it becomes visible, ``cp`` does not). Throughput in MB/s and the ratio to ``cp``.
* hashlib's MD5 over the same file: every upload computes the MD5 ETag, so this is its floor.
* Peak memory (``ru_maxrss``) of a child process that does only the transfer.
* Listing many keys (default 100,000): time to the first key, total time, and the child's peak
  RSS when the first key arrived and at the end (flat memory means the two are close); the
  baseline is a raw ``sqlite3`` scan of the same keys.

Nothing here asserts; it prints figures. ``--quick`` uses 128 MiB and 10,000 keys.

    .venv/bin/python bench/bench_local_storage.py [--quick] [--size-mib N] [--keys N] [--rounds N] [--dir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
from cloudkit_local.storage import LocalStorage

op, root = sys.argv[1], sys.argv[2]
svc = LocalStorage({"root": root})

def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

out = {"rss_start_mb": rss_mb()}
start = time.perf_counter()
if op == "upload":
    svc.upload_file(sys.argv[3], "bench", "big.bin")
elif op == "download":
    svc.download_file("bench", "big.bin", sys.argv[3])
elif op == "populate":
    n = int(sys.argv[3])
    for i in range(n):
        svc.put_object("bench", f"keys/{i:07d}", b"x")
elif op == "list":
    count = 0
    for obj in svc.list_objects("bench", prefix="keys/"):
        if count == 0:
            out["first_s"] = time.perf_counter() - start
            out["rss_first_mb"] = rss_mb()
        count += 1
    out["count"] = count
out["seconds"] = time.perf_counter() - start
out["rss_peak_mb"] = rss_mb()
svc.close()
print(json.dumps(out))
"""


def child(op: str, root: Path, *args: str) -> dict[str, Any]:
    """Run one operation in a fresh interpreter and return what it measured."""
    res = subprocess.run([sys.executable, "-c", CHILD, op, str(root), *args], check=True, capture_output=True, text=True)
    return dict(json.loads(res.stdout))


def timed_cp(src: Path, dst: Path, *, fsync: bool) -> float:
    """Wall time of ``cp src dst`` (optionally followed by an fsync of ``dst``)."""
    dst.unlink(missing_ok=True)
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    if fsync:
        fd = os.open(dst, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    return time.perf_counter() - start


def timed_md5(src: Path) -> float:
    """Wall time of hashing ``src`` with hashlib's MD5 (the floor of an upload that must give an MD5 ETag)."""
    start = time.perf_counter()
    digest = hashlib.md5()
    with open(src, "rb", buffering=0) as fh:
        buf = bytearray(8 * 1024 * 1024)
        while n := fh.readinto(buf):
            digest.update(memoryview(buf)[:n])
    return time.perf_counter() - start


def make_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes of incompressible data, fsynced."""
    block = os.urandom(1024 * 1024)
    with open(path, "wb") as fh:
        left = size
        while left > 0:
            fh.write(block[: min(left, len(block))])
            left -= len(block)
        fh.flush()
        os.fsync(fh.fileno())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="128 MiB and 10,000 keys")
    parser.add_argument("--size-mib", type=int, default=None, help="size of the transfer file (default 1024)")
    parser.add_argument("--keys", type=int, default=None, help="keys to list (default 100000)")
    parser.add_argument("--rounds", type=int, default=3, help="transfer rounds; the median is reported")
    parser.add_argument("--dir", default=None, help="work folder (default: the system temp folder)")
    args = parser.parse_args()
    size_mib = args.size_mib or (128 if args.quick else 1024)
    keys = args.keys or (10_000 if args.quick else 100_000)
    size = size_mib * 1024 * 1024

    work = Path(tempfile.mkdtemp(prefix="cloudkit-bench-", dir=args.dir))
    try:
        root = work / "root"
        from cloudkit_local.storage import LocalStorage

        svc = LocalStorage({"root": str(root)})
        svc.create_bucket("bench")
        svc.close()
        src = work / "src.bin"
        make_file(src, size)
        dev = os.stat(work).st_dev
        same_disk = os.stat(root).st_dev == dev
        print(f"Local storage benchmark in {work} (same device for source, copies and root: {same_disk})")
        print(f"transfer file: {size_mib} MiB; {args.rounds} rounds; median reported; "
              f"load average at start {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")

        cp_t, cps_t, md5_t, up_t, dl_t, up_rss, dl_rss = [], [], [], [], [], [], []
        for _ in range(args.rounds):
            cp_t.append(timed_cp(src, work / "cp.bin", fsync=False))
            (work / "cp.bin").unlink()
            cps_t.append(timed_cp(src, work / "cp.bin", fsync=True))
            (work / "cp.bin").unlink()
            md5_t.append(timed_md5(src))
            up = child("upload", root, str(src))
            up_t.append(up["seconds"])
            up_rss.append(up["rss_peak_mb"])
            dl = child("download", root, str(work / "dl.bin"))
            dl_t.append(dl["seconds"])
            dl_rss.append(dl["rss_peak_mb"])
            (work / "dl.bin").unlink()

        def mbps(t: list[float]) -> float:
            return size / 1e6 / statistics.median(t)

        cp_rate, cps_rate = mbps(cp_t), mbps(cps_t)
        print(f"{'operation':34} {'MB/s':>8} {'vs cp':>7} {'vs cp+fsync':>12} {'peak RSS MB':>12}")
        print(f"{'cp':34} {cp_rate:8.0f} {1:7.2f} {cp_rate / cps_rate:12.2f} {'-':>12}")
        print(f"{'cp + fsync':34} {cps_rate:8.0f} {cps_rate / cp_rate:7.2f} {1:12.2f} {'-':>12}")
        md5_rate = mbps(md5_t)
        print(f"{'hashlib MD5 of the file, 1 thread':34} {md5_rate:8.0f} {md5_rate / cp_rate:7.2f} {md5_rate / cps_rate:12.2f} {'-':>12}")
        for label, t, rss in (("upload_file (MD5 + fsync + rename)", up_t, up_rss),
                              ("download_file (fsync + rename)", dl_t, dl_rss)):
            rate = mbps(t)
            print(f"{label:34} {rate:8.0f} {rate / cp_rate:7.2f} {rate / cps_rate:12.2f} {max(rss):12.1f}")

        print(f"\nlisting {keys:,} keys")
        pop = child("populate", root, str(keys))
        print(f"populate with put_object: {pop['seconds']:.1f} s ({keys / pop['seconds']:,.0f} objects/s)")
        listed = [child("list", root) for _ in range(args.rounds)]
        assert all(r["count"] == keys for r in listed), "listing returned the wrong number of keys"
        first = statistics.median(r["first_s"] for r in listed)
        total = statistics.median(r["seconds"] for r in listed)
        raw = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            conn = sqlite3.connect(root / "storage" / "meta.sqlite3")
            n = sum(1 for _ in conn.execute("SELECT key FROM objects WHERE bucket = 'bench' AND key >= 'keys/' AND key < 'keys0' ORDER BY key"))
            conn.close()
            raw.append(time.perf_counter() - start)
            assert n == keys
        raw_t = statistics.median(raw)
        print(f"list_objects: first key after {first * 1000:.1f} ms; all {keys:,} in {total:.2f} s "
              f"({keys / total:,.0f} keys/s); raw sqlite3 scan {raw_t:.2f} s (ratio {total / raw_t:.1f}x)")
        print(f"list_objects peak RSS: {max(r['rss_first_mb'] for r in listed):.1f} MB at the first key, "
              f"{max(r['rss_peak_mb'] for r in listed):.1f} MB at the end "
              f"(interpreter + service at start: {max(r['rss_start_mb'] for r in listed):.1f} MB)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
