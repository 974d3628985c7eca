"""EC2 through cloudkit's aws provider, replayed from cassettes (re-record: CLOUDKIT_RECORD=1)."""

from __future__ import annotations

import base64
import itertools
from typing import Any
from urllib.parse import parse_qs

import _harness as h
import pytest

import cloudkit
from cloudkit import errors
from cloudkit.models.compute import SecurityRule

UBUNTU = "ubuntu/images/hvm-ssd/ubuntu-trusty-14.04-amd64-server-*"
CLOUD_INIT = "#cloud-config\nruncmd:\n  - echo hello from cloudkit\n"
PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIZ2yF3k0xW8bN5h3Qwzq0mC3p8gq0iYc2t0dJkM0yWf cloudkit@test"
)


def _ubuntu(cloud: cloudkit.Cloud) -> str:
    images = list(cloud.compute.list_images(name=UBUNTU))
    assert images, "moto ships an Ubuntu 14.04 image"
    return images[0].id


def _form_of(request: Any) -> dict[str, list[str]]:
    body = request.body
    if hasattr(body, "read"):
        body = body.read()
    return parse_qs(body.decode() if isinstance(body, bytes) else body)


def test_catalogue_images_types_and_locations(aws_settings: dict[str, Any], aws_cassette: Any) -> None:
    with cloudkit.connect("aws", **aws_settings, page_size=10) as cloud:
        compute = cloud.compute
        images = list(compute.list_images(name=UBUNTU))
        assert images and all(i.name.startswith("ubuntu/images/hvm-ssd/ubuntu-trusty") for i in images)
        assert compute.get_image(images[0].id).name == images[0].name
        with pytest.raises(errors.NotFound):
            compute.get_image("ami-00000000")
        canonical = list(compute.list_images(owner="099720109477"))
        assert canonical and all(i.owner == "099720109477" for i in canonical)
        first = list(itertools.islice(compute.list_instance_types(), 15))  # lazy: two pages of 10, no more
        assert len(first) == 15 and all(t.vcpus and t.memory_mb for t in first)
        assert h.recorded_requests(aws_cassette, "POST", action="DescribeInstanceTypes") == 2
        zones = [z.id for z in compute.list_locations()]
        assert f"{h.REGION}a" in zones


