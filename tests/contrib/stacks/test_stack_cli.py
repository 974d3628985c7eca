"""``cloudkit stack ...`` end to end on the local provider, the entry-point hook, and export-cfn checked by cfn-lint."""

from __future__ import annotations

import importlib.metadata
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner
from cloudkit_contrib.stacks.export import export_cfn

import cloudkit
from cloudkit import cli as core_cli

BASIC = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Description": "A queue and a topic",
    "Parameters": {"Prefix": {"Type": "String", "Default": "cli", "Description": "name prefix"}},
    "Resources": {
        "Q": {"Type": "Cloudkit::Notification::Queue", "Properties": {"QueueName": {"Fn::Sub": "${Prefix}-q"}}},
        "T": {"Type": "Cloudkit::Notification::Topic", "Properties": {"TopicName": {"Fn::Sub": "${Prefix}-t"}}},
    },
    "Outputs": {"QueueName": {"Value": {"Fn::GetAtt": ["Q", "QueueName"]}, "Description": "the queue"}},
}


class Cli:
    def __init__(self, tmp: Path) -> None:
        self.root = tmp / "root"
        self.state = tmp / "state"
        self.tmp = tmp

    def file(self, name: str, doc: Any) -> str:
        path = self.tmp / name
        path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
        return str(path)

    def __call__(self, *args: str, json_out: bool = False, input: str | None = None) -> Any:
        head = ["--provider", "local", "--set", f"root={self.root}"] + (["-o", "json"] if json_out else [])
        return CliRunner().invoke(core_cli.main, [*head, "stack", "--state-dir", str(self.state), *args], input=input)


@pytest.fixture
def run(tmp_path: Path) -> Cli:
    return Cli(tmp_path)


def test_validate_lists_parameters_with_descriptions(run: Cli) -> None:
    result = run("validate", run.file("t.json", BASIC))
    assert result.exit_code == 0, result.output
    assert "PARAMETERS  Prefix  false  name prefix" in result.output
    as_json = json.loads(run("validate", run.file("t.json", BASIC), json_out=True).output)
    assert as_json["parameters"] == [{"name": "Prefix", "type": "String", "default": "cli", "no_echo": False,
                                      "description": "name prefix"}]
    bad = run("validate", run.file("bad.json", {"Resources": {"X": {"Type": "AWS::Nope::Nope"}}}))
    assert bad.exit_code == 2 and "Resources.X.Type" in bad.output


def test_create_events_outputs_list_delete(run: Cli) -> None:
    tpl = run.file("t.yaml", "Parameters: {Prefix: {Type: String}}\nResources:\n  Q: {Type: AWS::SQS::Queue, "
                             "Properties: {QueueName: !Sub '${Prefix}-q'}}\nOutputs:\n  Name: {Value: !GetAtt Q.QueueName}\n")
    plan = run("plan", "s1", "--template", tpl, "--parameter", "Prefix=cli")
    assert plan.exit_code == 0 and "add      Q  AWS::SQS::Queue" in plan.output
    created = run("create", "s1", "--template", tpl, "--parameter", "Prefix=cli")
    assert created.exit_code == 0, created.output
    lines = created.output.splitlines()
    assert "CREATE_IN_PROGRESS" in lines[0] and "s1" in lines[0] and "User Initiated" in lines[0]
    assert any("CREATE_COMPLETE" in ln and "  Q  AWS::SQS::Queue" in ln for ln in lines)
    assert "Name = cli-q" in created.output
    events = run("events", "s1")
    assert events.output.splitlines()[0].startswith("STACK_EVENT  s1") and "CREATE_COMPLETE" in events.output.splitlines()[0]
    assert json.loads(run("outputs", "s1", json_out=True).output)["Name"]["value"] == "cli-q"
    assert json.loads(run("list", json_out=True).output)[0]["status"] == "CREATE_COMPLETE"
    assert run("list").output.startswith("s1  CREATE_COMPLETE")
    refused = run("delete", "s1")
    assert refused.exit_code == 2 and "--yes" in refused.output
    deleted = run("delete", "s1", "--yes", json_out=True)
    assert deleted.exit_code == 0 and json.loads(deleted.output)["status"] == "DELETE_COMPLETE"
    with cloudkit.connect("local", root=str(run.root)) as cloud:
        assert list(cloud.notification.list_queues()) == []


