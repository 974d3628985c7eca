"""Benchmark: upsert 10,000 record sets in one batch on the local DNS provider.

Reports the wall time of one ``upsert_records`` call (validation of every record through
dnspython plus one SQLite transaction), then the same rows written with raw ``sqlite3`` in one
transaction and the records parsed with raw dnspython, as the two baselines the call is built
on. Also times listing, exporting and re-importing the zone.

    .venv/bin/python bench/bench_local_dns.py [--records 10000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype

from cloudkit.models.dns import RecordSet


def records(n: int) -> list[RecordSet]:
    """``n`` record sets: mostly A, with some AAAA, TXT, MX and CNAME."""
    out = []
    for i in range(n):
        kind = i % 10
        if kind < 6:
            out.append(RecordSet(f"host{i}", "A", 300, (f"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}",)))
        elif kind == 6:
            out.append(RecordSet(f"v6-{i}", "AAAA", 300, (f"2001:db8::{i:x}",)))
        elif kind == 7:
            out.append(RecordSet(f"txt{i}", "TXT", 300, (f"token={i}",)))
        elif kind == 8:
            out.append(RecordSet(f"mx{i}", "MX", 300, (f"10 mail{i}",)))
        else:
            out.append(RecordSet(f"alias{i}", "CNAME", 300, (f"host{i - 9}",)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=None, help="record sets in the batch (default 10000)")
    parser.add_argument("--quick", action="store_true", help="1,000 record sets")
    args = parser.parse_args()
    n = args.records or (1_000 if args.quick else 10_000)
    batch = records(n)

    from cloudkit_local.dns import LocalDNS

    work = Path(tempfile.mkdtemp(prefix="cloudkit-bench-dns-"))
    try:
        svc = LocalDNS({"root": str(work / "root")})
        zone = svc.create_zone("bench.example.com")

        start = time.perf_counter()
        info = svc.upsert_records(zone, batch)
        upsert = time.perf_counter() - start
        assert info.change_count == n

        start = time.perf_counter()
        listed = sum(1 for _ in svc.list_records(zone))
        list_t = time.perf_counter() - start
        assert listed == n + 2

        start = time.perf_counter()
        text = svc.export_zone(zone)
        export_t = time.perf_counter() - start

        other = svc.create_zone("copy.example.com")
        body = "\n".join(line for line in text.splitlines() if not line.startswith("$ORIGIN"))
        start = time.perf_counter()
        imported = svc.import_zone(other, body)
        import_t = time.perf_counter() - start
        assert imported.change_count == n

        start = time.perf_counter()
        again = svc.upsert_records(zone, batch)
        upsert_again = time.perf_counter() - start
        assert again.change_count == n
        svc.close()

        # Baseline 1: the same rows through raw sqlite3, one transaction.
        conn = sqlite3.connect(work / "raw.sqlite3", isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE records (zone_id TEXT, name TEXT, type TEXT, ttl INTEGER, vals TEXT, "
                     "PRIMARY KEY (zone_id, name, type)) WITHOUT ROWID")
        start = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("INSERT OR REPLACE INTO records VALUES ('z', ?, ?, ?, ?)",
                         [(r.name, r.type, r.ttl, json.dumps(list(r.values))) for r in batch])
        conn.execute("COMMIT")
        raw_sql = time.perf_counter() - start
        conn.close()

        # Baseline 2: parsing every value with raw dnspython.
        origin = dns.name.from_text("bench.example.com")
        start = time.perf_counter()
        for r in batch:
            for value in r.values:
                dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(r.type), value, origin=origin)
        raw_dns = time.perf_counter() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"Local DNS benchmark: {n:,} record sets in one batch (load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} CPUs)")
    print(f"upsert_records (new records)      {upsert:7.2f} s  ({n / upsert:,.0f} record sets/s)")
    print(f"upsert_records (replace all)      {upsert_again:7.2f} s")
    print(f"baseline: raw sqlite3 rows        {raw_sql:7.2f} s  -> cloudkit {upsert / raw_sql:.0f}x")
    print(f"baseline: raw dnspython parse     {raw_dns:7.2f} s  -> cloudkit {upsert / raw_dns:.1f}x")
    print(f"{f'list_records (all {n + 2:,})':34}{list_t:7.2f} s")
    print(f"export_zone                       {export_t:7.2f} s  ({len(text) / 1024:.0f} KiB of zone file)")
    print(f"import_zone into an empty zone    {import_t:7.2f} s")


if __name__ == "__main__":
    main()
