"""kill -9 in the middle of local writes: a big put_object, a big upload_file, a 5,000-record DNS batch.

Each round runs a writer in a subprocess that repeats its write in a loop, announcing ``begin N``
and ``end N`` on stdout; the test waits for a ``begin``, sleeps a random fraction of one write's
measured duration and sends SIGKILL. A fresh service then opens the same root (running recovery)
and checks: no partial object (size, bytes and ETag are one whole version), no pending write,
no temp file, every object file referenced by the index and every index row backed by its file;
for DNS, the batch is all there or not at all and the SOA serial counts the applied batches.
A few more rounds kill the writer at named points of the write path (hooked in the subprocess).

Seeds are printed on failure (``CLOUDKIT_CRASH_SEED`` replays a run). The whole module runs in
well under a minute on two cores.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cloudkit_local.dns import LocalDNS, soa_serial
from cloudkit_local.storage import PART_SIZE, LocalStorage

SIZE = 3 * PART_SIZE  # 24 MiB: above the multipart threshold, three parallel parts on upload
VALUES = (0x41, 0x42)
RECORDS = 5000
ROUNDS = int(os.environ.get("CLOUDKIT_CRASH_ROUNDS", "12"))
SEED = int(os.environ.get("CLOUDKIT_CRASH_SEED", str(random.randrange(1 << 30))))

STORAGE_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from cloudkit.errors import AlreadyExists
    import cloudkit_local.storage as st

    root, mode, src, point = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]

    def die(*_a, **_k):
        os.kill(os.getpid(), signal.SIGKILL)

    svc = st.LocalStorage({"root": root})
    try:
        svc.create_bucket("bkt")
    except AlreadyExists:
        pass
    data = [bytes([v]) * int(sys.argv[5]) for v in (0x41, 0x42)] if mode == "put" else None
    first = True
    i = 0
    while True:
        i += 1
        if point != "random" and not first:
            # the first write completes (an old version exists), the second dies at the named point
            if point == "after-create":
                real_open_in = st.open_in
                def open_in(d, name, flags, mode=0o600, *, shown):
                    fd = real_open_in(d, name, flags, mode, shown=shown)
                    if flags & os.O_CREAT and "tmp" in str(shown) and "lock" not in str(shown):
                        die()
                    return fd
                st.open_in = open_in
            elif point == "after-register":
                st._copy_stream = die
            elif point == "mid-fill":
                def half(reader, fd, size=None):
                    os.write(fd, b"A" * 1000)
                    die()
                st._copy_stream = half
            elif point == "after-rename":
                st._fsync_dir = die
            elif point == "after-commit":
                st.LocalStorage._discard = die
        first = False
        os.write(1, f"begin {i}\\n".encode())
        if mode == "put":
            svc.put_object("bkt", "big", data[i % 2])
        else:
            svc.upload_file(os.path.join(src, f"v{i % 2}"), "bkt", "big")
        os.write(1, f"end {i}\\n".encode())
    """
)

DNS_WRITER = textwrap.dedent(
    """
    import os, sys
    from cloudkit.models.dns import RecordSet
    from cloudkit_local.dns import LocalDNS, soa_serial

    svc = LocalDNS({"root": sys.argv[1]})
    zones = [z for z in svc.list_zones() if z.name == "crash.example"]
    zone = zones[0] if zones else svc.create_zone("crash.example")
    i = 0
    while True:
        i += 1
        soa = next(r for r in svc.list_records(zone, name="@", type="SOA"))
        k = soa_serial(soa)  # batch k writes tag k and leaves the serial at k + 1
        records = [RecordSet(name=f"r{n}", type="A", ttl=300, values=(f"10.{k % 250}.{n // 250}.{n % 250}",))
                   for n in range(int(sys.argv[2]))]
        os.write(1, f"begin {i}\\n".encode())
        svc.upsert_records(zone, records)
        os.write(1, f"end {i}\\n".encode())
    """
)


@dataclass
class Tally:
    """What the kills did, for the report in docs/security.md."""

    tries: int = 0
    mid_write: int = 0
    partial: list[str] = field(default_factory=list)


