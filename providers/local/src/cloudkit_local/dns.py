"""The local provider's DNS family: hosted zones and record sets in SQLite (``<root>/dns/dns.sqlite3``).

A zone is created with an SOA and an apex NS record set. A batch of changes is applied in one
SQLite transaction: all of it or none of it. Each applied batch bumps the SOA serial. Record
values are stored as :func:`cloudkit.validation.record_set` normalises them (dnspython
presentation format, names inside values absolute). Changes are visible at once, so every
:class:`ChangeInfo` is ``INSYNC``.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype

from cloudkit.errors import AlreadyExists, Conflict, NotFound
from cloudkit.models.dns import ChangeInfo, RecordChange, RecordSet, Zone
from cloudkit.services.dns import DNSService
from cloudkit_local._root import Database, open_dir, root_from
from cloudkit_local.errors import PROVIDER, LocalErrors, mapped

SCHEMA = """
CREATE TABLE IF NOT EXISTS zones (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    comment     TEXT,
    created_at  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS records (
    zone_id  TEXT NOT NULL REFERENCES zones(id) ON DELETE CASCADE,
    name     TEXT NOT NULL,
    type     TEXT NOT NULL,
    ttl      INTEGER NOT NULL,
    vals     TEXT NOT NULL,
    PRIMARY KEY (zone_id, name, type)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS changes (
    id          TEXT PRIMARY KEY,
    zone_id     TEXT NOT NULL,
    count       INTEGER NOT NULL,
    submitted_at REAL NOT NULL
);
"""

#: Name servers written into new zones' SOA and NS records unless the ``name_servers`` setting says otherwise.
DEFAULT_NAME_SERVERS = ("ns1.cloudkit.invalid.", "ns2.cloudkit.invalid.")
SOA_TTL = 900
NS_TTL = 172800
PAGE = 1000


def _sort_key(name: str) -> tuple[int, str]:
    return (0, "") if name == "@" else (1, name)


class LocalDNS(LocalErrors, DNSService):
    """Zones and record sets kept in SQLite under the local provider's root folder."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        # Nothing touches the disk until the first operation that passed validation.
        self._state: tuple[Path, Database] | None = None
        self._open_lock = threading.Lock()
        servers = self.settings.get("name_servers") or DEFAULT_NAME_SERVERS
        if isinstance(servers, str):
            servers = [s.strip() for s in servers.split(",") if s.strip()]
        self.name_servers = tuple(s if s.endswith(".") else s + "." for s in servers)

    def _open(self) -> tuple[Path, Database]:
        with self._open_lock:
            if self._state is None:
                root = root_from(self.settings)
                with mapped("open dns folder"):
                    os.close(open_dir(root, "dns", create=True))  # a planted link is refused, not followed
                self._state = (root, Database(root / "dns" / "dns.sqlite3", SCHEMA, root=root))
            return self._state

    @property
    def root(self) -> Path:
        """The provider's root folder."""
        return (self._state or self._open())[0]

    @property
    def db(self) -> Database:
        """The zone database (``<root>/dns/dns.sqlite3``)."""
        return (self._state or self._open())[1]

    @property
    def native(self) -> Any:
        """The root folder this provider keeps its state in."""
        return self.root

    def close(self) -> None:
        """Close this thread's database connection."""
        if self._state is not None:
            self._state[1].close()

    # ------------------------------------------------------------ rows and models
    def _zone_model(self, row: Any, conn: sqlite3.Connection | None = None) -> Zone:
        if conn is None:
            ns = self.db.query("SELECT vals FROM records WHERE zone_id = ? AND name = '@' AND type = 'NS'", (row["id"],))
            count = self.db.query("SELECT COUNT(*) AS n FROM records WHERE zone_id = ?", (row["id"],))[0]["n"]
        else:
            ns = list(conn.execute("SELECT vals FROM records WHERE zone_id = ? AND name = '@' AND type = 'NS'", (row["id"],)))
            count = conn.execute("SELECT COUNT(*) AS n FROM records WHERE zone_id = ?", (row["id"],)).fetchone()["n"]
        servers = tuple(s.rstrip(".") for s in json.loads(ns[0]["vals"])) if ns else ()
        return Zone(
            id=row["id"],
            name=row["name"],
            record_count=count,
            comment=row["comment"],
            name_servers=servers,
            created_at=datetime.fromtimestamp(row["created_at"], UTC),
        )

    def _zone_row(self, conn: sqlite3.Connection, zone_id: str) -> Any:
        row = conn.execute("SELECT * FROM zones WHERE id = ?", (zone_id,)).fetchone()
        if row is None:
            raise NotFound(f"no hosted zone with id {zone_id!r}", provider=PROVIDER, code="NoSuchHostedZone")
        return row

    @staticmethod
    def _record(row: Any) -> RecordSet:
        return RecordSet(name=row["name"], type=row["type"], ttl=row["ttl"], values=tuple(json.loads(row["vals"])))

    # ------------------------------------------------------------ zones
    def _create_zone(self, name: str, comment: str | None) -> Zone:
        zid = "Z" + uuid.uuid4().hex[:20].upper()
        origin = name + "."
        soa = str(
            dns.rdata.from_text(
                dns.rdataclass.IN,
                dns.rdatatype.SOA,
                f"{self.name_servers[0]} hostmaster.{origin} 1 7200 900 1209600 300",
            ).to_text()
        )
        with mapped("create zone"), self.db.transaction() as conn:
            if conn.execute("SELECT 1 FROM zones WHERE name = ?", (name,)).fetchone():
                raise AlreadyExists(f"a hosted zone named {name} already exists", provider=PROVIDER, code="HostedZoneAlreadyExists")
            conn.execute("INSERT INTO zones (id, name, comment, created_at) VALUES (?, ?, ?, ?)", (zid, name, comment, time.time()))
            conn.executemany(
                "INSERT INTO records (zone_id, name, type, ttl, vals) VALUES (?, '@', ?, ?, ?)",
                [(zid, "SOA", SOA_TTL, json.dumps([soa])), (zid, "NS", NS_TTL, json.dumps(list(self.name_servers)))],
            )
            return self._zone_model(self._zone_row(conn, zid), conn)

    def _get_zone(self, zone_id_or_name: str) -> Zone:
        rows = self.db.query("SELECT * FROM zones WHERE id = ?", (zone_id_or_name,))
        if not rows:
            name = zone_id_or_name.strip().rstrip(".").lower()
            rows = self.db.query("SELECT * FROM zones WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no hosted zone {zone_id_or_name!r}", provider=PROVIDER, code="NoSuchHostedZone")
        return self._zone_model(rows[0])

    def _list_zones(self) -> Iterator[Zone]:
        after = ""
        while True:
            rows = self.db.query("SELECT * FROM zones WHERE name > ? ORDER BY name LIMIT ?", (after, PAGE))
            zones = [self._zone_model(r) for r in rows]
            yield from zones
            if len(rows) < PAGE:
                return
            after = rows[-1]["name"]

    def _delete_zone(self, zone_id: str) -> None:
        with mapped("delete zone"), self.db.transaction() as conn:
            row = self._zone_row(conn, zone_id)
            own = conn.execute(
                "SELECT COUNT(*) AS n FROM records WHERE zone_id = ? AND NOT (name = '@' AND type IN ('SOA', 'NS'))",
                (zone_id,),
            ).fetchone()["n"]
            if own:
                raise Conflict(
                    f"hosted zone {row['name']} still holds {own} record sets of its own", provider=PROVIDER, code="HostedZoneNotEmpty"
                )
            conn.execute("DELETE FROM records WHERE zone_id = ?", (zone_id,))
            conn.execute("DELETE FROM changes WHERE zone_id = ?", (zone_id,))
            conn.execute("DELETE FROM zones WHERE id = ?", (zone_id,))

    # ------------------------------------------------------------ records
    def _list_records(self, zone_id: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
        if not self.db.query("SELECT 1 FROM zones WHERE id = ?", (zone_id,)):
            raise NotFound(f"no hosted zone with id {zone_id!r}", provider=PROVIDER, code="NoSuchHostedZone")
        return self._iter_records(zone_id, name, type)

    def _iter_records(self, zone_id: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
        # The apex first, then names in order; keyset pages keep memory flat for big zones.
        sql = "SELECT name, type, ttl, vals FROM records WHERE zone_id = ?"
        params: list[Any] = [zone_id]
        if name is not None:
            sql += " AND name = ?"
            params.append(name)
        if type is not None:
            sql += " AND type = ?"
            params.append(type)
        after: tuple[int, str, str] = (-1, "", "")
        order = "(name <> '@'), name, type"
        while True:
            page_sql = sql + f" AND ((name <> '@') > ? OR ((name <> '@') = ? AND (name > ? OR (name = ? AND type > ?)))) ORDER BY {order} LIMIT ?"
            with mapped("list records"):
                rows = self.db.query(page_sql, (*params, after[0], after[0], after[1], after[1], after[2], PAGE))
            for row in rows:
                yield self._record(row)
            if len(rows) < PAGE:
                return
            last = rows[-1]
            after = (0 if last["name"] == "@" else 1, last["name"], last["type"])

    def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        change_id = "C" + uuid.uuid4().hex[:20].upper()
        now = time.time()
        with mapped("change records"), self.db.transaction() as conn:
            zrow = self._zone_row(conn, zone.id)
            touched: set[str] = set()
            for i, ch in enumerate(changes):
                rec = ch.record
                key = (zrow["id"], rec.name, rec.type)
                if ch.action == "UPSERT":
                    conn.execute(
                        "INSERT OR REPLACE INTO records (zone_id, name, type, ttl, vals) VALUES (?, ?, ?, ?, ?)",
                        (*key, rec.ttl, json.dumps(list(rec.values))),
                    )
                    touched.add(rec.name)
                    continue
                have = conn.execute("SELECT ttl, vals FROM records WHERE zone_id = ? AND name = ? AND type = ?", key).fetchone()
                if have is None:
                    raise NotFound(
                        f"changes[{i}]: no {rec.type} record set named {rec.name} in {zrow['name']} to delete; no change was applied",
                        provider=PROVIDER,
                        code="InvalidChangeBatch",
                    )
                if rec.name == "@" and rec.type == "NS":
                    raise Conflict(f"changes[{i}]: the zone's apex NS record set cannot be deleted", provider=PROVIDER)
                if have["ttl"] != rec.ttl or sorted(json.loads(have["vals"])) != sorted(rec.values):
                    raise Conflict(
                        f"changes[{i}]: the {rec.type} record set {rec.name} to delete does not match the stored TTL and values; "
                        "no change was applied",
                        provider=PROVIDER,
                        code="InvalidChangeBatch",
                    )
                conn.execute("DELETE FROM records WHERE zone_id = ? AND name = ? AND type = ?", key)
            for name in touched:
                types = [r["type"] for r in conn.execute("SELECT type FROM records WHERE zone_id = ? AND name = ?", (zrow["id"], name))]
                if "CNAME" in types and len(types) > 1:
                    others = ", ".join(sorted(t for t in types if t != "CNAME"))
                    raise Conflict(
                        f"{name}: a CNAME cannot share its name with other data ({others}); no change was applied",
                        provider=PROVIDER,
                        code="InvalidChangeBatch",
                    )
            self._bump_serial(conn, zrow["id"], zrow["name"])
            conn.execute(
                "INSERT INTO changes (id, zone_id, count, submitted_at) VALUES (?, ?, ?, ?)",
                (change_id, zrow["id"], len(changes), now),
            )
        return ChangeInfo(id=change_id, status="INSYNC", change_count=len(changes), submitted_at=datetime.fromtimestamp(now, UTC))

    @staticmethod
    def _bump_serial(conn: sqlite3.Connection, zone_id: str, zone_name: str) -> None:
        row = conn.execute("SELECT vals FROM records WHERE zone_id = ? AND name = '@' AND type = 'SOA'", (zone_id,)).fetchone()
        if row is None:
            return
        origin = dns.name.from_text(zone_name)
        soa: Any = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.SOA, json.loads(row["vals"])[0], origin=origin, relativize=False)
        bumped = soa.replace(serial=(soa.serial + 1) % (1 << 32) or 1)
        conn.execute(
            "UPDATE records SET vals = ? WHERE zone_id = ? AND name = '@' AND type = 'SOA'",
            (json.dumps([str(bumped.to_text(origin=None, relativize=False))]), zone_id),
        )


def make_service(settings: Mapping[str, Any]) -> LocalDNS:
    """Build the local DNS service (called by the local plugin)."""
    return LocalDNS(settings)


def soa_serial(record: RecordSet) -> int:
    """The serial number of an SOA :class:`RecordSet`."""
    return int(record.values[0].split()[2])


__all__ = ["LocalDNS", "make_service", "soa_serial"]
