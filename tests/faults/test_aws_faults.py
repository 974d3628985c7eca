"""The aws provider behind a fault-injecting proxy (issue 11): retries, typed errors, "may have been applied".

Everything runs against moto on 127.0.0.1 through :class:`proxy.FaultProxy`; backoff delays are
scaled down (attempts and botocore's retry quota are not). The 50% measurement is not a test: see
``tests/faults/measure.py`` and docs/aws/README.md, "Retries and faults".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import scenario as sc
from cloudkit_aws.errors import MAYBE_APPLIED_TEXT
from proxy import KINDS, FaultProxy

import cloudkit
from cloudkit.errors import CloudkitError, InvalidInput, ProviderError, Throttled
from cloudkit.models import RecordSet

#: A regression that makes a call retry forever (a fake retry clock never runs out) fails here
#: instead of stalling the run.
pytestmark = pytest.mark.timeout(300)

SEED = 20261201


@pytest.fixture
def proxy(moto: Any) -> Iterator[FaultProxy]:
    """A fresh moto behind a proxy that injects nothing until told to."""
    moto.reset()
    with FaultProxy(moto.url, 0.0, seed=SEED) as p, sc.fast_backoff(0.02):
        yield p


def test_scenario_at_20_percent_loses_nothing(proxy: FaultProxy, moto: Any) -> None:
    """200 puts and gets, 300 upserts, 20 publishes, 10 instance creates at 20% faults: nothing lost,
    corrupt or untyped; failed calls as rare as 5 attempts predict; duplicates only for publish."""
    proxy.rate = 0.2
    through, direct = sc.connect(proxy.url), sc.connect(moto.url)
    try:
        results = sc.run(through, direct, sc.Sizes(), sc.boto_factory(moto.url))
    finally:
        through.close()
        direct.close()
    report = {name: vars(st) for name, st in results.items()}
    for name, st in results.items():
        wanted = {"put": 200, "get": 200, "upsert": 300, "publish": 20, "create_instance": 10}[name]
        assert st.calls == wanted or (name == "get" and st.calls >= 200 - results["put"].failed), report  # no get of a failed put
        assert st.untyped == 0, report
        assert st.lost == 0, report
        assert st.corrupt == 0, report
        assert st.unflagged == 0, report  # a failed call that took effect said it may have been applied
        if name != "publish":  # SNS is at-least-once: a publish retried after AWS took it is delivered twice
            assert st.duplicates == 0, report
    # 0.2 ** 5 per request: about 0.2 failed calls expected in the whole run; without retries, ~150
    assert sum(st.failed for st in results.values()) <= 3, report
    assert set(proxy.stats.faults) == set(KINDS), proxy.stats.faults  # every kind of fault was met
    assert sum(proxy.stats.faults.values()) > 150, proxy.stats.faults


@pytest.mark.parametrize("mode", ["standard", "legacy"])
@pytest.mark.parametrize(
    ("script", "error", "flagged"),
    [
        (["500-after", "500-after"], ProviderError, True),
        (["reset-after", "reset-after"], ProviderError, True),
        (["500-after", "503-before"], Throttled, True),  # applied by the first attempt, throttled on the last
        (["reset-before", "429-before"], Throttled, True),  # a reset looks the same before and after: flagged
        (["503-before", "429-before"], Throttled, False),
        (["429-before", "503-before"], Throttled, False),
    ],
)
def test_error_says_when_the_call_may_have_been_applied(
    proxy: FaultProxy, moto: Any, mode: str, script: list[str], error: type[CloudkitError], flagged: bool
) -> None:
    """The last attempt's error carries ``may_have_been_applied`` (and says so) when any attempt failed
    after the request may have reached the server; throttling answers alone leave the flag down."""
    sc.connect(moto.url).storage.create_bucket("flags")
    cloud = sc.connect(proxy.url, max_attempts=2, retry_mode=mode)
    proxy.script = list(script)
    with pytest.raises(error) as caught:
        cloud.storage.put_object("flags", "key", b"data")
    assert proxy.stats.requests == 2 and not proxy.script
    assert caught.value.may_have_been_applied is flagged
    assert (MAYBE_APPLIED_TEXT in str(caught.value)) is flagged
    stored = [o.key for o in sc.connect(moto.url).storage.list_objects("flags")]
    assert stored == (["key"] if "500-after" in script or "reset-after" in script else [])


def test_dns_upsert_applied_then_failed_is_flagged(proxy: FaultProxy, moto: Any) -> None:
    """A Route 53 change applied by the server and answered with a reset: flagged, and really there."""
    zone = sc.connect(moto.url).dns.create_zone("flagged.example.com")
    cloud = sc.connect(proxy.url, max_attempts=1)
    proxy.only = re.compile(r"^POST /2013-04-01/hostedzone/[^/]+/rrset")
    proxy.script = ["reset-after"]
    record = RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1",))
    with pytest.raises(ProviderError) as caught:
        cloud.dns.upsert_records(zone.id, [record])
    assert caught.value.may_have_been_applied
    assert [r.values for r in sc.connect(moto.url).dns.list_records(zone.id, name="www", type="A")] == [("192.0.2.1",)]


def test_retries_hide_faults_up_to_max_attempts(proxy: FaultProxy, moto: Any) -> None:
    """Four faults in a row, then a clean answer: one call, five requests, no error (the default policy)."""
    sc.connect(moto.url).storage.create_bucket("retried")
    cloud = sc.connect(proxy.url)
    proxy.script = ["503-before", "500-after", "reset-before", "429-before"]
    cloud.storage.put_object("retried", "key", b"data")
    assert proxy.stats.requests == 5
    assert cloud.storage.get_object("retried", "key").read() == b"data"


def test_retry_mode_is_checked() -> None:
    """``retry_mode`` takes botocore's modes only, named in the error."""
    with pytest.raises(InvalidInput) as caught:
        cloudkit.connect("aws", region="us-east-1", retry_mode="forever").storage.native  # noqa: B018
    assert caught.value.field == "retry_mode"
    assert "standard, legacy, adaptive" in caught.value.rule