def _spawn(script: str, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(proc: subprocess.Popen[bytes], word: str, timeout: float = 60) -> list[str]:
    """Lines up to and including the first that starts with ``word`` (the writer must not die first)."""
    assert proc.stdout is not None
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline().decode()
        if not line:
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise AssertionError(f"the writer ended before {word!r}: {lines} {err[-2000:]}")
        lines.append(line.strip())
        if line.startswith(word):
            return lines
    raise AssertionError(f"no {word!r} from the writer within {timeout}s")


def _kill(proc: subprocess.Popen[bytes]) -> list[str]:
    """SIGKILL the writer; return the lines it wrote."""
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return [line for line in out.decode().splitlines() if line]


def _duration(script: str, *args: str) -> float:
    """Seconds one write takes (the second write of a fresh writer, from ``begin 2`` to ``end 2``)."""
    proc = _spawn(script, *args)
    try:
        _wait_for(proc, "end 1")
        _wait_for(proc, "begin 2")
        start = time.monotonic()
        _wait_for(proc, "end 2")
        return time.monotonic() - start
    finally:
        _kill(proc)


def _multipart_etag(data: bytes) -> str:
    digests = [hashlib.md5(data[i : i + PART_SIZE]).digest() for i in range(0, len(data), PART_SIZE)]
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"


def _check_storage(root: Path, mode: str) -> list[str]:
    """Every way the root is inconsistent after recovery (empty when all is well)."""
    problems: list[str] = []
    svc = LocalStorage({"root": str(root)})
    try:
        svc.recover()
        base = svc.base
        leftovers = sorted(p.name for p in (base / "tmp").iterdir())
        if leftovers:
            problems.append(f"temp files left: {leftovers}")
        pending = svc.db.query("SELECT blob, kind FROM pending")
        if pending:
            problems.append(f"pending rows left: {[tuple(r) for r in pending]}")
        rows = svc.db.query("SELECT b.id AS bucket_id, o.blob FROM objects o JOIN buckets b ON b.name = o.bucket")
        indexed = {f"{r['bucket_id']}/{r['blob'][:2]}/{r['blob']}" for r in rows}
        on_disk = {str(p.relative_to(base / "buckets")) for p in (base / "buckets").rglob("*") if p.is_file()}
        if indexed != on_disk:
            problems.append(f"index and files differ: only indexed {indexed - on_disk}, only on disk {on_disk - indexed}")
        if rows:
            with svc.get_object("bkt", "big") as reader:
                info, body = reader.info, reader.read()
            values = set(body)
            whole = len(body) == SIZE == info.size and len(values) == 1 and values <= set(VALUES)
            etag = (_multipart_etag(body) if mode == "upload" else hashlib.md5(body).hexdigest()) if whole else None
            if not whole or info.etag != etag:
                problems.append(f"partial object: size {len(body)}/{info.size}, byte values {sorted(values)[:4]}, etag {info.etag}")
    finally:
        svc.close()
    return problems


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("crash-sources")
    for i, v in enumerate(VALUES):
        (folder / f"v{i}").write_bytes(bytes([v]) * SIZE)
    return folder


@pytest.mark.parametrize("mode", ["put", "upload"])
def test_kill_9_at_random_points_of_big_writes_leaves_whole_objects(mode: str, tmp_path: Path, sources: Path) -> None:
    rng = random.Random(f"{SEED}-{mode}")
    root = tmp_path / "root"
    args = (str(root), mode, str(sources), "random", str(SIZE))
    one_write = _duration(STORAGE_WRITER, *args)
    tally = Tally()
    for _ in range(ROUNDS):
        proc = _spawn(STORAGE_WRITER, *args)
        seen = _wait_for(proc, "begin")
        time.sleep(rng.uniform(0, 1.2 * one_write))
        lines = seen + _kill(proc)
        tally.tries += 1
        tally.mid_write += bool(lines) and lines[-1].startswith("begin")
        tally.partial += _check_storage(root, mode)
    print(f"storage {mode}: seed {SEED}, one write {one_write:.3f}s, kill -9 tries {tally.tries}, "
          f"landed mid-write {tally.mid_write}, partial results {len(tally.partial)}")
    assert tally.partial == [], f"seed {SEED}"
    assert tally.mid_write >= tally.tries // 2, f"most kills should land inside a write (seed {SEED})"


@pytest.mark.parametrize("point", ["after-create", "after-register", "mid-fill", "after-rename", "after-commit"])
def test_kill_9_at_each_step_of_the_write_path(point: str, tmp_path: Path, sources: Path) -> None:
    root = tmp_path / "root"
    proc = _spawn(STORAGE_WRITER, str(root), "put", str(sources), point, str(SIZE))
    _wait_for(proc, "end 1")
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr.read().decode() if proc.stderr else ""
    # What the crash left, before any recovery: the point was reached.
    tmp = sorted(p.name for p in (root / "storage" / "tmp").iterdir() if "presign" not in p.name)
    if point in ("after-create", "after-register", "mid-fill"):
        assert len(tmp) == 1, tmp
    assert _check_storage(root, "put") == []


def _check_dns(root: Path) -> list[str]:
    problems: list[str] = []
    svc = LocalDNS({"root": str(root)})
    try:
        zone = svc.get_zone("crash.example")
        serial = soa_serial(next(iter(svc.list_records(zone, name="@", type="SOA"))))
        tags = {}
        for rec in svc.list_records(zone, type="A"):
            tags[rec.name] = int(rec.values[0].split(".")[1])
        if serial == 1:
            if tags:
                problems.append(f"serial 1 but {len(tags)} records")
        else:
            want = (serial - 1) % 250
            if len(tags) != RECORDS or set(tags.values()) != {want}:
                problems.append(f"serial {serial}: {len(tags)} records, tags {sorted(set(tags.values()))[:5]} (want all {want})")
    finally:
        svc.close()
    with sqlite3.connect(root / "dns" / "dns.sqlite3") as conn:
        if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            problems.append("integrity_check failed")
    conn.close()
    stray = sorted(p.name for p in (root / "dns").iterdir() if p.name not in ("dns.sqlite3", "dns.sqlite3-wal", "dns.sqlite3-shm"))
    if stray:
        problems.append(f"stray files: {stray}")
    return problems


def test_kill_9_during_a_5000_record_dns_batch_is_all_or_nothing(tmp_path: Path) -> None:
    rng = random.Random(f"{SEED}-dns")
    root = tmp_path / "root"
    one_batch = _duration(DNS_WRITER, str(root), str(RECORDS))
    assert not _check_dns(root)
    tally = Tally()
    for _ in range(ROUNDS + 8):
        proc = _spawn(DNS_WRITER, str(root), str(RECORDS))
        seen = _wait_for(proc, "begin")
        time.sleep(rng.uniform(0, 1.2 * one_batch))
        lines = seen + _kill(proc)
        tally.tries += 1
        tally.mid_write += bool(lines) and lines[-1].startswith("begin")
        tally.partial += _check_dns(root)
    print(f"dns: seed {SEED}, one batch {one_batch:.3f}s, kill -9 tries {tally.tries}, "
          f"landed mid-batch {tally.mid_write}, partial results {len(tally.partial)}")
    assert tally.partial == [], f"seed {SEED}"
    assert tally.mid_write >= tally.tries // 2, f"most kills should land inside a batch (seed {SEED})"
