"""The compute conformance suite on aws, replayed from cassettes recorded against moto (CLOUDKIT_RECORD=1 re-records)."""

from __future__ import annotations

from cloudkit.testing.compute import ComputeConformance


class TestAwsComputeConformance(ComputeConformance):
    """Every compute conformance test on aws (``cloudkit_cloud`` comes from tests/aws/conftest.py)."""
