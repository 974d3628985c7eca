"""Benchmark: ``cloudkit storage sync`` of many small files, to local and to aws (moto), against ``aws s3 sync``.

A tree of ``--files`` small files (default 10,000 of 1 KiB, in 100 folders) is synced:

* to the local provider with ``cloudkit storage sync TREE cloudkit://bench/ck/``, against ``cp -r``
  followed by ``sync`` of the same tree on the same disk;
* to aws, a moto server on 127.0.0.1, with ``cloudkit --provider aws storage sync``, against
  ``aws s3 sync TREE s3://bench/awscli/`` (the AWS CLI from PyPI, ``--aws PATH`` or on ``PATH``).

Each sync runs twice: the first run uploads everything, the second finds everything up to date
(change detection only). Every command is a fresh process, timed from the outside; files per
second, the ratio to ``aws s3 sync`` and the client process's CPU time are printed. Without an ``aws`` executable the AWS CLI rows
say so and the rest still runs.

    .venv/bin/python bench/bench_sync.py [--files 10000] [--size 1024] [--workers 10] [--aws PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLOUDKIT = [shutil.which("cloudkit", path=os.path.dirname(sys.executable)) or "cloudkit"]


def make_tree(root: Path, files: int, size: int) -> None:
    for i in range(files):
        folder = root / f"d{i % 100:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"f{i:05d}.bin").write_bytes(os.urandom(size))


#: label -> CPU seconds (user + system) of the client process, from wait4
CPU: dict[str, float] = {}


def timed(cmd: list[str], env: dict[str, str], label: str = "") -> float:
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"FAIL: {' '.join(cmd)} exited with status {os.waitstatus_to_exitcode(status)}")
    CPU[label] = usage.ru_utime + usage.ru_stime
    return wall


def check_count(files: int, env: dict[str, str], options: list[str]) -> None:
    """Fail unless the bucket holds ``files`` objects under ``ck/`` (the sync really copied everything)."""
    out = subprocess.run([*CLOUDKIT, *options, "-o", "json", "storage", "ls", "bench/ck/", "--recursive"],
                         check=True, env=env, capture_output=True, text=True).stdout
    count = out.count('"key"')
    if count != files:
        raise SystemExit(f"FAIL: the bucket holds {count} objects after the sync, not {files}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_moto(port: int) -> subprocess.Popen[bytes]:
    server = shutil.which("moto_server", path=os.path.dirname(sys.executable)) or "moto_server"
    proc = subprocess.Popen([server, "-H", "127.0.0.1", "-p", str(port)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("moto_server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1024, help="bytes per file")
    parser.add_argument("--workers", type=int, default=10,
                        help="cloudkit sync --workers (default 10: the AWS CLI's max_concurrent_requests)")
    parser.add_argument("--aws", default=shutil.which("aws"), help="the aws executable (AWS CLI)")
    args = parser.parse_args()

    rows: list[tuple[str, float | None, str]] = []

    def case(label: str, cmd: list[str]) -> None:
        rows.append((label, timed(cmd, env, label), ""))

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tree = work / "tree"
        make_tree(tree, args.files, args.size)
        config = work / "cloudkit.toml"
        config.write_text("")
        env = dict(os.environ, CLOUDKIT_CONFIG=str(config), CLOUDKIT_LOCAL_ROOT=str(work / "root"),
                   AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing",  # moto's dummy credentials
                   AWS_DEFAULT_REGION="us-east-1", AWS_CONFIG_FILE=os.devnull,
                   AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        for name in ("CLOUDKIT_PROFILE", "CLOUDKIT_PROVIDER", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(name, None)
        subprocess.run(["sync"], check=True)

        # local provider against cp -r + sync
        subprocess.run([*CLOUDKIT, "storage", "mb", "bench"], check=True, env=env, stdout=subprocess.DEVNULL)
        ck_local = [*CLOUDKIT, "storage", "sync", str(tree), "cloudkit://bench/ck/", "--workers", str(args.workers)]
        case("local: cloudkit storage sync (first)", ck_local)
        check_count(args.files, env, [])
        case("local: cloudkit storage sync (re-run)", ck_local)
        start = time.perf_counter()
        subprocess.run(["cp", "-r", str(tree), str(work / "copy")], check=True)
        subprocess.run(["sync"], check=True)
        rows.append(("local: cp -r + sync", time.perf_counter() - start, ""))

        # aws (moto on loopback)
        port = free_port()
        endpoint = f"http://127.0.0.1:{port}"
        moto = start_moto(port)
        try:
            aws_set = ["--provider", "aws", "--set", f"endpoint_url={endpoint}", "--set", "region=us-east-1"]
            subprocess.run([*CLOUDKIT, *aws_set, "storage", "mb", "bench"], check=True, env=env,
                           stdout=subprocess.DEVNULL)
            ck_aws = [*CLOUDKIT, *aws_set, "storage", "sync", str(tree), "cloudkit://bench/ck/",
                      "--workers", str(args.workers)]
            case("aws/moto: cloudkit storage sync (first)", ck_aws)
            check_count(args.files, env, aws_set)
            case("aws/moto: cloudkit storage sync (re-run)", ck_aws)
            if args.aws:
                cli = [args.aws, "--endpoint-url", endpoint, "s3", "sync", str(tree), "s3://bench/awscli/", "--only-show-errors"]
                case("aws/moto: aws s3 sync (first)", cli)
                case("aws/moto: aws s3 sync (re-run)", cli)
            else:
                rows.append(("aws/moto: aws s3 sync", None, "no aws executable (pip install awscli; --aws PATH)"))
        finally:
            moto.terminate()
            moto.wait(timeout=30)

    times = {label: t for label, t, _ in rows}
    print(f"sync of {args.files} files of {args.size} bytes ({os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}, cloudkit --workers {args.workers})")
    print(f"{'case':44} {'seconds':>8} {'files/s':>9} {'vs aws s3 sync':>15} {'client CPU s':>13}")
    for label, t, note in rows:
        if t is None:
            print(f"{label:44} {'-':>8} {'-':>9} {'-':>15}  {note}")
            continue
        run = "(re-run)" if "re-run" in label else "(first)"
        ref = times.get(f"aws/moto: aws s3 sync {run}")
        ratio = f"{ref / t:15.2f}" if ref else f"{'-':>15}"
        cpu = f"{CPU[label]:13.1f}" if label in CPU else f"{'-':>13}"
        print(f"{label:44} {t:8.1f} {args.files / t:9.0f} {ratio} {cpu}")


if __name__ == "__main__":
    main()
