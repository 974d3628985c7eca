"""Shared test configuration: every test gets its own local root and no stray cloudkit.toml."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_cloudkit(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    root = tmp_path_factory.mktemp("cloudkit-root")
    monkeypatch.setenv("CLOUDKIT_LOCAL_ROOT", str(root))
    monkeypatch.delenv("CLOUDKIT_PROFILE", raising=False)
    monkeypatch.delenv("CLOUDKIT_PROVIDER", raising=False)
    empty = root / "empty-cloudkit.toml"
    empty.write_text("")
    monkeypatch.setenv("CLOUDKIT_CONFIG", str(empty))


@pytest.fixture(autouse=True, scope="session")
def _stop_presign_endpoints(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Local presigned-URL endpoints outlive their service by design; end the tests' ones with the session."""
    yield
    try:
        from cloudkit_local._presign import ENDPOINT_FILE, stop_endpoint
    except ImportError:
        return
    for found in tmp_path_factory.getbasetemp().rglob(ENDPOINT_FILE):
        stop_endpoint(found.parent)