def test_delete_asks_on_a_terminal(run: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cloudkit.cli._common._interactive", lambda: True)
    tpl = run.file("t.json", BASIC)
    assert run("create", "s2", "--template", tpl).exit_code == 0
    no = run("delete", "s2", input="n\n")
    assert no.exit_code == 1 and "Delete stack 's2' and all of its resources?" in no.output
    assert json.loads(run("list", json_out=True).output)[0]["status"] == "CREATE_COMPLETE"
    yes = run("delete", "s2", input="y\n")
    assert yes.exit_code == 0 and "DELETE_COMPLETE" in yes.output


def test_a_rolled_back_create_exits_non_zero(run: Cli) -> None:
    tpl = run.file("bad.json", {"Resources": {
        "Q": {"Type": "AWS::SQS::Queue"},
        "I": {"Type": "AWS::EC2::Instance", "DependsOn": "Q", "Properties": {"ImageId": "none", "InstanceType": "local.nano"}}}})
    result = run("create", "s3", "--template", tpl, json_out=True)
    assert result.exit_code == 1
    body = json.loads(result.stdout)
    assert body["status"] == "ROLLBACK_COMPLETE"
    assert [e["status"] for e in body["events"] if e["logical_id"] == "I"] == ["CREATE_IN_PROGRESS", "CREATE_FAILED"]
    assert run("create", "s4", "--template", tpl, "--disable-rollback").exit_code == 1
    assert run("update", "s4", "--template", tpl).exit_code == 1  # a failed create can only be deleted


def test_plugins_add_command_groups_through_entry_points(monkeypatch: pytest.MonkeyPatch) -> None:
    @click.command("hello")
    def hello() -> None:
        click.echo("hello from a plugin")

    mod = type(sys)("fake_cloudkit_plugin")
    mod.hello = hello  # type: ignore[attr-defined]
    mod.nope = 42  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_cloudkit_plugin", mod)
    eps = importlib.metadata.EntryPoints([
        importlib.metadata.EntryPoint("hello", "fake_cloudkit_plugin:hello", "cloudkit.cli"),
        importlib.metadata.EntryPoint("storage", "fake_cloudkit_plugin:hello", "cloudkit.cli"),
        importlib.metadata.EntryPoint("broken", "fake_cloudkit_plugin:nope", "cloudkit.cli"),
    ])
    real = importlib.metadata.entry_points
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda **kw: eps if kw.get("group") == "cloudkit.cli" else real(**kw))
    runner = CliRunner()
    assert runner.invoke(core_cli.main, ["hello"]).output == "hello from a plugin\n"
    assert "hello" in runner.invoke(core_cli.main, ["--help"]).output
    assert "Buckets and objects" in runner.invoke(core_cli.main, ["storage", "--help"]).output  # not shadowed
    broken = runner.invoke(core_cli.main, ["broken"])
    assert broken.exit_code != 0 and "not a click command" in broken.output
    assert "unavailable" in runner.invoke(core_cli.main, ["--help"]).output


def test_contrib_registers_the_stack_group() -> None:
    names = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="cloudkit.cli")}
    assert names.get("stack") == "cloudkit_contrib.stacks.cli:group"


