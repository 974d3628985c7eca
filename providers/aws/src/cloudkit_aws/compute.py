"""Compute on Amazon EC2: images, instance types, instances, key pairs, security groups, EBS.

Every launch sends a ``ClientToken`` (generated when the caller gives none). botocore's retries
resend the same request, token included, so a call retried after a dropped connection returns
the instance the first attempt started instead of starting a second one. Waits use boto3's
waiters (``instance_running``, ``volume_available``, ...) and give up with ``Timeout``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from cloudkit.errors import NotFound
from cloudkit.models.compute import (
    VOLUME_STATES,
    Image,
    Instance,
    InstanceType,
    KeyPair,
    Location,
    SecurityGroup,
    SecurityRule,
    Volume,
    VolumeSnapshot,
)
from cloudkit.services.compute import ComputeService
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors, mapped

#: EC2 instance states -> cloudkit's neutral ones.
STATES = {
    "pending": "pending",
    "running": "running",
    "stopping": "stopping",
    "stopped": "stopped",
    "shutting-down": "stopping",
    "terminated": "terminated",
}
#: Neutral states boto3 has a waiter for.
WAITERS = {"running": "instance_running", "stopped": "instance_stopped", "terminated": "instance_terminated"}


def _tags(items: Any) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in items or []}


def _instance(i: Mapping[str, Any]) -> Instance:
    tags = _tags(i.get("Tags"))
    extra = {k: i[k] for k in ("SubnetId", "VpcId", "IamInstanceProfile", "PublicDnsName", "PrivateDnsName", "Architecture") if i.get(k)}
    extra["ec2_state"] = i["State"]["Name"]
    return Instance(
        id=i["InstanceId"],
        name=tags.get("Name", ""),
        state=STATES.get(i["State"]["Name"], i["State"]["Name"]),
        image_id=i.get("ImageId"),
        instance_type=i.get("InstanceType"),
        key_pair=i.get("KeyName"),
        security_groups=tuple(g["GroupId"] for g in i.get("SecurityGroups", [])),
        private_ip=i.get("PrivateIpAddress"),
        public_ip=i.get("PublicIpAddress"),
        zone=(i.get("Placement") or {}).get("AvailabilityZone"),
        tags=tags,
        launched_at=i.get("LaunchTime"),
        extra=extra,
    )


def _image(i: Mapping[str, Any]) -> Image:
    extra = {k: i[k] for k in ("State", "Architecture", "RootDeviceType", "VirtualizationType", "Public", "PlatformDetails",
                               "ImageOwnerAlias") if k in i}
    return Image(
        id=i["ImageId"],
        name=i.get("Name", ""),
        owner=i.get("OwnerId"),
        description=i.get("Description"),
        created_at=i.get("CreationDate"),
        extra=extra,
    )


def _volume(vol: Mapping[str, Any]) -> Volume:
    attachment = next(iter(vol.get("Attachments") or []), None)
    attached = attachment is not None and attachment.get("State") in ("attaching", "attached")
    return Volume(
        id=vol["VolumeId"],
        size_gb=int(vol["Size"]),
        state=vol["State"] if vol["State"] in VOLUME_STATES else "unknown",
        name=_tags(vol.get("Tags")).get("Name"),
        zone=vol.get("AvailabilityZone"),
        attached_to=attachment["InstanceId"] if attached and attachment else None,
        device=attachment.get("Device") if attached and attachment else None,
        snapshot_id=vol.get("SnapshotId") or None,
        extra={**{k: vol[k] for k in ("VolumeType", "Iops", "Encrypted", "CreateTime") if k in vol}, "native_state": vol["State"]},
    )


#: EC2 snapshot states -> cloudkit's (cloudkit.models.SNAPSHOT_STATES).
_SNAPSHOT_STATES = {"pending": "pending", "completed": "completed", "error": "error", "recoverable": "completed",
                    "recovering": "pending"}


def _snapshot(s: Mapping[str, Any]) -> VolumeSnapshot:
    return VolumeSnapshot(
        id=s["SnapshotId"],
        volume_id=s.get("VolumeId"),
        size_gb=int(s.get("VolumeSize", 0)),
        state=_SNAPSHOT_STATES.get(s.get("State", ""), "unknown"),
        description=s.get("Description", ""),
        created_at=s.get("StartTime"),
        extra={**{k: s[k] for k in ("Progress", "OwnerId", "Encrypted") if k in s}, "native_state": s.get("State", "")},
    )


def _permissions(rules: list[SecurityRule]) -> list[dict[str, Any]]:
    out = []
    for r in rules:
        perm: dict[str, Any] = {"IpProtocol": r.protocol}
        if r.protocol in ("tcp", "udp"):
            perm["FromPort"], perm["ToPort"] = r.from_port, r.to_port
        elif r.protocol == "icmp":
            perm["FromPort"] = -1 if r.from_port is None else r.from_port
            perm["ToPort"] = -1 if r.to_port is None else r.to_port
        if ":" in r.cidr:
            perm["Ipv6Ranges"] = [{"CidrIpv6": r.cidr}]
        else:
            perm["IpRanges"] = [{"CidrIp": r.cidr}]
        out.append(perm)
    return out


def _rules(perms: Any) -> tuple[SecurityRule, ...]:
    out = []
    for p in perms or []:
        proto = str(p.get("IpProtocol", "-1"))
        proto = {"6": "tcp", "17": "udp", "1": "icmp"}.get(proto, proto)
        lo, hi = p.get("FromPort"), p.get("ToPort")
        if proto in ("-1",) or (proto == "icmp" and lo == -1):
            lo = hi = None
        for rng in p.get("IpRanges", []):
            out.append(SecurityRule(protocol=proto, from_port=lo, to_port=hi, cidr=rng["CidrIp"]))
        for rng in p.get("Ipv6Ranges", []):
            out.append(SecurityRule(protocol=proto, from_port=lo, to_port=hi, cidr=rng["CidrIpv6"]))
    return tuple(out)


def _group(g: Mapping[str, Any]) -> SecurityGroup:
    return SecurityGroup(
        id=g["GroupId"],
        name=g["GroupName"],
        description=g.get("Description", ""),
        rules=_rules(g.get("IpPermissions")),
        extra={k: g[k] for k in ("VpcId", "OwnerId") if k in g},
    )


class AwsCompute(AwsErrors, ComputeService):
    """The compute family on EC2 (and EBS)."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self.aws = AwsSession(self.settings)

    @property
    def native(self) -> Any:
        """The boto3 EC2 client."""
        return self.aws.client("ec2")

    def close(self) -> None:
        self.aws.close()

    @property
    def _ec2(self) -> Any:
        return self.aws.client("ec2")

    def _wait(self, waiter: str, what: str, timeout: float, **params: Any) -> None:
        self.aws.wait("ec2", waiter, f"wait for {what}", timeout, **params)

    # ---------------------------------------------------------------- catalogue
    def _list_images(self, name: str | None, owner: str | None) -> Iterator[Image]:
        params: dict[str, Any] = {}
        if name:
            params["Filters"] = [{"Name": "name", "Values": [name]}]
        if owner:
            params["Owners"] = [owner]
        for page in self.aws.pages("ec2", "describe_images", "list images", **params):
            for image in page.get("Images", []):
                yield _image(image)

    def _get_image(self, image_id: str) -> Image:
        found = self._ec2.describe_images(ImageIds=[image_id]).get("Images", [])
        if not found:
            raise NotFound(f"get image {image_id}: no such image", provider=PROVIDER, code="InvalidAMIID.NotFound")
        return _image(found[0])

    def _create_image(self, instance_id: str, name: str, wait: bool, timeout: float) -> Image:
        image_id = self._ec2.create_image(InstanceId=instance_id, Name=name)["ImageId"]
        if wait:
            self._wait("image_available", f"image {image_id}", timeout, ImageIds=[image_id])
        return self._get_image(image_id)

    def _list_instance_types(self) -> Iterator[InstanceType]:
        for page in self.aws.pages("ec2", "describe_instance_types", "list instance types"):
            for t in page.get("InstanceTypes", []):
                yield InstanceType(
                    name=t["InstanceType"],
                    vcpus=(t.get("VCpuInfo") or {}).get("DefaultVCpus"),
                    memory_mb=(t.get("MemoryInfo") or {}).get("SizeInMiB"),
                    extra={k: t[k] for k in ("CurrentGeneration", "ProcessorInfo", "NetworkInfo", "FreeTierEligible") if k in t},
                )

    def _list_locations(self) -> Iterator[Location]:
        zones = self._ec2.describe_availability_zones().get("AvailabilityZones", [])
        for z in zones:
            yield Location(id=z["ZoneName"], name=z["ZoneName"],
                           extra={k: z[k] for k in ("ZoneId", "RegionName", "State", "ZoneType") if k in z})

    # ---------------------------------------------------------------- instances
    def _create_instance(self, name: str, **kw: Any) -> Instance:
        token = kw.get("client_token") or uuid.uuid4().hex
        tags = {"Name": name, **(kw.get("tags") or {})}
        params: dict[str, Any] = {
            "ImageId": kw["image"],
            "InstanceType": kw["instance_type"],
            "MinCount": 1,
            "MaxCount": 1,
            "ClientToken": token,
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
                {"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]},
            ],
        }
        if kw.get("key_pair"):
            params["KeyName"] = kw["key_pair"]
        groups = list(kw.get("security_groups") or ())
        ids = [g for g in groups if g.startswith("sg-")]
        names = [g for g in groups if not g.startswith("sg-")]
        if ids:
            params["SecurityGroupIds"] = ids
        if names:
            params["SecurityGroups"] = names
        if kw.get("user_data") is not None:
            params["UserData"] = kw["user_data"]  # botocore base64-encodes RunInstances' UserData
        role = kw.get("role")
        if role:
            params["IamInstanceProfile"] = {"Arn": role} if role.startswith("arn:") else {"Name": role}
        if kw.get("subnet"):
            params["SubnetId"] = kw["subnet"]
        if kw.get("zone"):
            params["Placement"] = {"AvailabilityZone": kw["zone"]}
        out = self._ec2.run_instances(**params)
        instance_id = out["Instances"][0]["InstanceId"]
        if kw.get("wait", True):
            self._wait("instance_running", f"instance {instance_id}", kw.get("timeout", 600), InstanceIds=[instance_id])
            return self._get_instance(instance_id)
        return _instance(out["Instances"][0])

    def _get_instance(self, instance_id: str) -> Instance:
        out = self._ec2.describe_instances(InstanceIds=[instance_id])
        for reservation in out.get("Reservations", []):
            for i in reservation.get("Instances", []):
                return _instance(i)
        raise NotFound(f"get instance {instance_id}: no such instance", provider=PROVIDER, code="InvalidInstanceID.NotFound")

    def _list_instances(self, state: str | None, tags: dict[str, str]) -> Iterator[Instance]:
        filters = [{"Name": f"tag:{k}", "Values": [v]} for k, v in tags.items()]
        if state:
            native = [k for k, neutral in STATES.items() if neutral == state]
            filters.append({"Name": "instance-state-name", "Values": native})
        params: dict[str, Any] = {"Filters": filters} if filters else {}
        for page in self.aws.pages("ec2", "describe_instances", "list instances", **params):
            for reservation in page.get("Reservations", []):
                for i in reservation.get("Instances", []):
                    yield _instance(i)

    def _transition(self, verb: str, instance_id: str, target: str | None, wait: bool, timeout: float) -> Instance:
        call = {"start": "start_instances", "stop": "stop_instances", "reboot": "reboot_instances",
                "terminate": "terminate_instances"}[verb]
        with mapped(f"{verb} instance {instance_id}"):
            getattr(self._ec2, call)(InstanceIds=[instance_id])
        if wait and target:
            return self._wait_for_instance(instance_id, target, timeout)
        return self._get_instance(instance_id)

    def _start_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._transition("start", instance_id, "running", wait, timeout)

    def _stop_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._transition("stop", instance_id, "stopped", wait, timeout)

    def _reboot_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._transition("reboot", instance_id, "running", wait, timeout)

    def _terminate_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._transition("terminate", instance_id, "terminated", wait, timeout)

    def _wait_for_instance(self, instance_id: str, state: str, timeout: float) -> Instance:
        what = f"instance {instance_id} to be {state}"
        if state in WAITERS:
            self._wait(WAITERS[state], what, timeout, InstanceIds=[instance_id])
        else:
            native = [k for k, neutral in STATES.items() if neutral == state]
            acceptors = [{"matcher": "pathAll", "argument": "Reservations[].Instances[].State.Name", "expected": n,
                          "state": "success"} for n in native]
            acceptors.append({"matcher": "error", "expected": "InvalidInstanceID.NotFound", "state": "retry"})
            model = {"operation": "DescribeInstances", "delay": 5, "maxAttempts": 120, "acceptors": acceptors}
            self.aws.wait_until("ec2", model, f"wait for {what}", timeout, InstanceIds=[instance_id])
        return self._get_instance(instance_id)

    def _get_console_output(self, instance_id: str) -> str:
        out = self._ec2.get_console_output(InstanceId=instance_id)
        text = out.get("Output") or ""  # botocore decodes the base64 EC2 sends
        return text if isinstance(text, str) else bytes(text).decode("utf-8", "replace")

    # ---------------------------------------------------------------- key pairs
    def _create_key_pair(self, name: str) -> KeyPair:
        out = self._ec2.create_key_pair(KeyName=name)
        return KeyPair(name=out["KeyName"], fingerprint=out.get("KeyFingerprint"), private_key=out.get("KeyMaterial"),
                       extra={"KeyPairId": out.get("KeyPairId")})

    def _import_key_pair(self, name: str, public_key: str) -> KeyPair:
        out = self._ec2.import_key_pair(KeyName=name, PublicKeyMaterial=public_key.encode())
        return KeyPair(name=out["KeyName"], fingerprint=out.get("KeyFingerprint"), public_key=public_key,
                       extra={"KeyPairId": out.get("KeyPairId")})

    def _list_key_pairs(self) -> Iterator[KeyPair]:
        pairs = self._ec2.describe_key_pairs(IncludePublicKey=True).get("KeyPairs", [])
        for kp in pairs:
            yield KeyPair(name=kp["KeyName"], fingerprint=kp.get("KeyFingerprint"), public_key=kp.get("PublicKey"),
                          extra={"KeyPairId": kp.get("KeyPairId"), "KeyType": kp.get("KeyType")})

    def _delete_key_pair(self, name: str) -> None:
        self._ec2.delete_key_pair(KeyName=name)

    # ---------------------------------------------------------------- security groups
    def _describe_group(self, group_id: str) -> SecurityGroup:
        with mapped(f"get security group {group_id}"):
            found = self._ec2.describe_security_groups(GroupIds=[group_id]).get("SecurityGroups", [])
        if not found:
            raise NotFound(f"get security group {group_id}: no such group", provider=PROVIDER, code="InvalidGroup.NotFound")
        return _group(found[0])

    def _create_security_group(self, name: str, description: str, rules: list[SecurityRule]) -> SecurityGroup:
        group_id = self._ec2.create_security_group(GroupName=name, Description=description or name)["GroupId"]
        if rules:
            try:
                self._authorize_ingress(group_id, rules)
            except BaseException:
                with mapped(f"delete security group {name}"):  # no half-made group is left behind
                    self._ec2.delete_security_group(GroupId=group_id)
                raise
        return self._describe_group(group_id)

    def _list_security_groups(self) -> Iterator[SecurityGroup]:
        for page in self.aws.pages("ec2", "describe_security_groups", "list security groups"):
            for g in page.get("SecurityGroups", []):
                yield _group(g)

    def _delete_security_group(self, group_id: str) -> None:
        self._ec2.delete_security_group(GroupId=group_id)

    def _authorize_ingress(self, group_id: str, rules: list[SecurityRule]) -> SecurityGroup:
        self._ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=_permissions(rules))
        return self._describe_group(group_id)

    def _revoke_ingress(self, group_id: str, rules: list[SecurityRule]) -> SecurityGroup:
        self._ec2.revoke_security_group_ingress(GroupId=group_id, IpPermissions=_permissions(rules))
        return self._describe_group(group_id)

    # ---------------------------------------------------------------- volumes
    def _get_volume(self, volume_id: str) -> Volume:
        with mapped(f"get volume {volume_id}"):
            found = self._ec2.describe_volumes(VolumeIds=[volume_id]).get("Volumes", [])
        if not found:
            raise NotFound(f"get volume {volume_id}: no such volume", provider=PROVIDER, code="InvalidVolume.NotFound")
        return _volume(found[0])

    def _create_volume(self, size_gb: int, name: str | None, zone: str | None, snapshot_id: str | None, wait: bool,
                       timeout: float) -> Volume:
        where = zone or next(iter(self._list_locations())).id  # EBS volumes live in one zone
        params: dict[str, Any] = {"Size": size_gb, "AvailabilityZone": where}
        if snapshot_id:
            params["SnapshotId"] = snapshot_id
        if name:
            params["TagSpecifications"] = [{"ResourceType": "volume", "Tags": [{"Key": "Name", "Value": name}]}]
        volume_id = self._ec2.create_volume(**params)["VolumeId"]
        if wait:
            self._wait("volume_available", f"volume {volume_id}", timeout, VolumeIds=[volume_id])
        return self._get_volume(volume_id)

    def _list_volumes(self) -> Iterator[Volume]:
        for page in self.aws.pages("ec2", "describe_volumes", "list volumes"):
            for vol in page.get("Volumes", []):
                yield _volume(vol)

    def _delete_volume(self, volume_id: str) -> None:
        self._ec2.delete_volume(VolumeId=volume_id)

    def _attach_volume(self, volume_id: str, instance_id: str, device: str, wait: bool, timeout: float) -> Volume:
        self._ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device=device)
        if wait:
            self._wait("volume_in_use", f"volume {volume_id} to attach", timeout, VolumeIds=[volume_id])
        return self._get_volume(volume_id)

    def _detach_volume(self, volume_id: str, wait: bool, timeout: float) -> Volume:
        current = self._get_volume(volume_id)
        params: dict[str, Any] = {"VolumeId": volume_id}
        if current.attached_to:  # name the attachment, so the call detaches exactly what we saw
            params.update(InstanceId=current.attached_to, Device=current.device)
        self._ec2.detach_volume(**params)
        if wait:
            self._wait("volume_available", f"volume {volume_id} to detach", timeout, VolumeIds=[volume_id])
        return self._get_volume(volume_id)

    def _create_volume_snapshot(self, volume_id: str, description: str, wait: bool, timeout: float) -> VolumeSnapshot:
        snap = self._ec2.create_snapshot(VolumeId=volume_id, Description=description)
        if wait:
            self._wait("snapshot_completed", f"snapshot {snap['SnapshotId']}", timeout, SnapshotIds=[snap["SnapshotId"]])
            snap = self._ec2.describe_snapshots(SnapshotIds=[snap["SnapshotId"]])["Snapshots"][0]
        return _snapshot(snap)

    def _list_volume_snapshots(self) -> Iterator[VolumeSnapshot]:
        for page in self.aws.pages("ec2", "describe_snapshots", "list volume snapshots", OwnerIds=["self"]):
            for snap in page.get("Snapshots", []):
                yield _snapshot(snap)

    def _delete_volume_snapshot(self, snapshot_id: str) -> None:
        self._ec2.delete_snapshot(SnapshotId=snapshot_id)


def make_service(settings: Mapping[str, Any]) -> AwsCompute:
    """The compute service of the aws provider."""
    return AwsCompute(settings)
