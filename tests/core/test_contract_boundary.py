"""The core guards the boundary to every plugin: errors translated, results type-checked, listings observed."""

from __future__ import annotations

import gc
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import Any

import pytest

import cloudkit
from cloudkit import DNSService, ProviderError
from cloudkit.models.dns import ChangeInfo, RecordChange, RecordSet, Zone
from cloudkit.paging import paginate

ZONE = Zone(id="Z1", name="example.com.")


class SloppyDNS(DNSService):
    """A third-party driver with the bugs the core must catch."""

    def __init__(self, provider: str, settings: Mapping[str, Any]) -> None:
        super().__init__(provider, settings)
        self.pages_fetched = 0
        self.changes: list[list[RecordChange]] = []

    def _get_zone(self, zone_id_or_name: str) -> Zone:
        if zone_id_or_name == "missing.example.":
            return None  # type: ignore[return-value]  # the bug: None instead of NotFound
        if zone_id_or_name == "keyerror.example.":
            raise KeyError("zone-index")
        return ZONE

    def _list_zones(self) -> Iterator[Zone]:
        return iter([ZONE, "not a zone"])  # type: ignore[list-item]

    def _list_records(self, zone_id: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
        def fetch(token: Any) -> tuple[list[RecordSet], Any]:
            self.pages_fetched += 1
            page = token or 1
            if page == 3:
                raise KeyError("page-3-cursor")
            return [RecordSet(name=f"r{page}", type="A", ttl=60, values=("192.0.2.1",))], page + 1

        return paginate(fetch)

    def _change_records(self, zone: Zone, changes: Sequence[RecordChange], *, wait: bool = False,
                        timeout: float = 300) -> ChangeInfo:
        self.changes.append(list(changes))
        return ChangeInfo(id="C1", status="INSYNC", change_count=len(changes))


class SloppyPlugin:
    def __init__(self) -> None:
        self.services: list[SloppyDNS] = []

    @cloudkit.hookimpl
    def cloudkit_providers(self) -> list[cloudkit.ProviderInfo]:
        return [cloudkit.ProviderInfo(name="sloppy", families={"dns"})]

    @cloudkit.hookimpl
    def cloudkit_make_service(self, provider: str, family: str, settings: Mapping[str, Any]) -> Any:
        if provider == "sloppy" and family == "dns":
            svc = SloppyDNS(provider, settings)
            self.services.append(svc)
            return svc
        return None


class Recorder:
    """A metrics plugin: counts hook calls (wrapper) and records how each operation ended."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.finished: list[tuple[str, str, str | None, int | None, float]] = []

    @cloudkit.hookimpl(wrapper=True)
    def cloudkit_call(self, service: Any, operation: str, call: Any) -> Generator[None, Any, Any]:
        self.calls.append(operation)
        return (yield)

    @cloudkit.hookimpl
    def cloudkit_call_finished(self, service: Any, operation: str, duration: float, error: BaseException | None,
                               items: int | None, status: str) -> None:
        self.finished.append((operation, status, None if error is None else type(error).__name__, items, duration))


@pytest.fixture
def sloppy() -> Iterator[tuple[cloudkit.Cloud, Recorder]]:
    plugin, recorder = SloppyPlugin(), Recorder()
    cloudkit.register_plugin(plugin)
    cloudkit.register_plugin(recorder)
    try:
        with cloudkit.connect("sloppy") as cloud:
            yield cloud, recorder
    finally:
        cloudkit.unregister_plugin(recorder)
        cloudkit.unregister_plugin(plugin)


def test_non_cloudkit_exception_becomes_provider_error_with_cause(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, recorder = sloppy
    with pytest.raises(ProviderError) as info:
        cloud.dns.get_zone("keyerror.example.")
    assert isinstance(info.value.__cause__, KeyError)
    assert info.value.provider == "sloppy"
    message = str(info.value)
    assert "dns.get_zone" in message and "SloppyDNS._get_zone" in message and "KeyError" in message
    assert "zone-index" not in message  # the native text stays in the cause
    assert recorder.finished[-1][:3] == ("get_zone", "failed", "ProviderError")


def test_wrong_result_type_is_provider_error_naming_driver_method(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, _ = sloppy
    with pytest.raises(ProviderError) as info:
        cloud.dns.get_zone("missing.example.")
    message = str(info.value)
    assert "sloppy" in message and "SloppyDNS._get_zone" in message and "NoneType, not Zone" in message


def test_listing_items_are_type_checked(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, recorder = sloppy
    zones = cloud.dns.list_zones()
    assert next(zones) == ZONE
    with pytest.raises(ProviderError, match=r"yielded \(item 1\) str, not Zone"):
        next(zones)
    assert recorder.finished[-1][:4] == ("list_zones", "failed", "ProviderError", 1)


def test_listing_failing_on_third_page_is_observed_at_its_end(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, recorder = sloppy
    records = cloud.dns.list_records(ZONE)
    assert recorder.calls == ["list_records"]
    assert recorder.finished == []  # created, not consumed: not over yet
    got = [next(records), next(records)]
    assert [r.name for r in got] == ["r1", "r2"] and recorder.finished == []
    with pytest.raises(ProviderError) as info:
        next(records)
    assert isinstance(info.value.__cause__, KeyError)
    assert "after 2 items" in str(info.value)
    ((operation, status, error, items, duration),) = recorder.finished
    assert (operation, status, error, items) == ("list_records", "failed", "ProviderError", 2)
    assert duration >= 0
    with pytest.raises(StopIteration):  # a failed listing stays finished
        next(records)
    assert len(recorder.finished) == 1


def test_listing_closed_early_is_reported_once(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, recorder = sloppy
    records = cloud.dns.list_records(ZONE)
    next(records)
    del records
    gc.collect()
    assert [f[:4] for f in recorder.finished] == [("list_records", "closed", None, 1)]


def test_listing_keeps_laziness(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, _ = sloppy
    service = cloud.dns
    records = service.list_records(ZONE)
    assert service.pages_fetched == 0  # type: ignore[attr-defined]
    next(records)
    assert service.pages_fetched == 1  # type: ignore[attr-defined]


@pytest.mark.parametrize("operation", ["upsert_records", "delete_records"])
def test_derived_operation_is_one_hook_call(sloppy: tuple[cloudkit.Cloud, Recorder], operation: str) -> None:
    cloud, recorder = sloppy
    record = RecordSet(name="www", type="A", ttl=60, values=("192.0.2.7",))
    info = getattr(cloud.dns, operation)("example.com.", [record])
    assert info.change_count == 1
    assert recorder.calls == [operation]
    assert [f[:2] for f in recorder.finished] == [(operation, "ok")]


def test_export_zone_is_one_hook_call(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, recorder = sloppy
    with pytest.raises(ProviderError):  # its listing fails on page 3, inside the one call
        cloud.dns.export_zone("example.com.")
    assert recorder.calls == ["export_zone"]


def test_user_calls_inside_a_listing_loop_are_separate_calls(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, recorder = sloppy
    records = cloud.dns.list_records(ZONE)
    next(records)
    cloud.dns.get_zone("example.com.")  # the caller's own call while the listing is open
    assert recorder.calls == ["list_records", "get_zone"]


def test_bad_arguments_are_invalid_input_not_provider_error(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    cloud, _ = sloppy
    with pytest.raises(cloudkit.InvalidInput) as info:
        cloud.dns.get_zone("example.com.", "surplus")  # type: ignore[call-arg]
    assert info.value.field == "dns.get_zone"


def test_a_failing_observer_does_not_break_the_call(sloppy: tuple[cloudkit.Cloud, Recorder]) -> None:
    class Broken:
        @cloudkit.hookimpl
        def cloudkit_call_finished(self, service: Any, operation: str) -> None:
            raise RuntimeError("observer bug")

    cloud, _ = sloppy
    broken = Broken()
    cloudkit.register_plugin(broken)
    try:
        assert cloud.dns.get_zone("example.com.") == ZONE
    finally:
        cloudkit.unregister_plugin(broken)
