"""Start-up stays light: ``import cloudkit`` and ``connect("local").storage`` load only what storage needs.

The timing itself is measured by ``bench/bench_startup.py``; these tests pin the structure that
makes it fast (lazy exports, entry points read without :mod:`importlib.metadata`) and check that
every public name is still importable.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import cloudkit
import cloudkit.models
import cloudkit.services
from cloudkit import plugins

PROBE = """
import json, sys
import cloudkit
after_import = sorted(sys.modules)
cloudkit.connect("local").storage
print(json.dumps({"after_import": after_import, "after_storage": sorted(sys.modules)}))
"""

#: Modules a storage-only local program must not load.
NOT_FOR_STORAGE = (
    "importlib.metadata",
    "cloudkit.models.compute",
    "cloudkit.models.dns",
    "cloudkit.models.notification",
    "cloudkit.models.database",
    "cloudkit.models.platform",
    "cloudkit.services.compute",
    "cloudkit.services.dns",
    "tomllib",
    "difflib",
    "shutil",
    "tempfile",
    "concurrent.futures",
    "boto3",
    "libcloud",
)


def _probe(tmp_path: Path, config_text: str = "") -> dict[str, list[str]]:
    config = tmp_path / "cloudkit.toml"
    config.write_text(config_text)
    env = dict(os.environ, CLOUDKIT_LOCAL_ROOT=str(tmp_path / "root"), CLOUDKIT_CONFIG=str(config))
    env.pop("CLOUDKIT_PROFILE", None)
    env.pop("CLOUDKIT_PROVIDER", None)
    out = subprocess.run([sys.executable, "-c", PROBE], env=env, check=True, capture_output=True, text=True, timeout=120)
    loaded: dict[str, list[str]] = json.loads(out.stdout)
    return loaded


def test_import_cloudkit_loads_no_family(tmp_path: Path) -> None:
    loaded = _probe(tmp_path)
    ours = [m for m in loaded["after_import"] if m.startswith("cloudkit")]
    assert ours == ["cloudkit", "cloudkit.models"], ours
    assert "pluggy" not in loaded["after_import"] and "attrs" not in loaded["after_import"]


def test_storage_loads_only_what_storage_needs(tmp_path: Path) -> None:
    loaded = set(_probe(tmp_path)["after_storage"])
    assert "cloudkit_local.storage" in loaded and "cloudkit.services.storage" in loaded
    assert sorted(loaded & set(NOT_FOR_STORAGE)) == []


@pytest.mark.parametrize("module", [cloudkit, cloudkit.models, cloudkit.services])
def test_every_public_name_is_importable(module: object) -> None:
    names = module.__all__  # type: ignore[attr-defined]
    assert len(names) == len(set(names))
    for name in names:
        value = getattr(module, name)
        assert value is not None, name
        assert name in dir(module)
    with pytest.raises(AttributeError):
        module.no_such_name  # type: ignore[attr-defined]  # noqa: B018


def test_star_import_and_identity() -> None:
    namespace: dict[str, object] = {}
    exec("from cloudkit import *", namespace)
    assert set(cloudkit.__all__) <= set(namespace)
    from cloudkit.models.storage import Bucket
    from cloudkit.services.storage import StorageService

    assert namespace["Bucket"] is cloudkit.Bucket is cloudkit.models.Bucket is Bucket
    assert namespace["StorageService"] is cloudkit.StorageService is StorageService


def test_families_mapping_imports_interfaces_on_lookup() -> None:
    from cloudkit.services.dns import DNSService

    families = cloudkit.services.FAMILIES
    assert list(families) == ["compute", "storage", "dns", "notification", "database", "platform", "loadbalancer"]
    assert "dns" in families and "nope" not in families and len(families) == 7
    assert families["dns"] is DNSService
    assert dict(families.items())["storage"] is cloudkit.StorageService
    with pytest.raises(KeyError):
        families["nope"]


def test_state_fields_are_built_on_first_use() -> None:
    from cloudkit.models.compute import INSTANCE_STATES, Instance

    assert cloudkit.models.STATE_FIELDS[(Instance, "state")] == INSTANCE_STATES
    assert len(cloudkit.models.STATE_FIELDS) == 18


def test_a_model_missing_from_the_table_is_still_found(monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit.models.dns import Zone

    monkeypatch.delitem(cloudkit.models.__dict__, "Zone", raising=False)
    monkeypatch.delitem(cloudkit.models._MODULES, "Zone")
    assert cloudkit.models.Zone is Zone


def test_entry_point_reader_agrees_with_importlib_metadata() -> None:
    files = plugins._entry_point_files()
    assert files is not None
    ours = []
    for path in files:
        text = Path(path).read_text(encoding="utf-8")
        ours.extend(plugins._group_entries(text, plugins.ENTRY_POINT_GROUP))
    theirs = [(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)]
    assert sorted(set(ours)) == sorted(set(theirs))
    assert ("local", "cloudkit_local.plugin:plugin") in ours


def test_entry_point_sections_are_parsed_strictly() -> None:
    text = (
        "[console_scripts]\nlocal = not.this:one\n\n"
        "[cloudkit]\n# a comment\nacme = acme_pkg.plugin:plugin [extra]\n; another\nbare = acme_pkg.bare\n"
        "[cloudkit.other]\nnope = x:y\n"
    )
    assert plugins._group_entries(text, "cloudkit") == [("acme", "acme_pkg.plugin:plugin"), ("bare", "acme_pkg.bare")]


def test_a_zip_on_sys_path_falls_back_to_pluggy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("empty.txt", "")
    monkeypatch.setattr(sys, "path", [*sys.path, str(archive)])
    assert plugins._entry_point_files() is None
    calls: list[str] = []

    class FakeManager:
        def load_setuptools_entrypoints(self, group: str) -> int:
            calls.append(group)
            return 0

    plugins._load_entry_points(FakeManager())  # type: ignore[arg-type]
    assert calls == ["cloudkit"]


def test_fresh_manager_registers_entry_point_plugins_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(plugins, "_pm", None)
    monkeypatch.setattr(plugins, "_loaded", False)
    pm = plugins.plugin_manager()
    names = dict(pm.list_name_plugin())
    expected = {ep.name for ep in importlib.metadata.entry_points(group=plugins.ENTRY_POINT_GROUP)}
    assert expected <= set(names)
    before = len(pm.get_plugins())
    plugins._load_entry_points(pm)  # a second read skips what is registered
    assert len(pm.get_plugins()) == before


def test_family_properties_build_each_service_once(tmp_path: Path) -> None:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as cloud:
        assert cloud.storage is cloud.service("storage") is cloud._get("storage", cloudkit.StorageService)
        assert isinstance(cloud.dns, cloudkit.DNSService)
