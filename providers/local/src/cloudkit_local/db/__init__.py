"""The local database engines, one module each behind :class:`cloudkit_local.db.base.Engine`."""

from __future__ import annotations

from cloudkit_local.db.base import Engine
from cloudkit_local.db.mysql import MysqlEngine
from cloudkit_local.db.postgres import PostgresEngine
from cloudkit_local.db.sqlite import SqliteEngine

#: Every engine the local provider knows, in the order they are listed.
ENGINE_CLASSES: tuple[type[Engine], ...] = (MysqlEngine, PostgresEngine, SqliteEngine)

__all__ = ["ENGINE_CLASSES", "Engine", "MysqlEngine", "PostgresEngine", "SqliteEngine"]
