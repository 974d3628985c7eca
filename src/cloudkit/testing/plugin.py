"""The pytest plugin behind the conformance kit (registered through the ``pytest11`` entry point).

It adds ``--cloudkit-profile``, ``--cloudkit-provider`` and ``--cloudkit-many-keys`` and the
``cloudkit_cloud`` fixture the suites use. A provider's own test suite may override ``cloudkit_cloud`` in its ``conftest.py``.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

import cloudkit
from cloudkit.errors import CloudkitError, ProviderError


def pytest_addoption(parser: pytest.Parser) -> None:
    """The kit's command-line options (group ``cloudkit`` in ``pytest --help``)."""
    group = parser.getgroup("cloudkit", "cloudkit conformance kit")
    group.addoption("--cloudkit-profile", default=None, help="cloudkit.toml profile the conformance suites run against")
    group.addoption("--cloudkit-provider", default=None, help="provider the conformance suites run against (default: local)")
    group.addoption("--cloudkit-many-keys", action="store_true", default=False,
                    help="also list more than 1000 keys (1000+ uploads; always on for the local provider)")


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


#: How the core words a driver result of the wrong type (src/cloudkit/calls.py).
_WRONG_TYPE = re.compile(r"\._\w+\) (?:returned|yielded(?: \(item \d+\))?) \w+, not ")


def _boundary_error(exc: BaseException | None) -> ProviderError | None:
    """The ``ProviderError`` the core made of a driver's foreign exception or wrong result, if any in the chain."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, ProviderError):
            cause = exc.__cause__
            if (cause is not None and not isinstance(cause, CloudkitError)) or _WRONG_TYPE.search(exc.message):
                return exc
        exc = exc.__cause__ or exc.__context__
    return None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    """Explain a failure that comes from a driver breaking the core's boundary (a report section)."""
    report = yield
    if report.failed and call.excinfo is not None:
        err = _boundary_error(call.excinfo.value)
        if err is not None:
            cause = err.__cause__
            what = (f"raised {type(cause).__module__}.{type(cause).__qualname__}, not a cloudkit error"
                    if cause is not None and not isinstance(cause, CloudkitError) else "returned a value of the wrong type")
            report.sections.append((
                "cloudkit conformance kit",
                f"The provider's driver method {what}:\n  {err.message}\n"
                "A driver method raises only cloudkit errors (map native errors in one place, keep them as __cause__) "
                "and returns what the public method is annotated to return (docs/plugins.md, driver methods).",
            ))
    return report
