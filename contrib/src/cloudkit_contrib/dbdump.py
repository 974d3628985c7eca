"""Logical dumps of a managed database into a bucket (of any cloud), and restores from them.

Built only on cloudkit's neutral API and the engine's own client tools: :func:`dump_database`
connects to an instance's endpoint as its master user, runs ``pg_dump`` (engine ``postgres``) or
``mariadb-dump``/``mysqldump`` (engines ``mysql`` and ``mariadb``), gzips the SQL into a temporary
file and uploads it to ``<key>`` in a bucket, then writes ``<key>.json`` (engine, database, size,
SHA-256, time). The manifest is written only after the dump is stored whole: a dump without one
does not exist. :func:`restore_dump` downloads a dump, checks its SHA-256 and feeds it to ``psql``
or ``mariadb``/``mysql`` against another instance, which may live on another provider, region or
profile: this is how a database crosses clouds where ``copy_snapshot`` cannot.

Passwords reach the tools only through ``PGPASSWORD`` or a 0600 option file removed at once; never
a command line, a log or an error (an error text has the password replaced by ``***``).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import attrs

from cloudkit import Cloud, DatabaseService, StorageService, validation
from cloudkit.errors import InvalidInput, NotFound, NotSupported, ProviderError
from cloudkit.models.database import DatabaseInstance
from cloudkit_contrib._services import service_of

__all__ = ["DumpInfo", "dump_database", "restore_dump"]

POSTGRES = ("postgres", "postgresql")
MYSQL = ("mysql", "mariadb")


@attrs.frozen
class DumpInfo:
    """A stored dump: where it is and what it holds."""

    bucket: str
    key: str
    engine: str
    database: str
    size: int
    sha256: str
    created_at: datetime
    source: str


def _database(ref: object, field: str = "database") -> DatabaseService:
    return service_of(ref, "database", DatabaseService, field)


def _storage(ref: object, field: str = "storage") -> StorageService:
    return service_of(ref, "storage", StorageService, field)


def _instance(db: DatabaseService, instance: object) -> DatabaseInstance:
    found = db.get_instance(instance)  # type: ignore[arg-type]
    if found.endpoint is None:
        raise NotSupported(db.provider, "database.endpoint",
                           f"instance {found.id!r} ({found.engine}) has no network endpoint to dump from or load into")
    return found


def _tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise NotSupported("contrib", "dbdump", f"{' or '.join(names)} is not installed (the engine's client tools)")


def _run(argv: list[str], *, password: str, env: dict[str, str], stdin: IO[bytes] | None, stdout: IO[bytes] | None,
         timeout: float, what: str) -> None:
    try:
        done = subprocess.run(argv, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                              stdout=stdout if stdout is not None else subprocess.DEVNULL, stderr=subprocess.PIPE,
                              env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise ProviderError(f"{what}: {Path(argv[0]).name} did not finish in {timeout:g}s", provider="contrib") from None
    except OSError as exc:
        raise ProviderError(f"{what}: cannot run {Path(argv[0]).name}: {exc.strerror}", provider="contrib") from None
    if done.returncode != 0:
        detail = done.stderr.decode(errors="replace").replace(password, "***").strip()[-600:]
        raise ProviderError(f"{what}: {Path(argv[0]).name} exited with status {done.returncode}: {detail}", provider="contrib")


class _Client:
    """The engine's client tools, run against one endpoint with the password kept off the command line."""

    def __init__(self, inst: DatabaseInstance, user: str, password: str, folder: Path) -> None:
        assert inst.endpoint is not None
        self.inst, self.user, self.password, self.folder = inst, user, password, folder
        self.env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", "TZ": "UTC"}
        engine = inst.engine.lower()
        if engine in POSTGRES:
            self.kind = "postgres"
            self.env["PGPASSWORD"] = password
            self.env["PGCONNECT_TIMEOUT"] = "10"
        elif engine in MYSQL:
            self.kind = "mysql"
            self.options = folder / "client.cnf"
            fd = os.open(self.options, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as fh:
                quoted = password.replace("\\", "\\\\")  # option files read backslash escapes
                fh.write(f"[client]\nuser={user}\npassword=\"{quoted}\"\nhost={inst.endpoint.host}\n"
                         f"port={inst.endpoint.port}\nprotocol=TCP\n")
        else:
            raise NotSupported("contrib", "dbdump", f"engine {inst.engine!r} has no dump tool here (postgres, mysql, mariadb)")

    def dump_argv(self, database: str) -> list[str]:
        assert self.inst.endpoint is not None
        if self.kind == "postgres":
            return [_tool("pg_dump"), "-h", self.inst.endpoint.host, "-p", str(self.inst.endpoint.port), "-U", self.user,
                    "-d", database, "--no-owner", "--no-privileges", "-w"]
        return [_tool("mariadb-dump", "mysqldump"), f"--defaults-extra-file={self.options}", "--single-transaction",
                "--routines", "--events", "--triggers", "--no-tablespaces", "--databases", database]

    def load_argv(self, database: str) -> list[str]:
        assert self.inst.endpoint is not None
        if self.kind == "postgres":
            return [_tool("psql"), "-h", self.inst.endpoint.host, "-p", str(self.inst.endpoint.port), "-U", self.user,
                    "-d", database, "-v", "ON_ERROR_STOP=1", "-q", "-w"]
        return [_tool("mariadb", "mysql"), f"--defaults-extra-file={self.options}"]

    def ensure_database(self, database: str, timeout: float) -> None:
        """Postgres: create ``database`` when missing (a MySQL dump creates its own)."""
        if self.kind != "postgres":
            return
        assert self.inst.endpoint is not None
        check = [_tool("psql"), "-h", self.inst.endpoint.host, "-p", str(self.inst.endpoint.port), "-U", self.user,
                 "-d", "postgres", "-w", "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{database}'"]
        out = self.folder / "exists.txt"
        with out.open("wb") as fh:
            _run(check, password=self.password, env=self.env, stdin=None, stdout=fh, timeout=timeout, what="look for the database")
        if out.read_text().strip() != "1":
            create = [*check[:-2], "-c", f'CREATE DATABASE "{database}"']
            _run(create, password=self.password, env=self.env, stdin=None, stdout=None, timeout=timeout,
                 what="create the database")


def dump_database(
    database: Cloud | DatabaseService,
    instance: DatabaseInstance | str,
    *,
    password: str,
    storage: Cloud | StorageService,
    bucket: str,
    key: str,
    database_name: str | None = None,
    timeout: float = 3600,
) -> DumpInfo:
    """Dump ``database_name`` (default: the instance's) of ``instance`` into ``bucket``/``key`` (gzipped SQL).

    ``storage`` may belong to another cloud, region or profile than ``database``. Returns what
    the manifest ``<key>.json`` records.
    """
    db, store = _database(database), _storage(storage, "storage")
    validation.db_password(password, "password")
    validation.object_key(key)
    validation.bucket_name(bucket, "bucket")
    validation.timeout(timeout)
    inst = _instance(db, instance)
    name = database_name or inst.database_name
    if not name:
        raise InvalidInput("database_name", f"instance {inst.id!r} has no default database: name the one to dump")
    validation.db_username(name, "database_name")
    user = inst.master_username or ""
    with tempfile.TemporaryDirectory(prefix="cloudkit-dbdump-") as tmp:
        folder = Path(tmp)
        client = _Client(inst, user, password, folder)
        raw = folder / "dump.sql"
        with raw.open("wb") as out:
            _run(client.dump_argv(name), password=password, env=client.env, stdin=None, stdout=out, timeout=timeout,
                 what=f"dump {inst.id}/{name}")
        packed = folder / "dump.sql.gz"
        digest = hashlib.sha256()
        with raw.open("rb") as src, packed.open("wb") as dst_file, gzip.GzipFile(fileobj=dst_file, mode="wb", mtime=0) as gz:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                gz.write(chunk)
        with packed.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        size = packed.stat().st_size
        store.upload_file(packed, bucket, key, content_type="application/gzip")
    info = DumpInfo(bucket=bucket, key=key, engine=client.kind, database=name, size=size, sha256=digest.hexdigest(),
                    created_at=datetime.now(UTC), source=inst.id)
    manifest = {"format": 1, "engine": info.engine, "database": name, "size": size, "sha256": info.sha256,
                "created_at": info.created_at.isoformat(), "source": inst.id, "engine_version": inst.engine_version}
    store.put_object(bucket, key + ".json", json.dumps(manifest, indent=1).encode(), content_type="application/json")
    return info


def restore_dump(
    storage: Cloud | StorageService,
    bucket: str,
    key: str,
    *,
    database: Cloud | DatabaseService,
    instance: DatabaseInstance | str,
    password: str,
    database_name: str | None = None,
    timeout: float = 3600,
) -> DumpInfo:
    """Load the dump ``bucket``/``key`` into ``instance`` (its engine must be the dump's).

    The dump's SHA-256 is checked against its manifest before anything is loaded. A PostgreSQL
    dump goes into ``database_name`` (default: the dumped database's name), created when missing;
    a MySQL dump recreates its own database.
    """
    db, store = _database(database), _storage(storage, "storage")
    validation.db_password(password, "password")
    validation.object_key(key)
    validation.bucket_name(bucket, "bucket")
    validation.timeout(timeout)
    if database_name is not None:
        validation.db_username(database_name, "database_name")
    reader = store.get_object(bucket, key + ".json")
    try:
        doc: dict[str, Any] = json.loads(reader.read(1 << 20))
    except ValueError:
        raise InvalidInput("key", f"{key}.json is not a dump manifest") from None
    finally:
        reader.close()
    inst = _instance(db, instance)
    kind = "postgres" if inst.engine.lower() in POSTGRES else "mysql" if inst.engine.lower() in MYSQL else inst.engine
    if doc.get("engine") != kind:
        raise InvalidInput("instance", f"the dump is a {doc.get('engine')} dump; {inst.id!r} runs {inst.engine}")
    name = database_name or str(doc["database"])
    with tempfile.TemporaryDirectory(prefix="cloudkit-dbload-") as tmp:
        folder = Path(tmp)
        packed = folder / "dump.sql.gz"
        store.download_file(bucket, key, packed)
        digest = hashlib.sha256()
        with packed.open("rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
        if digest.hexdigest() != doc.get("sha256"):
            raise ProviderError(f"dump {key!r} does not match its manifest (SHA-256 differs): not loaded", provider="contrib")
        client = _Client(inst, inst.master_username or "", password, folder)
        client.ensure_database(name, timeout)
        raw = folder / "dump.sql"
        with gzip.open(packed, "rb") as src, raw.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        with raw.open("rb") as sql:
            _run(client.load_argv(name), password=password, env=client.env, stdin=sql, stdout=None, timeout=timeout,
                 what=f"load {key} into {inst.id}")
    try:
        created = datetime.fromisoformat(str(doc["created_at"]))
    except (KeyError, ValueError):
        raise NotFound(f"{key}.json has no creation time", provider="contrib") from None
    return DumpInfo(bucket=bucket, key=key, engine=str(doc["engine"]), database=name, size=int(doc.get("size", 0)),
                    sha256=str(doc["sha256"]), created_at=created, source=str(doc.get("source", "")))
