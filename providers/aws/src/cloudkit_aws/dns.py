"""DNS on Amazon Route 53.

Changes go to ``ChangeResourceRecordSets`` in as few requests as Route 53's quotas allow: at most
1,000 ``ResourceRecord`` values and 32,000 characters of values a request, each UPSERT counting
twice. One request is atomic; when a change set needs several, a failure of a later request
rolls the earlier ones back (their inverse is applied) before the error is raised, so a failed
call leaves the zone as it was. ``wait=True`` polls ``GetChange`` until ``INSYNC``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from cloudkit import validation as v
from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models.dns import ChangeInfo, RecordChange, RecordSet, Zone
from cloudkit.services.dns import DNSService
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors, mapped

#: Route 53's limits on one ChangeResourceRecordSets request.
MAX_VALUES_PER_REQUEST = 1000
MAX_VALUE_CHARS_PER_REQUEST = 32000


def zone_id(value: str) -> str:
    """``Z123`` from ``/hostedzone/Z123`` (or ``Z123``)."""
    return value.rsplit("/", 1)[-1]


def _unescape(name: str) -> str:
    """Route 53 returns ``*`` and other octets as ``\\052``-style escapes."""
    if "\\" not in name:
        return name
    out, i = [], 0
    while i < len(name):
        if name[i] == "\\" and name[i + 1 : i + 4].isdigit():
            out.append(chr(int(name[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(name[i])
            i += 1
    return "".join(out)


def _fqdn_value(rtype: str, value: str) -> str:
    """Route 53 takes every domain name in a value as absolute, with or without the final dot."""
    if value.startswith("{'Value': '") and value.endswith("'}"):  # moto's SOA comes back as a dict's repr
        value = value[len("{'Value': '") : -2]
    if rtype in ("NS", "CNAME", "PTR", "MX", "SRV"):
        head, _, last = value.rpartition(" ")
        if last and not last.endswith("."):
            return f"{head} {last}." if head else f"{last}."
    return value


def _absolute(name: str, zone: str) -> str:
    return f"{zone}." if name == "@" else f"{name}.{zone}."


def _weight(change: RecordChange) -> tuple[int, int]:
    """(ResourceRecord count, value characters) a change costs against a request's quotas."""
    factor = 2 if change.action == "UPSERT" else 1
    return factor * len(change.record.values), factor * sum(len(x) for x in change.record.values)


def plan_batches(changes: list[RecordChange]) -> list[list[RecordChange]]:
    """Split ``changes`` into the fewest consecutive requests Route 53's quotas allow."""
    batches: list[list[RecordChange]] = []
    current: list[RecordChange] = []
    values = chars = 0
    for change in changes:
        n, c = _weight(change)
        if n > MAX_VALUES_PER_REQUEST or c > MAX_VALUE_CHARS_PER_REQUEST:
            raise InvalidInput(
                "changes", f"{change.record.type} {change.record.name} alone exceeds Route 53's limit of "
                f"{MAX_VALUES_PER_REQUEST} values / {MAX_VALUE_CHARS_PER_REQUEST} characters a request",
                provider=PROVIDER,
            )
        if current and (values + n > MAX_VALUES_PER_REQUEST or chars + c > MAX_VALUE_CHARS_PER_REQUEST):
            batches.append(current)
            current, values, chars = [], 0, 0
        current.append(change)
        values += n
        chars += c
    if current:
        batches.append(current)
    return batches


