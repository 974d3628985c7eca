"""The provider toolkit: one error-translation point per provider, the wait rule, events follow, plugin factory."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

import cloudkit
from cloudkit import DNSService, NotFound, ProviderError, Throttled, Timeout
from cloudkit.models.dns import RecordSet, Zone
from cloudkit.paging import paginate
from cloudkit.provider import FamilyPlugin, TranslatedService, follow, poll_until, wait_timeout

ZONE = Zone(id="Z1", name="example.com.")


class NativeError(Exception):
    """What an imaginary SDK raises: ``status`` decides the cloudkit class."""

    def __init__(self, status: int, secret: str = "") -> None:
        super().__init__(f"status {status} {secret}")
        self.status = status


class AcmeErrors(TranslatedService):
    """The provider's one translator: NativeError only, everything else declined."""

    seen: list[tuple[str, str]]

    def translate_error(self, exc: BaseException, operation: str) -> cloudkit.CloudkitError | None:
        self.seen.append((type(exc).__name__, operation))
        if isinstance(exc, NativeError):
            if exc.status == 404:
                return NotFound(f"{operation}: no such thing", code="404")
            if exc.status == 500:
                raise RuntimeError("the translator itself is broken")
            return Throttled(f"{operation}: slow down", provider="acme")
        return None


