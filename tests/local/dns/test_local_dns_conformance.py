"""The DNS conformance suite, run on the local provider."""

from __future__ import annotations

from cloudkit.testing.dns import DNSConformance


class TestLocalDNSConformance(DNSConformance):
    """Every provider-neutral DNS test, against a local provider in a fresh root folder."""
