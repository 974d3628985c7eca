"""Benchmark: wall time of ``import cloudkit; cloudkit.connect("local")`` against bare Python and boto3.

Each case runs in a fresh interpreter (``python -X importtime`` is not used: it slows imports).
The cloudkit case also builds the storage and DNS services and reports which heavy modules got
imported, proving that boto3, botocore and libcloud stay out of a local-only program.

    .venv/bin/python bench/bench_import.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "python -c pass": "pass",
    'python -c "import boto3"': "import boto3",
    'python -c "import cloudkit; cloudkit.connect(\'local\')"': "import cloudkit; cloudkit.connect('local')",
    "... plus first use of .storage and .dns": (
        "import cloudkit; c = cloudkit.connect('local'); c.storage; c.dns"
    ),
}

PROBE = """
import json, sys
import cloudkit
cloud = cloudkit.connect("local")
cloud.storage
cloud.dns
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "libcloud", "waitress", "requests"})
print(json.dumps({"heavy": heavy, "modules": len(sys.modules)}))
"""


def run(code: str, env: dict[str, str]) -> float:
    """Wall time of one fresh interpreter running ``code``."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per case; the median is reported")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "cloudkit.toml"
        empty.write_text("")
        env = dict(os.environ, CLOUDKIT_LOCAL_ROOT=str(Path(tmp) / "root"), CLOUDKIT_CONFIG=str(empty))
        env.pop("CLOUDKIT_PROFILE", None)
        env.pop("CLOUDKIT_PROVIDER", None)
        for code in CASES.values():  # warm the OS file cache and the bytecode caches
            run(code, env)
        results: dict[str, float] = {}
        for label, code in CASES.items():
            results[label] = statistics.median(run(code, env) for _ in range(args.runs))
        probe = json.loads(subprocess.run([sys.executable, "-c", PROBE], check=True, env=env,
                                          capture_output=True, text=True).stdout)

    base = results["python -c pass"]
    boto = results['python -c "import boto3"']
    print(f"Import and connect: median of {args.runs} fresh interpreters ({sys.version.split()[0]})")
    print(f"{'case':58} {'wall ms':>8} {'minus bare':>11} {'vs boto3':>9}")
    for label, secs in results.items():
        extra = secs - base
        ratio = extra / (boto - base) if boto > base else float("nan")
        print(f"{label:58} {secs * 1000:8.0f} {extra * 1000:10.0f}ms {ratio:8.2f}x")
    print(f"heavy modules imported by a local program: {probe['heavy'] or 'none'} "
          f"({probe['modules']} modules in sys.modules)")
    if {"boto3", "botocore", "libcloud"} & set(probe["heavy"]):
        raise SystemExit("FAIL: a local-only program imported a cloud SDK")


if __name__ == "__main__":
    main()
