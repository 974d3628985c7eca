"""Every libcloud cassette is free of credentials, signatures and private keys."""

from __future__ import annotations

from pathlib import Path

import lc_harness as h
import lc_servers
import pytest

#: What must never be in a cassette: the test credentials (even fake ones stand for real ones).
FORBIDDEN = [
    lc_servers.AZURITE_KEY,
    "ck-test-api-key",
    "testing-secret-key",
    "SharedKey ",
    "Credential=",
    "X-Amz-Signature=",
    "&sig=",
]


def _cassettes() -> list[Path]:
    return sorted(h.CASSETTES.rglob("*.yaml"))


def test_there_are_cassettes_to_scan() -> None:
    assert len(_cassettes()) >= 100


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: str(p.relative_to(h.CASSETTES)))
def test_cassette_holds_no_secret(path: Path) -> None:
    text = path.read_text(encoding="utf-8", errors="replace")
    for needle in FORBIDDEN:
        assert needle not in text, f"{needle!r} found in {path.name}"
    assert "PRIVATE KEY-----\nMII" not in text and "PRIVATE KEY-----\\nMII" not in text
    for header in ("authorization:", "x-api-key:", "Authorization:", "X-API-Key:"):
        assert f"\n      {header}" not in text
