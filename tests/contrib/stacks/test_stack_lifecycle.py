"""Stack lifecycle on the local provider: create, plan, update, delete, rollback, locking, recovery after kill -9."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudkit_contrib.stacks import StackEvent, Stacks

import cloudkit

TOPIC_QUEUE = {
    "Parameters": {"Suffix": {"Type": "String", "Default": "one", "AllowedPattern": "[a-z]+"}},
    "Resources": {
        "Store": {"Type": "Cloudkit::Storage::Bucket", "Properties": {"BucketName": {"Fn::Sub": "st-${Suffix}"}}},
        "Inbox": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-inbox"}}},
        "News": {"Type": "AWS::SNS::Topic", "Properties": {"DisplayName": "News", "TopicName": "news"}},
        "Feed": {"Type": "AWS::SNS::Subscription", "Properties": {
            "TopicArn": {"Ref": "News"}, "Protocol": "sqs", "Endpoint": {"Fn::GetAtt": ["Inbox", "Arn"]}}},
    },
    "Outputs": {
        "Bucket": {"Value": {"Ref": "Store"}, "Description": "the bucket"},
        "Queue": {"Value": {"Fn::GetAtt": ["Inbox", "QueueName"]}, "Export": {"Name": {"Fn::Sub": "${AWS::StackName}-q"}}},
    },
}


@pytest.fixture
def local(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    with cloudkit.connect("local", root=str(tmp_path / "root")) as c:
        yield c


@pytest.fixture
def stacks(local: cloudkit.Cloud, tmp_path: Path) -> Stacks:
    return Stacks(local, state_dir=str(tmp_path / "state"))


def leftovers(cloud: cloudkit.Cloud) -> dict[str, list[str]]:
    """What exists, through the families' own list calls (the state bucket aside)."""
    return {
        "buckets": sorted(b.name for b in cloud.storage.list_buckets() if b.name != "cloudkit-stacks"),
        "queues": sorted(q.name for q in cloud.notification.list_queues()),
        "topics": sorted(t.name for t in cloud.notification.list_topics()),
        "instances": sorted(i.id for i in cloud.compute.list_instances() if i.state != "terminated"),
        "zones": sorted(z.name for z in cloud.dns.list_zones()),
        "groups": sorted(g.name for g in cloud.compute.list_security_groups() if g.name != "default"),
    }


NOTHING = {"buckets": [], "queues": [], "topics": [], "instances": [], "zones": [], "groups": []}


def statuses(events: list[StackEvent]) -> list[tuple[str, str]]:
    return [(e.logical_id, e.status) for e in events]


def test_create_outputs_events_list_delete(stacks: Stacks, local: cloudkit.Cloud) -> None:
    seen: list[StackEvent] = []
    summary = stacks.create("app", TOPIC_QUEUE, on_event=seen.append)
    assert summary.status == "CREATE_COMPLETE" and not summary.rolled_back
    assert summary.outputs == {"Bucket": "st-one", "Queue": "app-inbox"}
    assert stacks.outputs("app")["Queue"] == {"value": "app-inbox", "description": None, "export": "app-q"}
    assert leftovers(local) == {**NOTHING, "buckets": ["st-one"], "queues": ["app-inbox"], "topics": ["news"]}
    subs = list(local.notification.list_subscriptions())
    assert [(s.protocol, s.topic_id) for s in subs] == [("queue", next(iter(local.notification.list_topics())).id)]
    events = stacks.events("app")
    assert statuses(seen) == statuses(events)
    assert events[0].status == "CREATE_IN_PROGRESS" and events[0].resource_type == "AWS::CloudFormation::Stack"
    assert events[0].reason == "User Initiated" and events[-1].status == "CREATE_COMPLETE"
    for lid in ("Store", "Inbox", "News", "Feed"):
        mine = [e for e in events if e.logical_id == lid]
        assert [e.status for e in mine] == ["CREATE_IN_PROGRESS", "CREATE_COMPLETE"]
        assert mine[0].physical_id is None and mine[1].physical_id
        assert mine[1].timestamp >= mine[0].timestamp
    order = [e.logical_id for e in events if e.status == "CREATE_COMPLETE"]
    assert order.index("Feed") > order.index("Inbox") and order.index("Feed") > order.index("News")
    assert [s.name for s in stacks.list()] == ["app"]

    seen.clear()
    done = stacks.delete("app", on_event=seen.append)
    assert done.status == "DELETE_COMPLETE"
    gone = [e.logical_id for e in seen if e.status == "DELETE_COMPLETE"]
    assert gone.index("Feed") < gone.index("Inbox") and gone.index("Feed") < gone.index("News")  # reverse order
    assert leftovers(local) == NOTHING and list(local.notification.list_subscriptions()) == []
    assert stacks.list() == [] and [s.status for s in stacks.list(include_deleted=True)] == ["DELETE_COMPLETE"]
    with pytest.raises(cloudkit.NotFound):
        stacks.delete("app")


