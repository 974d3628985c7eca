"""Property-based hostile input on the local provider: every family, every public method.

Storage, DNS and notification run for real on one local cloud per module (a tmp root). Compute,
database, platform and loadbalancer start real processes on local, so their driver methods are stubbed: a value
the docs call invalid must raise ``InvalidInput`` before the driver is reached, and nothing but a
``CloudkitError`` may ever come out. Per family counts print at the end of the module (``-s``).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hostile_values import (
    Op,
    Tally,
    compute_ops,
    database_ops,
    dns_ops,
    loadbalancer_ops,
    notification_ops,
    platform_ops,
    run,
    storage_ops,
    stub_drivers,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cloudkit

EXAMPLES = int(os.environ.get("CLOUDKIT_HOSTILE_EXAMPLES", "520"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture,
                           HealthCheck.filter_too_much],
)
TALLY = Tally()
LOOPBACK = ("127.0.0.1", "::1", "localhost")


def _guard_network(mp: pytest.MonkeyPatch) -> None:
    """Test traffic stays on loopback: resolving or connecting anywhere else fails the call."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host not in LOOPBACK and host not in (b"127.0.0.1", None):
            raise socket.gaierror(socket.EAI_NONAME, f"hostile suite: no lookups of {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and address[0] not in LOOPBACK:
            raise ConnectionRefusedError(f"hostile suite: no connections to {address[0]!r}")
        return real_connect(self, address)

    mp.setattr(socket, "getaddrinfo", getaddrinfo)
    mp.setattr(socket.socket, "connect", connect)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[cloudkit.Cloud]:
    """One local cloud for the module, on its own root; no traffic leaves loopback."""
    root: Path = tmp_path_factory.mktemp("hostile-root")
    with pytest.MonkeyPatch.context() as mp:
        _guard_network(mp)
        c = cloudkit.connect(
            "local", root=str(root), smtp_host="127.0.0.1", smtp_port=9, delivery_attempts=1, delivery_timeout=1,
        )
        try:
            yield c
        finally:
            c.close()
    print("\nhostile input (local):\n" + TALLY.report())


def _drive(family: str, ops: list[Op], target: Any) -> None:
    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(ops), label="operation")
        value = data.draw(op.values(), label=op.name)
        run(op, target, value, TALLY, family)

    check()


def test_storage(cloud: cloudkit.Cloud) -> None:
    cloud.storage.create_bucket("hostile-bucket")
    cloud.storage.put_object("hostile-bucket", "k.txt", b"data")
    _drive("storage", storage_ops("hostile-bucket"), cloud.storage)


def test_dns(cloud: cloudkit.Cloud) -> None:
    zone = cloud.dns.create_zone("hostile.example.com")
    _drive("dns", dns_ops(zone), cloud.dns)


def test_notification(cloud: cloudkit.Cloud) -> None:
    topic = cloud.notification.create_topic("hostile")
    queue = cloud.notification.create_queue("hostile-q")
    _drive("notification", notification_ops(topic, queue), cloud.notification)


@pytest.mark.parametrize(
    ("family", "make_ops"),
    [("compute", compute_ops), ("database", database_ops), ("platform", platform_ops), ("loadbalancer", loadbalancer_ops)],
)
def test_validation_only(cloud: cloudkit.Cloud, family: str, make_ops: Any) -> None:
    service = getattr(cloud, family)
    stub_drivers(service)
    try:
        _drive(family, make_ops(), service)
    finally:
        for op in type(service).OPERATIONS:
            service.__dict__.pop("_" + op, None)
