"""The compute conformance suite, run on the local provider (bubblewrap sandboxes)."""

from __future__ import annotations

import shutil

import pytest

from cloudkit.testing.compute import ComputeConformance

pytestmark = pytest.mark.skipif(not shutil.which("bwrap"), reason="bubblewrap (Debian package 'bubblewrap') is not installed")


class TestLocalComputeConformance(ComputeConformance):
    """Every provider-neutral compute test, against a local provider in a fresh root folder."""
