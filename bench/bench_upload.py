"""Benchmark: local ``upload_file`` of one big file against ``cp`` followed by ``sync`` on the same disk.

An upload must leave the object durable (fsynced) and return its S3 ETag (for a multipart upload:
MD5 of the parts' MD5s, ``-``, part count), so the fair raw-tool comparison is ``cp`` then
``sync``. The bench also times hashlib MD5 over the file on one thread (the floor of any single
hash) and checks the returned ETag against one computed here. Rounds alternate the cases; medians
are printed with the ratio of upload throughput to ``cp`` + ``sync`` (the target is >= 0.8).

    .venv/bin/python bench/bench_upload.py [--size-mib 1024] [--rounds 3] [--dir DIR] [--before TREE]

``--before TREE`` also times the upload of another checkout of the project (its local provider
and core first on ``PYTHONPATH``), so a change is measured before and after in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
from cloudkit_local.storage import LocalStorage
svc = LocalStorage({"root": sys.argv[1]})
start = time.perf_counter()
info = svc.upload_file(sys.argv[2], "bench", "big.bin")
print(json.dumps({"seconds": time.perf_counter() - start, "etag": info.etag}))
"""


def make_file(path: Path, size: int) -> None:
    """A file of ``size`` bytes of incompressible data, fsynced."""
    block = os.urandom(8 * 1024 * 1024)
    with open(path, "wb") as fh:
        left = size
        while left:
            n = fh.write(block[: min(len(block), left)])
            left -= n
        fh.flush()
        os.fsync(fh.fileno())


def s3_etag(path: Path, part: int) -> str:
    """The multipart ETag S3 gives ``path`` uploaded in ``part``-byte parts."""
    digests = []
    with open(path, "rb") as fh:
        while chunk := fh.read(part):
            digests.append(hashlib.md5(chunk).digest())
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def timed_cp_sync(src: Path, dst: Path) -> float:
    subprocess.run(["sync"], check=True)
    start = time.perf_counter()
    subprocess.run(["cp", str(src), str(dst)], check=True)
    subprocess.run(["sync"], check=True)
    return time.perf_counter() - start


def timed_md5(src: Path) -> float:
    start = time.perf_counter()
    md5 = hashlib.md5()
    with open(src, "rb", buffering=0) as fh:
        while chunk := fh.read(8 * 1024 * 1024):
            md5.update(chunk)
    return time.perf_counter() - start


def timed_upload(root: Path, src: Path, tree: Path | None = None) -> tuple[float, str]:
    subprocess.run(["sync"], check=True)
    env = dict(os.environ)
    if tree is not None:
        env["PYTHONPATH"] = os.pathsep.join(str(tree.resolve() / sub) for sub in ("src", "providers/local/src"))
    out = subprocess.run([sys.executable, "-c", CHILD, str(root), str(src)], check=True, capture_output=True, text=True,
                         env=env)
    doc = json.loads(out.stdout)  # the call's own time, without the interpreter's start-up
    return float(doc["seconds"]), str(doc["etag"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="folder on the disk to measure (default: a temp folder)")
    parser.add_argument("--before", type=Path, help="another checkout whose upload is timed too")
    args = parser.parse_args()
    size = args.size_mib * 1024 * 1024

    from cloudkit_local.storage import PART_SIZE, LocalStorage

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        src = work / "src.bin"
        make_file(src, size)
        root = work / "root"
        LocalStorage({"root": str(root)}).create_bucket("bench")
        want = s3_etag(src, PART_SIZE)
        cp_t, up_t, md5_t, old_t = [], [], [], []
        for _ in range(args.rounds):
            cp_t.append(timed_cp_sync(src, work / "cp.bin"))
            (work / "cp.bin").unlink()
            seconds, etag = timed_upload(root, src)
            up_t.append(seconds)
            if etag != want:
                raise SystemExit(f"FAIL: upload ETag {etag} is not the S3 multipart ETag {want}")
            md5_t.append(timed_md5(src))
            if args.before is not None:
                seconds, etag = timed_upload(root, src, args.before)
                old_t.append(seconds)
                if etag != want:
                    raise SystemExit(f"FAIL: --before upload ETag {etag} is not {want}")

    def rate(t: list[float]) -> float:
        return size / statistics.median(t) / 1e6

    cp_rate = rate(cp_t)
    print(f"upload of {args.size_mib} MiB, median of {args.rounds} rounds, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'operation':36} {'MB/s':>8} {'vs cp + sync':>13}")
    print(f"{'cp + sync':36} {cp_rate:8.0f} {1:13.2f}")
    print(f"{'upload_file (ETag checked)':36} {rate(up_t):8.0f} {rate(up_t) / cp_rate:13.2f}")
    if old_t:
        print(f"{'upload_file, --before tree':36} {rate(old_t):8.0f} {rate(old_t) / cp_rate:13.2f}")
    print(f"{'hashlib MD5 alone, one thread':36} {rate(md5_t):8.0f} {rate(md5_t) / cp_rate:13.2f}")
    print(f"rounds (s): cp+sync {[round(t, 2) for t in cp_t]}, upload {[round(t, 2) for t in up_t]}"
          + (f", before {[round(t, 2) for t in old_t]}" if old_t else ""))


if __name__ == "__main__":
    main()
