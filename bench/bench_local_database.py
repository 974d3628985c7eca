"""Benchmark: time to create, snapshot and restore a local PostgreSQL instance, against the raw tools.

Each step is timed through cloudkit and, in the same run, with PostgreSQL's own tools driven by
hand the minimal way (as the same unprivileged user):

* create: ``create_instance(engine="postgres", backup_retention_days=0)`` until a client can
  connect, versus ``initdb`` (same options: 1 MiB WAL segments, no sync) + ``pg_ctl start -w``;
* snapshot: ``create_snapshot`` versus ``pg_basebackup -X stream -c fast``;
* restore: ``restore_snapshot`` until a client can connect and read the data back, versus
  ``cp -a`` of the base backup + ``pg_ctl start -w``.

Each is repeated ``--runs`` times (default 5, cloudkit and raw interleaved); medians are printed with the ratio cloudkit / raw.
Skips (exit 0, with the reason) when PostgreSQL's server binaries are missing.

Run: ``.venv/bin/python bench/bench_local_database.py [--runs 3]``. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "providers" / "local" / "src")]

import cloudkit  # noqa: E402

PASSWORD = "Bench-Pass-123"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect_and_read(port: int, sql: str = "SELECT 1") -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(host="127.0.0.1", port=port, user="master", password=PASSWORD, dbname="postgres",
                         autocommit=True, connect_timeout=10) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def raw_round(runner: object, folder: Path) -> dict[str, float]:
    """initdb + start, pg_basebackup, copy + start: PostgreSQL's tools with nothing around them."""
    run = runner.run  # type: ignore[attr-defined]
    out: dict[str, float] = {}
    base = runner.mkdir(folder / "raw")  # type: ignore[attr-defined]
    pw = base / "pw"
    runner.write_private(pw, PASSWORD + "\n")  # type: ignore[attr-defined]
    started: list[Path] = []
    try:
        port = free_port()
        data = base / "data"
        t = time.perf_counter()
        run("initdb", "-D", str(data), "-U", "master", "-A", "scram-sha-256", f"--pwfile={pw}", "-E", "UTF8",
            "--locale=C.UTF-8", "--no-sync", "--wal-segsize=1")  # as cloudkit initialises
        run("pg_ctl", "-D", str(data), "-l", str(base / "log"), "-w", "-o", f"-p {port} -k {base}", "start")
        started.append(data)
        connect_and_read(port)
        out["create"] = time.perf_counter() - t
        connect_and_read(port, "CREATE TABLE t AS SELECT g AS v FROM generate_series(1, 10000) g")
        t = time.perf_counter()
        run("pg_basebackup", "-h", "127.0.0.1", "-p", str(port), "-U", "master", "-D", str(base / "snap"), "-X", "stream",
            "-c", "fast", "-w", password=PASSWORD)
        out["snapshot"] = time.perf_counter() - t
        port2 = free_port()
        t = time.perf_counter()
        run("cp", "-a", str(base / "snap"), str(base / "restored"))
        run("pg_ctl", "-D", str(base / "restored"), "-l", str(base / "log2"), "-w", "-o", f"-p {port2} -k {base}", "start")
        started.append(base / "restored")
        rows = connect_and_read(port2, "SELECT count(*) FROM t")
        out["restore"] = time.perf_counter() - t
        assert rows == [(10000,)]
    finally:
        for d in started:
            run("pg_ctl", "-D", str(d), "-m", "fast", "-w", "stop")
        shutil.rmtree(base)
    return out


def cloudkit_round(db: cloudkit.DatabaseService, i: int) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    inst = db.create_instance(f"bench-{i}", engine="postgres", master_username="master", master_password=PASSWORD,
                              backup_retention_days=0)
    assert inst.endpoint is not None
    connect_and_read(inst.endpoint.port)
    out["create"] = time.perf_counter() - t
    connect_and_read(inst.endpoint.port, "CREATE TABLE t AS SELECT g AS v FROM generate_series(1, 10000) g")
    t = time.perf_counter()
    snap = db.create_snapshot(inst, f"bench-snap-{i}")
    out["snapshot"] = time.perf_counter() - t
    t = time.perf_counter()
    restored = db.restore_snapshot(snap, f"bench-restored-{i}")
    assert restored.endpoint is not None
    rows = connect_and_read(restored.endpoint.port, "SELECT count(*) FROM t")
    out["restore"] = time.perf_counter() - t
    assert rows == [(10000,)]
    db.delete_instance(restored)
    db.delete_instance(inst)
    db.delete_snapshot(snap)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="cloudkit-bench-db-"))
    os.chmod(tmp, 0o711)  # the server user must reach its folders
    try:
        with cloudkit.connect("local", root=str(tmp / "root"), postgres_data_root=str(tmp / "data"),
                              backup_check_interval=0) as cloud:
            db = cloud.database
            if "postgres" not in db.list_engines():
                print(f"skipped: {getattr(db, 'postgres_reason', 'PostgreSQL is not installed')}")
                return
            runner = db.engines["postgres"].runner  # type: ignore[attr-defined]
            print(f"PostgreSQL {runner.version}, {args.runs} runs, medians (durable snapshots: fsync on)")
            mine: list[dict[str, float]] = []
            raw: list[dict[str, float]] = []
            try:
                for i in range(args.runs):  # interleaved, so load changes on the machine hit both alike
                    mine.append(cloudkit_round(db, i))
                    raw.append(raw_round(runner, tmp))
            finally:  # never leave a server running
                for inst in list(db.list_instances()):
                    db.delete_instance(inst)
        for step in ("create", "snapshot", "restore"):
            m = statistics.median(r[step] for r in mine)
            r = statistics.median(x[step] for x in raw)
            print(f"  {step:<9} cloudkit {m:6.2f} s   raw tools {r:6.2f} s   ratio {m / r:5.2f}x")
    except subprocess.CalledProcessError as exc:
        print(f"failed: {exc.cmd[0]} exited {exc.returncode}: {exc.stderr}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