FAILING = {
    "Resources": {
        "Store": {"Type": "Cloudkit::Storage::Bucket", "Properties": {"BucketName": "doomed-bucket"}},
        "Inbox": {"Type": "Cloudkit::Notification::Queue", "Properties": {"QueueName": "doomed-q"}},
        "Web": {"Type": "AWS::EC2::Instance", "DependsOn": ["Store", "Inbox"],
                "Properties": {"ImageId": "local:no-such-image", "InstanceType": "local.nano"}},
    },
}


def test_a_failed_create_rolls_back_and_leaves_nothing(stacks: Stacks, local: cloudkit.Cloud) -> None:
    summary = stacks.create("bad", FAILING)
    assert summary.status == "ROLLBACK_COMPLETE" and summary.rolled_back
    events = stacks.events("bad")
    failed = [e for e in events if e.status == "CREATE_FAILED"]
    assert [e.logical_id for e in failed] == ["Web"] and "no-such-image" in (failed[0].reason or "")
    stack_events = [e.status for e in events if e.logical_id == "bad"]
    assert stack_events == ["CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS", "ROLLBACK_COMPLETE"]
    assert "[Web]" in (next(e for e in events if e.status == "ROLLBACK_IN_PROGRESS").reason or "")
    assert {e.logical_id for e in events if e.status == "DELETE_COMPLETE"} >= {"Store", "Inbox"}
    assert leftovers(local) == NOTHING
    with pytest.raises(cloudkit.Conflict, match="only be deleted"):
        stacks.update("bad", FAILING)
    with pytest.raises(cloudkit.AlreadyExists):
        stacks.create("bad", FAILING)
    assert stacks.delete("bad").status == "DELETE_COMPLETE"


def test_disable_rollback_keeps_what_was_made(stacks: Stacks, local: cloudkit.Cloud) -> None:
    summary = stacks.create("keep", FAILING, disable_rollback=True)
    assert summary.status == "CREATE_FAILED" and summary.rolled_back
    assert leftovers(local)["buckets"] == ["doomed-bucket"] and leftovers(local)["queues"] == ["doomed-q"]
    stacks.delete("keep")
    assert leftovers(local) == NOTHING


def test_nothing_is_created_when_a_value_is_bad(stacks: Stacks, local: cloudkit.Cloud) -> None:
    with pytest.raises(cloudkit.InvalidInput) as info:
        stacks.create("x", TOPIC_QUEUE, parameters={"Suffix": "UPPER"})
    assert info.value.field == "Parameters.Suffix"
    tpl = {"Resources": {"Q": {"Type": "AWS::SQS::Queue"}, "V": {"Type": "AWS::EC2::Volume", "Properties": {
        "Size": {"Fn::Select": [5, ["1"]]}}}}}
    with pytest.raises(cloudkit.InvalidInput) as info:
        stacks.create("x", tpl)
    assert info.value.field == "Resources.V.Properties.Size.Fn::Select"
    aws_only = {"Resources": {"B": {"Type": "AWS::S3::Bucket"}},
                "Outputs": {"U": {"Value": {"Fn::GetAtt": ["B", "WebsiteURL"]}}}}
    with pytest.raises(cloudkit.InvalidInput, match="aws only"):
        stacks.create("x", aws_only)
    assert leftovers(local) == NOTHING and stacks.list(include_deleted=True) == []


