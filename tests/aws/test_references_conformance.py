"""The reference suite on aws: every reference parameter takes the model and the id alike.

The suite replaces the service's driver methods with a recorder that stops at the driver, so it
sends no request and needs no cassette.
"""

from __future__ import annotations

from cloudkit.testing.references import ReferenceConformance


class TestAwsReferenceConformance(ReferenceConformance):
    """Every reference parameter on aws (``cloudkit_cloud`` comes from tests/aws/conftest.py)."""
