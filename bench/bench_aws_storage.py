"""Benchmark: cloudkit's aws storage against raw boto3 (and libcloud's S3 driver) on one moto server.

* Small objects: interleaved rounds of put+get of small objects through raw boto3, cloudkit's aws
  provider and libcloud's S3 driver (for reference), in a rotating order, against the same moto
  server (a separate process on 127.0.0.1). Median per-round rate of each, and cloudkit's time per
  operation relative to boto3's (target: at most 5% slower).
* Big file: ``upload_file`` / ``download_file`` of one file (default 1 GiB) through cloudkit and
  through boto3's own ``upload_file`` / ``download_file``, each in a child process so that its peak
  memory (``ru_maxrss``) is its own, interleaved rounds. Throughput and cloudkit's share of boto3's
  (target: at least 95%, peak memory under 150 MB).

Nothing here asserts; it prints figures. ``--quick`` uses 128 MiB and fewer rounds.

    .venv/bin/python bench/bench_aws_storage.py [--quick] [--size-mib N] [--rounds N] [--ops N] [--object-kib N]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REGION = "us-east-1"
KEY_ID, SECRET = "testing", "testing"
MIB = 1024 * 1024

CHILD = r"""
import json, os, resource, sys, time
os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_EC2_METADATA_DISABLED="true")
who, op, endpoint, bucket, path = sys.argv[1:6]
start_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
if who == "boto3":
    import boto3
    from botocore.config import Config
    client = boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint,
                          config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                        retries={"mode": "standard", "total_max_attempts": 5}))
    start = time.perf_counter()
    if op == "upload":
        client.upload_file(path, bucket, "big-boto3.bin")
    else:
        client.download_file(bucket, "big-boto3.bin", path)
else:
    import cloudkit
    cloud = cloudkit.connect("aws", region="us-east-1", endpoint_url=endpoint)
    cloud.storage.native  # the S3 client exists before the clock starts, as in the boto3 child
    start = time.perf_counter()
    if op == "upload":
        cloud.storage.upload_file(path, bucket, "big-cloudkit.bin")
    else:
        cloud.storage.download_file(bucket, "big-cloudkit.bin", path)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "rss_start_mb": start_rss}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto server in its own process on 127.0.0.1 (stopped on exit)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/moto-api/", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _raw_client(endpoint: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("s3", region_name=REGION, endpoint_url=endpoint,
                        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4",
                                      retries={"mode": "standard", "total_max_attempts": 5}))


def small_objects(endpoint: str, rounds: int, ops: int, size: int) -> dict[str, Any]:
    """Interleaved rounds of put+get; returns per-client per-round seconds per operation pair."""
    from libcloud.storage.providers import get_driver

    import cloudkit

    bucket = "bench-small"
    raw = _raw_client(endpoint)
    raw.create_bucket(Bucket=bucket)
    cloud = cloudkit.connect("aws", region=REGION, endpoint_url=endpoint)
    s3 = cloud.storage
    port = int(endpoint.rsplit(":", 1)[1])
    driver = get_driver("s3")(KEY_ID, SECRET, host="127.0.0.1", port=port, secure=False, region=REGION)
    container = driver.get_container(bucket)
    payload = os.urandom(size)
    with tempfile.NamedTemporaryFile(prefix="bench-aws-", delete=False) as tmp:
        tmp.write(payload)

    def via_boto3(key: str) -> None:
        raw.put_object(Bucket=bucket, Key=key, Body=payload)
        assert raw.get_object(Bucket=bucket, Key=key)["Body"].read() == payload

    def via_cloudkit(key: str) -> None:
        s3.put_object(bucket, key, payload)
        with s3.get_object(bucket, key) as reader:
            assert reader.read() == payload

    def via_libcloud(key: str) -> None:
        obj = driver.upload_object(tmp.name, container, key)
        assert b"".join(driver.download_object_as_stream(obj)) == payload

    clients: dict[str, Callable[[str], None]] = {"boto3": via_boto3, "cloudkit": via_cloudkit, "libcloud": via_libcloud}
    for name, fn in clients.items():  # warm connections and imports
        for i in range(20):
            fn(f"warm/{name}/{i}")
    per_op: dict[str, list[float]] = {name: [] for name in clients}
    cpu_per_op: dict[str, list[float]] = {name: [] for name in clients}
    order = list(clients)
    for r in range(rounds):
        order = order[1:] + order[:1]
        for name in order:
            fn = clients[name]
            start, cpu = time.perf_counter(), time.process_time()
            for i in range(ops):
                fn(f"{name}/{r}/{i}")
            per_op[name].append((time.perf_counter() - start) / ops)
            cpu_per_op[name].append((time.process_time() - cpu) / ops)
    cloud.close()
    os.unlink(tmp.name)
    return {"wall": per_op, "cpu": cpu_per_op}


