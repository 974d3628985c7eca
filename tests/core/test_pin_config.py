"""Pins cloudkit.config exactly: file lookup, TOML errors, profile splitting and route resolution."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloudkit import ConfigError, InvalidInput
from cloudkit import config as c
from cloudkit.settings import Settings


def _write(tmp_path: Path, text: str, name: str = "cloudkit.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_constants() -> None:
    assert c.FILE_NAME == "cloudkit.toml"
    assert c.DEFAULT_PROVIDER == "local"
    assert c.FAMILY_NAMES == ("compute", "storage", "dns", "notification", "database", "platform", "loadbalancer")


def test_route_falls_back_to_main() -> None:
    main = c.Route("aws", Settings({"region": "r"}))
    dns = c.Route("libcloud:powerdns", Settings({}))
    resolved = c.Resolved(profile=None, main=main, families={"dns": dns})
    assert resolved.route("dns") is dns
    assert resolved.route("storage") is main
    assert resolved.source is None


def test_find_config_prefers_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDKIT_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert c.find_config(tmp_path) == tmp_path / "elsewhere.toml"


def test_find_config_walks_up_then_user_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDKIT_CONFIG", "")
    user = tmp_path / "user"
    user.mkdir()
    monkeypatch.setattr(c, "user_config_dir", lambda: user)
    project = tmp_path / "project"
    sub = project / "a" / "b"
    sub.mkdir(parents=True)
    assert c.find_config(sub) is None
    (user / "cloudkit.toml").write_text("")
    assert c.find_config(sub) == user / "cloudkit.toml"
    (project / "cloudkit.toml").mkdir()  # a folder of that name is not a config file
    assert c.find_config(sub) == user / "cloudkit.toml"
    (sub / "cloudkit.toml").write_text("")
    assert c.find_config(sub) == sub / "cloudkit.toml"
    monkeypatch.chdir(sub)
    assert c.find_config() == sub / "cloudkit.toml"


def test_user_config_dir_is_named_cloudkit() -> None:
    assert c.user_config_dir().name == "cloudkit"


def test_load_file_errors_name_file_line_and_rule(tmp_path: Path) -> None:
    missing = tmp_path / "missing.toml"
    with pytest.raises(ConfigError) as info:
        c.load_file(missing)
    assert (info.value.path, info.value.rule, info.value.line) == (str(missing), "cannot be read (No such file or directory)", None)
    bad = _write(tmp_path, 'a = 1\n[profiles.dev]\nroot = \n')
    with pytest.raises(ConfigError) as info:
        c.load_file(bad)
    assert (info.value.path, info.value.rule, info.value.line) == (str(bad), "is not valid TOML: Invalid value", 3)
    assert info.value.field == f"{bad}, line 3"
    bad = _write(tmp_path, "profiles = 3\n")
    with pytest.raises(ConfigError) as info:
        c.load_file(bad)
    assert (info.value.field, info.value.rule) == (str(bad), "'profiles' must be a table")
    bad = _write(tmp_path, "[profiles]\ndev = 3\n")
    with pytest.raises(ConfigError) as info:
        c.load_file(bad)
    assert (info.value.field, info.value.rule) == (str(bad), "profile 'dev' must be a table")


def test_load_file_reads_utf8(tmp_path: Path) -> None:
    path = _write(tmp_path, 'default_profile = "dév"\n[profiles."dév"]\nprovider = "local"\n')
    assert c.load_file(path) == {"default_profile": "dév", "profiles": {"dév": {"provider": "local"}}}
    assert c.load_file(_write(tmp_path, "")) == {}


def test_split_separates_provider_settings_and_families() -> None:
    table = {
        "provider": "aws",
        "region": "r",
        "dns": {"provider": "libcloud:powerdns", "host": "127.0.0.1"},
        "storage": {"endpoint_url": "http://127.0.0.1:9000"},
        "extras": {"a": 1},
        "compute": "not a table",
    }
    provider, settings, families = c._split("f.toml", "prod", table)
    assert provider == "aws"
    assert settings == {"region": "r", "extras": {"a": 1}, "compute": "not a table"}
    assert families == {"dns": {"provider": "libcloud:powerdns", "host": "127.0.0.1"}, "storage": {"endpoint_url": "http://127.0.0.1:9000"}}
    assert families["dns"] is not table["dns"]
    assert c._split("f.toml", "p", {}) == (None, {}, {})


def test_split_refuses_non_string_providers() -> None:
    with pytest.raises(ConfigError) as info:
        c._split("f.toml", "prod", {"provider": 3})
    assert (info.value.field, info.value.rule) == ("f.toml", "profiles.prod.provider must be a string")
    with pytest.raises(ConfigError) as info:
        c._split("f.toml", "prod", {"dns": {"provider": 3}})
    assert (info.value.field, info.value.rule) == ("f.toml", "profiles.prod.dns.provider must be a string")


def test_resolve_without_config_is_local() -> None:
    r = c.resolve()
    assert (r.profile, r.main.provider, dict(r.main.settings), dict(r.families)) == (None, "local", {}, {})
    assert r.source is not None  # the isolated empty file from the test fixture
    r = c.resolve("aws", region="eu-west-1", settings={"a": 1})
    assert (r.profile, r.main.provider, dict(r.main.settings), r.source) == (None, "aws", {"a": 1, "region": "eu-west-1"}, None)


def test_resolve_provider_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDKIT_PROVIDER", "aws")
    assert c.resolve().main.provider == "aws"
    assert c.resolve("libcloud:s3").main.provider == "libcloud:s3"


def test_resolve_default_profile(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(tmp_path, 'default_profile = "dev"\n[profiles.dev]\nprovider = "aws"\nregion = "r1"\n')
    r = c.resolve(config_path=cfg)
    assert (r.profile, r.main.provider, dict(r.main.settings), r.source) == ("dev", "aws", {"region": "r1"}, str(cfg))
    r = c.resolve("local", config_path=cfg)  # an explicit provider skips the default profile
    assert (r.profile, r.main.provider, dict(r.main.settings)) == (None, "local", {})
    monkeypatch.setenv("CLOUDKIT_CONFIG", str(cfg))
    assert c.resolve().profile == "dev"
    assert c.resolve("aws").source is None  # an explicit provider without profile reads no file
    bad = _write(tmp_path, "default_profile = 3\n", "bad.toml")
    with pytest.raises(ConfigError) as info:
        c.resolve(config_path=bad)
    assert (info.value.field, info.value.rule) == (str(bad), "default_profile must be a string")


def test_resolve_unknown_profile_names_the_file_and_profiles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(tmp_path, "[profiles.b]\n[profiles.a]\n")
    with pytest.raises(InvalidInput) as info:
        c.resolve(profile="nope", config_path=cfg)
    assert (info.value.field, info.value.rule) == ("profile", f"no profile 'nope' ({cfg}); profiles: a, b")
    empty = _write(tmp_path, "", "empty.toml")
    with pytest.raises(InvalidInput) as info:
        c.resolve(profile="nope", config_path=empty)
    assert info.value.rule == f"no profile 'nope' ({empty}); profiles: none"
    monkeypatch.setenv("CLOUDKIT_PROFILE", "ghost")
    with pytest.raises(InvalidInput) as info:
        c.resolve(config_path=empty)
    assert info.value.rule == f"no profile 'ghost' ({empty}); profiles: none"


def test_resolve_unknown_profile_without_any_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDKIT_CONFIG", "")
    monkeypatch.setattr(c, "user_config_dir", lambda: tmp_path / "user")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InvalidInput) as info:
        c.resolve(profile="prod")
    assert (info.value.field, info.value.rule) == ("profile", "no profile 'prod' (no cloudkit.toml found); profiles: none")


def test_resolve_family_routes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _write(
        tmp_path,
        '[profiles.prod]\nprovider = "aws"\nregion = "r1"\ntimeout = 5\n'
        '[profiles.prod.dns]\nprovider = "libcloud:powerdns"\nhost = "127.0.0.1"\n'
        '[profiles.prod.storage]\nendpoint_url = "http://127.0.0.1:9000"\ntimeout = 9\n'
        '[profiles.bare.storage]\nroot = "/x"\n',
    )
    r = c.resolve(profile="prod", config_path=cfg, settings={"retries": 2})
    assert (r.profile, r.main.provider) == ("prod", "aws")
    assert dict(r.main.settings) == {"region": "r1", "timeout": 5, "retries": 2}
    assert set(r.families) == {"dns", "storage"}
    assert r.route("dns") == c.Route("libcloud:powerdns", Settings({"host": "127.0.0.1"}))
    assert r.route("storage").provider == "aws"
    assert dict(r.route("storage").settings) == {"region": "r1", "timeout": 9, "endpoint_url": "http://127.0.0.1:9000", "retries": 2}
    r = c.resolve(profile="prod", config_path=cfg, region="r2")
    assert r.route("storage").settings["region"] == "r2" and r.main.settings["region"] == "r2"
    r = c.resolve("local", profile="prod", config_path=cfg)
    assert (r.main.provider, r.route("storage").provider, r.route("dns").provider) == ("local", "local", "libcloud:powerdns")
    monkeypatch.setenv("CLOUDKIT_PROVIDER", "libcloud:s3")
    r = c.resolve(profile="prod", config_path=cfg)
    assert (r.main.provider, r.route("storage").provider) == ("libcloud:s3", "libcloud:s3")
    monkeypatch.delenv("CLOUDKIT_PROVIDER")
    r = c.resolve(profile="bare", config_path=cfg)
    assert (r.main.provider, r.route("storage").provider, dict(r.route("storage").settings)) == ("local", "local", {"root": "/x"})
    # resolving twice gives the same routes: the file's tables are not consumed
    assert c.resolve(profile="prod", config_path=cfg).route("dns").provider == "libcloud:powerdns"


def test_resolve_names_the_file_and_profile_of_a_bad_provider(tmp_path: Path) -> None:
    cfg = _write(tmp_path, "[profiles.prod]\nprovider = 3\n")
    with pytest.raises(ConfigError) as info:
        c.resolve(profile="prod", config_path=cfg)
    assert (info.value.field, info.value.rule) == (str(cfg), "profiles.prod.provider must be a string")
