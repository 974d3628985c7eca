"""Stacks (cloudkit-contrib) on the aws provider, replayed from cassettes recorded against moto
(re-record: ``CLOUDKIT_RECORD=1 .venv/bin/pytest tests/aws/test_stacks_on_aws.py``).

The docs/stacks.md walk-through template runs unchanged (another instance type parameter), then a
create / update / failed update / delete of a stack of buckets, DNS, topics and queues, checked
through the families' own list calls. One step at a time, explicit names and state in a local folder
keep every request the same from run to run.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import cloudkit

stacks_mod = pytest.importorskip("cloudkit_contrib.stacks", reason="cloudkit-contrib is not installed")
Stacks = stacks_mod.Stacks

DOC = Path(__file__).resolve().parents[2] / "docs" / "stacks.md"


@pytest.fixture(autouse=True)
def _fixed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Generated physical names end with a random suffix; a fixed one keeps requests the same on replay."""
    from cloudkit_contrib.stacks import engine

    monkeypatch.setattr(engine, "_physical_name", lambda stack, lid: f"{stack}-{lid}-fixed")


def _stacks(cloud: cloudkit.Cloud, tmp_path: Path) -> Any:
    return Stacks(cloud, state_dir=str(tmp_path / "state"), concurrency=1, region="us-east-1")


def test_the_docs_walk_through_on_aws(aws_cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    text = DOC.read_text()
    template = re.search(r"```json basic.json\n(.*?)```", text, re.DOTALL)
    assert template
    stacks = _stacks(aws_cloud, tmp_path)
    assert [p.name for p in stacks.validate(template.group(1)).parameters] == ["InstanceTypeInput"]
    seen: list[Any] = []
    summary = stacks.create("basic-test-1", template.group(1), parameters={"InstanceTypeInput": "t3.micro"},
                            on_event=seen.append)
    assert summary.status == "CREATE_COMPLETE", stacks.events("basic-test-1")
    assert [(e.logical_id, e.status) for e in seen] == [
        ("basic-test-1", "CREATE_IN_PROGRESS"), ("Ec2Instance", "CREATE_IN_PROGRESS"),
        ("Ec2Instance", "CREATE_COMPLETE"), ("basic-test-1", "CREATE_COMPLETE")]
    instance = aws_cloud.compute.get_instance(summary.outputs["InstanceId"])
    assert (instance.image_id, instance.instance_type, instance.state) == ("ami-03cf127a", "t3.micro", "running")
    assert summary.outputs["AvailabilityZone"] == instance.zone
    assert stacks.delete("basic-test-1").status == "DELETE_COMPLETE"
    assert aws_cloud.compute.get_instance(instance.id).state in ("shutting-down", "terminated")


V1 = {
    "Resources": {
        "Site": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "ck-stack-site"}},
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "stack.example.com"}},
        "Www": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": "www.stack.example.com.", "Type": "A", "TTL": "300",
            "ResourceRecords": ["192.0.2.1"]}},
        "News": {"Type": "Cloudkit::Notification::Topic", "Properties": {"TopicName": "ck-stack-news"}},
        "Inbox": {"Type": "Cloudkit::Notification::Queue", "Properties": {"QueueName": "ck-stack-inbox"}},
        "Feed": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "News"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Inbox", "Arn"]}}},
    },
    "Outputs": {"Site": {"Value": {"Fn::GetAtt": ["Site", "DomainName"]}},
                "Topic": {"Value": {"Ref": "News"}}},
}


def _names(cloud: cloudkit.Cloud) -> dict[str, list[str]]:
    return {
        "buckets": sorted(b.name for b in cloud.storage.list_buckets()),
        "zones": sorted(z.name for z in cloud.dns.list_zones()),
        "topics": sorted(t.name for t in cloud.notification.list_topics()),
        "queues": sorted(q.name for q in cloud.notification.list_queues()),
    }


def test_create_update_failed_update_delete_on_aws(aws_cloud: cloudkit.Cloud, tmp_path: Path) -> None:
    stacks = _stacks(aws_cloud, tmp_path)
    summary = stacks.create("ck-app", V1)
    assert summary.status == "CREATE_COMPLETE", stacks.events("ck-app")
    assert summary.outputs["Site"] == "ck-stack-site.s3.amazonaws.com"
    assert summary.outputs["Topic"].startswith("arn:aws:sns:us-east-1:")
    assert _names(aws_cloud) == {"buckets": ["ck-stack-site"], "zones": ["stack.example.com"],
                                 "topics": ["ck-stack-news"], "queues": ["ck-stack-inbox"]}
    zone_id = stacks.resources("ck-app")["Zone"]["physical_id"]

    v2: dict[str, Any] = json.loads(json.dumps(V1))
    v2["Resources"]["Www"]["Properties"]["ResourceRecords"] = ["192.0.2.2"]
    v2["Resources"]["Inbox"]["Properties"]["QueueName"] = "ck-stack-inbox-2"
    plan = stacks.plan("ck-app", v2)
    assert {c.logical_id: c.action for c in plan.changes} == {"Www": "modify", "Inbox": "replace", "Feed": "replace"}
    assert stacks.update("ck-app", v2).status == "UPDATE_COMPLETE"
    assert aws_cloud.dns.get_record(zone_id, "www", "A").values == ("192.0.2.2",)
    assert _names(aws_cloud)["queues"] == ["ck-stack-inbox-2"]

    v3: dict[str, Any] = json.loads(json.dumps(v2))
    v3["Resources"]["Www"]["Properties"]["ResourceRecords"] = ["192.0.2.3"]
    v3["Resources"]["Broken"] = {"Type": "AWS::SNS::Subscription", "DependsOn": "Www", "Properties": {
        "TopicArn": {"Ref": "News"}, "Protocol": "sqs", "Endpoint": "arn:aws:sqs:us-east-1:000000000000:no-such-queue"}}
    failed = stacks.update("ck-app", v3)
    assert failed.status == "UPDATE_ROLLBACK_COMPLETE", stacks.events("ck-app")
    assert aws_cloud.dns.get_record(zone_id, "www", "A").values == ("192.0.2.2",)
    assert stacks.plan("ck-app", v2).changes == ()

    assert stacks.delete("ck-app").status == "DELETE_COMPLETE"
    assert _names(aws_cloud) == {"buckets": [], "zones": [], "topics": [], "queues": []}
    assert list(aws_cloud.notification.list_subscriptions()) == []
