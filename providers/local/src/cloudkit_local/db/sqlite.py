"""The ``sqlite`` engine: an instance is one SQLite file (``extra["path"]``); no server.

Snapshots use SQLite's online backup API. It has no endpoint, point-in-time restore or replicas.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from cloudkit_local.db.base import Engine
from cloudkit_local.errors import mapped


class SqliteEngine(Engine):
    """SQLite files under ``<root>/database/sqlite``."""

    name: ClassVar[str] = "sqlite"
    aliases: ClassVar[tuple[str, ...]] = ("sqlite3",)
    server: ClassVar[bool] = False
    multi_az_reason: ClassVar[str] = "is one file with no server: there is no standby server to keep or fail over to"
    base_methods: ClassVar[tuple[str, ...]] = ("sqlite backup API",)

    @property
    def version(self) -> str:
        """The SQLite library's version."""
        return sqlite3.sqlite_version

    def place(self) -> Path:
        """``<root>/database/sqlite``."""
        return self.host.folder / "sqlite"

    def new_record(self, rec: dict[str, Any], kw: Mapping[str, Any]) -> None:
        """The file: ``<instance dir>/<database name or main>.sqlite``."""
        rec["path"] = str(Path(rec["dir"]) / f"{kw.get('database_name') or 'main'}.sqlite")

    def model_extra(self, rec: Mapping[str, Any]) -> dict[str, Any]:
        """``path``: the SQLite file."""
        return {"path": rec.get("path")}

    def password_needs_server(self) -> bool:
        """SQLite has no users: the stored password just changes."""
        return False

    def create(self, rec: dict[str, Any], password: str, timeout: float) -> None:
        """Create the file (WAL mode) with a metadata table naming the master user."""
        path = Path(rec["path"])
        with mapped("create SQLite database"):
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            conn = sqlite3.connect(path)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("CREATE TABLE IF NOT EXISTS cloudkit_meta (key TEXT PRIMARY KEY, value TEXT)")
                conn.execute("INSERT OR REPLACE INTO cloudkit_meta VALUES ('master_username', ?)", (rec["master_username"],))
                conn.commit()
            finally:
                conn.close()

    def snapshot(self, rec: Mapping[str, Any], target: Path, live: bool, timeout: float) -> dict[str, Any]:
        """A consistent copy through the online backup API."""
        sqlite_copy(Path(rec["path"]), target / "db.sqlite")
        return {"method": "sqlite backup API"}

    def restore(self, snap: Mapping[str, Any], rec: dict[str, Any], timeout: float) -> None:
        """Copy the snapshot's file to the new instance's path."""
        sqlite_copy(Path(snap["path"]) / "db.sqlite", Path(rec["path"]))


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a live SQLite database (online backup API), written atomically."""
    with mapped("copy a SQLite database"):
        if not source.is_file():  # sqlite3.connect would create an empty database and copy that
            raise FileNotFoundError(errno.ENOENT, f"the SQLite database {source.name} is missing")
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = target.with_name(target.name + ".tmp")
        tmp.unlink(missing_ok=True)
        src = sqlite3.connect(source)
        dst = sqlite3.connect(tmp)
        try:
            src.backup(dst)
        finally:
            dst.close()
            src.close()
        os.replace(tmp, target)
