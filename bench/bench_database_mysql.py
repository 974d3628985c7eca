"""Benchmark: time to create, snapshot and restore a local MySQL (MariaDB) instance, against the raw tools.

Each step is timed through cloudkit and, in the same run, with MariaDB's own tools driven by hand
the minimal way (as the same unprivileged user, same small-server options):

* create: ``create_instance(engine="mysql", backup_retention_days=0)`` until a client can connect,
  versus ``mariadb-install-db`` + ``mariadbd`` started and answering + ``CREATE USER`` (cloudkit
  copies a data folder it made once with ``mariadb-install-db``, so its first create pays for that);
* snapshot: ``create_snapshot`` versus ``mariabackup --backup`` + ``--prepare``;
* restore: ``restore_snapshot`` until a client can connect and read the data back, versus
  ``cp -a`` of the prepared backup + ``mariadbd`` started and answering.

Each is repeated ``--runs`` times (default 5, cloudkit and raw interleaved); medians are printed
with the ratio cloudkit / raw. Skips (exit 0, with the reason) when MariaDB or PyMySQL is missing.

Run: ``.venv/bin/python bench/bench_database_mysql.py [--runs 3]``. Nothing is asserted.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "providers" / "local" / "src")]

import cloudkit  # noqa: E402

PASSWORD = "Bench-Pass-123"
SMALL = ("--innodb-buffer-pool-size=16M", "--innodb-log-file-size=16M", "--performance-schema=OFF")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def query(port: int, sql: str = "SELECT 1") -> list[tuple[Any, ...]]:
    import pymysql  # type: ignore[import-untyped]

    deadline = time.monotonic() + 60
    while True:
        try:
            conn = pymysql.connect(host="127.0.0.1", port=port, user="master", password=PASSWORD, autocommit=True,
                                   connect_timeout=5)
            break
        except pymysql.err.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


class Raw:
    """MariaDB's tools as the server user, nothing around them."""

    def __init__(self, engine: Any, folder: Path) -> None:
        self.engine, self.folder = engine, folder
        self.runner = engine.runner
        self.pids: list[Path] = []

    def run(self, *argv: str, stdin: str = "") -> None:
        subprocess.run(self.runner.argv(*argv), input=stdin, text=True, check=True, capture_output=True, cwd="/")

    def start(self, data: Path, port: int) -> None:
        sock, pid = data.parent / f"{data.name}.sock", data.parent / f"{data.name}.pid"
        subprocess.run(["setsid", "--fork", *self.runner.argv(shutil.which("mariadbd") or "mariadbd", "--no-defaults",
                        f"--datadir={data}", f"--port={port}", "--bind-address=127.0.0.1", f"--socket={sock}",
                        f"--pid-file={pid}", f"--log-error={data.parent / (data.name + '.log')}", "--skip-name-resolve",
                        *SMALL)], check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.pids.append(pid)
        while not sock.exists():
            time.sleep(0.01)

    def stop_all(self) -> None:
        for pid in self.pids:
            try:
                os.kill(int(pid.read_text()), 9)
            except (OSError, ValueError):
                pass

    def round(self) -> dict[str, float]:
        out: dict[str, float] = {}
        base = self.runner.mkdir(self.folder / "raw")
        try:
            port = free_port()
            t = time.perf_counter()
            self.run("mariadb-install-db", "--no-defaults", f"--datadir={base / 'data'}", f"--user={self.engine.os_user}",
                     "--auth-root-authentication-method=socket", "--skip-test-db", "--skip-name-resolve", *SMALL)
            self.start(base / "data", port)
            self.run("mariadb", "--no-defaults", f"--socket={base / 'data.sock'}", f"--user={self.engine.os_user}",
                     stdin=f"CREATE USER 'master'@'%' IDENTIFIED BY '{PASSWORD}'; GRANT ALL ON *.* TO 'master'@'%';")
            query(port)
            out["create"] = time.perf_counter() - t
            fill(port)
            t = time.perf_counter()
            self.run("mariabackup", "--no-defaults", "--backup", f"--target-dir={base / 'snap'}",
                     f"--socket={base / 'data.sock'}", f"--user={self.engine.os_user}")
            self.run("mariabackup", "--no-defaults", "--prepare", f"--target-dir={base / 'snap'}")
            out["snapshot"] = time.perf_counter() - t
            port2 = free_port()
            t = time.perf_counter()
            self.run("cp", "-a", str(base / "snap"), str(base / "restored"))
            self.start(base / "restored", port2)
            rows = query(port2, "SELECT COUNT(*) FROM bench.t")
            out["restore"] = time.perf_counter() - t
            assert rows == [(10000,)], rows
        finally:
            self.stop_all()
            self.pids.clear()
            time.sleep(0.2)
            shutil.rmtree(base, ignore_errors=True)
        return out


def fill(port: int) -> None:
    query(port, "CREATE DATABASE bench")
    query(port, "CREATE TABLE bench.t (v INT PRIMARY KEY) ENGINE=InnoDB")
    query(port, "INSERT INTO bench.t SELECT seq FROM bench.seq_1_to_10000")


def cloudkit_round(db: cloudkit.DatabaseService, i: int) -> dict[str, float]:
    out: dict[str, float] = {}
    t = time.perf_counter()
    inst = db.create_instance(f"bench-{i}", engine="mysql", master_username="master", master_password=PASSWORD,
                              backup_retention_days=0)
    assert inst.endpoint is not None
    query(inst.endpoint.port)
    out["create"] = time.perf_counter() - t
    fill(inst.endpoint.port)
    t = time.perf_counter()
    snap = db.create_snapshot(inst, f"bench-snap-{i}")
    out["snapshot"] = time.perf_counter() - t
    t = time.perf_counter()
    restored = db.restore_snapshot(snap, f"bench-restored-{i}")
    assert restored.endpoint is not None
    rows = query(restored.endpoint.port, "SELECT COUNT(*) FROM bench.t")
    out["restore"] = time.perf_counter() - t
    assert rows == [(10000,)], rows
    db.delete_instance(restored)
    db.delete_instance(inst)
    db.delete_snapshot(snap)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    try:
        import pymysql  # type: ignore[import-untyped]  # noqa: F401
    except ImportError:
        print("skipped: PyMySQL is not installed")
        return
    tmp = Path(tempfile.mkdtemp(prefix="cloudkit-bench-my-"))
    os.chmod(tmp, 0o711)  # the server user must reach its folders
    try:
        with cloudkit.connect("local", root=str(tmp / "root"), mysql_data_root=str(tmp / "data"),
                              backup_check_interval=0) as cloud:
            db = cloud.database
            engine = db.engines["mysql"]  # type: ignore[attr-defined]
            if not engine.available:
                print(f"skipped: {engine.reason}")
                return
            t = time.perf_counter()
            first = db.create_instance("bench-first", engine="mysql", master_username="master", master_password=PASSWORD,
                                       backup_retention_days=0)
            first_create = time.perf_counter() - t
            db.delete_instance(first)
            print(f"MariaDB {engine.version}, {args.runs} runs, medians; the first create (making the data folder "
                  f"template) took {first_create:.2f}s")
            raw_runner = Raw(engine, tmp)
            mine: list[dict[str, float]] = []
            raw: list[dict[str, float]] = []
            try:
                for i in range(args.runs):  # interleaved, so load changes on the machine hit both alike
                    mine.append(cloudkit_round(db, i))
                    raw.append(raw_runner.round())
            finally:  # a failed round leaves no server running
                for inst in list(db.list_instances()):
                    db.delete_instance(inst)
            print(f"{'step':10} {'cloudkit':>10} {'raw tools':>10} {'ratio':>7}")
            for step in ("create", "snapshot", "restore"):
                a = statistics.median(r[step] for r in mine)
                b = statistics.median(r[step] for r in raw)
                print(f"{step:10} {a:9.3f}s {b:9.3f}s {a / b:6.2f}x")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
