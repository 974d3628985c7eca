"""The hostile strategies against aws and libcloud with no server: invalid input is refused offline.

Each provider is connected with fake credentials and an endpoint on 127.0.0.1:9; any attempt to
open a connection or resolve a name fails the test. Only values the docs call invalid are sent:
each must raise ``InvalidInput`` before any network call.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hostile_values import Op, Reached, Tally, compute_ops, dns_ops, notification_ops, storage_ops
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import cloudkit
from cloudkit import InvalidInput, Queue, Topic, Zone

EXAMPLES = int(os.environ.get("CLOUDKIT_HOSTILE_EXAMPLES", "520")) // 2
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))
TALLY = Tally()


@pytest.fixture(autouse=True)
def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise Reached

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "fake")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    print("\nhostile input (offline):\n" + TALLY.report())


def _refused_offline(label: str, ops: list[Op], service: Any) -> None:
    @SETTINGS
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        op = data.draw(st.sampled_from(ops), label="operation")
        value = data.draw(op.values(), label=op.name)
        assume(op.invalid(value))
        try:
            op.call(service, value)
        except InvalidInput:
            TALLY.add(label, "refused")
            return
        except Reached:
            TALLY.add(label, "accepted", "accepted_invalid")
            raise AssertionError(f"{op.name}({value!r}) reached the network") from None
        except Exception as exc:
            TALLY.add(label, "leaked")
            raise AssertionError(f"{op.name}({value!r}) raised {type(exc).__name__} instead of InvalidInput") from exc
        TALLY.add(label, "accepted", "accepted_invalid")
        raise AssertionError(f"{op.name}({value!r}) was accepted offline")

    check()


ZONE = Zone(id="Z0000", name="hostile.example.com")
TOPIC = Topic(id="arn:aws:sns:us-east-1:000000000000:hostile", name="hostile")
QUEUE = Queue(id="https://127.0.0.1:9/000000000000/hostile-q", name="hostile-q")

CASES: list[tuple[str, str, dict[str, Any], str, Callable[[], list[Op]]]] = [
    ("aws storage", "aws", {"endpoint_url": "http://127.0.0.1:9"}, "storage", lambda: storage_ops("hostile-bucket")),
    ("aws dns", "aws", {"endpoint_url": "http://127.0.0.1:9"}, "dns", lambda: dns_ops(ZONE)),
    ("aws notification", "aws", {"endpoint_url": "http://127.0.0.1:9"}, "notification", lambda: notification_ops(TOPIC, QUEUE)),
    ("aws compute", "aws", {"endpoint_url": "http://127.0.0.1:9"}, "compute", compute_ops),
    ("libcloud storage", "libcloud:s3", {"key": "k", "secret": "s", "host": "127.0.0.1", "port": 9, "secure": False},
     "storage", lambda: storage_ops("hostile-bucket")),
    ("libcloud dns", "libcloud:powerdns", {"key": "k", "host": "127.0.0.1", "port": 9, "secure": False, "api_version": "v1"},
     "dns", lambda: dns_ops(ZONE)),
]


@pytest.mark.parametrize(("label", "provider", "conf", "family", "make_ops"), CASES, ids=[c[0] for c in CASES])
def test_invalid_input_is_refused_before_the_network(
    label: str, provider: str, conf: dict[str, Any], family: str, make_ops: Callable[[], list[Op]]
) -> None:
    pytest.importorskip("cloudkit_aws" if provider == "aws" else "cloudkit_libcloud")
    with cloudkit.connect(provider, region="us-east-1", **conf) if provider == "aws" else cloudkit.connect(provider, **conf) as cloud:
        _refused_offline(label, make_ops(), getattr(cloud, family))
