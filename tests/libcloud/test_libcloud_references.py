"""The reference suite on the libcloud provider: every reference parameter takes the model and the id alike.

The suite replaces the service's driver methods with a recorder that stops at the driver, so no
request is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

import cloudkit
from cloudkit.testing.references import ReferenceConformance


class TestS3References(ReferenceConformance):
    """libcloud:s3 (storage) through the reference suite."""

    @pytest.fixture
    def cloudkit_cloud(self, s3_cloud: cloudkit.Cloud) -> Any:
        return s3_cloud


class TestPowerDNSReferences(ReferenceConformance):
    """libcloud:powerdns (dns) through the reference suite."""

    @pytest.fixture
    def cloudkit_cloud(self, pdns_cloud: cloudkit.Cloud) -> Any:
        return pdns_cloud


class TestEC2References(ReferenceConformance):
    """libcloud:ec2 (compute) through the reference suite."""

    @pytest.fixture
    def cloudkit_cloud(self, ec2_cloud: cloudkit.Cloud) -> Any:
        return ec2_cloud