def test_plan_then_update_in_place_replace_add_delete(stacks: Stacks, local: cloudkit.Cloud) -> None:
    v1 = {"Resources": {
        "Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "example.com"}},
        "Www": {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": "www.example.com.", "Type": "A", "TTL": "300",
            "ResourceRecords": ["192.0.2.1"]}},
        "Old": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "old-q"}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "t-one"}},
    }}
    plan = stacks.plan("dns", v1)
    assert plan.kind == "create" and plan.counts() == {"add": 4, "modify": 0, "replace": 0, "delete": 0}
    assert dict(plan.changes[1].details)["HostedZoneId"] == (None, "{known after apply}")
    stacks.create("dns", v1)
    zone_id = stacks.resources("dns")["Zone"]["physical_id"]
    v2: dict[str, Any] = json.loads(json.dumps(v1))
    v2["Resources"]["Www"]["Properties"]["ResourceRecords"] = ["192.0.2.2"]      # modify in place
    v2["Resources"]["Topic"]["Properties"]["TopicName"] = "t-two"                # replace
    del v2["Resources"]["Old"]                                                   # delete
    v2["Resources"]["New"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "new-q"}}  # add
    plan = stacks.plan("dns", v2)
    by = {c.logical_id: c for c in plan.changes}
    assert {k: c.action for k, c in by.items()} == {"Www": "modify", "Topic": "replace", "Old": "delete", "New": "add"}
    assert by["Www"].details == {"ResourceRecords": (["192.0.2.1"], ["192.0.2.2"])}
    assert leftovers(local)["queues"] == ["old-q"]  # the plan applied nothing
    seen: list[StackEvent] = []
    summary = stacks.update("dns", v2, on_event=seen.append)
    assert summary.status == "UPDATE_COMPLETE"
    assert local.dns.get_record(zone_id, "www", "A").values == ("192.0.2.2",)
    assert leftovers(local)["queues"] == ["new-q"] and leftovers(local)["topics"] == ["t-two"]
    stack_states = [e.status for e in seen if e.logical_id == "dns"]
    assert stack_states == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_COMPLETE"]
    # the replaced topic's old copy goes in the cleanup phase, after the new one exists
    topic = [(e.status, e.physical_id) for e in seen if e.logical_id == "Topic"]
    assert [s for s, _ in topic] == ["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE", "DELETE_IN_PROGRESS", "DELETE_COMPLETE"]
    assert topic[1][1] != topic[3][1]
    assert stacks.plan("dns", v2).changes == ()
    assert stacks.update("dns", v2).status == "UPDATE_COMPLETE"  # nothing to do
    stacks.delete("dns")
    assert leftovers(local) == NOTHING


def test_a_failed_update_returns_to_the_previous_state(stacks: Stacks, local: cloudkit.Cloud) -> None:
    v1 = {"Resources": {
        "Zone": {"Type": "Cloudkit::DNS::Zone", "Properties": {"Name": "example.org"}},
        "Www": {"Type": "Cloudkit::DNS::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": "www.example.org.", "Type": "A", "ResourceRecords": ["192.0.2.1"]}},
        "Topic": {"Type": "Cloudkit::Notification::Topic", "Properties": {"TopicName": "keep-me"}},
    }}
    stacks.create("upd", v1)
    zone_id = stacks.resources("upd")["Zone"]["physical_id"]
    before = leftovers(local)
    v2: dict[str, Any] = json.loads(json.dumps(v1))
    v2["Resources"]["Www"]["Properties"]["ResourceRecords"] = ["192.0.2.9"]
    v2["Resources"]["Topic"]["Properties"]["TopicName"] = "replacement"
    v2["Resources"]["Added"] = {"Type": "Cloudkit::Notification::Queue", "Properties": {"QueueName": "added"}}
    v2["Resources"]["Broken"] = {"Type": "Cloudkit::Compute::Instance", "DependsOn": ["Added", "Topic", "Www"],
                                 "Properties": {"ImageId": "local:missing", "InstanceType": "local.nano"}}
    summary = stacks.update("upd", v2)
    assert summary.status == "UPDATE_ROLLBACK_COMPLETE" and summary.rolled_back
    assert leftovers(local) == before
    assert local.dns.get_record(zone_id, "www", "A").values == ("192.0.2.1",)
    assert stacks.plan("upd", v1).changes == ()  # the state is v1's again
    stack_states = [e.status for e in stacks.events("upd") if e.logical_id == "upd"]
    assert stack_states[-4:] == ["UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS",
                                 "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]
    assert stacks.update("upd", v1).status == "UPDATE_COMPLETE"
    stacks.delete("upd")
    assert leftovers(local) == NOTHING


def test_deletion_policies_retain_and_snapshot(stacks: Stacks, local: cloudkit.Cloud) -> None:
    tpl = {"Resources": {
        "Kept": {"Type": "AWS::SQS::Queue", "DeletionPolicy": "Retain", "Properties": {"QueueName": "kept"}},
        "Disk": {"Type": "AWS::EC2::Volume", "DeletionPolicy": "Snapshot", "Properties": {"Size": 1}},
    }}
    stacks.create("pol", tpl)
    volume = stacks.resources("pol")["Disk"]["physical_id"]
    seen: list[StackEvent] = []
    stacks.delete("pol", on_event=seen.append)
    assert ("Kept", "DELETE_SKIPPED") in statuses(seen)
    assert leftovers(local)["queues"] == ["kept"]
    snaps = [s for s in local.compute.list_volume_snapshots() if s.volume_id == volume]
    assert len(snaps) == 1
    assert volume not in {v.id for v in local.compute.list_volumes() if v.state != "deleted"}


def test_state_in_the_profiles_bucket_by_default(local: cloudkit.Cloud) -> None:
    stacks = Stacks(local)
    stacks.create("b", {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "bq"}}}})
    keys = [o.key for o in local.storage.list_objects("cloudkit-stacks")]  # type: ignore[union-attr]
    assert keys == ["stacks/b.json"]  # the lock document is gone once the apply ended
    assert [s.name for s in Stacks(local).list()] == ["b"]
    state = local.storage.get_object("cloudkit-stacks", "stacks/b.json").read()
    assert json.loads(state)["resources"]["Q"]["physical_id"]
    Stacks(local).delete("b")