class AcmeDNS(AcmeErrors, DNSService):
    """A driver with no try/except at all: the core translates."""

    def __init__(self, provider: str, settings: Mapping[str, Any]) -> None:
        super().__init__(provider, settings)
        self.seen = []

    def _get_zone(self, zone_id_or_name: str) -> Zone:
        if zone_id_or_name.startswith("missing"):
            raise NativeError(404)
        if zone_id_or_name.startswith("broken"):
            raise NativeError(500)
        if zone_id_or_name.startswith("bug"):
            raise KeyError("s3cr3t-index")
        if zone_id_or_name.startswith("known"):
            raise NotFound("already a cloudkit error", provider="acme")
        return ZONE

    def _list_records(self, zone_id: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
        def fetch(token: Any) -> tuple[list[RecordSet], Any]:
            if token == 2:
                raise NativeError(429)
            return [RecordSet(name="www", type="A", ttl=60, values=("192.0.2.1",))], 2

        return paginate(fetch)


@pytest.fixture
def dns() -> AcmeDNS:
    return AcmeDNS("acme", {})


def test_the_core_applies_the_providers_translator_around_a_driver_call(dns: AcmeDNS) -> None:
    with pytest.raises(NotFound) as caught:
        dns.get_zone("missing.example.")
    assert str(caught.value) == "dns.get_zone: no such thing"
    assert caught.value.provider == "acme"  # filled in from the service when the translator left it out
    assert isinstance(caught.value.__cause__, NativeError)
    assert dns.seen == [("NativeError", "dns.get_zone")]


def test_the_translator_also_covers_iteration_of_a_listing(dns: AcmeDNS) -> None:
    records = dns.list_records(ZONE)
    assert next(records).name == "www"
    with pytest.raises(Throttled) as caught:
        next(records)
    assert "dns.list_records" in str(caught.value)
    assert isinstance(caught.value.__cause__, NativeError)


def test_a_declined_exception_is_a_generic_provider_error_without_its_text(dns: AcmeDNS) -> None:
    with pytest.raises(ProviderError) as caught:
        dns.get_zone("bug.example.")
    assert "AcmeDNS._get_zone" in str(caught.value) and "KeyError" in str(caught.value)
    assert "s3cr3t" not in str(caught.value)
    assert dns.seen == [("KeyError", "dns.get_zone")]


def test_a_broken_translator_falls_back_on_the_generic_error(dns: AcmeDNS) -> None:
    with pytest.raises(ProviderError) as caught:
        dns.get_zone("broken.example.")
    assert type(caught.value) is ProviderError
    assert isinstance(caught.value.__cause__, NativeError)


def test_cloudkit_errors_pass_through_untranslated(dns: AcmeDNS) -> None:
    with pytest.raises(NotFound, match="already a cloudkit error"):
        dns.get_zone("known.example.")
    assert dns.seen == []


# ------------------------------------------------------------------------------------------ waiting

class FakeClock:
    """Time that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_poll_until_returns_the_first_result_that_is_done() -> None:
    clock = FakeClock()
    states = iter(["pending", "pending", "running"])
    got = poll_until(lambda: next(states), lambda s: s == "running", timeout=60, what="instance i-1", target="running",
                     interval=4, initial=1, sleep=clock.sleep, clock=clock)
    assert got == "running"
    assert clock.sleeps == [1, 2]  # backs off from initial towards interval


def test_poll_until_timeout_names_the_resource_and_its_last_state() -> None:
    clock = FakeClock()
    fetched: list[float] = []

    def fetch() -> str:
        fetched.append(clock.now)
        return "pending"

    with pytest.raises(Timeout) as caught:
        poll_until(fetch, lambda s: False, timeout=10, what="instance i-1", target="running", state=lambda s: s,
                   interval=3, provider="acme", sleep=clock.sleep, clock=clock)
    text = str(caught.value)
    assert "instance i-1" in text and "running" in text and "last seen pending" in text and "deletes nothing" in text
    assert caught.value.provider == "acme"
    assert fetched[-1] == 10  # one last look at the deadline, never a sleep past it
    assert sum(clock.sleeps) == 10


def test_poll_until_stops_at_once_on_a_state_it_cannot_leave() -> None:
    clock = FakeClock()
    with pytest.raises(cloudkit.Conflict):
        poll_until(lambda: "terminated", lambda s: s == "running", timeout=60, what="instance i-1", target="running",
                   failed=lambda s: cloudkit.Conflict("terminated") if s == "terminated" else None,
                   sleep=clock.sleep, clock=clock)
    assert clock.sleeps == []


def test_wait_timeout_without_a_known_state() -> None:
    err = wait_timeout("environment e-1", "Ready", 5, None)
    assert "state is unknown" in str(err) and "environment e-1" in str(err)


def test_follow_dedupes_by_key_and_ends_at_the_deadline() -> None:
    clock = FakeClock()
    rounds = iter([[1, 2], [2, 3], [3], [4]])
    got = list(follow(lambda: next(rounds, []), follow=True, timeout=2.5, interval=1, key=lambda x: x,
                      sleep=clock.sleep, clock=clock))
    assert got == [1, 2, 3, 4]
    assert clock.sleeps == [1, 1, 0.5]


def test_follow_without_follow_is_one_round() -> None:
    calls: list[int] = []
    assert list(follow(lambda: calls.append(1) or [7, 7], follow=False, timeout=100, interval=1)) == [7, 7]
    assert calls == [1]


# ------------------------------------------------------------------------------------------ plugin factory

def test_family_plugin_builds_installed_families_only(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg = tmp_path / "acme_ck"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "dns.py").write_text(textwrap.dedent("""
        def make_service(settings):
            return ("acme dns", dict(settings))
    """))
    monkeypatch.syspath_prepend(str(tmp_path))
    plugin = FamilyPlugin("acme", "acme_ck", families=("dns", "storage"), description="Acme.", distribution="acme-ck")
    try:
        (info,) = plugin.cloudkit_providers()
        assert info.name == "acme" and set(info.families) == {"dns"}
        assert plugin.cloudkit_make_service("acme", "dns", {"k": 1}) == ("acme dns", {"k": 1})
        assert plugin.cloudkit_make_service("acme", "storage", {}) is None
        assert plugin.cloudkit_make_service("other", "dns", {}) is None
    finally:
        for name in [m for m in sys.modules if m == "acme_ck" or m.startswith("acme_ck.")]:
            del sys.modules[name]
