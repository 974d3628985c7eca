"""``export-cfn``: a template of neutral ``Cloudkit::*`` types as a real CloudFormation template.

The neutral types already use CloudFormation's property names, so the export renames each type to
its AWS name and adjusts the few places where the neutral form is more lenient than AWS:
``Fn::GetAtt`` of attributes AWS spells as ``Ref`` (a bucket's ``BucketName``, a key pair's
``KeyName``), the subscription protocol ``queue`` (``sqs`` on AWS), and a volume without an
``AvailabilityZone`` (AWS requires one: the region's first zone is used).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

import yaml

from cloudkit import InvalidInput
from cloudkit_contrib.stacks.resources import RESOURCE_TYPES
from cloudkit_contrib.stacks.template import load_template

__all__ = ["export_cfn"]

#: (AWS type, attribute) pairs the neutral form offers as Fn::GetAtt but CloudFormation gives through Ref.
_ATT_AS_REF = {("AWS::S3::Bucket", "BucketName"), ("AWS::EC2::KeyPair", "KeyName")}


def export_cfn(template: str | Mapping[str, Any], *, fmt: str = "json") -> str:
    """The CloudFormation text (``json`` or ``yaml``) of ``template``; it is checked first."""
    if fmt not in ("json", "yaml"):
        raise InvalidInput("fmt", "must be json or yaml")
    t = load_template(template)
    body: dict[str, Any] = copy.deepcopy(dict(t.body))
    body.setdefault("AWSTemplateFormatVersion", "2010-09-09")
    aws_type = {lid: RESOURCE_TYPES[r["Type"]].aws for lid, r in body["Resources"].items()}
    for lid, res in body["Resources"].items():
        res["Type"] = aws_type[lid]
        if res.get("DeletionPolicy", "Delete") != "Delete":  # a replaced copy is kept the same way
            res.setdefault("UpdateReplacePolicy", res["DeletionPolicy"])
        props = res.get("Properties")
        if aws_type[lid] == "AWS::SNS::Subscription" and isinstance(props, dict) and props.get("Protocol") == "queue":
            props["Protocol"] = "sqs"
        if aws_type[lid] == "AWS::EC2::Volume":
            res.setdefault("Properties", {}).setdefault("AvailabilityZone", {"Fn::Select": [0, {"Fn::GetAZs": ""}]})
    body = _rewrite(body, aws_type)
    if fmt == "yaml":
        return str(yaml.safe_dump(body, sort_keys=False, default_flow_style=False))
    return json.dumps(body, indent=2) + "\n"


def _rewrite(node: Any, aws_type: Mapping[str, str]) -> Any:
    if isinstance(node, list):
        return [_rewrite(v, aws_type) for v in node]
    if not isinstance(node, dict):
        return node
    if len(node) == 1 and "Fn::GetAtt" in node:
        lid, att = node["Fn::GetAtt"]
        if (aws_type.get(lid), att) in _ATT_AS_REF:
            return {"Ref": lid}
    if len(node) == 1 and "Fn::Sub" in node:
        arg = node["Fn::Sub"]
        text = arg if isinstance(arg, str) else arg[0]

        def fix(m: re.Match[str]) -> str:
            lid, _, att = m.group(1).partition(".")
            return "${" + lid + "}" if (aws_type.get(lid), att) in _ATT_AS_REF else m.group(0)

        text = re.sub(r"\$\{([^}!]*)\}", fix, text)
        return {"Fn::Sub": text if isinstance(arg, str) else [text, _rewrite(arg[1], aws_type)]}
    return {k: _rewrite(v, aws_type) for k, v in node.items()}
