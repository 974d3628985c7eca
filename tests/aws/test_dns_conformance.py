"""The dns conformance suite on aws, replayed from cassettes recorded against moto (CLOUDKIT_RECORD=1 re-records)."""

from __future__ import annotations

from cloudkit.testing.dns import DNSConformance


class TestAwsDNSConformance(DNSConformance):
    """Every dns conformance test on aws (``cloudkit_cloud`` comes from tests/aws/conftest.py)."""
