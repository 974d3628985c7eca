"""Shared by the local compute tests: a local root and a compute service that terminates what it started."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import cloudkit
from cloudkit.services.compute import ComputeService


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """The local provider's root folder for one test."""
    return tmp_path / "root"


@pytest.fixture
def compute(root: Path) -> Iterator[ComputeService]:
    """Compute on ``root``; instances outlive the program, so every one still running is terminated afterwards."""
    cloud = cloudkit.connect("local", root=str(root))
    yield cloud.compute
    for inst in cloud.compute.list_instances():
        if inst.state != "terminated":
            cloud.compute.terminate_instance(inst)
    cloud.close()
