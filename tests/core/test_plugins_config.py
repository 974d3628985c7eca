"""The plugin contract, provider resolution, configuration and capabilities."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from acme_plugin import AcmePlugin, WildcardPlugin

import cloudkit
from cloudkit import ConfigError, InvalidInput, NotSupported
from cloudkit.config import resolve
from cloudkit.paging import paginate
from cloudkit.settings import Settings
from cloudkit.streams import as_reader


@pytest.fixture
def acme() -> Iterator[AcmePlugin]:
    plugin, wild = AcmePlugin(), WildcardPlugin()
    cloudkit.register_plugin(plugin)
    cloudkit.register_plugin(wild)
    yield plugin
    cloudkit.unregister_plugin(plugin)
    cloudkit.unregister_plugin(wild)


def test_register_plugin_and_dispatch(acme: AcmePlugin) -> None:
    assert "acme" in cloudkit.providers()
    with cloudkit.connect("acme", token="s3cr3t") as cloud:
        cloud.storage.create_bucket("bucket-one")
        cloud.storage.put_object("bucket-one", "a.txt", [b"he", b"llo"], content_type="text/plain")
        with cloud.storage.get_object("bucket-one", "a.txt") as reader:
            assert reader.read() == b"hello"
        # firstresult: the native plugin wins over the trylast fallback
        assert cloud.storage.provider == "acme"
        assert "s3cr3t" not in repr(cloud.storage.settings)


def test_capabilities_follow_the_driver_methods(acme: AcmePlugin) -> None:
    cloud = cloudkit.connect("acme")
    caps = cloud.capabilities()
    assert {"create_bucket", "put_object", "get_object", "upload_file", "download_file"} <= caps["storage"]
    assert "list_objects" not in caps["storage"] and "delete_objects" not in caps["storage"]
    assert caps["dns"] == frozenset()
    with pytest.raises(NotSupported) as info:
        list(cloud.storage.list_objects("bucket-one"))
    assert "acme" in str(info.value) and "storage.list_objects" in str(info.value)
    with pytest.raises(NotSupported, match="does not serve the dns family"):
        cloud.dns.create_zone("example.com")


def test_validation_happens_before_the_driver(acme: AcmePlugin) -> None:
    cloud = cloudkit.connect("acme")
    with pytest.raises(InvalidInput, match="key"):
        cloud.storage.put_object("bucket-one", "../x", b"")
    # unsupported *and* invalid: the input error comes first, naming the field
    with pytest.raises(InvalidInput, match="expires_in"):
        cloud.storage.presign_url("bucket-one", "k", expires_in=0)


def test_resolve_hook_serves_open_ended_names(acme: AcmePlugin) -> None:
    cloud = cloudkit.connect("wild:thing")
    assert cloud.storage.provider == "fallback"


def test_unknown_provider_lists_installed_ones() -> None:
    with pytest.raises(InvalidInput) as info:
        cloudkit.connect("nonesuch")
    assert info.value.field == "provider"
    assert "local" in str(info.value)


def test_no_profile_means_local() -> None:
    assert resolve().main.provider == "local"


def test_profiles_env_and_routing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "cloudkit.toml"
    cfg.write_text(
        'default_profile = "dev"\n'
        '[profiles.dev]\nprovider = "local"\nroot = "/tmp/dev-root"\n'
        '[profiles.prod]\nprovider = "aws"\nregion = "us-west-2"\n'
        '[profiles.prod.dns]\nprovider = "libcloud:powerdns"\nhost = "127.0.0.1"\n'
        '[profiles.prod.storage]\nendpoint_url = "http://127.0.0.1:9000"\n'
    )
    r = resolve(config_path=cfg)
    assert (r.profile, r.main.provider, r.main.settings["root"]) == ("dev", "local", "/tmp/dev-root")
    r = resolve(profile="prod", config_path=cfg, region="eu-west-1")
    assert r.main.provider == "aws" and r.main.settings["region"] == "eu-west-1"
    assert r.route("dns").provider == "libcloud:powerdns" and dict(r.route("dns").settings) == {"host": "127.0.0.1"}
    assert r.route("storage").provider == "aws" and r.route("storage").settings["endpoint_url"] == "http://127.0.0.1:9000"
    assert r.route("compute") == r.main
    monkeypatch.setenv("CLOUDKIT_PROFILE", "prod")
    monkeypatch.setenv("CLOUDKIT_PROVIDER", "local")
    r = resolve(config_path=cfg)
    assert r.profile == "prod" and r.main.provider == "local"
    with pytest.raises(InvalidInput, match=r"no profile 'nope'.*profiles: dev, prod"):
        resolve(profile="nope", config_path=cfg)


def test_config_found_in_project_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "cloudkit.toml").write_text('[profiles.x]\nprovider = "local"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    monkeypatch.delenv("CLOUDKIT_CONFIG")
    r = resolve(profile="x")
    assert r.source == str(tmp_path / "cloudkit.toml")


def test_malformed_config_names_file_and_line(tmp_path: Path) -> None:
    cfg = tmp_path / "cloudkit.toml"
    cfg.write_text('[profiles.dev]\nprovider = "local"\nroot = \n')
    with pytest.raises(ConfigError) as info:
        resolve(config_path=cfg, profile="dev")
    assert info.value.line == 3 and str(cfg) in str(info.value)
    cfg.write_text('profiles = 3\n')
    with pytest.raises(ConfigError, match="must be a table"):
        resolve(config_path=cfg, profile="dev")


def test_settings_redact_secrets() -> None:
    s = Settings({"key": "AKIAEXAMPLE", "secret": "xyz", "master_password": "pw123456", "region": "us-east-1",
                  "api_key": "k", "host": "h"})
    text = repr(s)
    for secret in ("AKIAEXAMPLE", "xyz", "pw123456"):
        assert secret not in text
    assert "us-east-1" in text and "'host': 'h'" in text
    assert s["secret"] == "xyz"


def test_streams_accept_bytes_files_and_iterables() -> None:
    reader, size = as_reader(b"abc")
    assert (reader.read(), size) == (b"abc", 3)
    reader, size = as_reader(io.BytesIO(b"xyzw"))
    assert (reader.read(), size) == (b"xyzw", 4)
    reader, size = as_reader(iter([b"a", b"", b"bc"]))
    assert (reader.read(), size) == (b"abc", None)
    with pytest.raises(InvalidInput, match="not str"):
        as_reader("text")
    with pytest.raises(InvalidInput, match="must yield bytes"):
        as_reader(iter(["a"]))[0].read()


def test_paginate_is_lazy() -> None:
    calls: list[Any] = []

    def fetch(token: Any) -> tuple[list[int], Any]:
        calls.append(token)
        page = token or 0
        return [page * 10 + i for i in range(3)], (page + 1 if page < 2 else None)

    it = paginate(fetch)
    assert calls == []
    assert next(it) == 0 and calls == [None]
    assert list(it) == [1, 2, 10, 11, 12, 20, 21, 22]
    assert calls == [None, 1, 2]


def test_import_stays_light() -> None:
    code = "import sys, cloudkit; c = cloudkit.connect('local'); print(sorted(m for m in ('boto3','botocore','libcloud') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