def test_secrets_stay_out_of_state_events_and_outputs(tmp_path: Path, local: cloudkit.Cloud) -> None:
    stacks = Stacks(local, state_dir=str(tmp_path / "s"))
    tpl = {"Parameters": {"Pw": {"Type": "String", "NoEcho": True}},
           "Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "secretive",
                                                                         "DisplayName": {"Ref": "Pw"}}}},
           "Outputs": {"Echo": {"Value": {"Fn::Sub": "pw=${Pw}"}}}}
    stacks.create("sec", tpl, parameters={"Pw": "s3cr3t-value"})
    assert stacks.outputs("sec")["Echo"]["value"] == "pw=****"
    for f in (tmp_path / "s").rglob("*"):
        if f.is_file():
            assert b"s3cr3t-value" not in f.read_bytes()
    stacks.delete("sec")


# ------------------------------------------------------------------------------ the lock
def test_two_applies_of_one_stack_cannot_run_at_once(stacks: Stacks, local: cloudkit.Cloud) -> None:
    inside, release = threading.Event(), threading.Event()

    def slow(ev: StackEvent) -> None:
        if ev.status == "CREATE_IN_PROGRESS" and ev.logical_id == "Q":
            inside.set()
            release.wait(60)

    tpl = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "lockq"}}}}
    result: list[Any] = []
    t = threading.Thread(target=lambda: result.append(stacks.create("busy", tpl, on_event=slow)))
    t.start()
    try:
        assert inside.wait(60)
        for attempt in (lambda: stacks.create("busy", tpl), lambda: stacks.update("busy", tpl),
                        lambda: stacks.delete("busy")):
            with pytest.raises(cloudkit.Conflict, match="being changed"):
                attempt()
        assert stacks.describe("busy").status == "CREATE_IN_PROGRESS"  # reading is allowed meanwhile
        stacks.create("other", {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "o"}}}})
    finally:
        release.set()
        t.join(60)
    assert result[0].status == "CREATE_COMPLETE"


def test_a_lock_held_from_another_machine_refuses(stacks: Stacks) -> None:
    stacks.store.write("locks/far.json", json.dumps({"host": socket.gethostname() + "-elsewhere", "pid": 1,
                                                     "time": time.time(), "token": "x"}).encode())
    with pytest.raises(cloudkit.Conflict, match="elsewhere"):
        stacks.create("far", TOPIC_QUEUE)
    stacks.store.write("locks/far.json", json.dumps({"host": "elsewhere", "pid": 1, "time": time.time() - 7 * 3600,
                                                     "token": "x"}).encode())
    assert stacks.create("far", TOPIC_QUEUE).status == "CREATE_COMPLETE"  # a stale lock is taken over
    stacks.delete("far")