class AwsDNS(AwsErrors, DNSService):
    """The DNS family on Route 53."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self.aws = AwsSession(self.settings)
        self._names: dict[str, str] = {}  # zone id -> zone name, learnt from every zone seen

    @property
    def native(self) -> Any:
        """The boto3 Route 53 client."""
        return self.aws.client("route53")

    def close(self) -> None:
        self.aws.close()

    @property
    def _r53(self) -> Any:
        return self.aws.client("route53")

    def _zone_model(self, hz: Mapping[str, Any], delegation: Mapping[str, Any] | None = None) -> Zone:
        config = hz.get("Config") or {}
        extra = {"CallerReference": hz.get("CallerReference"), "PrivateZone": config.get("PrivateZone", False)}
        zid, name = zone_id(hz["Id"]), _unescape(hz["Name"]).rstrip(".").lower()
        self._names[zid] = name
        return Zone(
            id=zid,
            name=name,
            record_count=hz.get("ResourceRecordSetCount"),
            comment=config.get("Comment") or None,
            name_servers=tuple((delegation or {}).get("NameServers", ())),
            extra=extra,
        )

    # ---------------------------------------------------------------- zones
    def _find_by_name(self, name: str) -> Zone | None:
        with mapped(f"find zone {name}"):
            out = self._r53.list_hosted_zones_by_name(DNSName=name, MaxItems="10")
        for hz in out.get("HostedZones", []):
            if _unescape(hz["Name"]).rstrip(".").lower() == name:
                return self._zone_model(hz)
        return None

    def _create_zone(self, name: str, comment: str | None) -> Zone:
        if self._find_by_name(name) is not None:
            raise AlreadyExists(f"create zone {name}: a hosted zone with this name exists", provider=PROVIDER,
                                code="HostedZoneAlreadyExists")
        params: dict[str, Any] = {"Name": name, "CallerReference": f"cloudkit-{uuid.uuid4()}"}
        if comment:
            params["HostedZoneConfig"] = {"Comment": comment}
        # botocore's retries resend the same CallerReference, so a retried create never makes two zones.
        out = self._r53.create_hosted_zone(**params)
        return self._zone_model(out["HostedZone"], out.get("DelegationSet"))

    def _get_zone(self, zone_id_or_name: str) -> Zone:
        ref = zone_id_or_name.strip()
        if "." in ref and "/" not in ref:
            name = v.zone_name(ref, "zone")
            found = self._find_by_name(name)
            if found is None:
                raise NotFound(f"get zone {name}: no hosted zone with this name", provider=PROVIDER, code="NoSuchHostedZone")
            ref = found.id
        out = self._r53.get_hosted_zone(Id=zone_id(ref))
        return self._zone_model(out["HostedZone"], out.get("DelegationSet"))

    def _list_zones(self) -> Iterator[Zone]:
        for page in self.aws.pages("route53", "list_hosted_zones", "list zones"):
            for hz in page.get("HostedZones", []):
                yield self._zone_model(hz)

    def _delete_zone(self, zone_id_: str) -> None:
        self._r53.delete_hosted_zone(Id=zone_id(zone_id_))

    # ---------------------------------------------------------------- records
    def _record(self, rrset: Mapping[str, Any], zone: str) -> RecordSet:
        fqdn = _unescape(rrset["Name"]).rstrip(".").lower()
        rel = "@" if fqdn == zone else fqdn[: -len(zone) - 1]
        values = [_fqdn_value(rrset["Type"], r["Value"]) for r in rrset.get("ResourceRecords", [])]
        extra = {k: rrset[k] for k in ("AliasTarget", "SetIdentifier", "Weight", "Region", "Failover") if k in rrset}
        raw = RecordSet(name=rel, type=rrset["Type"], ttl=int(rrset.get("TTL", 0)), values=values, extra=extra)
        if not values:
            return raw  # alias records have no values of their own
        try:
            return v.record_set(raw, zone)
        except InvalidInput:
            return raw  # a record cloudkit's syntax rules do not cover; shown as Route 53 has it

    def _list_records(self, zone_id_: str, name: str | None, type: str | None) -> Iterator[RecordSet]:
        zid = zone_id(zone_id_)
        zone = Zone(id=zid, name=self._names[zid]) if zid in self._names else self._get_zone(zid)
        params: dict[str, Any] = {"HostedZoneId": zone.id}
        if name is not None:
            params["StartRecordName"] = _absolute(name, zone.name)
            if type is not None:
                params["StartRecordType"] = type
        for page in self.aws.pages("route53", "list_resource_record_sets", f"list records of {zone.name}", **params):
            for rrset in page.get("ResourceRecordSets", []):
                record = self._record(rrset, zone.name)
                if name is not None and record.name != name:
                    return  # sorted by name: past the one asked for
                if type is not None and record.type != type:
                    continue
                yield record

    def _native_change(self, change: RecordChange, zone: str) -> dict[str, Any]:
        r = change.record
        rrset: dict[str, Any] = {"Name": _absolute(r.name, zone), "Type": r.type}
        alias = r.extra.get("AliasTarget") if r.extra else None
        if alias and not r.values:
            rrset["AliasTarget"] = alias
        else:
            rrset["TTL"] = r.ttl
            rrset["ResourceRecords"] = [{"Value": x} for x in r.values]
        return {"Action": change.action, "ResourceRecordSet": rrset}

    def _submit(self, zone: Zone, batch: list[RecordChange]) -> dict[str, Any]:
        with mapped(f"change records of {zone.name}"):
            out = self._r53.change_resource_record_sets(
                HostedZoneId=zone.id,
                ChangeBatch={"Comment": "cloudkit", "Changes": [self._native_change(c, zone.name) for c in batch]},
            )
        info: dict[str, Any] = out["ChangeInfo"]
        return info

    def _inverse(self, zone: Zone, applied: list[RecordChange], before: dict[tuple[str, str], RecordSet]) -> list[RecordChange]:
        undo: list[RecordChange] = []
        for change in reversed(applied):
            key = (change.record.name, change.record.type)
            old = before.get(key)
            if change.action == "UPSERT":
                undo.append(RecordChange("UPSERT", old) if old is not None else RecordChange("DELETE", change.record))
            else:
                undo.append(RecordChange("UPSERT", old or change.record))
        return undo

    def _check_cnames(self, zone: Zone, changes: list[RecordChange]) -> None:
        """A CNAME cannot share its name with other data (RFC 1034); refuse it before sending anything."""
        deleted = {(c.record.name, c.record.type) for c in changes if c.action == "DELETE"}
        for change in changes:
            if change.action != "UPSERT" or change.record.type != "CNAME":
                continue
            name = change.record.name
            others = [r.type for r in self._list_records(zone.id, name, None)
                      if r.type != "CNAME" and (name, r.type) not in deleted]
            others += [c.record.type for c in changes
                       if c.action == "UPSERT" and c.record.name == name and c.record.type != "CNAME"]
            if others:
                raise Conflict(f"change records of {zone.name}: a CNAME at {name!r} would sit beside "
                               f"{', '.join(sorted(set(others)))} records of the same name", provider=PROVIDER,
                               code="InvalidChangeBatch")

    def _change_records(self, zone: Zone, changes: list[RecordChange], *, wait: bool = False, timeout: float = 300) -> ChangeInfo:
        self._check_cnames(zone, changes)
        batches = plan_batches(changes)
        before: dict[tuple[str, str], RecordSet] = {}
        if len(batches) > 1:  # remember what is there, to undo the batches already applied on a failure
            touched = {(c.record.name, c.record.type) for c in changes}
            before = {(r.name, r.type): r for r in self._list_records(zone.id, None, None) if (r.name, r.type) in touched}
        infos: list[dict[str, Any]] = []
        applied: list[RecordChange] = []
        for batch in batches:
            try:
                infos.append(self._submit(zone, batch))
            except CloudkitError as exc:
                if applied:
                    try:
                        for undo in plan_batches(self._inverse(zone, applied, before)):
                            self._submit(zone, undo)
                    except CloudkitError as failed:
                        exc.add_note(f"rolling back the {len(applied)} changes already applied failed too: {failed}")
                raise
            applied.extend(batch)
        last = infos[-1]
        if wait:
            for info in infos:
                self.aws.wait("route53", "resource_record_sets_changed", f"wait for change {zone_id(info['Id'])}",
                              timeout, Id=zone_id(info["Id"]))
            last = {**last, "Status": "INSYNC"}
        return ChangeInfo(
            id=zone_id(last["Id"]),
            status=last["Status"],
            change_count=len(changes),
            submitted_at=last.get("SubmittedAt"),
            extra={"change_ids": tuple(zone_id(i["Id"]) for i in infos), "requests": len(infos)},
        )


def make_service(settings: Mapping[str, Any]) -> AwsDNS:
    """The DNS service of the aws provider."""
    return AwsDNS(settings)
