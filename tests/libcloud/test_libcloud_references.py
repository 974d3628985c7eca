"""The reference suite on the libcloud provider: every reference parameter takes the model and the id alike.

Each libcloud cloud here serves one family, so each class runs the suite's test for that family's
parameters only. The suite replaces the service's driver methods with a recorder that stops at the
driver, so no request is sent.
"""

from __future__ import annotations

from typing import Any

import pytest

import cloudkit
from cloudkit.testing.references import ReferenceConformance, ReferenceParameter, all_reference_parameters


def _of(family: str) -> list[ReferenceParameter]:
    return [p for p in all_reference_parameters() if p.family == family]


class TestS3References(ReferenceConformance):
    """libcloud:s3 (storage) through the reference suite."""

    @pytest.fixture
    def cloudkit_cloud(self, s3_cloud: cloudkit.Cloud) -> Any:
        return s3_cloud

    @pytest.mark.parametrize("param", _of("storage"), ids=lambda p: p.id)
    def test_model_and_id_are_the_same_reference(self, cloudkit_cloud: cloudkit.Cloud, param: ReferenceParameter) -> None:
        super().test_model_and_id_are_the_same_reference(cloudkit_cloud, param)


class TestPowerDNSReferences(ReferenceConformance):
    """libcloud:powerdns (dns) through the reference suite."""

    @pytest.fixture
    def cloudkit_cloud(self, pdns_cloud: cloudkit.Cloud) -> Any:
        return pdns_cloud

    @pytest.mark.parametrize("param", _of("dns"), ids=lambda p: p.id)
    def test_model_and_id_are_the_same_reference(self, cloudkit_cloud: cloudkit.Cloud, param: ReferenceParameter) -> None:
        super().test_model_and_id_are_the_same_reference(cloudkit_cloud, param)


class TestEC2References(ReferenceConformance):
    """libcloud:ec2 (compute) through the reference suite."""

    @pytest.fixture
    def cloudkit_cloud(self, ec2_cloud: cloudkit.Cloud) -> Any:
        return ec2_cloud

    @pytest.mark.parametrize("param", _of("compute"), ids=lambda p: p.id)
    def test_model_and_id_are_the_same_reference(self, cloudkit_cloud: cloudkit.Cloud, param: ReferenceParameter) -> None:
        super().test_model_and_id_are_the_same_reference(cloudkit_cloud, param)
