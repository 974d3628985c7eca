"""Version bundles: checks, storage (local storage family, else files) and unpacking into a release folder."""

from __future__ import annotations

import hashlib
import io
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

from cloudkit.errors import InvalidInput, NotFound, ProviderError
from cloudkit_local._platform import ebextensions
from cloudkit_local._platform.base import PlatformBase
from cloudkit_local.errors import PROVIDER, mapped

MAX_BUNDLE = 512 * 1024 * 1024


def _procfile(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or ":" not in line:
            continue
        name, cmd = line.split(":", 1)
        out[name.strip()] = cmd.strip()
    return out


def bundle_extensions(data: bytes) -> ebextensions.Extensions:
    """The checked ``.ebextensions`` of zip bytes (``InvalidInput`` names what the local provider cannot honour)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = ebextensions.config_names(zf.namelist())
            for name in names:
                if zf.getinfo(name).file_size > ebextensions.MAX_CONFIG_BYTES:
                    raise InvalidInput(f"source[{name!r}]", f"is larger than {ebextensions.MAX_CONFIG_BYTES} bytes")
            configs = {name: zf.read(name) for name in names}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError) as exc:
        raise InvalidInput("source", f"is not a readable zip archive ({exc})") from None
    return ebextensions.parse(configs)


def _check_bundle(data: bytes) -> None:
    """A version bundle must be a safe zip with ``application.py`` or a ``Procfile`` with ``web:``."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            names = zf.namelist()
            total = sum(i.file_size for i in zf.infolist())
            procfile = zf.read("Procfile").decode("utf-8", "replace") if "Procfile" in names else None
            configs: dict[str, bytes] = {}
            for name in ebextensions.config_names(names):
                if zf.getinfo(name).file_size > ebextensions.MAX_CONFIG_BYTES:
                    raise InvalidInput(f"source[{name!r}]", f"is larger than {ebextensions.MAX_CONFIG_BYTES} bytes")
                configs[name] = zf.read(name)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, KeyError) as exc:
        raise InvalidInput("source", f"is not a readable zip archive ({exc})") from None
    if total > MAX_BUNDLE:
        raise InvalidInput("source", f"unpacks to more than {MAX_BUNDLE} bytes")
    for name in names:
        if name.startswith("/") or ".." in Path(name).parts:
            raise InvalidInput("source", f"the archive entry {name!r} would escape the application folder")
    if procfile is not None:
        if "web" not in _procfile(procfile):
            raise InvalidInput("source", "the Procfile must define a 'web:' process")
    elif "application.py" not in names:
        raise InvalidInput("source", "must contain application.py (a WSGI 'application') or a Procfile at its top level")
    ebextensions.parse(configs)


def _zip_folder(folder: Path) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder)
            if any(part in ("__pycache__", ".git") for part in rel.parts) or not path.is_file():
                continue
            zf.write(path, rel.as_posix())
    return buf.getvalue()




class Bundles(PlatformBase):
    """Where version bundles live and how a release folder is made from one."""

    def _storage(self) -> Any:
        """The local storage service on the same root, or ``None`` when that family is not installed."""
        if self._storage_cloud is None:
            import cloudkit

            self._storage_cloud = cloudkit.connect("local", root=str(self.base))
        svc = self._storage_cloud.storage
        return svc if {"put_object", "download_file", "create_bucket"} <= svc.capabilities() else None

    def _drop_bundle(self, row: sqlite3.Row) -> None:
        if row["bundle_kind"] == "storage":
            storage = self._storage()
            if storage is not None:
                bucket, key = row["bundle_ref"].split("/", 1)
                try:
                    storage.delete_object(bucket, key)
                except NotFound:
                    pass
        elif not self.db.query("SELECT 1 FROM versions WHERE bundle_ref = ?", (row["bundle_ref"],)):
            with mapped("delete version bundle"):
                Path(row["bundle_ref"]).unlink(missing_ok=True)

    def _bundle(self, application: str, label: str) -> bytes:
        row = self._version_row(application, label)
        if row["bundle_kind"] == "storage":
            storage = self._storage()
            if storage is None:
                raise ProviderError("the local storage family holding this version is not installed", provider=PROVIDER)
            bucket, key = row["bundle_ref"].split("/", 1)
            with storage.get_object(bucket, key) as reader:
                data = bytes(reader.read())
        else:
            with mapped("read version bundle"):
                data = Path(row["bundle_ref"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise ProviderError(f"the bundle of version {label!r} is corrupt (checksum mismatch)", provider=PROVIDER)
        return data


    def _release(self, env_id: str, generation: int, application: str, label: str) -> Path:
        dest = self.root / "envs" / env_id / "releases" / str(generation)
        data = self._bundle(application, label)
        with mapped("unpack version"):
            if dest.exists():
                shutil.rmtree(dest)
            tmp = dest.with_name(dest.name + ".part")
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
            with zipfile.ZipFile(io.BytesIO(data)) as zf:
                zf.extractall(tmp)
            tmp.rename(dest)
        return dest

