"""The DNS family: hosted zones and record sets, changed in atomic batches."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.models.dns import ChangeInfo, RecordChange, RecordSet, Zone
from cloudkit.plan import DELETE_THRESHOLD, MIN_EXISTING, UPDATE_THRESHOLD, Plan
from cloudkit.refs import ZoneRef, ref
from cloudkit.services.base import Service, operation

#: Record sets a provider manages itself and that zone-file import leaves alone.
_MANAGED = (("@", "SOA"), ("@", "NS"))


class DNSService(Service):
    """Hosted zones and their record sets.

    Changes go in batches that apply atomically (all or nothing); :meth:`upsert_records` and
    :meth:`delete_records` are shorthands of :meth:`change_records`. Zone files are exported and
    imported through dnspython, the same way for every provider.
    """

    family: ClassVar[str] = "dns"

    # ---------------------------------------------------------------- zones
    @operation()
    def create_zone(self, name: str, *, comment: str | None = None) -> Zone:
        """Create a hosted zone with its SOA and NS records. Raises ``AlreadyExists``."""
        v.optional_text("comment", comment, max_len=256)
        return self._create_zone(v.zone_name(name, "name"), comment)

    @operation()
    def get_zone(self, zone: ZoneRef) -> Zone:
        """A zone by id or by name, or ``NotFound``."""
        return self._get_zone(ref(zone, "zone", Zone))

    @operation()
    def list_zones(self) -> Iterator[Zone]:
        """All zones, lazily."""
        return self._list_zones()

    @operation()
    def delete_zone(self, zone: ZoneRef, *, force: bool = False) -> None:
        """Delete a zone. A zone with records of its own raises ``Conflict`` unless ``force``."""
        z = self._zone(zone)
        if force:
            doomed = [r for r in self._list_records(z.id, None, None) if (r.name, r.type) not in _MANAGED]
            if doomed:
                self._change_records(z, [RecordChange("DELETE", r) for r in doomed])
        self._delete_zone(z.id)

    # ---------------------------------------------------------------- records
    @operation()
    def list_records(self, zone: ZoneRef, *, name: str | None = None, type: str | None = None) -> Iterator[RecordSet]:
        """Record sets in the zone (optionally of one name and/or type), lazily."""
        z = self._zone(zone)
        rname = None if name is None else v.record_name(name, z.name)
        rtype = None if type is None else v.one_of("type", type.lower() if isinstance(type, str) else type,
                                                   [t.lower() for t in v.RECORD_TYPES]).upper()
        return self._list_records(z.id, rname, rtype)

    @operation(derives=("list_records",))
    def get_record(self, zone: ZoneRef, name: str, type: str) -> RecordSet:
        """One record set, or ``NotFound``."""
        from cloudkit.errors import NotFound

        z = self._zone(zone)
        v.record_name(name, z.name)
        if not isinstance(type, str):
            raise InvalidInput("type", f"must be one of {', '.join(v.RECORD_TYPES)}")
        for record in self.list_records(z, name=name, type=type):
            return record
        raise NotFound(f"no {type.upper()} record set named {name!r} in zone {z.name}", provider=self.provider)

    @operation()
    def change_records(self, zone: ZoneRef, changes: Sequence[RecordChange], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        """Apply upserts and deletes as one atomic batch (split only where the provider's quotas demand)."""
        if isinstance(changes, (str, bytes)) or not isinstance(changes, Iterable):
            raise InvalidInput("changes", "must be a sequence of RecordChange")
        changes = list(changes)
        for i, ch in enumerate(changes):
            if not isinstance(ch, RecordChange) or ch.action not in ("UPSERT", "DELETE"):
                raise InvalidInput(f"changes[{i}]", "must be a RecordChange with action UPSERT or DELETE")
        v.timeout(timeout)
        # Syntax first, with the zone's name when known, before any network call.
        probe = zone.name if isinstance(zone, Zone) else "zone.invalid"
        if not isinstance(zone, Zone):
            for i, ch in enumerate(changes):
                if not (isinstance(ch.record.name, str) and ch.record.name.endswith(".")):
                    v.record_set(ch.record, probe, f"changes[{i}].record")
        z = self._zone(zone)
        checked = [RecordChange(ch.action, v.record_set(ch.record, z.name, f"changes[{i}].record")) for i, ch in enumerate(changes)]
        seen: set[tuple[str, str]] = set()
        for i, ch in enumerate(checked):
            key = (ch.record.name, ch.record.type)
            if key in seen:
                raise InvalidInput(f"changes[{i}]", f"{ch.record.type} {ch.record.name} appears twice in one batch")
            seen.add(key)
            if key == ("@", "SOA") and ch.action == "DELETE":
                raise InvalidInput(f"changes[{i}]", "the zone's SOA record cannot be deleted")
        if not checked:
            raise InvalidInput("changes", "must hold at least one change")
        return self._change_records(z, checked, wait=wait, timeout=timeout)

    @operation(derives=("change_records",))
    def upsert_records(self, zone: ZoneRef, records: Sequence[RecordSet], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        """Create or replace record sets, in one atomic batch."""
        return self.change_records(zone, [RecordChange("UPSERT", r) for r in _records(records)], wait=wait, timeout=timeout)

    @operation(derives=("change_records",))
    def delete_records(self, zone: ZoneRef, records: Sequence[RecordSet], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        """Delete record sets (values must match what is stored), in one atomic batch."""
        return self.change_records(zone, [RecordChange("DELETE", r) for r in _records(records)], wait=wait, timeout=timeout)

    @operation(derives=("list_records",))
    def plan_sync(
        self,
        zone: ZoneRef,
        desired: Sequence[RecordSet],
        *,
        delete_missing: bool = False,
        update_threshold: float = UPDATE_THRESHOLD,
        delete_threshold: float = DELETE_THRESHOLD,
        min_existing: int = MIN_EXISTING,
    ) -> Plan:
        """The :class:`~cloudkit.plan.Plan` that makes the zone hold ``desired``: inspect it, then :meth:`apply_plan`.

        With ``delete_missing`` record sets not in ``desired`` are deleted too (never SOA or apex NS).
        The thresholds (fractions of the zone's own record sets, checked only when it holds at least
        ``min_existing``) decide what :meth:`~cloudkit.plan.Plan.raise_if_unsafe` refuses.
        """
        z = self._zone(zone)
        v.number_range("update_threshold", update_threshold, 0, 1)
        v.number_range("delete_threshold", delete_threshold, 0, 1)
        v.int_range("min_existing", min_existing, 0, 1_000_000)
        want = {}
        for i, r in enumerate(_records(desired)):
            rec = v.record_set(r, z.name, f"desired[{i}]")
            want[(rec.name, rec.type)] = rec
        have = {(r.name, r.type): r for r in self._list_records(z.id, None, None)}
        creates: list[RecordChange] = []
        updates: list[RecordChange] = []
        for key, rec in want.items():
            cur = have.get(key)
            if cur is None:
                creates.append(RecordChange("UPSERT", rec))
            elif cur.ttl != rec.ttl or sorted(cur.values) != sorted(rec.values):
                updates.append(RecordChange("UPSERT", rec))
        doomed = [r for k, r in have.items() if k not in want and k not in _MANAGED] if delete_missing else []
        return Plan(
            zone=z,
            creates=tuple(creates),
            updates=tuple(updates),
            deletes=tuple(RecordChange("DELETE", r) for r in doomed),
            existing=sum(1 for k in have if k not in _MANAGED),
            update_threshold=float(update_threshold),
            delete_threshold=float(delete_threshold),
            min_existing=min_existing,
        )

    @operation(derives=("change_records",))
    def apply_plan(self, plan: Plan, *, force: bool = False, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        """Apply a plan from :meth:`plan_sync` as one atomic batch.

        An unsafe plan raises :class:`~cloudkit.plan.UnsafePlan` (naming the counts) unless ``force``;
        an empty plan changes nothing and returns an ``INSYNC`` ChangeInfo.
        """
        if not isinstance(plan, Plan):
            raise InvalidInput("plan", "must be a Plan returned by plan_sync")
        v.flag("force", force)
        v.timeout(timeout)
        if not force:
            plan.raise_if_unsafe()
        if not plan:
            return ChangeInfo(id="", status="INSYNC", change_count=0)
        return self.change_records(plan.zone, list(plan.changes), wait=wait, timeout=timeout)

    # ---------------------------------------------------------------- zone files
    @operation(derives=("get_zone", "list_records"))
    def export_zone(self, zone: ZoneRef) -> str:
        """The zone as RFC 1035 zone-file text (``$ORIGIN`` and ``$TTL`` lines, names relative)."""
        import dns.name
        import dns.rdata
        import dns.rdataclass
        import dns.rdatatype
        import dns.zone

        z = self._zone(zone)
        origin = dns.name.from_text(z.name)
        zobj = dns.zone.Zone(origin, relativize=True)
        ttls = []
        for rec in self._list_records(z.id, None, None):
            name = dns.name.empty if rec.name == "@" else dns.name.from_text(rec.name, None)
            rds = zobj.find_rdataset(name, dns.rdatatype.from_text(rec.type), create=True)
            for value in rec.values:
                rds.add(dns.rdata.from_text(dns.rdataclass.IN, rds.rdtype, value, origin=origin, relativize=True), rec.ttl)
            ttls.append(rec.ttl)
        default = max(set(ttls), key=ttls.count) if ttls else 300
        body = zobj.to_text(sorted=True, relativize=True, nl="\n")
        return f"$ORIGIN {origin.to_text()}\n$TTL {default}\n{body}"

    @operation(derives=("get_zone", "list_records", "change_records"))
    def import_zone(self, zone: ZoneRef, text: str, *, replace: bool = False) -> ChangeInfo:
        """Upsert every record set of zone-file ``text`` in one batch (SOA and apex NS are kept).

        With ``replace`` record sets absent from the file are deleted as well.
        """
        import dns.exception
        import dns.name
        import dns.rdatatype
        import dns.zone

        if not isinstance(text, str) or not text.strip():
            raise InvalidInput("text", "must be zone-file text")
        z = self._zone(zone)
        origin = dns.name.from_text(z.name)
        try:
            parsed = dns.zone.from_text(text, origin=origin, relativize=True, check_origin=False)
        except dns.exception.DNSException as exc:
            raise InvalidInput("text", f"is not a valid zone file ({exc})") from None
        desired = []
        for name, node in parsed.nodes.items():
            rel = name.to_text()
            for rds in node.rdatasets:
                rtype = dns.rdatatype.to_text(rds.rdtype)
                if (rel, rtype) in _MANAGED:
                    continue
                values = [rd.to_text(origin=origin, relativize=False) for rd in rds]
                desired.append(RecordSet(name=rel, type=rtype, ttl=rds.ttl, values=values))
        plan = self.plan_sync(z, desired, delete_missing=replace)
        if not plan:
            return ChangeInfo(id="", status="INSYNC", change_count=0)
        return self._change_records(z, list(plan.changes))  # an explicit replace: no thresholds

    # ---------------------------------------------------------------- helpers
    def _zone(self, zone: ZoneRef) -> Zone:
        """The zone a parameter names: a :class:`Zone` as given (its id checked), else looked up by id or name."""
        zone_id = ref(zone, "zone", Zone)
        return zone if isinstance(zone, Zone) else self._get_zone(zone_id)

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _create_zone(self, name: str, comment: str | None) -> Zone:
            ...

        def _get_zone(self, zone_id_or_name: str) -> Zone:
            """Return a zone given its id *or* its name (with or without the trailing dot)."""
            ...

        def _list_zones(self) -> Iterator[Zone]:
            ...

        def _delete_zone(self, zone_id: str) -> None:
            ...

        def _list_records(self, zone_id: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
            """Record sets normalised as :func:`cloudkit.validation.record_set` returns them."""
            ...

        def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
            """Apply validated, normalised changes atomically. DELETE of a missing record set raises ``NotFound``."""
            ...


def _records(records: Any) -> list[RecordSet]:
    if isinstance(records, RecordSet):
        return [records]
    if isinstance(records, (str, bytes)) or not isinstance(records, Iterable):
        raise InvalidInput("records", "must be a sequence of RecordSet")
    return list(records)
