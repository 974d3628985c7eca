"""cloudkit_contrib.dbdump: a database dumped into a bucket of another profile and restored from it."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudkit_contrib.dbdump import dump_database, restore_dump

import cloudkit

PASSWORD = "Dump\\Test-Pass;1"  # a backslash and a semicolon: quoting matters


@pytest.fixture
def clouds(tmp_path: Path) -> Iterator[tuple[cloudkit.Cloud, cloudkit.Cloud]]:
    """A local cloud with database servers, and another one (another profile) holding the bucket."""
    data = Path(tempfile.mkdtemp(prefix="cloudkit-dump-test-"))  # reachable by the server users
    data.chmod(0o711)
    (data / "pg").mkdir(mode=0o711)
    (data / "my").mkdir(mode=0o711)
    for sub in ("pg", "my"):
        (data / sub).chmod(0o711)
    prod = cloudkit.connect("local", root=str(tmp_path / "prod"), postgres_data_root=str(data / "pg"),
                            mysql_data_root=str(data / "my"), backup_check_interval=0, durable_backups=False)
    vault = cloudkit.connect("local", root=str(tmp_path / "vault"))
    vault.storage.create_bucket("dr-dumps")
    try:
        yield prod, vault
    finally:
        for inst in list(prod.database.list_instances()):
            prod.database.delete_instance(inst)
        prod.close()
        vault.close()
        shutil.rmtree(data, ignore_errors=True)


def _make(prod: cloudkit.Cloud, engine: str, ident: str) -> Any:
    if engine not in prod.database.list_engines():
        pytest.skip(f"the {engine} engine is not available here")
    return prod.database.create_instance(ident, engine=engine, master_username="master", master_password=PASSWORD,
                                         database_name="shop", backup_retention_days=0)


def _mysql(inst: Any, sql: str) -> list[tuple[Any, ...]]:
    pymysql = pytest.importorskip("pymysql")
    conn = pymysql.connect(host=inst.endpoint.host, port=inst.endpoint.port, user="master", password=PASSWORD,
                           database="shop", autocommit=True)
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()


def _pg(inst: Any, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(host=inst.endpoint.host, port=inst.endpoint.port, user="master", password=PASSWORD,
                         dbname="shop", autocommit=True) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


@pytest.mark.parametrize("engine", ["mysql", "postgres"])
def test_dump_to_a_bucket_of_another_profile_and_restore(clouds: tuple[cloudkit.Cloud, cloudkit.Cloud], engine: str) -> None:
    prod, vault = clouds
    run = _mysql if engine == "mysql" else _pg
    source = _make(prod, engine, f"{engine[:2]}-source")
    run(source, "CREATE TABLE orders (n INT PRIMARY KEY, item VARCHAR(20))")
    run(source, "INSERT INTO orders VALUES (1, 'widget'), (2, 'gadget')")
    info = dump_database(prod, source, password=PASSWORD, storage=vault, bucket="dr-dumps", key=f"{engine}/shop.sql.gz")
    assert (info.engine, info.database, info.source) == (engine, "shop", source.id) and info.size > 0
    keys = sorted(o.key for o in vault.storage.list_objects("dr-dumps"))
    assert keys == [f"{engine}/shop.sql.gz", f"{engine}/shop.sql.gz.json"]
    body = vault.storage.get_object("dr-dumps", f"{engine}/shop.sql.gz").read()
    assert PASSWORD.encode() not in body

    target = _make(prod, engine, f"{engine[:2]}-target")
    got = restore_dump(vault, "dr-dumps", f"{engine}/shop.sql.gz", database=prod, instance=target, password=PASSWORD)
    assert got.sha256 == info.sha256
    assert run(target, "SELECT n, item FROM orders ORDER BY n") == [(1, "widget"), (2, "gadget")]


def test_a_tampered_dump_is_not_loaded_and_bad_input_is_refused(clouds: tuple[cloudkit.Cloud, cloudkit.Cloud]) -> None:
    prod, vault = clouds
    source = _make(prod, "mysql", "my-tamper")
    _mysql(source, "CREATE TABLE t (n INT)")
    dump_database(prod, source, password=PASSWORD, storage=vault, bucket="dr-dumps", key="t.sql.gz")
    vault.storage.put_object("dr-dumps", "t.sql.gz", b"\x1f\x8b not the dump")
    with pytest.raises(cloudkit.ProviderError, match="SHA-256"):
        restore_dump(vault, "dr-dumps", "t.sql.gz", database=prod, instance=source, password=PASSWORD)
    with pytest.raises(cloudkit.ProviderError) as err:
        dump_database(prod, source, password="Wrong-Pass-99", storage=vault, bucket="dr-dumps", key="w.sql.gz")
    assert "Wrong-Pass-99" not in str(err.value)
    with pytest.raises(cloudkit.InvalidInput) as bad:
        dump_database(prod, source, password=PASSWORD, storage="vault", bucket="dr-dumps", key="x")  # type: ignore[arg-type]
    assert bad.value.field == "storage"
    with pytest.raises(cloudkit.InvalidInput) as bad:
        dump_database(prod, source, password=PASSWORD, storage=vault, bucket="dr-dumps", key="x", database_name="no;pe")
    assert bad.value.field == "database_name"
    lite = prod.database.create_instance("lite", engine="sqlite", master_username="master", master_password=PASSWORD)
    with pytest.raises(cloudkit.NotSupported):
        dump_database(prod, lite, password=PASSWORD, storage=vault, bucket="dr-dumps", key="lite.sql.gz")
