"""The storage and dns CLI groups end to end on the local provider."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cloudkit.cli import main


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "root"

    def run(*args: str, input: bytes | None = None) -> Result:
        return CliRunner().invoke(main, ["--provider", "local", "--set", f"root={root}", *args], input=input)

    return run


def test_storage_commands_round_trip(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    src = tmp_path / "report.csv"
    src.write_bytes(b"a,b\n1,2\n")
    assert cli("storage", "create-bucket", "reports").exit_code == 0
    r = cli("-o", "json", "storage", "put-object", str(src), "reports/2026/11/report.csv", "--content-type", "text/csv",
            "--meta", "owner=ops")
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["size"] == 8 and info["content_type"] == "text/csv" and info["metadata"] == {"owner": "ops"}
    assert cli("storage", "put-object", "-", "reports/stdin.txt", input=b"from stdin").exit_code == 0

    r = cli("-o", "json", "storage", "list-objects", "reports")
    keys = [row["key"] for row in json.loads(r.output)]
    assert keys == ["2026/", "stdin.txt"]
    r = cli("-o", "json", "storage", "list-objects", "reports", "--recursive")
    assert [row["key"] for row in json.loads(r.output)] == ["2026/11/report.csv", "stdin.txt"]

    r = cli("storage", "get-object", "reports/stdin.txt")
    assert r.exit_code == 0 and r.stdout_bytes == b"from stdin"
    out = tmp_path / "copy.csv"
    assert cli("storage", "get-object", "reports/2026/11/report.csv", str(out)).exit_code == 0
    assert out.read_bytes() == src.read_bytes()

    r = cli("storage", "presign-url", "reports/stdin.txt", "--expires-in", "60")
    assert r.exit_code == 0
    with urllib.request.urlopen(r.output.strip(), timeout=10) as resp:  # still served after the command ended
        assert resp.read() == b"from stdin"

    r = cli("storage", "delete-objects", "--yes", "reports/stdin.txt", "reports/2026/11/report.csv")
    assert r.exit_code == 0 and r.output.count("deleted") == 2
    assert cli("storage", "delete-bucket", "--yes", "reports").exit_code == 0
    r = cli("storage", "list-objects", "reports")
    assert r.exit_code == 1 and "NotFound" in r.output


def test_storage_bad_path_is_a_usage_error(cli) -> None:  # type: ignore[no-untyped-def]
    r = cli("storage", "get-object", "no-key-here")
    assert r.exit_code == 2 and "must be BUCKET/KEY" in r.output


def test_dns_commands_round_trip(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert cli("dns", "create-zone", "example.com").exit_code == 0
    r = cli("dns", "upsert-records", "example.com", "www", "A", "192.0.2.1", "192.0.2.2", "--ttl", "60")
    assert r.exit_code == 0, r.output
    r = cli("-o", "json", "dns", "list-records", "example.com", "--type", "A")
    assert json.loads(r.output) == [{"name": "www", "type": "A", "ttl": 60, "values": ["192.0.2.1", "192.0.2.2"]}]
    r = cli("dns", "export-zone", "example.com")
    assert r.exit_code == 0 and "www 60 IN A 192.0.2.1" in r.output
    zone_file = tmp_path / "zone.txt"
    zone_file.write_text("$ORIGIN example.com.\nmail 300 IN A 192.0.2.9\n@ 300 IN MX 10 mail\n")
    assert cli("dns", "import-zone", "example.com", str(zone_file)).exit_code == 0
    r = cli("-o", "json", "dns", "list-records", "example.com", "--name", "@", "--type", "MX")
    assert json.loads(r.output)[0]["values"] == ["10 mail.example.com."]
    assert cli("dns", "delete-records", "--yes", "example.com", "www", "A").exit_code == 0
    r = cli("dns", "upsert-records", "example.com", "bad", "A", "300.1.1.1")
    assert r.exit_code == 2 and "IPv4" in r.output
    r = cli("dns", "delete-zone", "--yes", "example.com")
    assert r.exit_code == 1 and "Conflict" in r.output
    assert cli("dns", "delete-zone", "--yes", "example.com", "--force").exit_code == 0