# ------------------------------------------------------------------------------ kill -9
CHILD = textwrap.dedent("""
    import json, os, sys, time
    import cloudkit
    from cloudkit_contrib.stacks import Stacks
    root, stop_after, verb = sys.argv[1], int(sys.argv[2]), sys.argv[3]
    tpl = json.loads(sys.stdin.read())
    count = 0
    def on_event(ev):
        global count
        if ev.logical_id == "big":
            return
        count += 1
        if count == stop_after:
            print("STOPPED", ev.logical_id, ev.status, flush=True)
            time.sleep(600)
    with cloudkit.connect("local", root=root) as cloud:
        stacks = Stacks(cloud, concurrency=1)
        if verb == "create":
            stacks.create("big", tpl, on_event=on_event)
        elif verb == "update":
            stacks.update("big", tpl, on_event=on_event)
        else:
            stacks.delete("big", on_event=on_event)
""")

CHAIN = {"Resources": {
    "B1": {"Type": "AWS::S3::Bucket"},
    "Q1": {"Type": "AWS::SQS::Queue", "DependsOn": "B1"},
    "T1": {"Type": "AWS::SNS::Topic", "DependsOn": "Q1"},
    "S1": {"Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": {"Ref": "T1"}, "Protocol": "sqs",
                                                           "Endpoint": {"Fn::GetAtt": ["Q1", "Arn"]}}},
}}


def _kill_at(tmp_path: Path, stop_after: int, verb: str, template: dict[str, Any] = CHAIN) -> str:
    proc = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "root"), str(stop_after), verb],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(json.dumps(template))
    proc.stdin.close()
    line = proc.stdout.readline()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(60)
    assert line.startswith("STOPPED"), (line, proc.stderr.read() if proc.stderr else "")
    return line


# stop points (resource events, one resource at a time): 1 = B1 CREATE_IN_PROGRESS announced, not yet written;
# 2 = B1 made, its completion not written (found again by name); 4 = Q1 made, not recorded; 5 = T1 announced
# after Q1's completion was written; 8 = S1 made, not recorded (everything exists, the state says otherwise)
@pytest.mark.parametrize("stop_after", [1, 2, 4, 5, 8])
def test_an_apply_killed_between_steps_is_rolled_back_by_the_next_command(
        tmp_path: Path, local: cloudkit.Cloud, stop_after: int) -> None:
    _kill_at(tmp_path, stop_after, "create")
    stacks = Stacks(local)
    summary = stacks.describe("big")  # the next command recovers it
    assert summary.status == "ROLLBACK_COMPLETE", stacks.events("big")
    assert "interrupted" in (summary.status_reason or "")
    assert leftovers(local) == NOTHING
    assert list(local.notification.list_subscriptions()) == []
    assert [o.key for o in local.storage.list_objects("cloudkit-stacks")] == ["stacks/big.json"]  # type: ignore[union-attr]
    assert stacks.delete("big").status == "DELETE_COMPLETE"


def test_a_delete_killed_half_way_is_finished_by_the_next_command(tmp_path: Path, local: cloudkit.Cloud) -> None:
    Stacks(local).create("big", CHAIN)
    _kill_at(tmp_path, 3, "delete")  # S1 gone, T1 announced
    stacks = Stacks(local)
    with pytest.raises(cloudkit.NotFound):
        stacks.delete("big")  # recovering finished the delete first
    assert stacks.describe("big").status == "DELETE_COMPLETE"
    assert leftovers(local) == NOTHING


def test_a_custom_named_resource_is_not_replaced_under_its_name(stacks: Stacks, local: cloudkit.Cloud) -> None:
    v1 = {"Resources": {"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": "named", "DisplayName": "one"}}}}
    stacks.create("named", v1)
    v2 = {"Resources": {"T": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Retain",
                              "Properties": {"TopicName": "named", "DisplayName": "two"}}}}
    for attempt in (lambda: stacks.plan("named", v2), lambda: stacks.update("named", v2)):
        with pytest.raises(cloudkit.InvalidInput) as info:
            attempt()
        assert info.value.field == "Resources.T.Properties.TopicName" and "DisplayName" in info.value.rule
    assert leftovers(local)["topics"] == ["named"] and stacks.describe("named").status == "CREATE_COMPLETE"
    # a DeletionPolicy change alone is taken by an update and honoured by the delete
    v3 = {"Resources": {"T": {**v1["Resources"]["T"], "DeletionPolicy": "Retain"}}}
    assert stacks.update("named", v3).status == "UPDATE_COMPLETE"
    seen: list[StackEvent] = []
    stacks.delete("named", on_event=seen.append)
    assert ("T", "DELETE_SKIPPED") in statuses(seen) and leftovers(local)["topics"] == ["named"]


