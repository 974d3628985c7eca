"""Fixtures for the local database tests: one PostgreSQL-capable local cloud and primary per session."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from database_helpers import MY_PASSWORD, PASSWORD, cleanup_cloud  # type: ignore[import-not-found]

import cloudkit
from cloudkit.models.database import DatabaseInstance


@pytest.fixture(scope="session")
def pg_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudkit.Cloud]:
    """A local cloud whose database family can run PostgreSQL (skips when the binaries are missing)."""
    root = tmp_path_factory.mktemp("pg-root")
    # the server user (postgres, when we are root) must reach its data folders: keep them in /tmp
    data_root = Path(tempfile.mkdtemp(prefix="cloudkit-pg-test-"))
    os.chmod(data_root, 0o711)
    cloud = cloudkit.connect("local", root=str(root), postgres_data_root=str(data_root), backup_check_interval=0,
                            durable_backups=False)
    if "postgres" not in cloud.database.list_engines():
        reason = getattr(cloud.database, "postgres_reason", "PostgreSQL is not available")
        cloud.close()
        shutil.rmtree(data_root, ignore_errors=True)
        pytest.skip(reason)
    try:
        yield cloud
    finally:
        cleanup_cloud(cloud)
        cloud.close()
        shutil.rmtree(data_root, ignore_errors=True)


@pytest.fixture(scope="session")
def primary(pg_cloud: cloudkit.Cloud) -> DatabaseInstance:
    """One running PostgreSQL instance (database ``app``) shared by the tests of this folder."""
    return pg_cloud.database.create_instance("primary", engine="postgres", master_username="master",
                                             master_password=PASSWORD, database_name="app", backup_retention_days=7)


@pytest.fixture(scope="session")
def my_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudkit.Cloud]:
    """A local cloud whose database family can run MariaDB (engine ``mysql``; skips when it is missing)."""
    root = tmp_path_factory.mktemp("my-root")
    data_root = Path(tempfile.mkdtemp(prefix="cloudkit-my-test-"))  # reachable by the server user
    os.chmod(data_root, 0o711)
    cloud = cloudkit.connect("local", root=str(root), mysql_data_root=str(data_root), backup_check_interval=0)
    if "mysql" not in cloud.database.list_engines():
        reason = cloud.database.engines["mysql"].reason  # type: ignore[attr-defined]
        cloud.close()
        shutil.rmtree(data_root, ignore_errors=True)
        pytest.skip(reason)
    try:
        yield cloud
    finally:
        cleanup_cloud(cloud)
        cloud.close()
        shutil.rmtree(data_root, ignore_errors=True)


@pytest.fixture(scope="session")
def my_primary(my_cloud: cloudkit.Cloud) -> DatabaseInstance:
    """One running MariaDB instance (database ``app``, a password with a backslash) shared by the mysql tests."""
    return my_cloud.database.create_instance("my-primary", engine="mysql", master_username="master",
                                             master_password=MY_PASSWORD, database_name="app", backup_retention_days=7)


@pytest.fixture
def eventually() -> Callable[..., Any]:
    """Poll a function until it returns something true (or fail after ``timeout``)."""
    import time

    def wait(fn: Callable[[], Any], timeout: float = 15) -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = fn()
            except Exception as exc:  # the server may still be catching up
                last = exc
            else:
                if last:
                    return last
            time.sleep(0.05)
        raise AssertionError(f"condition not met in {timeout}s (last: {last!r})")

    return wait
