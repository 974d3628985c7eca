"""fsspec's own abstract test suites (copy, get, put, pipe, open) on the cloudkit filesystem over the local provider.

Wired as s3fs wires them: the bucket is the test path, paths join with ``/``, and object stores
have no empty directories.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import fsspec.tests.abstract as abstract
import pytest
from cloudkit_contrib.fs import CloudkitFileSystem

import cloudkit

BUCKET = "fsspec-abstract"


class CloudkitFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    """The fixtures fsspec's suites need, on a local cloud of each test's own."""

    @pytest.fixture
    def _cloud(self, tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudkit.Cloud]:
        with cloudkit.connect("local", root=str(tmp_path_factory.mktemp("fsspec-root"))) as c:
            c.storage.create_bucket(BUCKET)
            yield c

    @pytest.fixture
    def fs(self, _cloud: cloudkit.Cloud) -> CloudkitFileSystem:
        return CloudkitFileSystem(cloud=_cloud)

    @pytest.fixture
    def fs_join(self) -> Callable[..., str]:
        return lambda *args: "/".join(args)

    @pytest.fixture
    def fs_path(self) -> str:
        return BUCKET

    @pytest.fixture
    def supports_empty_directories(self) -> bool:
        return False

    @pytest.fixture
    def local_path(self, tmp_path: Path) -> str:
        return str(tmp_path)


class TestCloudkitCopy(abstract.AbstractCopyTests, CloudkitFixtures):  # type: ignore[misc]
    """fsspec's copy suite."""


class TestCloudkitGet(abstract.AbstractGetTests, CloudkitFixtures):  # type: ignore[misc]
    """fsspec's get suite."""


class TestCloudkitPut(abstract.AbstractPutTests, CloudkitFixtures):  # type: ignore[misc]
    """fsspec's put suite."""


class TestCloudkitPipe(abstract.AbstractPipeTests, CloudkitFixtures):  # type: ignore[misc]
    """fsspec's pipe suite."""


class TestCloudkitOpen(abstract.AbstractOpenTests, CloudkitFixtures):  # type: ignore[misc]
    """fsspec's open suite."""
