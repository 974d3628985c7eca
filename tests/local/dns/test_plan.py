"""dns.plan_sync returns a Plan (octoDNS's safety rule: thresholds with a floor), applied by dns.apply_plan."""

from __future__ import annotations

from typing import Any

import pytest

import cloudkit
from cloudkit import RecordSet
from cloudkit.plan import Plan, UnsafePlan


@pytest.fixture
def dns(tmp_path: Any) -> Any:
    with cloudkit.connect("local", root=str(tmp_path)) as cloud:
        yield cloud.dns


def _a(name: str, value: str, ttl: int = 300) -> RecordSet:
    return RecordSet(name=name, type="A", ttl=ttl, values=(value,))


def _zone_with(dns: Any, n: int) -> Any:
    zone = dns.create_zone("plan.example.com")
    if n:
        dns.upsert_records(zone, [_a(f"h{i}", f"192.0.2.{i + 1}") for i in range(n)])
    return zone


def test_plan_is_inspectable(dns: Any) -> None:
    zone = _zone_with(dns, 3)
    desired = [_a("h0", "192.0.2.1"), _a("h1", "192.0.2.99"), _a("new", "192.0.2.50")]
    plan = dns.plan_sync(zone, desired, delete_missing=True)
    assert isinstance(plan, Plan)
    assert [c.record.name for c in plan.creates] == ["new"]
    assert [c.record.name for c in plan.updates] == ["h1"]
    assert [c.record.name for c in plan.deletes] == ["h2"]
    assert plan.existing == 3 and len(plan) == 3 and plan
    assert [c.action for c in plan.changes] == ["UPSERT", "UPSERT", "DELETE"]
    summary = plan.summary()
    assert summary.splitlines()[0] == "plan.example.com: 1 to create, 1 to update, 1 to delete (3 existing record sets)"
    assert "  + new A 300 192.0.2.50" in summary and "  ~ h1 A 300 192.0.2.99" in summary and "  - h2 A 300 192.0.2.3" in summary
    # below the floor of 10 existing record sets, 2 of 3 changed is not unsafe (octoDNS's rule)
    plan.raise_if_unsafe()
    dns.apply_plan(plan)
    assert {(r.name, r.values) for r in dns.list_records(zone, type="A")} == {
        ("h0", ("192.0.2.1",)), ("h1", ("192.0.2.99",)), ("new", ("192.0.2.50",))}


def test_an_empty_plan_changes_nothing(dns: Any) -> None:
    zone = _zone_with(dns, 2)
    plan = dns.plan_sync(zone, [_a("h0", "192.0.2.1"), _a("h1", "192.0.2.2")])
    assert not plan and plan.changes == ()
    assert dns.apply_plan(plan).status == "INSYNC"


def test_deletes_over_the_threshold_are_unsafe_from_the_floor_up(dns: Any) -> None:
    zone = _zone_with(dns, 10)
    keep = [_a(f"h{i}", f"192.0.2.{i + 1}") for i in range(6)]  # 4 of 10 deleted: 40 % > 30 %
    plan = dns.plan_sync(zone, keep, delete_missing=True)
    with pytest.raises(UnsafePlan, match=r"4 deletes of 10 existing record sets .* over the delete threshold of 30%"):
        plan.raise_if_unsafe()
    with pytest.raises(cloudkit.Conflict):
        dns.apply_plan(plan)
    assert len([r for r in dns.list_records(zone, type="A")]) == 10  # nothing applied
    # the same plan with a higher floor is safe; force applies an unsafe one
    dns.plan_sync(zone, keep, delete_missing=True, min_existing=11).raise_if_unsafe()
    dns.apply_plan(plan, force=True)
    assert len(list(dns.list_records(zone, type="A"))) == 6


def test_updates_over_the_threshold_are_unsafe(dns: Any) -> None:
    zone = _zone_with(dns, 10)
    changed = [_a(f"h{i}", f"192.0.2.{i + 1}", ttl=60 if i < 4 else 300) for i in range(10)]
    plan = dns.plan_sync(zone, changed)
    assert len(plan.updates) == 4
    with pytest.raises(UnsafePlan, match=r"4 updates of 10 existing record sets"):
        plan.raise_if_unsafe()
    dns.plan_sync(zone, changed, update_threshold=0.5).raise_if_unsafe()
    three = dns.plan_sync(zone, changed[:3] + [_a(f"h{i}", f"192.0.2.{i + 1}") for i in range(3, 10)])
    three.raise_if_unsafe()  # exactly 30 % is not over


def test_bad_plan_arguments_are_invalid_input(dns: Any) -> None:
    zone = _zone_with(dns, 0)
    with pytest.raises(cloudkit.InvalidInput, match="plan"):
        dns.apply_plan([])
    with pytest.raises(cloudkit.InvalidInput, match="delete_threshold"):
        dns.plan_sync(zone, [], delete_threshold=2)
    with pytest.raises(cloudkit.InvalidInput, match="min_existing"):
        dns.plan_sync(zone, [], min_existing=-1)