EVERY_NEUTRAL = {
    "AWSTemplateFormatVersion": "2010-09-09",
    "Parameters": {"DbPassword": {"Type": "String", "NoEcho": True, "MinLength": 8}},
    "Resources": {
        "Bucket": {"Type": "Cloudkit::Storage::Bucket"},
        "Zone": {"Type": "Cloudkit::DNS::Zone", "Properties": {"Name": "example.com"}},
        "Www": {"Type": "Cloudkit::DNS::RecordSet", "Properties": {"HostedZoneId": {"Ref": "Zone"}, "Name": "www.example.com.",
                                                                  "Type": "A", "TTL": "300", "ResourceRecords": ["192.0.2.1"]}},
        "Topic": {"Type": "Cloudkit::Notification::Topic", "Properties": {"DisplayName": "news"}},
        "Queue": {"Type": "Cloudkit::Notification::Queue"},
        "Sub": {"Type": "Cloudkit::Notification::Subscription", "Properties": {
            "TopicArn": {"Ref": "Topic"}, "Protocol": "queue", "Endpoint": {"Fn::GetAtt": ["Queue", "Arn"]}}},
        "Group": {"Type": "Cloudkit::Compute::SecurityGroup", "Properties": {
            "GroupDescription": "web", "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80,
                                                                  "CidrIp": "0.0.0.0/0"}]}},
        "Key": {"Type": "Cloudkit::Compute::KeyPair", "Properties": {"KeyName": "deploy"}},
        "Web": {"Type": "Cloudkit::Compute::Instance", "Properties": {
            "ImageId": "ami-0123456789abcdef0", "InstanceType": "t3.micro", "KeyName": {"Ref": "Key"},
            "SecurityGroups": [{"Ref": "Group"}], "UserData": {"Fn::Base64": "#cloud-config\n"}}},
        "Disk": {"Type": "Cloudkit::Compute::Volume", "DeletionPolicy": "Snapshot", "Properties": {"Size": 10}},
        "Db": {"Type": "Cloudkit::Database::Instance", "DeletionPolicy": "Snapshot", "Properties": {
            "Engine": "postgres", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20",
            "MasterUsername": "master", "MasterUserPassword": {"Ref": "DbPassword"}}},
        "App": {"Type": "Cloudkit::Platform::Application", "Properties": {"Description": "demo"}},
        "Version": {"Type": "Cloudkit::Platform::Version", "Properties": {
            "ApplicationName": {"Ref": "App"}, "SourceBundle": {"S3Bucket": {"Ref": "Bucket"}, "S3Key": "app.zip"}}},
        "Env": {"Type": "Cloudkit::Platform::Environment", "Properties": {
            "ApplicationName": {"Ref": "App"}, "VersionLabel": {"Ref": "Version"},
            "SolutionStackName": "64bit Amazon Linux 2023 v4.0.0 running Python 3.11"}},
    },
    "Outputs": {
        "BucketName": {"Value": {"Fn::GetAtt": ["Bucket", "BucketName"]}},
        "Site": {"Value": {"Fn::Sub": "http://${Env.EndpointURL}/ ${Bucket.BucketName}"}},
        "Ip": {"Value": {"Fn::GetAtt": ["Web", "PublicIp"]}},
        "DbHost": {"Value": {"Fn::GetAtt": ["Db", "Endpoint.Address"]}},
    },
}


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_export_cfn_passes_cfn_lint(tmp_path: Path, fmt: str) -> None:
    text = export_cfn(json.dumps(EVERY_NEUTRAL), fmt=fmt)
    assert "Cloudkit::" not in text
    path = tmp_path / f"exported.{fmt}"
    path.write_text(text)
    lint = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if lint is None:
        pytest.skip("cfn-lint is not installed (requirements/dev.txt)")
    result = subprocess.run([lint, "--regions", "us-east-1", "--", str(path)], capture_output=True, text=True, timeout=300)
    # cfn-lint's exit status is a bit mask: 2 errors, 4 warnings, 8 informational; no error and no warning
    # besides W1011 (it suggests dynamic references for a NoEcho password, an AWS-only feature)
    assert result.returncode & 2 == 0, result.stdout + result.stderr
    warnings = [ln.split()[0] for ln in result.stdout.splitlines() if ln[:1] == "W"]
    assert set(warnings) <= {"W1011"}, result.stdout


def test_export_cfn_command(run: Cli) -> None:
    result = run("export-cfn", run.file("t.json", BASIC))
    assert result.exit_code == 0
    body = json.loads(result.output)
    assert {r["Type"] for r in body["Resources"].values()} == {"AWS::SQS::Queue", "AWS::SNS::Topic"}
