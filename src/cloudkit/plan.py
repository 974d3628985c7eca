"""A DNS change plan: what :meth:`DNSService.plan_sync` proposes, to inspect, check and apply.

The safety rule follows octoDNS's ``Plan``: when the zone already holds at least ``min_existing``
record sets of its own (SOA and apex NS are the provider's and do not count), a plan that updates
more than ``update_threshold`` or deletes more than ``delete_threshold`` of them is unsafe.
:meth:`Plan.raise_if_unsafe` raises :class:`UnsafePlan` naming the counts;
:meth:`DNSService.apply_plan` calls it unless told ``force=True``.
"""

from __future__ import annotations

import attrs

from cloudkit.errors import Conflict
from cloudkit.models.dns import RecordChange, Zone

#: octoDNS's defaults: 30 % of the existing record sets, checked from 10 record sets up.
UPDATE_THRESHOLD = 0.3
DELETE_THRESHOLD = 0.3
MIN_EXISTING = 10


class UnsafePlan(Conflict):
    """A plan changes more of the zone than its thresholds allow (``apply_plan(force=True)`` overrides)."""


@attrs.frozen
class Plan:
    """The changes that make a zone hold the desired record sets.

    ``creates`` are upserts of record sets the zone lacks, ``updates`` upserts of record sets it
    holds with other values or TTL, ``deletes`` record sets it holds that are not desired.
    ``existing`` is the number of the zone's own record sets when the plan was made.
    """

    zone: Zone
    creates: tuple[RecordChange, ...] = ()
    updates: tuple[RecordChange, ...] = ()
    deletes: tuple[RecordChange, ...] = ()
    existing: int = 0
    update_threshold: float = UPDATE_THRESHOLD
    delete_threshold: float = DELETE_THRESHOLD
    min_existing: int = MIN_EXISTING

    @property
    def changes(self) -> tuple[RecordChange, ...]:
        """Every change, in the order they are applied (creates, updates, deletes), as one batch."""
        return self.creates + self.updates + self.deletes

    def __len__(self) -> int:
        return len(self.creates) + len(self.updates) + len(self.deletes)

    def __bool__(self) -> bool:
        return len(self) > 0

    def unsafe(self) -> list[str]:
        """Why the plan is unsafe (empty when it is safe)."""
        if self.existing < self.min_existing:
            return []
        reasons = []
        for what, count, threshold in (("updates", len(self.updates), self.update_threshold),
                                       ("deletes", len(self.deletes), self.delete_threshold)):
            if count / self.existing > threshold:
                reasons.append(
                    f"{count} {what} of {self.existing} existing record sets in {self.zone.name} "
                    f"({count / self.existing:.0%}) is over the {what[:-1]} threshold of {threshold:.0%}"
                )
        return reasons

    def raise_if_unsafe(self) -> None:
        """Raise :class:`UnsafePlan` naming the counts when the plan changes too much of the zone."""
        reasons = self.unsafe()
        if reasons:
            raise UnsafePlan("unsafe plan: " + "; ".join(reasons))

    def summary(self) -> str:
        """A readable account of the plan: counts, then one line per change."""
        head = (f"{self.zone.name}: {len(self.creates)} to create, {len(self.updates)} to update, "
                f"{len(self.deletes)} to delete ({self.existing} existing record sets)")
        lines = [head]
        for sign, group in (("+", self.creates), ("~", self.updates), ("-", self.deletes)):
            for ch in group:
                r = ch.record
                lines.append(f"  {sign} {r.name} {r.type} {r.ttl} {' '.join(r.values)}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
