"""The pytest plugin behind the conformance kit (registered through the ``pytest11`` entry point).

It adds ``--cloudkit-profile`` and ``--cloudkit-provider`` and the ``cloudkit_cloud`` fixture the
suites use. A provider's own test suite may override ``cloudkit_cloud`` in its ``conftest.py``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cloudkit


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("cloudkit", "cloudkit conformance kit")
    group.addoption("--cloudkit-profile", default=None, help="cloudkit.toml profile the conformance suites run against")
    group.addoption("--cloudkit-provider", default=None, help="provider the conformance suites run against (default: local)")


@pytest.fixture
def cloudkit_cloud(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    """A connected :class:`cloudkit.Cloud` for the conformance suites.

    Uses ``--cloudkit-profile`` or ``--cloudkit-provider``; with neither, a local provider rooted
    in a fresh temporary folder.
    """
    profile = request.config.getoption("--cloudkit-profile")
    provider = request.config.getoption("--cloudkit-provider")
    if profile or provider:
        cloud = cloudkit.connect(provider, profile=profile)
    else:
        cloud = cloudkit.connect("local", root=str(tmp_path / "cloudkit-root"))
    try:
        yield cloud
    finally:
        cloud.close()


@pytest.fixture(autouse=True)
def _cloudkit_deterministic_names(request: pytest.FixtureRequest) -> Iterator[None]:
    """Seed :func:`cloudkit.testing.unique_name` with the test's id (stable names for cassettes)."""
    from cloudkit.testing.helpers import seed_names

    seed_names(request.node.nodeid)
    yield
    seed_names(None)
