"""The storage conformance suite, run on the local provider."""

from __future__ import annotations

from cloudkit.testing.storage import StorageConformance


class TestLocalStorageConformance(StorageConformance):
    """Every provider-neutral storage test, against a local provider in a fresh root folder."""

    many_keys = True
