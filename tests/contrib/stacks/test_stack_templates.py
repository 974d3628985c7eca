"""Templates: parsing, checking and evaluating; every kind of bad template is InvalidInput naming its place."""

from __future__ import annotations

import base64
import itertools
import json
from typing import Any

import pytest
from cloudkit_contrib.stacks import RESOURCE_TYPES, load_template
from cloudkit_contrib.stacks.template import Context, Unknown, evaluate
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cloudkit

LOGICAL = st.from_regex(r"[A-Z][A-Za-z0-9]{0,12}", fullmatch=True)


def body(resources: dict[str, Any] | None = None, **sections: Any) -> dict[str, Any]:
    return {"Resources": resources or {"B": {"Type": "Cloudkit::Storage::Bucket"}}, **sections}


def bad(template: Any, field: str, *words: str, parameters: dict[str, str] | None = None) -> cloudkit.InvalidInput:
    with pytest.raises(cloudkit.InvalidInput) as info:
        t = load_template(template)
        t.bind(parameters)
    assert info.value.field == field, str(info.value)
    for w in words:
        assert w in info.value.rule, info.value.rule
    return info.value


def ctx(**params: Any) -> Context:
    return Context(params, {"AWS::Region": "us-east-1", "AWS::StackName": "s", "AWS::StackId": "id",
                            "AWS::AccountId": "1"}, {"M": {"us-east-1": {"Img": "ami-1"}}}, {"Yes": True, "No": False},
                   ref=lambda lid: f"phys-{lid}", get_att=lambda lid, a: f"{lid}.{a}.value")


# ----------------------------------------------------------------------------- parsing
def test_yaml_short_forms_become_the_long_forms() -> None:
    t = load_template("""
Parameters:
  Size: {Type: Number, Default: "8"}
Conditions:
  Big: !Equals [!Ref Size, "8"]
Resources:
  Q: {Type: AWS::SQS::Queue}
  T:
    Type: AWS::SNS::Topic
    Properties:
      TopicName: !Sub "${AWS::StackName}-${Q.QueueName}"
      DisplayName: !If [Big, !Join ["-", [!Select [0, !Split [",", "a,b"]], !GetAtt Q.Arn]], !Ref AWS::NoValue]
Outputs:
  Zones: {Value: !Join [",", !GetAZs ""]}
  B64: {Value: !Base64 "hi"}
  Cond: {Value: !If [Big, !FindInMap [M, k, v], "no"], Condition: Big}
Mappings:
  M: {k: {v: found}}
""")
    props = t.resources["T"]["Properties"]
    assert props["TopicName"] == {"Fn::Sub": "${AWS::StackName}-${Q.QueueName}"}
    assert props["DisplayName"]["Fn::If"][1]["Fn::Join"][1][1] == {"Fn::GetAtt": ["Q", "Arn"]}
    assert t.dependencies["T"] == frozenset({"Q"})
    assert t.evaluate_conditions(t.bind(), {}) == {"Big": True}


def test_evaluates_every_intrinsic() -> None:
    c = ctx(P="x", L=["a", "b"])
    assert evaluate({"Ref": "P"}, c, "w") == "x"
    assert evaluate({"Ref": "R"}, c, "w") == "phys-R"
    assert evaluate({"Fn::GetAtt": ["R", "Arn"]}, c, "w") == "R.Arn.value"
    assert evaluate({"Fn::FindInMap": ["M", {"Ref": "AWS::Region"}, "Img"]}, c, "w") == "ami-1"
    assert evaluate({"Fn::Join": ["-", ["a", {"Ref": "P"}, 3]]}, c, "w") == "a-x-3"
    assert evaluate({"Fn::Sub": "${AWS::Region}/${P}/${R.Arn}/${!Literal}"}, c, "w") == "us-east-1/x/R.Arn.value/${Literal}"
    assert evaluate({"Fn::Sub": ["${A}-${P}", {"A": {"Ref": "R"}}]}, c, "w") == "phys-R-x"
    assert evaluate({"Fn::Select": ["1", {"Ref": "L"}]}, c, "w") == "b"
    assert evaluate({"Fn::Split": [",", "a,b,,c"]}, c, "w") == ["a", "b", "", "c"]
    assert base64.b64decode(evaluate({"Fn::Base64": {"Ref": "P"}}, c, "w")) == b"x"
    assert evaluate({"Fn::If": ["Yes", 1, 2]}, c, "w") == 1
    assert evaluate({"Fn::If": ["No", 1, 2]}, c, "w") == 2
    assert evaluate({"Fn::Equals": [{"Ref": "P"}, "x"]}, c, "w") is True
    assert evaluate({"Fn::And": [{"Condition": "Yes"}, {"Fn::Not": [{"Condition": "No"}]}]}, c, "w") is True
    assert evaluate({"Fn::Or": [{"Condition": "No"}, {"Condition": "No"}]}, c, "w") is False
    assert evaluate({"Fn::GetAZs": ""}, c, "w") == ["us-east-1a", "us-east-1b"]
    assert evaluate({"a": {"Ref": "AWS::NoValue"}, "b": [1, {"Ref": "AWS::NoValue"}]}, c, "w") == {"b": [1]}
    unknown = Context({}, {}, {}, {}, ref=lambda lid: Unknown(lid), get_att=lambda lid, a: Unknown(f"{lid}.{a}"))
    assert isinstance(evaluate({"Fn::Join": ["", ["a", {"Ref": "R"}]]}, unknown, "w"), Unknown)
    assert isinstance(evaluate({"Fn::Sub": "x-${R.Arn}"}, unknown, "w"), Unknown)


