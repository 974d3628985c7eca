"""fsspec's own abstract test suites on the cloudkit filesystem over the aws provider.

Replayed from cassettes recorded against moto (``CLOUDKIT_RECORD=1`` re-records), wired as
tests/contrib/test_fsspec_abstract.py wires them on the local provider: the bucket is the test
path, paths join with ``/``, and object stores have no empty directories.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import fsspec.tests.abstract as abstract
import pytest

import cloudkit

fs_module = pytest.importorskip("cloudkit_contrib.fs", reason="cloudkit-contrib is not installed")

BUCKET = "fsspec-abstract-aws"


class AwsFixtures(abstract.AbstractFixtures):  # type: ignore[misc]
    """The fixtures fsspec's suites need, on the test's aws cloud (its own cassette)."""

    @pytest.fixture
    def fs(self, aws_cloud: cloudkit.Cloud) -> object:
        aws_cloud.storage.create_bucket(BUCKET)
        return fs_module.CloudkitFileSystem(cloud=aws_cloud, skip_instance_cache=True)

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


class TestAwsFsspecCopy(abstract.AbstractCopyTests, AwsFixtures):  # type: ignore[misc]
    """fsspec's copy suite on aws."""


class TestAwsFsspecGet(abstract.AbstractGetTests, AwsFixtures):  # type: ignore[misc]
    """fsspec's get suite on aws."""


class TestAwsFsspecPut(abstract.AbstractPutTests, AwsFixtures):  # type: ignore[misc]
    """fsspec's put suite on aws."""


class TestAwsFsspecPipe(abstract.AbstractPipeTests, AwsFixtures):  # type: ignore[misc]
    """fsspec's pipe suite on aws."""


class TestAwsFsspecOpen(abstract.AbstractOpenTests, AwsFixtures):  # type: ignore[misc]
    """fsspec's open suite on aws."""
