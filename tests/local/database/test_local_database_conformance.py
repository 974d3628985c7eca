"""The database conformance suite, run on the local provider with each engine it has."""

from __future__ import annotations

import pytest

import cloudkit
from cloudkit.testing.database import DatabaseConformance


class TestLocalSqliteDatabaseConformance(DatabaseConformance):
    """Every provider-neutral database test with the sqlite engine (always available)."""

    engine = "sqlite"


class TestLocalPostgresDatabaseConformance(DatabaseConformance):
    """Every provider-neutral database test on real PostgreSQL servers (skipped without the binaries)."""

    engine = "postgres"

    @pytest.fixture
    def cloudkit_cloud(self, pg_cloud: cloudkit.Cloud) -> cloudkit.Cloud:
        return pg_cloud


class TestLocalMysqlDatabaseConformance(DatabaseConformance):
    """Every provider-neutral database test on real MariaDB servers (skipped without them)."""

    engine = "mysql"

    @pytest.fixture
    def cloudkit_cloud(self, my_cloud: cloudkit.Cloud) -> cloudkit.Cloud:
        return my_cloud
