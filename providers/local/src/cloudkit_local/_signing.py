"""The per-root key pair that signs http/https notification envelopes (SNS signature version 2).

The private key lives in ``<root>/notification/signing-key.pem`` (mode 0600) and a self-signed
X.509 certificate for it in ``signing-cert.pem``; receivers pin that certificate and check
envelopes with :func:`cloudkit.verify.verify_envelope`.
"""

from __future__ import annotations

import base64
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from cloudkit.verify import string_to_sign
from cloudkit_local._root import write_atomic
from cloudkit_local.errors import mapped

_lock = threading.Lock()


class Signer:
    """Signs envelopes with the root's key; creates the key pair on first use."""

    def __init__(self, folder: Path) -> None:
        self.key_path = folder / "signing-key.pem"
        self.cert_path = folder / "signing-cert.pem"
        with _lock, mapped("load the notification signing key"):
            if not self.key_path.exists() or not self.cert_path.exists():
                self._create()
            self._key: Any = serialization.load_pem_private_key(self.key_path.read_bytes(), password=None)
            self.certificate_pem = self.cert_path.read_text("ascii")

    def _create(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cloudkit local notifications")])
        now = datetime.now(UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=3650))
            .sign(key, hashes.SHA256())
        )
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        # The certificate first: a key file on disk always has its certificate beside it.
        write_atomic(self.cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
        write_atomic(self.key_path, pem)

    @property
    def cert_url(self) -> str:
        """Where the certificate is (``SigningCertURL``)."""
        return self.cert_path.as_uri()

    def sign(self, envelope: dict[str, Any]) -> dict[str, Any]:
        """Add ``SignatureVersion``, ``Signature`` and ``SigningCertURL`` to ``envelope``."""
        envelope["SignatureVersion"] = "2"
        envelope["SigningCertURL"] = self.cert_url
        signature = self._key.sign(string_to_sign(envelope), padding.PKCS1v15(), hashes.SHA256())
        envelope["Signature"] = base64.b64encode(signature).decode("ascii")
        return envelope

    def __repr__(self) -> str:
        return f"<Signer cert={str(self.cert_path)!r}>"
