"""Verify signed http/https notification envelopes (the SNS message format).

An ``http``/``https`` subscription receives POSTs whose JSON body is an *envelope* in the SNS
message format: ``Type`` (``Notification``, ``SubscriptionConfirmation`` or
``UnsubscribeConfirmation``), ``MessageId``, ``TopicArn``, ``Subject``, ``Message``, ``Timestamp``,
``SignatureVersion``, ``Signature`` and ``SigningCertURL`` (plus ``SubscribeURL`` and ``Token`` for
confirmations). A receiver must check the signature before trusting the message::

    from cloudkit.verify import TrustedCertificate, verify_envelope

    trust = TrustedCertificate(cloud.notification.signing_certificate())   # local provider
    envelope = verify_envelope(request_body, trust)                         # raises if forged
    print(envelope["Message"])

Where the public key comes from is a :class:`KeySource`. :class:`TrustedCertificate` pins one
certificate (the local provider's per-root certificate). :class:`SNSCertificates` fetches and
caches Amazon SNS's certificates from ``SigningCertURL`` after checking that the URL is an https
URL of a ``.pem`` file on an ``sns.<region>.amazonaws.com`` host. The string that is signed
(:func:`string_to_sign`) and signature versions 1 (SHA1) and 2 (SHA256) are SNS's.

``cryptography`` must be installed (the local provider depends on it).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from urllib.parse import urlsplit

from cloudkit.errors import CloudkitError

__all__ = [
    "KeySource",
    "SIGNED_FIELDS",
    "SNSCertificates",
    "TrustedCertificate",
    "VerificationError",
    "parse_envelope",
    "string_to_sign",
    "verify_envelope",
]

#: The fields signed for each envelope type, in the order SNS concatenates them.
SIGNED_FIELDS: Mapping[str, tuple[str, ...]] = {
    "Notification": ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    "SubscriptionConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
    "UnsubscribeConfirmation": ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"),
}

_HASHES = {"1": "sha1", "2": "sha256"}


class VerificationError(CloudkitError):
    """The envelope is malformed, too old, or its signature does not verify."""


@runtime_checkable
class KeySource(Protocol):
    """Where the public key that must have signed an envelope comes from."""

    def public_key(self, envelope: Mapping[str, Any]) -> Any:
        """The ``cryptography`` public key for ``envelope``; raise :class:`VerificationError` if untrusted."""
        ...


class TrustedCertificate:
    """A pinned signing certificate (PEM text or bytes): envelopes must be signed by its key.

    The envelope's ``SigningCertURL`` is not fetched: the key is the one given here.
    """

    def __init__(self, pem: str | bytes) -> None:
        from cryptography import x509

        data = pem.encode("ascii") if isinstance(pem, str) else pem
        try:
            self.certificate = x509.load_pem_x509_certificate(data)
        except ValueError as exc:
            raise VerificationError(f"not a PEM certificate: {exc}") from exc

    def public_key(self, envelope: Mapping[str, Any]) -> Any:
        """The pinned certificate's public key (the same for every envelope)."""
        return self.certificate.public_key()

    def __repr__(self) -> str:
        return f"<TrustedCertificate subject={self.certificate.subject.rfc4514_string()!r}>"


_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


def _https_get(url: str, timeout: float) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=timeout) as resp:
        data: bytes = resp.read(65536)
        return data


