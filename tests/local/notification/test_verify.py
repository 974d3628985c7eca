"""cloudkit.verify on its own: SNS's signed string, signature versions 1 and 2, SNS certificate URLs."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from cloudkit.verify import SNSCertificates, TrustedCertificate, VerificationError, string_to_sign, verify_envelope

URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789.pem"


def _key_and_cert(days: int = 1) -> tuple[Any, bytes]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = datetime.now(UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now - timedelta(days=2)).not_valid_after(now + timedelta(days=days))
            .sign(key, hashes.SHA256()))
    return key, cert.public_bytes(serialization.Encoding.PEM)


def _signed(key: Any, version: str, **fields: str) -> dict[str, str]:
    env = {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:eu-west-1:123:t", "Message": "hi",
           "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"), "SignatureVersion": version,
           "SigningCertURL": URL, **fields}
    algorithm = hashes.SHA1() if version == "1" else hashes.SHA256()
    env["Signature"] = base64.b64encode(key.sign(string_to_sign(env), padding.PKCS1v15(), algorithm)).decode()
    return env


def test_string_to_sign_is_snss() -> None:
    env = {"Type": "Notification", "MessageId": "id", "TopicArn": "arn", "Message": "body", "Timestamp": "t", "Subject": "s"}
    assert string_to_sign(env) == b"Message\nbody\nMessageId\nid\nSubject\ns\nTimestamp\nt\nTopicArn\narn\nType\nNotification\n"
    del env["Subject"]
    assert b"Subject" not in string_to_sign(env)
    with pytest.raises(VerificationError, match="Type"):
        string_to_sign({"Type": "Gossip"})


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_certificates_are_fetched_once_and_checked(version: str) -> None:
    key, pem = _key_and_cert()
    fetched: list[str] = []

    def fetch(url: str) -> bytes:
        fetched.append(url)
        return pem

    source = SNSCertificates(fetch)
    assert verify_envelope(_signed(key, version), source)["Message"] == "hi"
    assert verify_envelope(_signed(key, version, Subject="again"), source)["Subject"] == "again"
    assert fetched == [URL]
    other, _ = _key_and_cert()
    with pytest.raises(VerificationError, match="does not match"):
        verify_envelope(_signed(other, version), source)


@pytest.mark.parametrize("url", [
    "http://sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com.evil.example/cert.pem",
    "https://evil.example/sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com:8443/cert.pem",
    "https://user@sns.eu-west-1.amazonaws.com/cert.pem",
    "https://sns.eu-west-1.amazonaws.com/cert.txt",
])
def test_untrusted_certificate_urls_are_refused_without_fetching(url: str) -> None:
    key, _ = _key_and_cert()

    def fetch(u: str) -> bytes:
        raise AssertionError("must not fetch")

    with pytest.raises(VerificationError, match="not an SNS certificate URL"):
        verify_envelope(_signed(key, "2", SigningCertURL=url), SNSCertificates(fetch))


def test_expired_certificate_and_bad_envelopes_fail() -> None:
    key, pem = _key_and_cert(days=-1)
    with pytest.raises(VerificationError, match="not valid now"):
        verify_envelope(_signed(key, "2"), SNSCertificates(lambda url: pem))
    key, pem = _key_and_cert()
    with pytest.raises(VerificationError, match="SignatureVersion"):
        verify_envelope(dict(_signed(key, "2"), SignatureVersion="3"), pem)
    with pytest.raises(VerificationError, match="JSON"):
        verify_envelope(b"{not json", pem)
    with pytest.raises(VerificationError, match="base64"):
        verify_envelope(dict(_signed(key, "2"), Signature="***"), pem)
    with pytest.raises(VerificationError, match="PEM"):
        TrustedCertificate("not a certificate")