def test_parameters_are_listed_with_their_constraints_checked() -> None:
    t = load_template(body(Parameters={
        "Type": {"Type": "String", "Default": "a", "AllowedValues": ["a", "b"], "Description": "the type"},
        "Name": {"Type": "String", "AllowedPattern": "[a-z]+", "MinLength": 2, "MaxLength": 4,
                 "ConstraintDescription": "two to four lower-case letters"},
        "Count": {"Type": "Number", "MinValue": 1, "MaxValue": 5, "Default": "2"},
        "Zones": {"Type": "CommaDelimitedList", "Default": "a, b"},
        "Sizes": {"Type": "List<Number>", "Default": "1,2"},
        "Secret": {"Type": "String", "NoEcho": True, "Default": "hunter22"},
    }))
    assert t.bind({"Name": "abc"}) == {"Type": "a", "Name": "abc", "Count": "2", "Zones": ["a", "b"], "Sizes": ["1", "2"],
                                       "Secret": "hunter22"}
    assert t.parameters["Type"].description == "the type"
    for value, words in [("a", ("MinLength 2", "two to four")), ("abcde", ("MaxLength 4",)), ("AB", ("AllowedPattern",))]:
        bad(t.body, "Parameters.Name", *words, parameters={"Name": value})
    bad(t.body, "Parameters.Type", "AllowedValues", parameters={"Name": "ab", "Type": "c"})
    bad(t.body, "Parameters.Count", "MinValue", parameters={"Name": "ab", "Count": "0"})
    bad(t.body, "Parameters.Count", "MaxValue", parameters={"Name": "ab", "Count": "6"})
    bad(t.body, "Parameters.Count", "a number", parameters={"Name": "ab", "Count": "six"})
    bad(t.body, "Parameters.Sizes", "a number", parameters={"Name": "ab", "Sizes": "1,x"})
    bad(t.body, "Parameters.Name", "no value")
    bad(t.body, "Parameters.Nope", "not declared", parameters={"Name": "ab", "Nope": "1"})


def test_a_noecho_value_never_appears_in_an_error() -> None:
    tpl = body(Parameters={"Pw": {"Type": "String", "NoEcho": True, "AllowedValues": ["right-one"]}})
    err = bad(tpl, "Parameters.Pw", "AllowedValues", parameters={"Pw": "wrong-secret-value"})
    assert "wrong-secret-value" not in str(err)


