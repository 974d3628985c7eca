"""Small helpers shared by the conformance suites."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator

import pytest

from cloudkit.cloud import Cloud
from cloudkit.plugins import register_plugin, unregister_plugin

_rng = random.Random()


def seed_names(seed: str | None) -> None:
    """Make :func:`unique_name` deterministic for ``seed`` (``None``: truly random).

    The pytest plugin seeds it with each test's id, so recorded HTTP cassettes replay with the same
    resource names. Set ``CLOUDKIT_RANDOM_NAMES=1`` against a real cloud, where names are global.
    """
    if seed is None or os.environ.get("CLOUDKIT_RANDOM_NAMES"):
        _rng.seed()
    else:
        _rng.seed(seed)


def unique_name(prefix: str = "ck", length: int = 8) -> str:
    """A lower-case name unlikely to collide: ``prefix-xxxxxxxx``."""
    return f"{prefix}-{_rng.getrandbits(4 * length):0{length}x}"


def requires(cloud: Cloud, family: str, *operations: str) -> None:
    """Skip the calling test unless ``cloud`` supports every operation of ``family`` named."""
    service = cloud.service(family)
    caps = service.capabilities()
    missing = [op for op in operations if op not in caps]
    if missing:
        pytest.skip(f"{cloud.provider_of(family)} does not support {family}.{', '.join(missing)} (capabilities)")


class Conformance:
    """Base of every conformance suite: every model a service returns during a test is checked.

    The check (:class:`cloudkit.testing.checks.ModelChecker`) runs as a ``cloudkit_call`` hook
    wrapper, so it sees every operation's result: field types, aware-UTC datetimes, states inside
    their documented enumeration, hashability. A violation fails the test that received the value.
    """

    @pytest.fixture(autouse=True)
    def _cloudkit_check_models(self) -> Iterator[None]:
        from cloudkit.testing.checks import ModelChecker

        checker = ModelChecker()
        register_plugin(checker, name=f"cloudkit-model-checker-{id(checker)}")
        try:
            yield
        finally:
            unregister_plugin(checker)