def test_a_family_the_provider_lacks_is_refused_before_anything_is_made(
        stacks: Stacks, local: cloudkit.Cloud, monkeypatch: pytest.MonkeyPatch) -> None:
    from cloudkit.services import FAMILIES, unserved

    real = cloudkit.Cloud.service

    def service(self: cloudkit.Cloud, family: str) -> object:
        if family == "notification":
            return unserved(FAMILIES["notification"], "local", "local does not serve the notification family")
        return real(self, family)

    monkeypatch.setattr(cloudkit.Cloud, "service", service)
    with pytest.raises(cloudkit.NotSupported, match=r"notification\.create_queue.*resource Inbox .*nothing was created"):
        stacks.create("nofam", TOPIC_QUEUE)
    assert list(local.storage.list_buckets()) == [] and stacks.list(include_deleted=True) == []


@pytest.mark.parametrize(("resource", "field"), [
    ({"Type": "AWS::EC2::SecurityGroup", "Properties": {"GroupDescription": "d", "SecurityGroupIngress": [{"Port": 1}]}},
     "Resources.Bad.Properties.SecurityGroupIngress[0]"),
    ({"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "i", "InstanceType": "t", "Tags": [{"Name": "x"}]}},
     "Resources.Bad.Properties.Tags[0]"),
    ({"Type": "AWS::Route53::RecordSet", "Properties": {"Name": "a.example.com.", "Type": "A"}},
     "Resources.Bad.Properties.HostedZoneId"),
    ({"Type": "AWS::SNS::Subscription", "Properties": {"TopicArn": {"Ref": "Q"}, "Protocol": "carrier-pigeon",
                                                      "Endpoint": "x"}}, "Resources.Bad.Properties.Protocol"),
    ({"Type": "AWS::ElasticBeanstalk::ApplicationVersion", "Properties": {"ApplicationName": "a",
                                                                         "SourceBundle": {"S3Bucket": "b"}}},
     "Resources.Bad.Properties.SourceBundle"),
    ({"Type": "AWS::ElasticBeanstalk::Environment", "Properties": {"ApplicationName": "a", "VersionLabel": "v",
                                                                  "OptionSettings": [{"Namespace": "n"}]}},
     "Resources.Bad.Properties.OptionSettings[0]"),
])
def test_structured_values_are_checked_before_anything_is_made(
        stacks: Stacks, local: cloudkit.Cloud, resource: dict[str, Any], field: str) -> None:
    tpl = {"Resources": {"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "first"}}, "Bad": resource}}
    with pytest.raises(cloudkit.InvalidInput) as info:
        stacks.create("shapes", tpl)
    assert info.value.field == field, str(info.value)
    assert leftovers(local) == NOTHING


# update events, one step at a time: 1 = Q1 UPDATE_IN_PROGRESS (replacement announced); 2 = the new Q1 made,
# not recorded; 4 = the new S1 made, not recorded; 6 = Q2 made, not recorded
@pytest.mark.parametrize("stop_after", [2, 4, 6])
def test_an_update_killed_between_steps_returns_to_the_previous_state(
        tmp_path: Path, local: cloudkit.Cloud, stop_after: int) -> None:
    Stacks(local).create("big", CHAIN)
    before = leftovers(local)
    v2: dict[str, Any] = json.loads(json.dumps(CHAIN))
    v2["Resources"]["Q1"]["Properties"] = {"QueueName": "renamed-q"}  # replaced, and S1 with it
    v2["Resources"]["Q2"] = {"Type": "AWS::SQS::Queue", "DependsOn": "S1", "Properties": {"QueueName": "added-q"}}
    _kill_at(tmp_path, stop_after, "update", v2)
    stacks = Stacks(local)
    summary = stacks.describe("big")
    assert summary.status == "UPDATE_ROLLBACK_COMPLETE", stacks.events("big")
    assert leftovers(local) == before
    assert [s.protocol for s in local.notification.list_subscriptions()] == ["queue"]
    assert stacks.plan("big", CHAIN).changes == ()
    stacks.delete("big")
    assert leftovers(local) == NOTHING