# ----------------------------------------------------------------------------- bad templates, one per kind
@pytest.mark.parametrize(("template", "field", "words"), [
    ("{not json", "template", ("JSON", "line 1")),
    ("Resources: [unclosed", "template", ("YAML",)),
    ("- a list", "template", ("object",)),
    (body(Outputz={}), "Outputz", ("not a template section",)),
    ({"Resources": {}}, "Resources", ("at least one",)),
    (body(AWSTemplateFormatVersion="2011-01-01"), "AWSTemplateFormatVersion", ("2010-09-09",)),
    (body({"Web": {"Type": "AWS::Lambda::Function"}}), "Resources.Web.Type", ("not a supported resource type",)),
    (body({"Web": {"Properties": {}}}), "Resources.Web.Type", ("required",)),
    (body({"Web": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "i", "InstanceType": "t", "Colour": "red"}}}),
     "Resources.Web.Properties.Colour", ("not a property of AWS::EC2::Instance",)),
    (body({"Web": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "i"}}}),
     "Resources.Web.Properties.InstanceType", ("required",)),
    (body({"V": {"Type": "AWS::EC2::Volume", "Properties": {"Size": "big"}}}), "Resources.V.Properties.Size", ("integer",)),
    (body({"Web": {"Type": "AWS::EC2::Instance", "Properties": {"ImageId": "i", "InstanceType": {"Ref": "Nothing"}}}}),
     "Resources.Web.Properties.InstanceType.Ref", ("'Nothing'", "not a parameter, resource")),
    (body({"Q": {"Type": "AWS::SQS::Queue"}, "T": {"Type": "AWS::SNS::Topic", "Properties": {
        "TopicName": {"Fn::GetAtt": ["Q", "Colour"]}}}}), "Resources.T.Properties.TopicName.Fn::GetAtt", ("no attribute",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${Ghost}"}}}}),
     "Resources.T.Properties.TopicName.Fn::Sub", ("${Ghost}",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::ImportValue": "x"}}}}),
     "Resources.T.Properties.TopicName.Fn::ImportValue", ("not a supported intrinsic",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Join": "-"}}}}),
     "Resources.T.Properties.TopicName.Fn::Join", ("[delimiter",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::FindInMap": ["Nope", "a", "b"]}}}}),
     "Resources.T.Properties.TopicName.Fn::FindInMap", ("no declared mapping",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "DependsOn": "Ghost"}}), "Resources.T.DependsOn", ("'Ghost'",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "Condition": "Ghost"}}), "Resources.T.Condition", ("no declared condition",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Keep"}}), "Resources.T.DeletionPolicy", ("Retain",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "DeletionPolicy": "Snapshot"}}), "Resources.T.DeletionPolicy", ("not possible",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "Colour": "x"}}), "Resources.T.Colour", ("not a resource attribute",)),
    (body({"T": {"Type": "AWS::SNS::Topic", "DependsOn": "T"}}), "Resources.T", ("itself",)),
    (body(Conditions={"C": {"Fn::Equals": [{"Ref": "B"}, "x"]}}), "Conditions.C.Fn::Equals[0].Ref", ("parameters and mappings",)),
    (body(Outputs={"O": {"Description": "no value"}}), "Outputs.O", ("Value",)),
    (body(Outputs={"O": {"Value": {"Ref": "Ghost"}}}), "Outputs.O.Value.Ref", ("'Ghost'",)),
    (body(Parameters={"P": {"Type": "Strin"}}), "Parameters.P.Type", ("String",)),
    (body(Parameters={"P": {"Type": "String", "Default": "abc", "MaxLength": 2}}), "Parameters.P", ("MaxLength 2",)),
    (body(Parameters={"P": {"Type": "String", "AllowedPattern": "("}}), "Parameters.P.AllowedPattern", ("regular expression",)),
    (body(Parameters={"P": {"Type": "String", "Defualt": "x"}}), "Parameters.P.Defualt", ("not a parameter property",)),
    (body(Mappings={"M": {"k": "flat"}}), "Mappings.M.k", ("object of values",)),
])
def test_bad_templates_are_refused_naming_the_place(template: Any, field: str, words: tuple[str, ...]) -> None:
    bad(template, field, *words)


def test_a_cycle_is_named() -> None:
    tpl = body({
        "A": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::GetAtt": ["B", "QueueName"]}}},
        "B": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${C}"}}},
        "C": {"Type": "AWS::SNS::Topic", "DependsOn": ["A"]},
    })
    err = bad(tpl, "Resources.A", "dependency cycle")
    assert "A -> B -> C -> A" in err.rule


def test_a_condition_cycle_is_named() -> None:
    t = load_template(body(Conditions={"X": {"Condition": "Y"}, "Y": {"Fn::Not": [{"Condition": "X"}]}}))
    with pytest.raises(cloudkit.InvalidInput, match="X -> Y -> X"):
        t.evaluate_conditions({}, {})


# ----------------------------------------------------------------------------- properties of every kind
NOT_TYPES = st.text(min_size=1, max_size=30).filter(lambda s: s not in RESOURCE_TYPES)


@given(LOGICAL, NOT_TYPES)
def test_any_unknown_type_is_refused(lid: str, type_name: str) -> None:
    bad(body({lid: {"Type": type_name}}), f"Resources.{lid}.Type", "not a supported resource type")