class SNSCertificates:
    """Amazon SNS's signing certificates, fetched from ``SigningCertURL`` and cached.

    The URL must be ``https://sns.<region>.amazonaws.com[.cn]/<name>.pem`` (no other host, port,
    user or scheme); the certificate must be valid now. ``fetch(url) -> bytes`` replaces the HTTPS
    download (for tests or a proxy).
    """

    def __init__(self, fetch: Callable[[str], bytes] | None = None, *, timeout: float = 10.0) -> None:
        self._fetch = fetch or (lambda url: _https_get(url, timeout))
        self._cache: dict[str, Any] = {}
        self._lock = threading.Lock()

    @staticmethod
    def check_url(url: object) -> str:
        """``url`` if it is an acceptable SNS certificate URL, else :class:`VerificationError`."""
        if not isinstance(url, str):
            raise VerificationError("envelope lacks SigningCertURL")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError as exc:
            raise VerificationError(f"SigningCertURL is not a URL: {exc}") from exc
        if (parts.scheme != "https" or not parts.hostname or not _SNS_HOST.match(parts.hostname)
                or port not in (None, 443) or parts.username or parts.password or not parts.path.endswith(".pem")):
            raise VerificationError(f"SigningCertURL {url!r} is not an SNS certificate URL")
        return url

    def public_key(self, envelope: Mapping[str, Any]) -> Any:
        """The public key of the certificate ``envelope`` names (fetched once per URL)."""
        url = self.check_url(envelope.get("SigningCertURL"))
        with self._lock:
            cert = self._cache.get(url)
        if cert is None:
            try:
                pem = self._fetch(url)
            except Exception as exc:  # any download failure means: cannot verify
                raise VerificationError(f"cannot fetch {url}: {type(exc).__name__}: {exc}") from exc
            cert = TrustedCertificate(pem).certificate
            with self._lock:
                self._cache[url] = cert
        now = datetime.now(UTC)
        if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
            raise VerificationError(f"the certificate at {url} is not valid now")
        return cert.public_key()


def parse_envelope(body: bytes | str | Mapping[str, Any]) -> dict[str, Any]:
    """The envelope as a dict (from the raw POST body or an already parsed mapping)."""
    if isinstance(body, Mapping):
        data: Any = dict(body)
    else:
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise VerificationError(f"envelope is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise VerificationError("envelope must be a JSON object")
    return data


def string_to_sign(envelope: Mapping[str, Any]) -> bytes:
    """The canonical string SNS signs: ``Name\\nvalue\\n`` for each signed field present, in order."""
    kind = envelope.get("Type")
    fields = SIGNED_FIELDS.get(kind) if isinstance(kind, str) else None
    if fields is None:
        raise VerificationError(f"unknown envelope Type {kind!r}; expected one of {', '.join(SIGNED_FIELDS)}")
    parts: list[str] = []
    for name in fields:
        value = envelope.get(name)
        if value is None:
            if name == "Subject":  # optional, left out when absent
                continue
            raise VerificationError(f"envelope lacks the signed field {name}")
        if not isinstance(value, str):
            raise VerificationError(f"envelope field {name} must be a string")
        parts.append(f"{name}\n{value}\n")
    return "".join(parts).encode("utf-8")


def verify_envelope(
    body: bytes | str | Mapping[str, Any],
    keys: KeySource | str | bytes,
    *,
    max_age: timedelta | None = timedelta(hours=1),
    now: datetime | None = None,
) -> dict[str, Any]:
    """Check an envelope's signature (and age) and return it as a dict.

    ``keys`` is a :class:`KeySource` or a PEM certificate to pin. ``max_age`` rejects envelopes
    whose ``Timestamp`` is older (replays); ``None`` skips that check. Raises
    :class:`VerificationError` on any failure.
    """
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    envelope = parse_envelope(body)
    source = keys if isinstance(keys, KeySource) else TrustedCertificate(keys)
    version = envelope.get("SignatureVersion")
    if version not in _HASHES:
        raise VerificationError(f"unsupported SignatureVersion {version!r} (supported: 1, 2)")
    signature_text = envelope.get("Signature")
    if not isinstance(signature_text, str):
        raise VerificationError("envelope lacks Signature")
    try:
        signature = base64.b64decode(signature_text, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError("Signature is not base64") from exc
    message = string_to_sign(envelope)
    key = source.public_key(envelope)
    if not isinstance(key, rsa.RSAPublicKey):
        raise VerificationError("signing key must be an RSA key")
    algorithm = hashes.SHA1() if _HASHES[version] == "sha1" else hashes.SHA256()
    try:
        key.verify(signature, message, padding.PKCS1v15(), algorithm)
    except InvalidSignature as exc:
        raise VerificationError("signature does not match the envelope") from exc
    if max_age is not None:
        stamp = envelope.get("Timestamp")
        try:
            when = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError as exc:
            raise VerificationError(f"Timestamp {stamp!r} is not ISO 8601") from exc
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        if (now or datetime.now(UTC)) - when > max_age:
            raise VerificationError(f"envelope is older than {max_age} (Timestamp {stamp})")
    return envelope
