"""The database conformance suite, run on the local provider with each engine it has."""

from __future__ import annotations

import pytest

import cloudkit
from cloudkit.testing.database import DatabaseConformance


class TestLocalSqliteDatabaseConformance(DatabaseConformance):
    """Every provider-neutral database test with the sqlite engine (always available)."""

    engine = "sqlite"

    @pytest.fixture
    def parameter_family(self) -> str:
        pytest.skip("the sqlite engine has no server parameters (parameter groups need postgres or mysql)")


class TestLocalPostgresDatabaseConformance(DatabaseConformance):
    """Every provider-neutral database test on real PostgreSQL servers (skipped without the binaries)."""

    engine = "postgres"
    parameter_group_parameter = ("work_mem", "8MB")

    @pytest.fixture
    def cloudkit_cloud(self, pg_cloud: cloudkit.Cloud) -> cloudkit.Cloud:
        return pg_cloud

    @pytest.fixture
    def parameter_family(self, pg_cloud: cloudkit.Cloud) -> str:
        return str(pg_cloud.database.engines["postgres"].family())  # type: ignore[attr-defined]


class TestLocalMysqlDatabaseConformance(DatabaseConformance):
    """Every provider-neutral database test on real MariaDB servers (skipped without them)."""

    engine = "mysql"

    @pytest.fixture
    def cloudkit_cloud(self, my_cloud: cloudkit.Cloud) -> cloudkit.Cloud:
        return my_cloud

    @pytest.fixture
    def parameter_family(self, my_cloud: cloudkit.Cloud) -> str:
        return str(my_cloud.database.engines["mysql"].family())  # type: ignore[attr-defined]
