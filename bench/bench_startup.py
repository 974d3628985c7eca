"""Benchmark: start-up cost of ``import cloudkit`` + ``connect("local").storage`` against ``import boto3``.

Both costs are taken over bare ``python -c pass``, each case in a fresh interpreter, the cases
interleaved round by round so a change in the machine's load hits them alike. For every run the
bench records the wall time and the CPU time (user + system, from ``wait4``) of the child; the CPU
time is much less disturbed by other work on a shared machine. It prints the medians, the extra
cost of each case over bare Python and the ratio of cloudkit's extra cost to boto3's (the target
is at most 0.25). A last run under ``python -X importtime`` lists the modules cloudkit's case
spends most in, and the bench fails if a local-only program imported a cloud SDK.

    .venv/bin/python bench/bench_startup.py [--runs 21] [--before TREE]

``--before TREE`` adds the cloudkit case run from another checkout of the project (for example
``git archive <commit> | tar -x -C TREE``), its packages put first on ``PYTHONPATH``, so a change
is measured before and after in the same run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BARE = "pass"
BOTO3 = "import boto3"
CLOUDKIT = "import cloudkit; cloudkit.connect('local').storage"

PROBE = """
import json, sys
import cloudkit
cloudkit.connect("local").storage
heavy = sorted({m.split(".")[0] for m in sys.modules} & {"boto3", "botocore", "libcloud", "waitress", "requests"})
lazy = sorted(m for m in ("importlib.metadata", "cloudkit.validation", "cloudkit.models.compute",
                          "cloudkit.services.compute", "cloudkit.models.dns") if m in sys.modules)
print(json.dumps({"heavy": heavy, "loaded": lazy, "modules": len(sys.modules)}))
"""


def run(code: str, env: dict[str, str]) -> tuple[float, float]:
    """(wall, CPU) seconds of one fresh interpreter running ``code``."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", code], env=env)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{code!r} failed with status {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime


def importtime(code: str, env: dict[str, str], top: int) -> list[tuple[int, str]]:
    """The ``top`` modules with the largest self time (microseconds) under ``-X importtime``."""
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=env, check=True,
                         capture_output=True, text=True).stderr
    rows = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if m:
            rows.append((int(m.group(1)), m.group(4)))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=21, help="runs per case (interleaved); medians are reported")
    parser.add_argument("--top", type=int, default=12, help="modules listed from -X importtime")
    parser.add_argument("--before", type=Path, help="another checkout whose cloudkit case is measured too")
    args = parser.parse_args()

    cases = {"python -c pass": BARE, "import boto3": BOTO3, "import cloudkit + connect('local').storage": CLOUDKIT}
    envs: dict[str, dict[str, str]] = {}
    if args.before is not None:
        cases["... from --before tree"] = CLOUDKIT
        tree = args.before.resolve()
        envs["... from --before tree"] = {"PYTHONPATH": os.pathsep.join(
            str(tree / sub) for sub in ("src", "providers/local/src", "providers/aws/src", "providers/libcloud/src",
                                        "contrib/src"))}
    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "cloudkit.toml"
        empty.write_text("")
        env = dict(os.environ, CLOUDKIT_LOCAL_ROOT=str(Path(tmp) / "root"), CLOUDKIT_CONFIG=str(empty))
        # Bytecode caches are written (as any installed package has them): without them every
        # cloudkit module is compiled from source on each start, which no installed copy does.
        for name in ("CLOUDKIT_PROFILE", "CLOUDKIT_PROVIDER", "PYTHONPROFILEIMPORTTIME", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        for label, code in cases.items():  # warm the OS file cache, bytecode caches and the local root
            run(code, {**env, **envs.get(label, {})})
        walls: dict[str, list[float]] = {label: [] for label in cases}
        cpus: dict[str, list[float]] = {label: [] for label in cases}
        for _ in range(args.runs):
            for label, code in cases.items():
                wall, cpu = run(code, {**env, **envs.get(label, {})})
                walls[label].append(wall)
                cpus[label].append(cpu)
        probe = json.loads(subprocess.run([sys.executable, "-c", PROBE], check=True, env=env,
                                          capture_output=True, text=True).stdout)
        slow = importtime(CLOUDKIT, env, args.top)

    print(f"Start-up: median of {args.runs} interleaved fresh interpreters per case "
          f"(Python {sys.version.split()[0]}, load average {os.getloadavg()[0]:.1f})")
    print(f"{'case':44} {'wall ms':>8} {'over bare':>10} {'cpu ms':>8} {'over bare':>10}")
    med = {label: (statistics.median(walls[label]), statistics.median(cpus[label])) for label in cases}
    base_wall, base_cpu = med["python -c pass"]
    for label, (wall, cpu) in med.items():
        print(f"{label:44} {wall * 1000:8.1f} {(wall - base_wall) * 1000:9.1f}  {cpu * 1000:8.1f} "
              f"{(cpu - base_cpu) * 1000:9.1f}")
    boto_wall, boto_cpu = med["import boto3"]
    ck_wall, ck_cpu = med["import cloudkit + connect('local').storage"]
    ratio_wall = (ck_wall - base_wall) / (boto_wall - base_wall)
    ratio_cpu = (ck_cpu - base_cpu) / (boto_cpu - base_cpu)
    print(f"cloudkit's extra cost / boto3's extra cost: wall {ratio_wall:.2f}, cpu {ratio_cpu:.2f} (target <= 0.25)")
    if "... from --before tree" in med:
        old_wall, old_cpu = med["... from --before tree"]
        print(f"same ratio for the --before tree: wall {(old_wall - base_wall) / (boto_wall - base_wall):.2f}, "
              f"cpu {(old_cpu - base_cpu) / (boto_cpu - base_cpu):.2f}")
    print(f"modules loaded: {probe['modules']}; lazy modules loaded anyway: {probe['loaded'] or 'none'}; "
          f"cloud SDKs: {probe['heavy'] or 'none'}")
    print("largest self import times (-X importtime, one run): "
          + ", ".join(f"{name} {us / 1000:.1f}" for us, name in slow))
    if {"boto3", "botocore", "libcloud"} & set(probe["heavy"]):
        raise SystemExit("FAIL: a local-only program imported a cloud SDK")


if __name__ == "__main__":
    main()
