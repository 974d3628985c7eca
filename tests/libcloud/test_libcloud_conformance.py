"""The provider-neutral conformance suites on the libcloud provider.

Storage on ``libcloud:azure_blobs`` (Azurite) and ``libcloud:s3`` (moto), DNS on
``libcloud:powerdns`` (PowerDNS) and compute on ``libcloud:ec2`` (moto's EC2). Only what the
services' capabilities exclude is skipped (by the suites themselves).
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest

import cloudkit
from cloudkit.testing.compute import ComputeConformance
from cloudkit.testing.dns import DNSConformance
from cloudkit.testing.storage import StorageConformance

CASSETTES_ARE_SERIAL = ("vcrpy cassettes are not thread-safe: concurrent requests are lost when recording and replay in "
                        "a timing-dependent order; the test runs live on the local provider")


class TestAzureBlobsStorageConformance(StorageConformance):
    """Storage suite on Azurite through libcloud's Azure Blobs driver."""

    presign_put_headers: ClassVar[dict[str, str]] = {"x-ms-blob-type": "BlockBlob", "Content-Type": "application/octet-stream"}

    @pytest.fixture
    def cloudkit_cloud(self, azure_cloud: cloudkit.Cloud) -> Any:
        return azure_cloud

    @pytest.mark.skip(reason=CASSETTES_ARE_SERIAL)
    def test_concurrent_writes_and_reads_of_one_key_never_mix(self) -> None:  # type: ignore[override]
        """Kept out: cassettes cannot carry concurrent traffic."""


class TestS3StorageConformance(StorageConformance):
    """Storage suite on moto through libcloud's S3 driver."""

    presign_checks_expiry: ClassVar[bool] = False  # moto does not check presigned URLs' expiry

    @pytest.fixture
    def cloudkit_cloud(self, s3_cloud: cloudkit.Cloud) -> Any:
        return s3_cloud

    @pytest.mark.skip(reason=CASSETTES_ARE_SERIAL)
    def test_concurrent_writes_and_reads_of_one_key_never_mix(self) -> None:  # type: ignore[override]
        """Kept out: cassettes cannot carry concurrent traffic."""

    @pytest.mark.xfail(reason="moto's S3 does not verify presigned signatures, so a PUT on a GET URL is accepted there",
                       strict=True)
    def test_presigned_get_is_method_bound(self, cloudkit_cloud: cloudkit.Cloud, storage: Any, bucket: str) -> None:
        super().test_presigned_get_is_method_bound(cloudkit_cloud, storage, bucket)

    @pytest.mark.xfail(reason="moto's S3 does not verify presigned signatures, so a GET on a PUT URL is served there",
                       strict=True)
    def test_presigned_put_is_method_bound(self, cloudkit_cloud: cloudkit.Cloud, storage: Any, bucket: str) -> None:
        super().test_presigned_put_is_method_bound(cloudkit_cloud, storage, bucket)


class TestPowerDNSConformance(DNSConformance):
    """DNS suite on PowerDNS through libcloud's PowerDNS driver."""

    @pytest.fixture
    def cloudkit_cloud(self, pdns_cloud: cloudkit.Cloud) -> Any:
        return pdns_cloud


class TestEC2ComputeConformance(ComputeConformance):
    """Compute suite on moto's EC2 through libcloud's EC2 driver."""

    image: ClassVar[str | None] = "ami-1e749f67"
    instance_type: ClassVar[str | None] = "t2.micro"

    @pytest.fixture
    def cloudkit_cloud(self, ec2_cloud: cloudkit.Cloud) -> Any:
        return ec2_cloud

