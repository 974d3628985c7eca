"""The platform conformance suite on aws (Elastic Beanstalk), replayed from cassettes recorded against
moto extended by tests/aws/moto_eb.py. Environments there are simulated, so URLs are not fetched."""

from __future__ import annotations

from cloudkit.testing.platform import PlatformConformance


class TestAwsPlatformConformance(PlatformConformance):
    """Every platform conformance test on aws."""

    serves_http = False