def big_file(endpoint: str, size_mib: int, rounds: int, workdir: Path) -> dict[str, dict[str, list[dict[str, float]]]]:
    """upload_file/download_file through boto3 and cloudkit in child processes, interleaved."""
    bucket = "bench-big"
    _raw_client(endpoint).create_bucket(Bucket=bucket)
    src = workdir / "big.bin"
    block = os.urandom(MIB)
    with open(src, "wb") as fh:
        for _ in range(size_mib):
            fh.write(block)
    results: dict[str, dict[str, list[dict[str, float]]]] = {"upload": {"boto3": [], "cloudkit": []},
                                                              "download": {"boto3": [], "cloudkit": []}}
    order = ["boto3", "cloudkit"]
    for _ in range(rounds):
        for op in ("upload", "download"):
            for who in order:
                path = str(src) if op == "upload" else str(workdir / f"down-{who}.bin")
                out = subprocess.run([sys.executable, "-c", CHILD, who, op, endpoint, bucket, path],
                                     check=True, capture_output=True, text=True, timeout=3600)
                results[op][who].append(json.loads(out.stdout))
                if op == "download":
                    got = Path(path)
                    assert got.stat().st_size == src.stat().st_size, f"{who} downloaded a short file"
                    got.unlink()
            order.reverse()
    src.unlink()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="128 MiB, 5 rounds of 100 small operations")
    parser.add_argument("--size-mib", type=int, default=None, help="big file size (default 1024)")
    parser.add_argument("--rounds", type=int, default=None, help="small-object rounds (default 15)")
    parser.add_argument("--ops", type=int, default=None, help="put+get pairs per client per round (default 200)")
    parser.add_argument("--big-rounds", type=int, default=None, help="big-file rounds (default 2)")
    parser.add_argument("--object-kib", type=int, default=4, help="small object size in KiB (default 4)")
    parser.add_argument("--dir", default=None, help="folder for the big file (default: a temp folder)")
    args = parser.parse_args()
    size_mib = args.size_mib or (128 if args.quick else 1024)
    rounds = args.rounds or (5 if args.quick else 15)
    ops = args.ops or (100 if args.quick else 200)
    big_rounds = args.big_rounds or (1 if args.quick else 2)
    os.environ.update(AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_EC2_METADATA_DISABLED="true")

    with moto_server() as endpoint, tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        print(f"moto server {endpoint}; {rounds} interleaved rounds of {ops} put+get pairs of {args.object_kib} KiB each")
        measured = small_objects(endpoint, rounds, ops, args.object_kib * 1024)
        per_op, cpu = measured["wall"], measured["cpu"]
        base = statistics.median(per_op["boto3"])
        for name, values in per_op.items():
            med = statistics.median(values)
            print(f"  {name:9s} median {med * 1000:7.3f} ms per put+get ({1 / med:7.1f} pairs/s), "
                  f"min {min(values) * 1000:.3f} ms, max {max(values) * 1000:.3f} ms, x{med / base:.3f} of boto3")
        pairs = [c / b for c, b in zip(per_op["cloudkit"], per_op["boto3"], strict=True)]
        print(f"  cloudkit/boto3 per round: median x{statistics.median(pairs):.3f}, "
              f"range x{min(pairs):.3f}..x{max(pairs):.3f}")
        cpu_base = statistics.median(cpu["boto3"])
        print("  client CPU per put+get (this process only; the server runs in its own):")
        for name, values in cpu.items():
            print(f"  {name:9s} median {statistics.median(values) * 1000:7.3f} ms CPU, x{statistics.median(values) / cpu_base:.3f} of boto3")

        print(f"\nbig file: {size_mib} MiB, {big_rounds} interleaved round(s), each transfer in its own process")
        big = big_file(endpoint, size_mib, big_rounds, Path(tmp))
        for op, by in big.items():
            rate = {who: statistics.median(size_mib / r["seconds"] for r in runs) for who, runs in by.items()}
            for who, runs in by.items():
                rss = max(r["rss_mb"] for r in runs)
                times = ", ".join(f"{r['seconds']:.2f} s" for r in runs)
                print(f"  {op:8s} {who:9s} median {rate[who]:7.1f} MiB/s ({times}), peak RSS {rss:.0f} MB")
            print(f"  {op:8s} cloudkit throughput = {rate['cloudkit'] / rate['boto3'] * 100:.1f}% of boto3's")


if __name__ == "__main__":
    main()
