"""Small helpers shared by the conformance suites."""

from __future__ import annotations

import uuid

import pytest

from cloudkit.cloud import Cloud


def unique_name(prefix: str = "ck", length: int = 8) -> str:
    """A lower-case name unlikely to collide: ``prefix-xxxxxxxx``."""
    return f"{prefix}-{uuid.uuid4().hex[:length]}"


def requires(cloud: Cloud, family: str, *operations: str) -> None:
    """Skip the calling test unless ``cloud`` supports every operation of ``family`` named."""
    service = cloud.service(family)
    caps = service.capabilities()
    missing = [op for op in operations if op not in caps]
    if missing:
        pytest.skip(f"{cloud.provider_of(family)} does not support {family}.{', '.join(missing)} (capabilities)")
