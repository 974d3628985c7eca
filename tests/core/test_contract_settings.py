"""Settings are declared by each provider and checked by the core: names, types, CLI and profiles, docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

import cloudkit
from cloudkit import InvalidInput
from cloudkit.cli import main, settings_markdown
from cloudkit.settings import Setting, check_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"
DOC_PROVIDERS = ["local", "aws", "libcloud:s3", "libcloud:azure_blobs", "libcloud:powerdns", "libcloud:ec2"]
BEGIN, END = "<!-- settings:begin -->\n", "<!-- settings:end -->"


@pytest.mark.parametrize(("provider", "typo", "closest"), [
    ("local", "rooot", "root"),
    ("aws", "regoin", "region"),
    ("libcloud:powerdns", "prot", "port"),
])
def test_misspelt_setting_names_the_closest_valid_one(provider: str, typo: str, closest: str) -> None:
    with pytest.raises(InvalidInput) as info:
        cloudkit.connect(provider, **{typo: "x"})
    assert info.value.field == typo
    assert f"did you mean {closest!r}" in info.value.rule


def test_unknown_setting_without_close_match_lists_valid_ones() -> None:
    with pytest.raises(InvalidInput, match=r"unknown setting for provider 'local' \(settings: .*root"):
        cloudkit.connect("local", zzzzzz=1)


def test_text_values_take_the_declared_type() -> None:
    with cloudkit.connect("libcloud:powerdns", port="5481", secure="false", timeout="2.5", key="k") as cloud:
        got = cloud._resolved.main.settings
    assert (got["port"], got["secure"], got["timeout"]) == (5481, False, 2.5)
    with pytest.raises(InvalidInput) as info:
        cloudkit.connect("libcloud:powerdns", port="http")
    assert info.value.field == "port" and "integer" in info.value.rule


def test_cli_set_values_are_typed_by_the_declaration(tmp_path: Path) -> None:
    # Before: "port: must be a TCP port number" because the value stayed the text "5481".
    result = CliRunner().invoke(main, ["--provider", "libcloud:powerdns", "--set", "port=5481", "--set", "host=127.0.0.1",
                                       "--set", "key=k", "--set", "retry_timeout=0", "--set", "timeout=0.5",
                                       "capabilities", "libcloud:powerdns"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["--provider", "local", "--set", f"rooot={tmp_path}", "storage", "list-buckets"])
    assert result.exit_code == 2 and "did you mean 'root'" in result.output


def test_profiles_are_checked_too(tmp_path: Path) -> None:
    config = tmp_path / "cloudkit.toml"
    config.write_text('[profiles.dev]\nprovider = "local"\nroot = "x"\n[profiles.dev.dns]\nprovider = "aws"\nregoin = "eu-west-1"\n')
    with pytest.raises(InvalidInput) as info:
        cloudkit.connect(profile="dev", config_file=config)
    assert info.value.field == "regoin" and "'region'" in info.value.rule
    assert "profile 'dev'" in info.value.rule and str(config) in info.value.rule


def test_credentials_stay_refused_and_secrets_are_not_echoed() -> None:
    with pytest.raises(InvalidInput, match="credentials are never taken"):
        cloudkit.connect("aws", aws_secret_access_key="AKIAsecretvalue")
    with pytest.raises(InvalidInput) as info:
        check_settings("p", [Setting("smtp_password", "int")], {"smtp_password": "hunter2"})
    assert "hunter2" not in str(info.value)


def test_pattern_settings_and_undeclared_providers_pass() -> None:
    got = check_settings("aws", [Setting("*_endpoint_url", "str")], {"s3_endpoint_url": "http://127.0.0.1:1"})
    assert got["s3_endpoint_url"] == "http://127.0.0.1:1"
    assert cloudkit.ProviderInfo(name="x", families=set()).settings is None


def test_docs_list_every_providers_settings() -> None:
    text = DOC.read_text()
    section = text[text.index(BEGIN) + len(BEGIN):text.index(END)]
    assert section == settings_markdown(DOC_PROVIDERS), (
        "docs/configuration.md is stale: paste `cloudkit settings --markdown " + " ".join(DOC_PROVIDERS)
        + "` between the settings markers")
