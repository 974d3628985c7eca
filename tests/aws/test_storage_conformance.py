"""The storage conformance suite on aws, replayed from cassettes recorded against moto (CLOUDKIT_RECORD=1 re-records)."""

from __future__ import annotations

import pytest

from cloudkit.testing.storage import StorageConformance


class TestAwsStorageConformance(StorageConformance):
    """Every storage conformance test on aws (``cloudkit_cloud`` comes from tests/aws/conftest.py)."""

    @pytest.mark.skip(reason="moto does not check presigned signatures, so it accepts a PUT on a URL signed for GET; "
                             "S3 refuses it (SignatureDoesNotMatch, 403)")
    def test_presigned_get_is_method_bound(self) -> None:  # type: ignore[override]
        """Kept out: moto cannot show it."""
