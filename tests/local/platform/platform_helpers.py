"""Helpers shared by the local platform tests (imported by name: pytest puts this folder on sys.path)."""

from __future__ import annotations

import io
import zipfile


def bundle(files: dict[str, str]) -> bytes:
    """A zip source bundle holding ``files`` (name → text)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, text in files.items():
            zf.writestr(name, text)
    return buf.getvalue()
