"""Resource types a stack can hold: the neutral ``Cloudkit::*`` types and the AWS type names mapped onto them.

Each type declares its properties (kind, required, and whether a change is applied in place or by
replacement), its ``Fn::GetAtt`` attributes, and how it is created, modified, found again (to
recover an interrupted apply), snapshotted and deleted through the families' public calls. The
neutral types use CloudFormation's property names, so a template moves between the two spellings
by changing ``Type`` only (:mod:`cloudkit_contrib.stacks.export` does that).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable, Mapping
from typing import Any

import attrs

import cloudkit
from cloudkit import InvalidInput, NotFound

__all__ = ["RESOURCE_TYPES", "Applied", "Prop", "ResourceType", "coerce"]

Props = Mapping[str, Any]


@attrs.frozen
class Prop:
    """One property: its kind (``str``, ``int``, ``bool``, ``list``, ``map``), whether it is required,
    how a change is applied (``modify`` in place or ``replace``), and whether it is a secret
    (never written to state: a digest is kept to notice changes)."""

    kind: str = "str"
    required: bool = False
    update: str = "replace"
    secret: bool = False
    doc: str = ""


@attrs.frozen
class Applied:
    """What a create or modify produced: the physical id, the value of ``Ref`` and every attribute."""

    physical_id: str
    ref: str
    attributes: Mapping[str, Any] = attrs.field(factory=dict)


@attrs.frozen
class Env:
    """What a handler knows besides the properties: the cloud, the region and the generated name."""

    cloud: cloudkit.Cloud
    region: str
    name: str  # the physical name generated for this resource (used when the template gives none)
    token: str  # an idempotency token, stable across a resumed apply


Create = Callable[[Env, Props], Applied]
Delete = Callable[[Env, str, Props], None]
Modify = Callable[[Env, str, Props, Props], Applied]
Find = Callable[[Env, Props], Applied | None]
Snapshot = Callable[[Env, str, Props, str], None]


@attrs.frozen
class ResourceType:
    """A resource type and how it maps onto a family."""

    name: str
    neutral: str
    aws: str
    family: str
    properties: Mapping[str, Prop]
    attributes: Mapping[str, str]
    ref_doc: str
    create: Create
    delete: Delete
    find: Find
    modify: Modify | None = None
    snapshot: Snapshot | None = None
    #: attributes only some providers can fill: attribute -> providers
    provider_attributes: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict)
    #: the property that names the resource: a resource named explicitly cannot be replaced under the same name
    name_property: str | None = None

    def check(self, props: Props, where: str) -> None:
        """Check the shapes of structured property values (tags, rules, bundles ...) before anything is created.

        Values still unknown (they depend on resources not made yet) are skipped.
        """
        for name, fn in _SHAPE_CHECKS.get(self.neutral, {}).items():
            value = props.get(name)
            if value is None or _unknown(value):
                continue
            try:
                fn(props)
            except InvalidInput as exc:
                field = exc.field if exc.field.startswith(name) else name
                raise InvalidInput(f"{where}.{field}", exc.rule) from None
        for group in _ONE_OF.get(self.neutral, ()):
            if not any(g in props for g in group):
                raise InvalidInput(f"{where}.{group[0]}", f"give one of {', '.join(group)}")

    def operations(self) -> tuple[str, ...]:
        """The family operations a resource of this type needs (checked before anything is created)."""
        return _OPERATIONS[self.neutral]


def coerce(prop: Prop, value: Any, where: str) -> Any:
    """``value`` as the property's kind (numbers and booleans also accepted as strings, as CloudFormation does)."""
    kind = prop.kind
    if kind == "str":
        if isinstance(value, bool):
            return "true" if value else "false"
        if isinstance(value, (int, float)):
            return str(value)
        if not isinstance(value, str):
            raise InvalidInput(where, "must be a string")
        return value
    if kind == "int":
        if isinstance(value, bool):
            raise InvalidInput(where, "must be an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,12}", value.strip()):
            return int(value)
        raise InvalidInput(where, "must be an integer")
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise InvalidInput(where, "must be true or false")
    if kind == "list":
        if not isinstance(value, list):
            raise InvalidInput(where, "must be a list")
        return value
    if kind == "map":
        if not isinstance(value, dict):
            raise InvalidInput(where, "must be an object")
        return value
    return value


