"""The platform conformance suite, run on the local provider (environments really serve HTTP)."""

from __future__ import annotations

from cloudkit.testing.platform import PlatformConformance


class TestLocalPlatformConformance(PlatformConformance):
    """Every provider-neutral platform test, against a local provider in a fresh root folder."""

    serves_http = True