def test_instance_life_cycle_with_everything(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    compute = aws_cloud.compute
    iam = compute.aws.client("iam")  # type: ignore[attr-defined]
    iam.create_role(RoleName="ck-role", AssumeRolePolicyDocument='{"Version": "2012-10-17", "Statement": []}')
    iam.create_instance_profile(InstanceProfileName="ck-role")
    iam.add_role_to_instance_profile(InstanceProfileName="ck-role", RoleName="ck-role")
    image = _ubuntu(aws_cloud)
    key = compute.import_key_pair("ck-key", PUBLIC_KEY)
    group = compute.create_security_group("ck-web", description="web servers", rules=[SecurityRule("tcp", 443, 443, "0.0.0.0/0")])
    zone = f"{h.REGION}b"
    inst = compute.create_instance(
        "web-1", image=image, instance_type="t3.micro", key_pair=key, security_groups=[group], user_data=CLOUD_INIT,
        role="ck-role", zone=zone, tags={"team": "ops"}, client_token="ck-token-1",
    )
    assert inst.state == "running" and inst.name == "web-1" and inst.image_id == image
    assert (inst.instance_type, inst.key_pair, inst.zone) == ("t3.micro", "ck-key", zone)
    assert group.id in inst.security_groups and dict(inst.tags) == {"Name": "web-1", "team": "ops"}

    run = [r for r in aws_cassette.requests if _form_of(r).get("Action") == ["RunInstances"]]
    assert len(run) == 1
    form = _form_of(run[0])
    assert form["ClientToken"] == ["ck-token-1"]
    assert base64.b64decode(form["UserData"][0]).decode() == CLOUD_INIT  # sent base64-encoded, as EC2 needs
    assert form["IamInstanceProfile.Name"] == ["ck-role"] and form["KeyName"] == ["ck-key"]

    assert compute.get_instance(inst.id).id == inst.id
    assert [i.id for i in compute.list_instances(tags={"team": "ops"})] == [inst.id]
    assert [i.id for i in compute.list_instances(state="running")] == [inst.id]
    assert list(compute.list_instances(state="stopped")) == []
    assert isinstance(compute.get_console_output(inst), str)

    assert compute.stop_instance(inst).state == "stopped"
    assert compute.start_instance(inst).state == "running"
    assert compute.reboot_instance(inst).state == "running"
    assert compute.wait_for_instance(inst, "running", timeout=30).state == "running"
    assert compute.terminate_instance(inst).state == "terminated"
    with pytest.raises(errors.NotFound):
        compute.get_instance("i-0123456789abcdef0")
    compute.delete_key_pair("ck-key")
    assert [k.name for k in compute.list_key_pairs()] == []


def test_create_instance_generates_a_token_and_a_retry_resends_it(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    import botocore.exceptions

    compute = aws_cloud.compute
    image = _ubuntu(aws_cloud)
    tokens: list[str] = []

    def drop_first_attempt(request: Any, **_: Any) -> None:
        body = request.body.decode() if isinstance(request.body, bytes) else request.body
        tokens.append(parse_qs(body)["ClientToken"][0])
        if len(tokens) == 1:  # the connection drops before EC2 answers: botocore retries the same request
            raise botocore.exceptions.EndpointConnectionError(endpoint_url=request.url)

    compute.native.meta.events.register("before-send.ec2.RunInstances", drop_first_attempt)
    inst = compute.create_instance("retry-1", image=image, instance_type="t3.micro", wait=False)
    assert len(tokens) == 2 and tokens[0] == tokens[1] and len(tokens[0]) == 32
    assert h.recorded_requests(aws_cassette, "POST", action="RunInstances") == 1  # one reached EC2
    assert [i.id for i in compute.list_instances(tags={"Name": "retry-1"})] == [inst.id]


def test_key_pairs_and_security_groups(aws_cloud: cloudkit.Cloud) -> None:
    compute = aws_cloud.compute
    made = compute.create_key_pair("ck-made")
    assert made.private_key and made.fingerprint
    assert made.private_key not in repr(made)
    with pytest.raises(errors.AlreadyExists):
        compute.create_key_pair("ck-made")
    imported = compute.import_key_pair("ck-imported", PUBLIC_KEY)
    assert imported.fingerprint and imported.private_key is None
    assert sorted(k.name for k in compute.list_key_pairs()) == ["ck-imported", "ck-made"]

    group = compute.create_security_group("ck-db", description="database", rules=[SecurityRule("tcp", 5432, None, "10.0.0.0/8")])
    assert group.rules == (SecurityRule("tcp", 5432, 5432, "10.0.0.0/8"),)
    more = compute.authorize_ingress(group, [SecurityRule("udp", 53, 53, "192.0.2.0/24"), SecurityRule("icmp", cidr="0.0.0.0/0")])
    assert set(more.rules) == {
        SecurityRule("tcp", 5432, 5432, "10.0.0.0/8"),
        SecurityRule("udp", 53, 53, "192.0.2.0/24"),
        SecurityRule("icmp", None, None, "0.0.0.0/0"),
    }
    with pytest.raises(errors.AlreadyExists):
        compute.authorize_ingress(group, [SecurityRule("tcp", 5432, 5432, "10.0.0.0/8")])
    less = compute.revoke_ingress(group, [SecurityRule("udp", 53, 53, "192.0.2.0/24")])
    assert SecurityRule("udp", 53, 53, "192.0.2.0/24") not in less.rules
    assert group.id in {g.id for g in compute.list_security_groups()}
    with pytest.raises(errors.AlreadyExists):
        compute.create_security_group("ck-db", description="again")
    compute.delete_security_group(group)
    assert group.id not in {g.id for g in compute.list_security_groups()}
    with pytest.raises(errors.NotFound):
        compute.delete_security_group("sg-00000000000000000")


def test_volumes_attach_detach_snapshots_and_images(aws_cloud: cloudkit.Cloud) -> None:
    compute = aws_cloud.compute
    zone = f"{h.REGION}a"
    inst = compute.create_instance("disk-1", image=_ubuntu(aws_cloud), instance_type="t3.micro", zone=zone)
    vol = compute.create_volume(8, name="data", zone=zone)
    assert (vol.size_gb, vol.state, vol.name, vol.zone) == (8, "available", "data", zone)
    attached = compute.attach_volume(vol, inst, "/dev/sdf")
    assert (attached.state, attached.attached_to, attached.device) == ("in-use", inst.id, "/dev/sdf")
    with pytest.raises(errors.Conflict):
        compute.delete_volume(vol)
    detached = compute.detach_volume(vol)
    assert detached.state == "available" and detached.attached_to is None

    snap = compute.create_volume_snapshot(vol, description="nightly")
    assert (snap.volume_id, snap.size_gb, snap.state, snap.description) == (vol.id, 8, "completed", "nightly")
    assert snap.id in {s.id for s in compute.list_volume_snapshots()}
    restored = compute.create_volume(8, zone=zone, snapshot=snap)
    assert restored.snapshot_id == snap.id and restored.state == "available"

    image = compute.create_image(inst, "ck-golden")
    assert image.name == "ck-golden" and compute.get_image(image.id).id == image.id

    for v in (vol, restored):
        compute.delete_volume(v)
    compute.delete_volume_snapshot(snap)
    assert snap.id not in {s.id for s in compute.list_volume_snapshots()}
    assert {v.id for v in compute.list_volumes()}.isdisjoint({vol.id, restored.id})
    compute.terminate_instance(inst)


def test_bad_input_never_reaches_ec2(aws_cloud: cloudkit.Cloud, aws_cassette: Any) -> None:
    compute = aws_cloud.compute
    with pytest.raises(errors.InvalidInput, match="name"):
        compute.create_instance("bad name!", image="ami-1", instance_type="t3.micro")
    with pytest.raises(errors.InvalidInput, match="client_token"):
        compute.create_instance("ok", image="ami-1", instance_type="t3.micro", client_token="x" * 65)
    with pytest.raises(errors.InvalidInput, match="device"):
        compute.attach_volume("vol-1", "i-1", "sdf")
    with pytest.raises(errors.InvalidInput, match="public_key"):
        compute.import_key_pair("k", "not a key")
    assert len(aws_cassette) == 0