def _str_list(value: Any, where: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInput(where, "must be a list of strings")
    return [coerce(Prop("str"), v, f"{where}[{i}]") for i, v in enumerate(value)]


def _tags(value: Any, where: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, list):
        raise InvalidInput(where, "must be a list of {Key, Value}")
    out = {}
    for i, item in enumerate(value):
        if not isinstance(item, dict) or set(item) != {"Key", "Value"}:
            raise InvalidInput(f"{where}[{i}]", "must be {Key: ..., Value: ...}")
        out[coerce(Prop("str"), item["Key"], f"{where}[{i}].Key")] = coerce(Prop("str"), item["Value"], f"{where}[{i}].Value")
    return out


def _missing_ok(fn: Callable[[], object]) -> None:
    try:
        fn()
    except NotFound:
        pass


def _first(items: Any, pred: Callable[[Any], bool]) -> Any:
    for item in items:
        if pred(item):
            return item
    return None


# ------------------------------------------------------------------------------------ storage
def _bucket_applied(env: Env, name: str) -> Applied:
    aws = env.cloud.provider_of("storage") == "aws"
    attrs_: dict[str, Any] = {
        "Arn": f"arn:aws:s3:::{name}" if aws else f"cloudkit:{env.cloud.provider_of('storage')}:storage:bucket/{name}",
        "BucketName": name,
    }
    if aws:
        attrs_["DomainName"] = f"{name}.s3.amazonaws.com"
        attrs_["RegionalDomainName"] = f"{name}.s3.{env.region}.amazonaws.com"
        attrs_["WebsiteURL"] = f"http://{name}.s3-website-{env.region}.amazonaws.com"
    return Applied(name, name, attrs_)


def _bucket_name(env: Env, p: Props) -> str:
    return str(p.get("BucketName") or _dns_label(env.name, 63))


def _create_bucket(env: Env, p: Props) -> Applied:
    name = _bucket_name(env, p)
    try:
        env.cloud.storage.create_bucket(name)
    except cloudkit.AlreadyExists:
        # ours only if a resumed apply made it: the engine calls find() before create() when resuming
        raise
    return _bucket_applied(env, name)


def _find_bucket(env: Env, p: Props) -> Applied | None:
    name = _bucket_name(env, p)
    try:
        env.cloud.storage.get_bucket(name)
    except NotFound:
        return None
    return _bucket_applied(env, name)


BUCKET_PROPS = {"BucketName": Prop("str", doc="bucket name (generated when left out)")}


# ------------------------------------------------------------------------------------ dns
def _zone_applied(zone: cloudkit.Zone) -> Applied:
    return Applied(zone.id, zone.id, {"Id": zone.id, "NameServers": list(zone.name_servers)})


def _comment(p: Props) -> str | None:
    cfg = p.get("HostedZoneConfig") or {}
    if not isinstance(cfg, dict) or set(cfg) - {"Comment"}:
        raise InvalidInput("HostedZoneConfig", "must be {Comment: ...}")
    return None if cfg.get("Comment") is None else str(cfg["Comment"])


def _create_zone(env: Env, p: Props) -> Applied:
    return _zone_applied(env.cloud.dns.create_zone(str(p["Name"]).rstrip("."), comment=_comment(p)))


def _find_zone(env: Env, p: Props) -> Applied | None:
    name = str(p["Name"]).rstrip(".").lower()
    zone = _first(env.cloud.dns.list_zones(), lambda z: z.name.lower() == name)
    return None if zone is None else _zone_applied(zone)


def _delete_zone(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.dns.delete_zone(pid, force=True))


def _record_zone(env: Env, p: Props) -> cloudkit.Zone:
    if p.get("HostedZoneId"):
        found: cloudkit.Zone = env.cloud.dns.get_zone(str(p["HostedZoneId"]))
        return found
    name = str(p.get("HostedZoneName") or "").rstrip(".").lower()
    if not name:
        raise InvalidInput("HostedZoneId", "give HostedZoneId or HostedZoneName")
    zone = _first(env.cloud.dns.list_zones(), lambda z: z.name.lower() == name)
    if zone is None:
        raise NotFound(f"no hosted zone named {name!r}")
    return zone  # type: ignore[no-any-return]


def _record(p: Props) -> cloudkit.RecordSet:
    name = str(p["Name"])
    return cloudkit.RecordSet(name=name if name.endswith(".") else name + ".", type=str(p["Type"]),
                              ttl=coerce(Prop("int"), p.get("TTL", 300), "TTL"),
                              values=tuple(_str_list(p.get("ResourceRecords", []), "ResourceRecords")))


def _record_applied(zone: cloudkit.Zone, p: Props) -> Applied:
    name = str(p["Name"]).rstrip(".")
    return Applied(f"{zone.id}|{name}.|{str(p['Type']).upper()}", name, {})


def _create_record(env: Env, p: Props) -> Applied:
    zone = _record_zone(env, p)
    env.cloud.dns.upsert_records(zone, [_record(p)])
    return _record_applied(zone, p)


def _find_record(env: Env, p: Props) -> Applied | None:
    try:
        zone = _record_zone(env, p)
        env.cloud.dns.get_record(zone, str(p["Name"]).rstrip(".") + ".", str(p["Type"]))
    except NotFound:
        return None
    return _record_applied(zone, p)


def _modify_record(env: Env, pid: str, old: Props, new: Props) -> Applied:
    return _create_record(env, new)


def _delete_record(env: Env, pid: str, p: Props) -> None:
    zone_id, name, rtype = pid.split("|")
    try:
        current = env.cloud.dns.get_record(zone_id, name, rtype)
    except NotFound:
        return
    env.cloud.dns.delete_records(zone_id, [current])


RECORD_PROPS = {
    "HostedZoneId": Prop("str", doc="zone id (or give HostedZoneName)"),
    "HostedZoneName": Prop("str", doc="zone name (or give HostedZoneId)"),
    "Name": Prop("str", required=True, doc="record name, absolute (www.example.com.)"),
    "Type": Prop("str", required=True, doc="A, AAAA, CNAME, MX, TXT, ..."),
    "TTL": Prop("int", update="modify", doc="seconds (default 300)"),
    "ResourceRecords": Prop("list", update="modify", doc="values in zone-file format"),
}


# ------------------------------------------------------------------------------------ notification
def _topic_applied(t: cloudkit.Topic) -> Applied:
    return Applied(t.id, t.id, {"TopicArn": t.id, "TopicName": t.name})


def _topic_name(env: Env, p: Props) -> str:
    return str(p.get("TopicName") or _word(env.name, 256))


def _create_topic(env: Env, p: Props) -> Applied:
    dn = p.get("DisplayName")
    return _topic_applied(env.cloud.notification.create_topic(_topic_name(env, p), display_name=None if dn is None else str(dn)))


def _find_topic(env: Env, p: Props) -> Applied | None:
    name = _topic_name(env, p)
    t = _first(env.cloud.notification.list_topics(), lambda t: t.name == name)
    return None if t is None else _topic_applied(t)


def _delete_topic(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.notification.delete_topic(pid))


def _protocol(p: Props) -> str:
    proto = str(p["Protocol"]).lower()
    return "queue" if proto == "sqs" else proto


def _create_sub(env: Env, p: Props) -> Applied:
    s = env.cloud.notification.subscribe(str(p["TopicArn"]), protocol=_protocol(p), endpoint=str(p["Endpoint"]))
    return Applied(s.id, s.id, {})


def _find_sub(env: Env, p: Props) -> Applied | None:
    try:
        subs = list(env.cloud.notification.list_subscriptions(str(p["TopicArn"])))
    except NotFound:
        return None
    proto = _protocol(p)
    endpoint = str(p["Endpoint"])
    s = _first(subs, lambda s: s.protocol == proto and (s.endpoint == endpoint or s.endpoint.endswith(":" + endpoint)))
    return None if s is None else Applied(s.id, s.id, {})


def _delete_sub(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.notification.unsubscribe(pid))


def _queue_applied(q: cloudkit.Queue) -> Applied:
    return Applied(q.id, q.url or q.id, {"Arn": q.id, "QueueName": q.name, "QueueUrl": q.url or q.id})


def _queue_name(env: Env, p: Props) -> str:
    return str(p.get("QueueName") or _word(env.name, 80))


def _create_queue(env: Env, p: Props) -> Applied:
    return _queue_applied(env.cloud.notification.create_queue(_queue_name(env, p)))


def _find_queue(env: Env, p: Props) -> Applied | None:
    name = _queue_name(env, p)
    q = _first(env.cloud.notification.list_queues(), lambda q: q.name == name)
    return None if q is None else _queue_applied(q)


def _delete_queue(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.notification.delete_queue(pid))


# ------------------------------------------------------------------------------------ compute
def _instance_applied(i: cloudkit.Instance) -> Applied:
    return Applied(i.id, i.id, {"PublicIp": i.public_ip, "PrivateIp": i.private_ip, "AvailabilityZone": i.zone,
                                "InstanceId": i.id})


def _instance_name(env: Env, p: Props) -> str:
    tags = _tags(p.get("Tags"), "Tags")
    return tags.get("Name") or _dns_label(env.name, 63)


def _user_data(p: Props) -> str | None:
    data = p.get("UserData")
    if data is None:
        return None
    text = str(data)
    try:  # CloudFormation's UserData is base64 (Fn::Base64); plain text is accepted as well
        return base64.b64decode(text, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return text


def _create_instance(env: Env, p: Props) -> Applied:
    tags = _tags(p.get("Tags"), "Tags")
    tags.pop("Name", None)
    groups = [*_str_list(p.get("SecurityGroups", []), "SecurityGroups"),
              *_str_list(p.get("SecurityGroupIds", []), "SecurityGroupIds")]
    inst = env.cloud.compute.create_instance(
        _instance_name(env, p), image=str(p["ImageId"]), instance_type=str(p["InstanceType"]),
        key_pair=None if p.get("KeyName") is None else str(p["KeyName"]), security_groups=groups,
        user_data=_user_data(p), subnet=None if p.get("SubnetId") is None else str(p["SubnetId"]),
        zone=None if p.get("AvailabilityZone") is None else str(p["AvailabilityZone"]),
        tags=tags or None, client_token=env.token, wait=True)
    return _instance_applied(inst)


def _find_instance(env: Env, p: Props) -> Applied | None:
    name = _instance_name(env, p)
    inst = _first(env.cloud.compute.list_instances(), lambda i: i.name == name and i.state not in ("terminated", "shutting-down"))
    return None if inst is None else _instance_applied(inst)


def _delete_instance(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.compute.terminate_instance(pid, wait=True))


def _rules(p: Props) -> list[cloudkit.SecurityRule]:
    out = []
    for i, r in enumerate(p.get("SecurityGroupIngress") or []):
        where = f"SecurityGroupIngress[{i}]"
        if not isinstance(r, dict) or set(r) - {"IpProtocol", "FromPort", "ToPort", "CidrIp", "Description"}:
            raise InvalidInput(where, "must be {IpProtocol, FromPort, ToPort, CidrIp}")
        out.append(cloudkit.SecurityRule(
            protocol=str(r.get("IpProtocol", "tcp")).lower(),
            from_port=None if r.get("FromPort") is None else coerce(Prop("int"), r["FromPort"], f"{where}.FromPort"),
            to_port=None if r.get("ToPort") is None else coerce(Prop("int"), r["ToPort"], f"{where}.ToPort"),
            cidr=str(r.get("CidrIp", "0.0.0.0/0"))))
    return out


def _sg_name(env: Env, p: Props) -> str:
    return str(p.get("GroupName") or _dns_label(env.name, 63))


def _create_sg(env: Env, p: Props) -> Applied:
    g = env.cloud.compute.create_security_group(_sg_name(env, p), description=str(p.get("GroupDescription", "")),
                                                rules=_rules(p))
    return Applied(g.id, g.id, {"GroupId": g.id})


def _find_sg(env: Env, p: Props) -> Applied | None:
    name = _sg_name(env, p)
    g = _first(env.cloud.compute.list_security_groups(), lambda g: g.name == name)
    return None if g is None else Applied(g.id, g.id, {"GroupId": g.id})


def _modify_sg(env: Env, pid: str, old: Props, new: Props) -> Applied:
    before, after = set(_rules(old)), set(_rules(new))
    if after - before:
        env.cloud.compute.authorize_ingress(pid, sorted(after - before, key=repr))
    if before - after:
        env.cloud.compute.revoke_ingress(pid, sorted(before - after, key=repr))
    return Applied(pid, pid, {"GroupId": pid})


def _delete_sg(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.compute.delete_security_group(pid))


def _volume_name(env: Env, p: Props) -> str:
    return _tags(p.get("Tags"), "Tags").get("Name") or _dns_label(env.name, 63)


def _create_volume(env: Env, p: Props) -> Applied:
    vol = env.cloud.compute.create_volume(
        coerce(Prop("int"), p["Size"], "Size"), name=_volume_name(env, p),
        zone=None if p.get("AvailabilityZone") is None else str(p["AvailabilityZone"]),
        snapshot=None if p.get("SnapshotId") is None else str(p["SnapshotId"]), wait=True)
    return Applied(vol.id, vol.id, {"VolumeId": vol.id})


def _find_volume(env: Env, p: Props) -> Applied | None:
    name = _volume_name(env, p)
    vol = _first(env.cloud.compute.list_volumes(), lambda v: v.name == name and v.state != "deleted")
    return None if vol is None else Applied(vol.id, vol.id, {"VolumeId": vol.id})


def _delete_volume(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.compute.delete_volume(pid))


def _snapshot_volume(env: Env, pid: str, p: Props, name: str) -> None:
    env.cloud.compute.create_volume_snapshot(pid, description=name, wait=True)
    _delete_volume(env, pid, p)


def _kp_applied(k: cloudkit.KeyPair) -> Applied:
    return Applied(k.name, k.name, {"KeyFingerprint": k.fingerprint, "KeyName": k.name})


def _create_kp(env: Env, p: Props) -> Applied:
    name = str(p["KeyName"])
    material = p.get("PublicKeyMaterial")
    if material is not None:
        return _kp_applied(env.cloud.compute.import_key_pair(name, str(material)))
    return _kp_applied(env.cloud.compute.create_key_pair(name))  # the private key is not kept anywhere


def _find_kp(env: Env, p: Props) -> Applied | None:
    k = _first(env.cloud.compute.list_key_pairs(), lambda k: k.name == str(p["KeyName"]))
    return None if k is None else _kp_applied(k)


def _delete_kp(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.compute.delete_key_pair(pid))


# ------------------------------------------------------------------------------------ database
def _db_applied(d: cloudkit.DatabaseInstance) -> Applied:
    ep = d.endpoint
    return Applied(d.id, d.id, {"Endpoint.Address": None if ep is None else ep.host,
                                "Endpoint.Port": None if ep is None else str(ep.port)})


def _db_id(env: Env, p: Props) -> str:
    ident = str(p.get("DBInstanceIdentifier") or _dns_label(env.name, 63)).lower()
    return ident if ident[:1].isalpha() else "db-" + ident[:60]


def _create_db(env: Env, p: Props) -> Applied:
    kw: dict[str, Any] = {}
    if p.get("DBInstanceClass") is not None:
        kw["instance_class"] = str(p["DBInstanceClass"])
    if p.get("AllocatedStorage") is not None:
        kw["storage_gb"] = coerce(Prop("int"), p["AllocatedStorage"], "AllocatedStorage")
    if p.get("EngineVersion") is not None:
        kw["engine_version"] = str(p["EngineVersion"])
    if p.get("DBName") is not None:
        kw["database_name"] = str(p["DBName"])
    if p.get("Iops") is not None:
        kw["iops"] = coerce(Prop("int"), p["Iops"], "Iops")
    if p.get("MultiAZ") is not None:
        kw["multi_az"] = coerce(Prop("bool"), p["MultiAZ"], "MultiAZ")
    if p.get("BackupRetentionPeriod") is not None:
        kw["backup_retention_days"] = coerce(Prop("int"), p["BackupRetentionPeriod"], "BackupRetentionPeriod")
    if p.get("PreferredMaintenanceWindow") is not None:
        kw["maintenance_window"] = str(p["PreferredMaintenanceWindow"])
    d = env.cloud.database.create_instance(
        _db_id(env, p), engine=str(p["Engine"]), master_username=str(p["MasterUsername"]),
        master_password=str(p["MasterUserPassword"]), wait=True, **kw)
    return _db_applied(d)


def _find_db(env: Env, p: Props) -> Applied | None:
    try:
        return _db_applied(env.cloud.database.get_instance(_db_id(env, p)))
    except NotFound:
        return None


_DB_MODIFY = {"DBInstanceClass": ("instance_class", "str"), "AllocatedStorage": ("storage_gb", "int"),
              "BackupRetentionPeriod": ("backup_retention_days", "int"),
              "PreferredMaintenanceWindow": ("maintenance_window", "str"), "MasterUserPassword": ("master_password", "str")}


def _modify_db(env: Env, pid: str, old: Props, new: Props) -> Applied:
    changes = {arg: coerce(Prop(kind), new[k], k) for k, (arg, kind) in _DB_MODIFY.items()
               if new.get(k) is not None and new.get(k) != old.get(k)}
    if not changes:
        return _db_applied(env.cloud.database.get_instance(pid))
    return _db_applied(env.cloud.database.modify_instance(pid, wait=True, **changes))


def _delete_db(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.database.delete_instance(pid, wait=True))


def _snapshot_db(env: Env, pid: str, p: Props, name: str) -> None:
    env.cloud.database.delete_instance(pid, final_snapshot=name, wait=True)


DB_PROPS = {
    "DBInstanceIdentifier": Prop("str", doc="identifier (generated when left out)"),
    "Engine": Prop("str", required=True, doc="postgres, mysql, ..."),
    "MasterUsername": Prop("str", required=True),
    "MasterUserPassword": Prop("str", required=True, update="modify", secret=True, doc="kept out of state and events"),
    "DBInstanceClass": Prop("str", update="modify"),
    "AllocatedStorage": Prop("int", update="modify", doc="GB"),
    "EngineVersion": Prop("str"),
    "DBName": Prop("str"),
    "Iops": Prop("int"),
    "MultiAZ": Prop("bool"),
    "BackupRetentionPeriod": Prop("int", update="modify", doc="days"),
    "PreferredMaintenanceWindow": Prop("str", update="modify"),
}


# ------------------------------------------------------------------------------------ platform
def _app_name(env: Env, p: Props) -> str:
    return str(p.get("ApplicationName") or env.name)


def _create_app(env: Env, p: Props) -> Applied:
    desc = p.get("Description")
    a = env.cloud.platform.create_application(_app_name(env, p), description=None if desc is None else str(desc))
    return Applied(a.name, a.name, {})


def _find_app(env: Env, p: Props) -> Applied | None:
    try:
        a = env.cloud.platform.get_application(_app_name(env, p))
    except NotFound:
        return None
    return Applied(a.name, a.name, {})


def _delete_app(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.platform.delete_application(pid, terminate_environments=True))


def _bundle(env: Env, p: Props) -> bytes:
    sb = p["SourceBundle"]
    if not isinstance(sb, dict) or set(sb) != {"S3Bucket", "S3Key"}:
        raise InvalidInput("SourceBundle", "must be {S3Bucket: ..., S3Key: ...}")
    with env.cloud.storage.get_object(str(sb["S3Bucket"]), str(sb["S3Key"])) as reader:
        data: bytes = reader.read()
    return data


def _create_version(env: Env, p: Props) -> Applied:
    app = str(p["ApplicationName"])
    desc = p.get("Description")
    ver = env.cloud.platform.create_version(app, _word(env.name, 100), source=_bundle(env, p),
                                            description=None if desc is None else str(desc))
    return Applied(f"{app}|{ver.label}", ver.label, {})


def _find_version(env: Env, p: Props) -> Applied | None:
    app = str(p["ApplicationName"])
    label = _word(env.name, 100)
    try:
        ver = _first(env.cloud.platform.list_versions(app), lambda v: v.label == label)
    except NotFound:
        return None
    return None if ver is None else Applied(f"{app}|{label}", label, {})


def _delete_version(env: Env, pid: str, p: Props) -> None:
    app, _, label = pid.partition("|")
    _missing_ok(lambda: env.cloud.platform.delete_version(app, label))


def _env_settings(p: Props) -> cloudkit.EnvironmentSettings | None:
    opts = p.get("OptionSettings")
    if not opts:
        return None
    env_vars, options = {}, {}
    for i, o in enumerate(opts):
        if not isinstance(o, dict) or not {"Namespace", "OptionName", "Value"} <= set(o):
            raise InvalidInput(f"OptionSettings[{i}]", "must be {Namespace, OptionName, Value}")
        if o["Namespace"] == "aws:elasticbeanstalk:application:environment":
            env_vars[str(o["OptionName"])] = str(o["Value"])
        else:
            options[f"{o['Namespace']}:{o['OptionName']}"] = str(o["Value"])
    return cloudkit.EnvironmentSettings(env_vars=env_vars, options=options)


def _env_applied(e: cloudkit.Environment) -> Applied:
    return Applied(e.id, e.name, {"EndpointURL": e.url})


def _env_name(env: Env, p: Props) -> str:
    return str(p.get("EnvironmentName") or _dns_label(env.name, 40))


def _create_env(env: Env, p: Props) -> Applied:
    version = p.get("VersionLabel")
    if version is None:
        raise InvalidInput("VersionLabel", "is required on this provider-neutral platform")
    e = env.cloud.platform.create_environment(
        str(p["ApplicationName"]), _env_name(env, p), version=str(version),
        stack=None if p.get("SolutionStackName") is None else str(p["SolutionStackName"]),
        settings=_env_settings(p), wait=True)
    return _env_applied(e)


def _find_env(env: Env, p: Props) -> Applied | None:
    name = _env_name(env, p)
    try:
        e = _first(env.cloud.platform.list_environments(str(p["ApplicationName"])), lambda e: e.name == name)
    except NotFound:
        return None
    return None if e is None or e.status in ("terminating", "terminated") else _env_applied(e)


def _modify_env(env: Env, pid: str, old: Props, new: Props) -> Applied:
    e = env.cloud.platform.get_environment(pid)
    if new.get("VersionLabel") != old.get("VersionLabel"):
        e = env.cloud.platform.deploy(pid, str(new["VersionLabel"]), wait=True)
    if new.get("OptionSettings") != old.get("OptionSettings"):
        e = env.cloud.platform.update_settings(pid, _env_settings(new) or cloudkit.EnvironmentSettings(), wait=True)
    return _env_applied(e)


def _delete_env(env: Env, pid: str, p: Props) -> None:
    _missing_ok(lambda: env.cloud.platform.terminate_environment(pid, wait=True))


# ------------------------------------------------------------------------------------ names
def _dns_label(text: str, limit: int) -> str:
    out = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return out[:limit].rstrip("-") or "stack"


def _word(text: str, limit: int) -> str:
    return (re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:limit]) or "stack"


def _unknown(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_unknown(v) for v in value)
    return type(value).__name__ == "Unknown"


def _bundle_shape(p: Props) -> None:
    sb = p["SourceBundle"]
    if not isinstance(sb, dict) or set(sb) != {"S3Bucket", "S3Key"}:
        raise InvalidInput("SourceBundle", "must be {S3Bucket: ..., S3Key: ...}")


def _zone_config_shape(p: Props) -> None:
    _comment(p)


def _subscription_shape(p: Props) -> None:
    if _protocol(p) not in ("http", "https", "email", "sms", "queue"):
        raise InvalidInput("Protocol", "must be http, https, email, sms or sqs (queue)")


_SHAPE_CHECKS: dict[str, dict[str, Callable[[Props], object]]] = {
    "Cloudkit::Compute::Instance": {"Tags": lambda p: _tags(p["Tags"], "Tags")},
    "Cloudkit::Compute::Volume": {"Tags": lambda p: _tags(p["Tags"], "Tags")},
    "Cloudkit::Compute::SecurityGroup": {"SecurityGroupIngress": _rules, "Tags": lambda p: _tags(p["Tags"], "Tags")},
    "Cloudkit::DNS::RecordSet": {"ResourceRecords": lambda p: _str_list(p["ResourceRecords"], "ResourceRecords")},
    "Cloudkit::DNS::Zone": {"HostedZoneConfig": _zone_config_shape},
    "Cloudkit::Notification::Subscription": {"Protocol": _subscription_shape},
    "Cloudkit::Platform::Version": {"SourceBundle": _bundle_shape},
    "Cloudkit::Platform::Environment": {"OptionSettings": _env_settings},
}
_ONE_OF: dict[str, tuple[tuple[str, ...], ...]] = {
    "Cloudkit::DNS::RecordSet": (("HostedZoneId", "HostedZoneName"),),
}

# ------------------------------------------------------------------------------------ the registry
_OPERATIONS = {
    "Cloudkit::Storage::Bucket": ("create_bucket", "get_bucket", "delete_bucket"),
    "Cloudkit::DNS::Zone": ("create_zone", "list_zones", "delete_zone"),
    "Cloudkit::DNS::RecordSet": ("upsert_records", "get_record", "delete_records"),
    "Cloudkit::Notification::Topic": ("create_topic", "list_topics", "delete_topic"),
    "Cloudkit::Notification::Subscription": ("subscribe", "list_subscriptions", "unsubscribe"),
    "Cloudkit::Notification::Queue": ("create_queue", "list_queues", "delete_queue"),
    "Cloudkit::Compute::Instance": ("create_instance", "list_instances", "terminate_instance"),
    "Cloudkit::Compute::SecurityGroup": ("create_security_group", "list_security_groups", "delete_security_group"),
    "Cloudkit::Compute::Volume": ("create_volume", "list_volumes", "delete_volume"),
    "Cloudkit::Compute::KeyPair": ("create_key_pair", "list_key_pairs", "delete_key_pair"),
    "Cloudkit::Database::Instance": ("create_instance", "get_instance", "delete_instance"),
    "Cloudkit::Platform::Application": ("create_application", "get_application", "delete_application"),
    "Cloudkit::Platform::Version": ("create_version", "list_versions", "delete_version"),
    "Cloudkit::Platform::Environment": ("create_environment", "list_environments", "terminate_environment"),
}


def _types() -> dict[str, ResourceType]:
    defs = [
        ResourceType("Cloudkit::Storage::Bucket", "Cloudkit::Storage::Bucket", "AWS::S3::Bucket", "storage",
                     BUCKET_PROPS, {"Arn": "ARN (an ARN-like id off AWS)", "BucketName": "the bucket's name",
                                    "DomainName": "host name", "RegionalDomainName": "regional host name",
                                    "WebsiteURL": "website URL"},
                     "the bucket name", _create_bucket, lambda env, pid, p: _missing_ok(
                         lambda: env.cloud.storage.delete_bucket(pid, force=True)), _find_bucket,
                     provider_attributes={"DomainName": ("aws",), "RegionalDomainName": ("aws",), "WebsiteURL": ("aws",)},
                     name_property="BucketName"),
        ResourceType("Cloudkit::DNS::Zone", "Cloudkit::DNS::Zone", "AWS::Route53::HostedZone", "dns",
                     {"Name": Prop("str", required=True, doc="domain name"),
                      "HostedZoneConfig": Prop("map", doc="{Comment: ...}")},
                     {"Id": "zone id", "NameServers": "list of name servers"}, "the zone id",
                     _create_zone, _delete_zone, _find_zone,
                     name_property="Name"),
        ResourceType("Cloudkit::DNS::RecordSet", "Cloudkit::DNS::RecordSet", "AWS::Route53::RecordSet", "dns",
                     RECORD_PROPS, {}, "the record name", _create_record, _delete_record, _find_record, _modify_record),
        ResourceType("Cloudkit::Notification::Topic", "Cloudkit::Notification::Topic", "AWS::SNS::Topic", "notification",
                     {"TopicName": Prop("str", doc="generated when left out"), "DisplayName": Prop("str")},
                     {"TopicArn": "the topic id (an ARN on aws)", "TopicName": "the topic name"}, "the topic id (ARN)",
                     _create_topic, _delete_topic, _find_topic,
                     name_property="TopicName"),
        ResourceType("Cloudkit::Notification::Subscription", "Cloudkit::Notification::Subscription",
                     "AWS::SNS::Subscription", "notification",
                     {"TopicArn": Prop("str", required=True), "Protocol": Prop("str", required=True,
                                                                              doc="http, https, email, sms, sqs/queue"),
                      "Endpoint": Prop("str", required=True, doc="URL, address, or queue ARN")},
                     {}, "the subscription id", _create_sub, _delete_sub, _find_sub),
        ResourceType("Cloudkit::Notification::Queue", "Cloudkit::Notification::Queue", "AWS::SQS::Queue", "notification",
                     {"QueueName": Prop("str", doc="generated when left out")},
                     {"Arn": "the queue id (an ARN on aws)", "QueueName": "the queue name", "QueueUrl": "the queue URL"},
                     "the queue URL (its id where it has none)", _create_queue, _delete_queue, _find_queue,
                     name_property="QueueName"),
        ResourceType("Cloudkit::Compute::Instance", "Cloudkit::Compute::Instance", "AWS::EC2::Instance", "compute",
                     {"ImageId": Prop("str", required=True), "InstanceType": Prop("str", required=True),
                      "KeyName": Prop("str"), "SecurityGroups": Prop("list"), "SecurityGroupIds": Prop("list"),
                      "UserData": Prop("str", doc="base64 (Fn::Base64) or plain cloud-init text"),
                      "SubnetId": Prop("str"), "AvailabilityZone": Prop("str"),
                      "Tags": Prop("list", doc="[{Key, Value}]; Name is the instance name")},
                     {"PublicIp": "public address (None where there is none)", "PrivateIp": "private address",
                      "AvailabilityZone": "zone", "InstanceId": "instance id"},
                     "the instance id", _create_instance, _delete_instance, _find_instance),
        ResourceType("Cloudkit::Compute::SecurityGroup", "Cloudkit::Compute::SecurityGroup", "AWS::EC2::SecurityGroup",
                     "compute",
                     {"GroupName": Prop("str"), "GroupDescription": Prop("str", required=True),
                      "SecurityGroupIngress": Prop("list", update="modify", doc="[{IpProtocol, FromPort, ToPort, CidrIp}]"),
                      "Tags": Prop("list")},
                     {"GroupId": "group id"}, "the group id", _create_sg, _delete_sg, _find_sg, _modify_sg,
                     name_property="GroupName"),
        ResourceType("Cloudkit::Compute::Volume", "Cloudkit::Compute::Volume", "AWS::EC2::Volume", "compute",
                     {"Size": Prop("int", required=True, doc="GB"), "AvailabilityZone": Prop("str"),
                      "SnapshotId": Prop("str"), "Tags": Prop("list")},
                     {"VolumeId": "volume id"}, "the volume id", _create_volume, _delete_volume, _find_volume,
                     snapshot=_snapshot_volume),
        ResourceType("Cloudkit::Compute::KeyPair", "Cloudkit::Compute::KeyPair", "AWS::EC2::KeyPair", "compute",
                     {"KeyName": Prop("str", required=True),
                      "PublicKeyMaterial": Prop("str", doc="import this public key (else one is generated)")},
                     {"KeyFingerprint": "fingerprint", "KeyName": "name"}, "the key name",
                     _create_kp, _delete_kp, _find_kp,
                     name_property="KeyName"),
        ResourceType("Cloudkit::Database::Instance", "Cloudkit::Database::Instance", "AWS::RDS::DBInstance", "database",
                     DB_PROPS, {"Endpoint.Address": "host name", "Endpoint.Port": "port (a string, as on AWS)"},
                     "the instance identifier", _create_db, _delete_db, _find_db, _modify_db, snapshot=_snapshot_db,
                     name_property="DBInstanceIdentifier"),
        ResourceType("Cloudkit::Platform::Application", "Cloudkit::Platform::Application",
                     "AWS::ElasticBeanstalk::Application", "platform",
                     {"ApplicationName": Prop("str"), "Description": Prop("str")}, {}, "the application name",
                     _create_app, _delete_app, _find_app,
                     name_property="ApplicationName"),
        ResourceType("Cloudkit::Platform::Version", "Cloudkit::Platform::Version",
                     "AWS::ElasticBeanstalk::ApplicationVersion", "platform",
                     {"ApplicationName": Prop("str", required=True), "Description": Prop("str"),
                      "SourceBundle": Prop("map", required=True, doc="{S3Bucket, S3Key}: a zip in a bucket")},
                     {}, "the version label", _create_version, _delete_version, _find_version),
        ResourceType("Cloudkit::Platform::Environment", "Cloudkit::Platform::Environment",
                     "AWS::ElasticBeanstalk::Environment", "platform",
                     {"ApplicationName": Prop("str", required=True), "EnvironmentName": Prop("str"),
                      "VersionLabel": Prop("str", required=True, update="modify",
                                           doc="required: cloudkit's platform always runs a version"),
                      "SolutionStackName": Prop("str"),
                      "OptionSettings": Prop("list", update="modify", doc="[{Namespace, OptionName, Value}]")},
                     {"EndpointURL": "the environment's URL"}, "the environment name",
                     _create_env, _delete_env, _find_env, _modify_env,
                     name_property="EnvironmentName"),
    ]
    out: dict[str, ResourceType] = {}
    for t in defs:
        out[t.neutral] = t
        out[t.aws] = attrs.evolve(t, name=t.aws)
    return out


#: Every supported type name (neutral and AWS) -> its :class:`ResourceType`.
RESOURCE_TYPES: dict[str, ResourceType] = _types()


def reference_markdown() -> str:
    """The resource type reference of docs/stacks.md: types, properties and attributes (generated)."""
    out: list[str] = []
    for t in RESOURCE_TYPES.values():
        if t.name != t.neutral:
            continue
        out.append(f"### `{t.neutral}` (AWS: `{t.aws}`)\n")
        out.append(f"Family: {t.family}. `Ref` gives {t.ref_doc}. "
                   + ("Changes that can be made in place: " + ", ".join(
                       f"`{k}`" for k, p in t.properties.items() if p.update == "modify") + "; any other change replaces it."
                      if t.modify is not None else "Any property change replaces it.")
                   + (" `DeletionPolicy: Snapshot` is supported." if t.snapshot is not None else "") + "\n")
        out.append("| property | kind | required | note |")
        out.append("|---|---|---|---|")
        for name, p in t.properties.items():
            out.append(f"| `{name}` | {p.kind} | {'yes' if p.required else ''} | {p.doc.replace('|', '/')} |")
        out.append("")
        if t.attributes:
            out.append("| `Fn::GetAtt` attribute | meaning |")
            out.append("|---|---|")
            for name, doc in t.attributes.items():
                only = t.provider_attributes.get(name)
                note = f" (only on {', '.join(only)})" if only else ""
                out.append(f"| `{name}` | {doc}{note} |")
            out.append("")
        else:
            out.append("No `Fn::GetAtt` attributes.\n")
    return "\n".join(out)


def write_reference(path: str) -> None:
    """Replace the generated reference between the markers of ``path`` (docs/stacks.md)."""
    with open(path, encoding="utf-8") as fh:
        text = fh.read()
    start = text.index("-->", text.index("<!-- reference:start")) + 3
    end = text.index("<!-- reference:end -->")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text[:start] + "\n\n" + reference_markdown() + "\n" + text[end:])


if __name__ == "__main__":  # python -m cloudkit_contrib.stacks.resources [docs/stacks.md]
    import sys

    if len(sys.argv) > 1:
        write_reference(sys.argv[1])
    else:
        print(reference_markdown())
