"""Local load balancer tests: skipped without HAProxy; every HAProxy the tests started is stopped at the end."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(autouse=True, scope="session")
def _stop_test_load_balancers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A failed test may leave a load balancer behind: stop its HAProxy and remove its folder."""
    yield
    import shutil

    from cloudkit_local import _haproxy

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
