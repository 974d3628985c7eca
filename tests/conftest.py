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


@pytest.fixture(autouse=True, scope="session")
def _stop_test_load_balancers(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """Local load balancers outlive their service by design; stop the ones a failed test left behind."""
    yield
    import json
    import shutil
    import sqlite3
    from pathlib import Path

    try:
        from cloudkit_local import _haproxy
    except ImportError:
        return
    binary = _haproxy.find(None)
    for db in tmp_path_factory.getbasetemp().rglob("lb.sqlite3"):
        try:
            with sqlite3.connect(db) as conn:
                records = [json.loads(r[0]) for r in conn.execute("SELECT record FROM lbs")]
        except sqlite3.Error:
            continue
        for rec in records:
            if binary is not None:
                _haproxy.Process(binary, Path(rec["folder"])).stop()
            shutil.rmtree(rec["folder"], ignore_errors=True)
