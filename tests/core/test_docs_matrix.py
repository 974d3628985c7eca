"""docs/providers.md tells the truth: its matrix is what the providers' code supports today."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from cloudkit.cli import main

DOC = Path(__file__).resolve().parents[2] / "docs" / "providers.md"
PROVIDERS = ["local", "aws", "libcloud:s3", "libcloud:azure_blobs", "libcloud:powerdns", "libcloud:ec2"]


def test_provider_matrix_matches_the_code() -> None:
    result = CliRunner().invoke(main, ["--set", "region=us-east-1", "capabilities", *PROVIDERS, "--markdown"])
    assert result.exit_code == 0, result.output
    text = DOC.read_text()
    table = text[text.index("| operation |"):]
    assert table == result.stdout, "docs/providers.md is stale: run `make providers-doc`"
