"""Every aws cassette is free of keys, signatures, tokens and account ids."""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import _harness as h
import pytest

#: What must never be in a cassette, with the reason printed when found.
PATTERNS: dict[str, re.Pattern[str]] = {
    "access key id": re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|AGPA|ANPA)[A-Z0-9]{12,}\b"),
    "authorization header": re.compile(r"(?im)^\s*-?\s*['\"]?authorization['\"]?\s*:"),
    "SigV4 credential scope": re.compile(r"AWS4-HMAC-SHA256\s+Credential=|X-Amz-Credential=", re.IGNORECASE),
    "signature": re.compile(r"(?i)\b(?:x-amz-signature|signature)=[0-9A-Za-z%/+=]{16,}"),
    "session token": re.compile(r"(?i)x-amz-security-token|\bFQoGZXIvYXdz|\bIQoJb3JpZ2lu"),
    "secret key field": re.compile(r"(?i)aws_secret_access_key|SecretAccessKey\s*[:=]|<SecretAccessKey>"),
    "access key field": re.compile(r"(?i)AWSAccessKeyId=|aws_access_key_id\s*[:=]"),
    "moto's account id": re.compile(re.escape(h.MOTO_ACCOUNT)),
    "private key": re.compile(r"-----BEGIN (?:RSA |EC |OPENSSH )?PRIVATE KEY-----"),
}


def findings(text: str, extra_secrets: tuple[str, ...] = ()) -> list[str]:
    """The reasons ``text`` must not be stored (empty when it is clean)."""
    found = [name for name, pattern in PATTERNS.items() if pattern.search(text)]
    found += ["the secret in the environment" for s in extra_secrets if s and len(s) >= 16 and s in text]
    return found


def _cassettes() -> list[Path]:
    return sorted(p for p in h.CASSETTES.rglob("*") if p.suffix in (".yaml", ".yml", ".json", ".gz"))


def _text(path: Path) -> str:
    data = path.read_bytes()
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return data.decode("utf-8", "replace")


def test_there_are_cassettes_to_scan() -> None:
    assert len(_cassettes()) >= 15


@pytest.mark.parametrize("path", _cassettes(), ids=lambda p: str(p.relative_to(h.CASSETTES)))
def test_cassette_holds_no_secret(path: Path) -> None:
    env_secrets = tuple(os.environ.get(n, "") for n in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"))
    bad = findings(_text(path), env_secrets)
    assert not bad, f"{path.relative_to(h.ROOT)} contains: {', '.join(bad)}"


# AWS's documented example key id, assembled so the file itself holds no key-shaped text.
EXAMPLE_KEY_ID = "AKIA" + "IOSFODNN7EXAMPLE"


@pytest.mark.parametrize(
    "sample",
    [
        "uri: https://s3.amazonaws.com/b/k?X-Amz-Credential=" + EXAMPLE_KEY_ID + "%2F20261126",
        "headers:\n  Authorization:\n  - AWS4-HMAC-SHA256 Credential=testing/20261126/us-east-1/s3/aws4_request",
        "uri: http://127.0.0.1/b/k?AWSAccessKeyId=testing&Signature=VaEmCP3rXK64YaEZqNSSIVq8q7o%3D",
        "body: <OwnerId>123456789012</OwnerId>",
        "KeyMaterial: '-----BEGIN RSA PRIVATE KEY-----\\nMIIE'",
    ],
)
def test_the_scan_catches_what_it_looks_for(sample: str) -> None:
    assert findings(sample)


def test_the_scan_passes_clean_text() -> None:
    assert findings("uri: http://127.0.0.1:4566/ck-bucket/key?list-type=2\nOwnerId: 000000000000") == []
