"""Helpers for the local database tests: the test password and psycopg shortcuts."""

from __future__ import annotations

from typing import Any

import cloudkit
from cloudkit.errors import CloudkitError
from cloudkit.models.database import DatabaseInstance

PASSWORD = "Local-Test-Pass-1"
MY_PASSWORD = "My\\Test-Pass;1"  # a backslash and a semicolon: quoting matters


def cleanup_cloud(cloud: cloudkit.Cloud) -> None:
    """Delete every instance (replicas first) and snapshot of ``cloud``."""
    db = cloud.database
    instances = sorted(db.list_instances(), key=lambda i: i.replica_of is None)
    for inst in instances:
        try:
            db.delete_instance(inst)
        except CloudkitError:
            pass
    for snap in list(db.list_snapshots()):
        try:
            db.delete_snapshot(snap)
        except CloudkitError:
            pass


def connect(instance: DatabaseInstance, password: str = PASSWORD, dbname: str = "app") -> Any:
    """A psycopg connection to ``instance`` as the master user (autocommit)."""
    import psycopg

    assert instance.endpoint is not None
    return psycopg.connect(host=instance.endpoint.host, port=instance.endpoint.port, user="master", password=password,
                           dbname=dbname, autocommit=True, connect_timeout=10)


def rows(instance: DatabaseInstance, sql: str, password: str = PASSWORD) -> list[tuple[Any, ...]]:
    """Run ``sql`` on ``instance`` and return its rows."""
    with connect(instance, password) as conn:
        return list(conn.execute(sql).fetchall())


def execute(instance: DatabaseInstance, sql: str, params: tuple[Any, ...] = ()) -> None:
    """Run a statement on ``instance``."""
    with connect(instance) as conn:
        conn.execute(sql, params)


def my_rows(instance: DatabaseInstance, sql: str, password: str = MY_PASSWORD, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a MariaDB ``instance`` with PyMySQL (database ``app``) and return its rows."""
    import pymysql

    assert instance.endpoint is not None
    conn = pymysql.connect(host=instance.endpoint.host, port=instance.endpoint.port, user="master", password=password,
                           database="app", autocommit=True, connect_timeout=10)
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params or None)
            return list(cur.fetchall())
    finally:
        conn.close()