@given(LOGICAL, st.sampled_from(sorted(RESOURCE_TYPES)), st.text(min_size=1, max_size=20))
def test_any_unknown_property_is_refused(lid: str, type_name: str, prop: str) -> None:
    if prop in RESOURCE_TYPES[type_name].properties:
        return
    bad(body({lid: {"Type": type_name, "Properties": {prop: "x"}}}), f"Resources.{lid}.Properties.{prop}", "not a property")


@given(st.lists(LOGICAL, min_size=2, max_size=6, unique=True), st.sampled_from(["Ref", "GetAtt", "Sub", "DependsOn"]))
def test_any_cycle_is_named_in_order(ids: list[str], how: str) -> None:
    resources: dict[str, Any] = {}
    for i, lid in enumerate(ids):
        nxt = ids[(i + 1) % len(ids)]
        if how == "DependsOn":
            resources[lid] = {"Type": "AWS::SQS::Queue", "DependsOn": nxt}
            continue
        value = {"Ref": nxt} if how == "Ref" else {"Fn::GetAtt": [nxt, "QueueName"]} if how == "GetAtt" \
            else {"Fn::Sub": f"q-${{{nxt}}}"}
        resources[lid] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": value}}
    with pytest.raises(cloudkit.InvalidInput, match="dependency cycle") as info:
        load_template(body(resources))
    cycle = info.value.rule.split(": ", 1)[1].split(" -> ")
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == sorted(ids)
    for a, b in itertools.pairwise(cycle):  # each step follows a real edge
        assert ids[(ids.index(a) + 1) % len(ids)] == b


@given(LOGICAL, st.text(min_size=1, max_size=20))
def test_any_dangling_ref_is_refused(lid: str, target: str) -> None:
    if target == lid or target.startswith("AWS::"):
        return
    bad(body({lid: {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Ref": target}}}}),
        f"Resources.{lid}.Properties.QueueName.Ref", "not a parameter, resource")


@given(st.integers(0, 20), st.integers(0, 20), st.text(max_size=25))
def test_length_constraints_hold_for_any_value(lo: int, hi: int, value: str) -> None:
    tpl = body(Parameters={"P": {"Type": "String", "MinLength": lo, "MaxLength": hi}})
    t = load_template(tpl)
    if lo <= len(value) <= hi:
        assert t.bind({"P": value}) == {"P": value}
    else:
        bad(tpl, "Parameters.P", "Length", parameters={"P": value})


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8)
    | st.sampled_from(["Ref", "Fn::GetAtt", "Fn::Sub", "Fn::If", "B", "AWS::Region", "AWS::SQS::Queue", "Type"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.sampled_from(["Type", "Properties", "Ref", "Fn::GetAtt", "Fn::Sub", "Fn::Join", "Fn::If", "Fn::Select",
                         "Fn::FindInMap", "Condition", "DependsOn", "QueueName", "B", "Q", "Value", "Default"])
        | st.text(max_size=6), inner, max_size=4),
    max_leaves=25)


@settings(suppress_health_check=[HealthCheck.too_slow], max_examples=300)
@given(st.dictionaries(st.sampled_from(["Resources", "Parameters", "Conditions", "Mappings", "Outputs", "Description"]),
                       JSONISH, max_size=5))
def test_arbitrary_documents_raise_only_invalid_input(doc: dict[str, Any]) -> None:
    try:
        t = load_template(doc)
        params = t.bind({})
        t.evaluate_conditions(params, {"AWS::Region": "r"})
    except cloudkit.InvalidInput as exc:
        assert exc.field


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_arbitrary_text_raises_only_invalid_input(text: str) -> None:
    try:
        load_template(text)
    except cloudkit.InvalidInput as exc:
        assert exc.field


def test_json_and_yaml_spellings_load_the_same() -> None:
    doc = body({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": {"Fn::Sub": "${AWS::StackName}-q"}}}})
    import yaml

    assert load_template(json.dumps(doc)).body == load_template(yaml.safe_dump(doc)).body


def test_deep_nesting_is_refused_not_crashed() -> None:
    deep = '{"Resources": ' + '{"a": ' * 5000 + "1" + "}" * 5000 + "}"
    bad(deep, "template", "nested too deeply")
    nested: Any = "x"
    for _ in range(3000):
        nested = {"k": nested}
    bad(body({"Q": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": nested}}}), "template", "nested too deeply")
