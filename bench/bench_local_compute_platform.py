"""Benchmark: local instance boot time, deploy time, and failed requests seen during deploys.

Each figure is compared with the raw tool in the same run:

* boot: ``create_instance(..., wait=True)`` until ``running`` versus a bare ``bwrap`` sandbox that
  runs ``/bin/true`` (the floor any sandbox launch pays);
* deploy: ``deploy(env, version)`` end to end (unpack, start, health check, switch, drain 1 s,
  stop old) versus starting one waitress process and waiting for its first 200 response;
* availability: clients polling the environment URL through every deploy (fresh connections and a
  keep-alive session) count failed requests.

Run: ``.venv/bin/python bench/bench_local_compute_platform.py [--boots 20] [--deploys 5]``
"""

from __future__ import annotations

import argparse
import http.client
import io
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import requests

import cloudkit

APP = '''def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"{text}"]
'''


def bundle(text: str) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("application.py", APP.replace("{text}", text))
    return buf.getvalue()


def ms(values: list[float]) -> str:
    values = sorted(values)
    p95 = values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]
    return f"median {statistics.median(values) * 1000:7.1f} ms  p95 {p95 * 1000:7.1f} ms"


def raw_bwrap(n: int) -> list[float]:
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["bwrap", "--unshare-all", "--die-with-parent", "--ro-bind", "/usr", "/usr",
                        "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib", "--symlink", "usr/lib64", "/lib64",
                        "--proc", "/proc", "--dev", "/dev", "/bin/true"], check=True)
        times.append(time.perf_counter() - t)
    return times


def raw_staged(n: int) -> list[float]:
    """As root: the launch a guest pays under its own uid (a staging bwrap, setpriv, a user-namespace bwrap)."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(["bwrap", "--die-with-parent", "--ro-bind", "/", "/", "--bind", "/proc", "/proc",
                        "--dev-bind", "/dev", "/dev", "--tmpfs", "/tmp", "--",
                        "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--nnp", "--",
                        "bwrap", "--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--die-with-parent",
                        "--ro-bind", "/usr", "/usr", "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
                        "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev", "/bin/true"], check=True)
        times.append(time.perf_counter() - t)
    return times


def cloudkit_boot(root: Path, n: int) -> list[float]:
    times = []
    with cloudkit.connect("local", root=str(root)) as cloud:
        for i in range(n):
            t = time.perf_counter()
            inst = cloud.compute.create_instance(f"bench-{i}", image="local:debian-host", instance_type="local.nano")
            times.append(time.perf_counter() - t)
            cloud.compute.terminate_instance(inst)
    return times


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raw_waitress(n: int, folder: Path) -> list[float]:
    (folder / "application.py").write_text(APP.replace("{text}", "raw"))
    times = []
    for _ in range(n):
        port = free_port()
        t = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}", "application:application"],
                                cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while True:
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                conn.request("GET", "/")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.01)
        times.append(time.perf_counter() - t)
        proc.terminate()
        proc.wait()
    return times


def deploys(root: Path, n: int) -> tuple[list[float], int, int, float]:
    with cloudkit.connect("local", root=str(root)) as cloud:
        p = cloud.platform
        p.create_application("bench")
        for i in range(n + 1):
            p.create_version("bench", f"v{i}", source=bundle(f"version {i}"))
        t = time.perf_counter()
        env = p.create_environment("bench", "bench-env", version="v0", stack="python")
        launch = time.perf_counter() - t
        url = str(env.url)
        ok = [0]
        failed = [0]
        stop = threading.Event()

        def poll(session: requests.Session | None) -> None:
            while not stop.is_set():
                try:
                    resp = (session or requests).get(url, timeout=10)
                    if resp.status_code == 200:
                        ok[0] += 1
                    else:
                        failed[0] += 1
                except requests.RequestException:
                    failed[0] += 1

        threads = [threading.Thread(target=poll, args=(requests.Session(),)), threading.Thread(target=poll, args=(None,))]
        for th in threads:
            th.start()
        times = []
        try:
            for i in range(1, n + 1):
                t = time.perf_counter()
                p.deploy(env, f"v{i}")
                times.append(time.perf_counter() - t)
        finally:
            stop.set()
            for th in threads:
                th.join()
        p.terminate_environment(env)
    return times, ok[0], failed[0], launch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--boots", type=int, default=20)
    parser.add_argument("--deploys", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        raw = raw_bwrap(args.boots)
        boot = cloudkit_boot(base / "compute", args.boots)
        print(f"instance boot (create -> running), n={args.boots}")
        print(f"  raw bwrap /bin/true : {ms(raw)}")
        if os.geteuid() == 0:
            staged = raw_staged(args.boots)
            print(f"  raw staged, own uid : {ms(staged)}   ratio {statistics.median(staged) / statistics.median(raw):.1f}x"
                  " (what cloudkit run as root launches: staging bwrap, setpriv, user-namespace bwrap)")
        print(f"  cloudkit            : {ms(boot)}   ratio {statistics.median(boot) / statistics.median(raw):.1f}x")
        folder = base / "raw-app"
        folder.mkdir()
        raw_w = raw_waitress(args.deploys, folder)
        times, ok, failed, launch = deploys(base / "platform", args.deploys)
        print(f"deploy of a new version, n={args.deploys} (includes the 1 s drain before old instances stop)")
        print(f"  raw waitress start -> first 200 : {ms(raw_w)}")
        print(f"  cloudkit deploy                  : {ms(times)}   ratio {statistics.median(times) / statistics.median(raw_w):.1f}x")
        print(f"  environment launch               : {launch * 1000:7.1f} ms")
        print(f"requests by 2 polling clients during {args.deploys} deploys: {ok + failed} sent, {failed} failed")


if __name__ == "__main__":
    main()
