"""Templates in CloudFormation's syntax: loading (JSON or YAML with short-form tags), checking, evaluating.

Everything here is pure: no cloud call is made. :func:`load_template` parses text into a
:class:`Template`, checking its structure, every intrinsic function's form, every reference
(``Ref``, ``Fn::GetAtt``, ``Fn::Sub`` variables, ``DependsOn``, conditions, mappings) and the
dependency graph (a cycle is named). :meth:`Template.bind` then checks parameter values against
their constraints. Each error is an :class:`cloudkit.InvalidInput` whose field is the place in the
template (``Resources.Web.Properties.InstanceType``).
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import attrs
import yaml

from cloudkit import InvalidInput
from cloudkit_contrib.stacks.resources import RESOURCE_TYPES, ResourceType, coerce

__all__ = [
    "NO_VALUE",
    "PSEUDO_PARAMETERS",
    "Context",
    "Parameter",
    "Template",
    "Unknown",
    "dependency_order",
    "load_template",
]

#: Pseudo parameters ``Ref`` accepts besides parameters and resources.
PSEUDO_PARAMETERS = ("AWS::Region", "AWS::StackName", "AWS::StackId", "AWS::AccountId", "AWS::NoValue",
                     "AWS::Partition", "AWS::URLSuffix")
TOP_LEVEL = ("AWSTemplateFormatVersion", "Description", "Metadata", "Parameters", "Mappings", "Conditions",
             "Resources", "Outputs")
RESOURCE_KEYS = ("Type", "Properties", "DependsOn", "Condition", "DeletionPolicy", "UpdateReplacePolicy", "Metadata")
PARAMETER_KEYS = ("Type", "Default", "AllowedValues", "AllowedPattern", "MinLength", "MaxLength", "MinValue",
                  "MaxValue", "NoEcho", "Description", "ConstraintDescription")
PARAMETER_TYPES = ("String", "Number", "CommaDelimitedList", "List<Number>")
OUTPUT_KEYS = ("Value", "Description", "Condition", "Export")
DELETION_POLICIES = ("Delete", "Retain", "Snapshot")
FUNCTIONS = ("Ref", "Fn::GetAtt", "Fn::FindInMap", "Fn::Join", "Fn::Sub", "Fn::Select", "Fn::Split", "Fn::Base64",
             "Fn::If", "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not", "Fn::GetAZs", "Condition")
_LOGICAL_ID = re.compile(r"[A-Za-z0-9]{1,255}")
_SUB_VAR = re.compile(r"\$\{([^}]*)\}")
MAX_TEMPLATE_BYTES = 1_000_000


class Unknown:
    """A value known only once a resource exists (shown as ``{known after apply}`` in a plan)."""

    def __init__(self, what: str) -> None:
        self.what = what

    def __repr__(self) -> str:
        return f"{{known after apply: {self.what}}}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Unknown) and other.what == self.what

    def __hash__(self) -> int:
        return hash(self.what)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


#: What ``{"Ref": "AWS::NoValue"}`` evaluates to: the property or list item is dropped.
NO_VALUE: Any = _NoValue()


# ---------------------------------------------------------------------------------------- loading
class _Loader(yaml.SafeLoader):  # type: ignore[misc]
    """PyYAML's safe loader plus CloudFormation's short-form tags (``!Ref``, ``!GetAtt a.b``, ``!Sub`` ...)."""


def _short_form(tag: str, name: str) -> None:
    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value: Any
        if isinstance(node, yaml.ScalarNode):
            value = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                logical, _, attr = str(value).partition(".")
                value = [logical, attr]
            elif name in ("Fn::GetAZs",) and value is None:
                value = ""
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    _Loader.add_constructor(tag, construct)


for _tag, _name in {
    "!Ref": "Ref", "!GetAtt": "Fn::GetAtt", "!FindInMap": "Fn::FindInMap", "!Join": "Fn::Join", "!Sub": "Fn::Sub",
    "!Select": "Fn::Select", "!Split": "Fn::Split", "!Base64": "Fn::Base64", "!If": "Fn::If",
    "!Equals": "Fn::Equals", "!And": "Fn::And", "!Or": "Fn::Or", "!Not": "Fn::Not", "!GetAZs": "Fn::GetAZs",
    "!Condition": "Condition",
}.items():
    _short_form(_tag, _name)


def parse_text(text: str) -> Any:
    """The template document in ``text`` (JSON, or YAML with CloudFormation's short-form tags)."""
    if not isinstance(text, str):
        raise InvalidInput("template", "must be the template's text (a string)")
    if len(text.encode("utf-8", "replace")) > MAX_TEMPLATE_BYTES:
        raise InvalidInput("template", f"must be at most {MAX_TEMPLATE_BYTES} bytes")
    if text.lstrip().startswith("{"):
        try:
            return json.loads(text)
        except RecursionError:
            raise InvalidInput("template", "is nested too deeply") from None
        except json.JSONDecodeError as exc:
            raise InvalidInput("template", f"is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    try:
        return yaml.load(text, Loader=_Loader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1} column {mark.column + 1}: " if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise InvalidInput("template", f"is not valid YAML: {where}{problem}") from None
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidInput("template", f"is not valid YAML: {exc}") from None


# ---------------------------------------------------------------------------------------- model
@attrs.frozen
class Parameter:
    """A declared parameter and its constraints."""

    name: str
    type: str
    default: str | None = None
    allowed_values: tuple[str, ...] | None = None
    allowed_pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    min_value: float | None = None
    max_value: float | None = None
    no_echo: bool = False
    description: str | None = None
    constraint_description: str | None = None

    def check(self, value: str) -> Any:
        """The parameter's value (a string, or a list for list types) once ``value`` met every constraint."""
        where = f"Parameters.{self.name}"
        if not isinstance(value, str):
            raise InvalidInput(where, "the value must be a string")
        hint = f" ({self.constraint_description})" if self.constraint_description else ""
        items = [s.strip() for s in value.split(",")] if self.type in ("CommaDelimitedList", "List<Number>") else [value]
        for item in items:
            if self.type in ("Number", "List<Number>"):
                try:
                    number = float(item)
                except ValueError:
                    raise InvalidInput(where, f"must be a number (got {self._show(item)}){hint}") from None
                if self.min_value is not None and number < self.min_value:
                    raise InvalidInput(where, f"must be at least MinValue {self.min_value:g}{hint}")
                if self.max_value is not None and number > self.max_value:
                    raise InvalidInput(where, f"must be at most MaxValue {self.max_value:g}{hint}")
            if self.min_length is not None and len(item) < self.min_length:
                raise InvalidInput(where, f"must be at least MinLength {self.min_length} characters{hint}")
            if self.max_length is not None and len(item) > self.max_length:
                raise InvalidInput(where, f"must be at most MaxLength {self.max_length} characters{hint}")
            if self.allowed_pattern is not None and not re.fullmatch(self.allowed_pattern, item):
                raise InvalidInput(where, f"must match AllowedPattern {self.allowed_pattern}{hint}")
        if self.allowed_values is not None and value not in self.allowed_values:
            raise InvalidInput(where, f"must be one of AllowedValues {', '.join(self.allowed_values)} "
                                      f"(got {self._show(value)}){hint}")
        return items if self.type in ("CommaDelimitedList", "List<Number>") else value

    def _show(self, value: str) -> str:
        return "a hidden value" if self.no_echo else repr(value[:64])


@attrs.frozen
class Context:
    """What intrinsic functions evaluate against."""

    parameters: Mapping[str, Any]
    pseudo: Mapping[str, Any]
    mappings: Mapping[str, Any]
    conditions: Mapping[str, bool]
    ref: Callable[[str], Any]
    get_att: Callable[[str, str], Any]
    azs: Callable[[str], list[str]] = lambda region: [f"{region}a", f"{region}b"]


def _is_fn(node: Any) -> str | None:
    if isinstance(node, dict) and len(node) == 1:
        key = next(iter(node))
        if key in FUNCTIONS:
            return str(key)
    return None


def _as_str(value: Any, where: str) -> Any:
    if isinstance(value, Unknown):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise InvalidInput(where, "must evaluate to a string")


def _join(parts: list[Any], sep: str) -> Any:
    unknown = [p for p in parts if isinstance(p, Unknown)]
    if unknown:
        return Unknown(", ".join(u.what for u in unknown))
    return sep.join(parts)


@attrs.frozen
class Template:
    """A checked template: its sections, resource order and the dependency graph."""

    body: Mapping[str, Any]
    description: str | None
    parameters: Mapping[str, Parameter]
    mappings: Mapping[str, Any]
    conditions: Mapping[str, Any]
    resources: Mapping[str, Mapping[str, Any]]
    outputs: Mapping[str, Mapping[str, Any]]
    #: logical id -> the logical ids it depends on (Ref, Fn::GetAtt, Fn::Sub, DependsOn).
    dependencies: Mapping[str, frozenset[str]]

    def resource_type(self, logical_id: str) -> ResourceType:
        """The :class:`ResourceType` of a resource."""
        return RESOURCE_TYPES[self.resources[logical_id]["Type"]]

    # ------------------------------------------------------------------ parameters and conditions
    def bind(self, values: Mapping[str, str] | None = None) -> dict[str, Any]:
        """Parameter values from ``values`` and the defaults, each checked against its constraints."""
        values = dict(values or {})
        for name in values:
            if name not in self.parameters:
                known = ", ".join(self.parameters) or "none"
                raise InvalidInput(f"Parameters.{name}", f"is not declared by the template (declared: {known})")
        bound: dict[str, Any] = {}
        for name, param in self.parameters.items():
            value = values.get(name, param.default)
            if value is None:
                raise InvalidInput(f"Parameters.{name}", "no value was given and the parameter has no Default")
            bound[name] = param.check(value)
        return bound

    def evaluate_conditions(self, parameters: Mapping[str, Any], pseudo: Mapping[str, Any]) -> dict[str, bool]:
        """Every condition's truth value."""
        done: dict[str, bool] = {}

        def cond(name: str, stack: tuple[str, ...]) -> bool:
            if name in done:
                return done[name]
            if name in stack:
                raise InvalidInput(f"Conditions.{name}", "conditions refer to each other in a cycle: "
                                   + " -> ".join((*stack[stack.index(name):], name)))
            ctx = Context(parameters, pseudo, self.mappings, _LazyConditions(lambda n: cond(n, (*stack, name))),
                          ref=lambda lid: Unknown(lid), get_att=lambda lid, a: Unknown(f"{lid}.{a}"))
            value = evaluate(self.conditions[name], ctx, f"Conditions.{name}")
            if not isinstance(value, bool):
                raise InvalidInput(f"Conditions.{name}", "must evaluate to true or false (Fn::Equals, Fn::And, ...)")
            done[name] = value
            return value

        for name in self.conditions:
            cond(name, ())
        return done

    def active(self, conditions: Mapping[str, bool]) -> list[str]:
        """The resources whose Condition (if any) is true, in template order."""
        return [lid for lid, r in self.resources.items() if "Condition" not in r or conditions[r["Condition"]]]

    def no_echo(self) -> set[str]:
        """Names of the parameters declared NoEcho."""
        return {n for n, p in self.parameters.items() if p.no_echo}


class _LazyConditions(Mapping[str, bool]):
    def __init__(self, get: Callable[[str], bool]) -> None:
        self._get = get

    def __getitem__(self, key: str) -> bool:
        return self._get(key)

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


# ---------------------------------------------------------------------------------------- evaluation
def evaluate(node: Any, ctx: Context, where: str) -> Any:
    """The value of ``node`` with every intrinsic function applied (``Unknown`` parts stay unknown)."""
    fn = _is_fn(node)
    if fn is None:
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                value = evaluate(v, ctx, f"{where}.{k}")
                if value is not NO_VALUE:
                    out[k] = value
            return out
        if isinstance(node, list):
            items = [evaluate(v, ctx, f"{where}[{i}]") for i, v in enumerate(node)]
            return [v for v in items if v is not NO_VALUE]
        return node
    arg = node[fn]
    here = f"{where}.{fn}"
    if fn == "Ref":
        if arg in ctx.parameters:
            return ctx.parameters[arg]
        if arg == "AWS::NoValue":
            return NO_VALUE
        if arg in ctx.pseudo:
            return ctx.pseudo[arg]
        return ctx.ref(arg)
    if fn == "Condition":
        return ctx.conditions[arg]
    if fn == "Fn::GetAtt":
        return ctx.get_att(arg[0], arg[1])
    if fn == "Fn::FindInMap":
        name, top, second = (evaluate(a, ctx, f"{here}[{i}]") for i, a in enumerate(arg))
        for part in (name, top, second):
            if isinstance(part, Unknown):
                return part
        table = ctx.mappings.get(name)
        if table is None:
            raise InvalidInput(here, f"no mapping named {name!r}")
        if top not in table:
            raise InvalidInput(here, f"mapping {name!r} has no key {top!r}")
        if second not in table[top]:
            raise InvalidInput(here, f"mapping {name}.{top} has no key {second!r}")
        return table[top][second]
    if fn == "Fn::Join":
        sep, items = arg
        values = evaluate(items, ctx, f"{here}[1]")
        if isinstance(values, Unknown):
            return values
        if not isinstance(values, list):
            raise InvalidInput(here, "the second element must evaluate to a list")
        return _join([_as_str(v, f"{here}[1]") for v in values], sep)
    if fn == "Fn::Sub":
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        local = {k: evaluate(v, ctx, f"{here}[1].{k}") for k, v in variables.items()}
        parts: list[Any] = []
        pos = 0
        for m in _SUB_VAR.finditer(text):
            parts.append(text[pos:m.start()])
            pos = m.end()
            name = m.group(1)
            if name.startswith("!"):
                parts.append("${" + name[1:] + "}")
            elif name in local:
                parts.append(_as_str(local[name], here))
            elif "." in name and name not in ctx.pseudo:
                lid, _, att = name.partition(".")
                parts.append(_as_str(ctx.get_att(lid, att), here))
            else:
                parts.append(_as_str(evaluate({"Ref": name}, ctx, here), here))
        parts.append(text[pos:])
        return _join(parts, "")
    if fn == "Fn::Select":
        index = evaluate(arg[0], ctx, f"{here}[0]")
        items = evaluate(arg[1], ctx, f"{here}[1]")
        if isinstance(index, Unknown) or isinstance(items, Unknown):
            return Unknown(f"{where}")
        try:
            i = int(index)
        except (TypeError, ValueError):
            raise InvalidInput(here, "the index must be a number") from None
        if not isinstance(items, list):
            raise InvalidInput(here, "the second element must evaluate to a list")
        if not 0 <= i < len(items):
            raise InvalidInput(here, f"index {i} is out of range (the list has {len(items)} items)")
        return items[i]
    if fn == "Fn::Split":
        sep, source = arg
        value = evaluate(source, ctx, f"{here}[1]")
        if isinstance(value, Unknown):
            return value
        return _as_str(value, here).split(sep)
    if fn == "Fn::Base64":
        value = evaluate(arg, ctx, here)
        if isinstance(value, Unknown):
            return value
        return base64.b64encode(_as_str(value, here).encode("utf-8")).decode("ascii")
    if fn == "Fn::If":
        cond, yes, no = arg
        return evaluate(yes if ctx.conditions[cond] else no, ctx, f"{here}[{1 if ctx.conditions[cond] else 2}]")
    if fn == "Fn::Equals":
        a, b = (evaluate(x, ctx, f"{here}[{i}]") for i, x in enumerate(arg))
        if isinstance(a, Unknown) or isinstance(b, Unknown):
            raise InvalidInput(here, "conditions can use parameters and mappings only, not resources")
        return _plain_str(a) == _plain_str(b)
    if fn in ("Fn::And", "Fn::Or"):
        values = [evaluate(x, ctx, f"{here}[{i}]") for i, x in enumerate(arg)]
        if not all(isinstance(v, bool) for v in values):
            raise InvalidInput(here, "every element must be a condition")
        return all(values) if fn == "Fn::And" else any(values)
    if fn == "Fn::Not":
        value = evaluate(arg[0], ctx, f"{here}[0]")
        if not isinstance(value, bool):
            raise InvalidInput(here, "the element must be a condition")
        return not value
    if fn == "Fn::GetAZs":
        region = evaluate(arg, ctx, here) or ctx.pseudo["AWS::Region"]
        return ctx.azs(str(region))
    raise InvalidInput(here, "is not supported")  # pragma: no cover - FUNCTIONS is exhaustive


def _mentions_fn(value: Any) -> bool:
    if isinstance(value, dict):
        return _is_fn(value) is not None or any(_mentions_fn(v) for v in value.values())
    if isinstance(value, list):
        return any(_mentions_fn(v) for v in value)
    return False


def _plain_str(value: Any) -> Any:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


# ---------------------------------------------------------------------------------------- checking
def _need(cond: bool, where: str, rule: str) -> None:
    if not cond:
        raise InvalidInput(where, rule)


class _Checker:
    """Checks the forms and references of every intrinsic; collects the resources a node depends on."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self.parameters = body.get("Parameters") or {}
        self.resources = body.get("Resources") or {}
        self.mappings = body.get("Mappings") or {}
        self.conditions = body.get("Conditions") or {}

    def refs(self, node: Any, where: str, *, in_condition: bool = False) -> set[str]:
        """The logical ids ``node`` depends on; raises on a malformed function or a dangling reference."""
        deps: set[str] = set()
        self._walk(node, where, deps, in_condition)
        return deps

    def _walk(self, node: Any, where: str, deps: set[str], in_cond: bool) -> None:
        if isinstance(node, list):
            for i, item in enumerate(node):
                self._walk(item, f"{where}[{i}]", deps, in_cond)
            return
        if not isinstance(node, dict):
            return
        fn = _is_fn(node)
        if fn is None:
            for k, v in node.items():
                if isinstance(k, str) and (k.startswith("Fn::") or k == "Ref") and k not in FUNCTIONS:
                    raise InvalidInput(f"{where}.{k}", "is not a supported intrinsic function "
                                                       f"(supported: {', '.join(FUNCTIONS[:-1])})")
                if isinstance(k, str) and (k.startswith("Fn::") or k == "Ref"):
                    raise InvalidInput(f"{where}.{k}", "an intrinsic function must be the only key of its object")
                self._walk(v, f"{where}.{k}", deps, in_cond)
            return
        arg = node[fn]
        here = f"{where}.{fn}"
        if fn == "Ref":
            _need(isinstance(arg, str), here, "must name a parameter, resource or pseudo parameter")
            if arg in self.parameters or arg in PSEUDO_PARAMETERS:
                return
            _need(arg in self.resources, here, f"refers to {arg!r}, which is not a parameter, resource or pseudo parameter")
            _need(not in_cond, here, "conditions can use parameters and mappings only, not resources")
            deps.add(arg)
        elif fn == "Condition":
            _need(isinstance(arg, str) and arg in self.conditions, here, f"names no declared condition ({arg!r})")
        elif fn == "Fn::GetAtt":
            ok = isinstance(arg, list) and len(arg) == 2 and all(isinstance(a, str) for a in arg)
            _need(ok, here, "must be [LogicalId, AttributeName] (or !GetAtt LogicalId.Attribute)")
            self._att(arg[0], arg[1], here, deps, in_cond)
        elif fn == "Fn::FindInMap":
            _need(isinstance(arg, list) and len(arg) == 3, here, "must be [MapName, TopLevelKey, SecondLevelKey]")
            if isinstance(arg[0], str):
                _need(arg[0] in self.mappings, here, f"names no declared mapping ({arg[0]!r})")
            for i, a in enumerate(arg):
                self._walk(a, f"{here}[{i}]", deps, in_cond)
        elif fn == "Fn::Join":
            _need(isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str), here,
                  "must be [delimiter, [values ...]]")
            self._walk(arg[1], f"{here}[1]", deps, in_cond)
        elif fn == "Fn::Sub":
            if isinstance(arg, list):
                _need(len(arg) == 2 and isinstance(arg[0], str) and isinstance(arg[1], dict), here,
                      "must be a string or [string, {Name: value ...}]")
                text, local = arg[0], arg[1]
                self._walk(local, f"{here}[1]", deps, in_cond)
            else:
                _need(isinstance(arg, str), here, "must be a string or [string, {Name: value ...}]")
                text, local = arg, {}
            for m in _SUB_VAR.finditer(text):
                name = m.group(1)
                if name.startswith("!") or name in local:
                    continue
                if name in self.parameters or name in PSEUDO_PARAMETERS:
                    continue
                if "." in name:
                    lid, _, att = name.partition(".")
                    self._att(lid, att, here, deps, in_cond)
                    continue
                _need(name in self.resources, here, f"variable ${{{name}}} names no parameter, resource or pseudo parameter")
                deps.add(name)
        elif fn == "Fn::Select":
            _need(isinstance(arg, list) and len(arg) == 2, here, "must be [index, list]")
            for i, a in enumerate(arg):
                self._walk(a, f"{here}[{i}]", deps, in_cond)
        elif fn == "Fn::Split":
            _need(isinstance(arg, list) and len(arg) == 2 and isinstance(arg[0], str), here, "must be [delimiter, string]")
            self._walk(arg[1], f"{here}[1]", deps, in_cond)
        elif fn == "Fn::If":
            _need(isinstance(arg, list) and len(arg) == 3 and isinstance(arg[0], str), here,
                  "must be [ConditionName, value if true, value if false]")
            _need(arg[0] in self.conditions, here, f"names no declared condition ({arg[0]!r})")
            self._walk(arg[1], f"{here}[1]", deps, in_cond)
            self._walk(arg[2], f"{here}[2]", deps, in_cond)
        elif fn == "Fn::Equals":
            _need(isinstance(arg, list) and len(arg) == 2, here, "must be [value, value]")
            self._walk(arg, here, deps, in_cond)
        elif fn in ("Fn::And", "Fn::Or"):
            _need(isinstance(arg, list) and 2 <= len(arg) <= 10, here, "must list 2 to 10 conditions")
            self._walk(arg, here, deps, in_cond)
        elif fn == "Fn::Not":
            _need(isinstance(arg, list) and len(arg) == 1, here, "must be [condition]")
            self._walk(arg, here, deps, in_cond)
        elif fn == "Fn::Base64":
            self._walk(arg, here, deps, in_cond)
        elif fn == "Fn::GetAZs":
            _need(isinstance(arg, (str, dict)), here, "must be a region name, \"\" or {Ref: AWS::Region}")
            self._walk(arg, here, deps, in_cond)

    def _att(self, lid: str, att: str, here: str, deps: set[str], in_cond: bool) -> None:
        _need(lid in self.resources, here, f"refers to {lid!r}, which is not a resource")
        _need(not in_cond, here, "conditions can use parameters and mappings only, not resources")
        type_name = self.resources[lid].get("Type")
        rtype = RESOURCE_TYPES.get(type_name) if isinstance(type_name, str) else None
        if rtype is not None:
            _need(att in rtype.attributes, here, f"{type_name} has no attribute {att!r} "
                                                 f"(it has: {', '.join(rtype.attributes) or 'none'})")
        deps.add(lid)


def _check_parameter(name: str, spec: Any) -> Parameter:
    where = f"Parameters.{name}"
    _need(_LOGICAL_ID.fullmatch(name) is not None, where, "a parameter name must be 1-255 letters and digits")
    _need(isinstance(spec, dict), where, "must be an object with a Type")
    for key in spec:
        _need(key in PARAMETER_KEYS, f"{where}.{key}", f"is not a parameter property (allowed: {', '.join(PARAMETER_KEYS)})")
    ptype = spec.get("Type")
    _need(isinstance(ptype, str), f"{where}.Type", "is required")
    aws_specific = isinstance(ptype, str) and ptype.startswith("AWS::") and "List<" not in ptype
    _need(ptype in PARAMETER_TYPES or aws_specific, f"{where}.Type",
          f"must be one of {', '.join(PARAMETER_TYPES)} (or an AWS-specific string type), not {ptype!r}")

    def text(key: str) -> str | None:
        value = spec.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InvalidInput(f"{where}.{key}", "must be a string")
        return str(value)

    def number(key: str, integer: bool) -> Any:
        value = spec.get(key)
        if value is None:
            return None
        try:
            n = float(value) if not isinstance(value, bool) else None
        except (TypeError, ValueError):
            n = None
        if n is None or (integer and (n != int(n) or n < 0)):
            raise InvalidInput(f"{where}.{key}", "must be a non-negative integer" if integer else "must be a number")
        return int(n) if integer else n

    allowed = spec.get("AllowedValues")
    if allowed is not None:
        ok = isinstance(allowed, list) and allowed and all(isinstance(a, (str, int, float)) and not isinstance(a, bool)
                                                           for a in allowed)
        _need(bool(ok), f"{where}.AllowedValues", "must be a non-empty list of strings")
    pattern = text("AllowedPattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except re.error as exc:
            raise InvalidInput(f"{where}.AllowedPattern", f"is not a valid regular expression: {exc}") from None
    no_echo = spec.get("NoEcho", False)
    _need(isinstance(no_echo, bool) or no_echo in ("true", "false"), f"{where}.NoEcho", "must be true or false")
    param = Parameter(
        name=name,
        type=str(ptype) if not aws_specific else "String",
        default=text("Default"),
        allowed_values=None if allowed is None else tuple(str(a) for a in allowed),
        allowed_pattern=pattern,
        min_length=number("MinLength", True),
        max_length=number("MaxLength", True),
        min_value=number("MinValue", False),
        max_value=number("MaxValue", False),
        no_echo=no_echo in (True, "true"),
        description=text("Description"),
        constraint_description=text("ConstraintDescription"),
    )
    if param.default is not None:
        param.check(param.default)
    return param


def load_template(source: str | Mapping[str, Any]) -> Template:
    """Parse (when text) and check a template; see the module's documentation for what is checked."""
    try:
        return _load(source)
    except RecursionError:
        raise InvalidInput("template", "is nested too deeply") from None


def _load(source: str | Mapping[str, Any]) -> Template:
    body = parse_text(source) if isinstance(source, str) else source
    _need(isinstance(body, Mapping), "template", "must be an object (a JSON object or a YAML mapping)")
    body = dict(body)
    for key in body:
        _need(key in TOP_LEVEL, str(key), f"is not a template section (allowed: {', '.join(TOP_LEVEL)})")
    version = body.get("AWSTemplateFormatVersion")
    if version is not None:
        _need(str(version) == "2010-09-09", "AWSTemplateFormatVersion", "must be 2010-09-09")
    desc = body.get("Description")
    _need(desc is None or isinstance(desc, str), "Description", "must be a string")
    for section in ("Parameters", "Mappings", "Conditions", "Outputs"):
        _need(body.get(section) is None or isinstance(body[section], dict), section, "must be an object")
    resources: dict[str, Any] = body.get("Resources")  # type: ignore[assignment]
    _need(isinstance(resources, dict) and len(resources) > 0, "Resources", "must be an object with at least one resource")
    params = {name: _check_parameter(str(name), spec) for name, spec in (body.get("Parameters") or {}).items()}
    mappings = body.get("Mappings") or {}
    for name, table in mappings.items():
        where = f"Mappings.{name}"
        _need(isinstance(table, dict) and bool(table), where, "must be an object of objects")
        for top, inner in table.items():
            _need(isinstance(inner, dict) and bool(inner), f"{where}.{top}", "must be an object of values")
    checker = _Checker(body)
    conditions = body.get("Conditions") or {}
    for name, cond in conditions.items():
        checker.refs(cond, f"Conditions.{name}", in_condition=True)

    deps: dict[str, frozenset[str]] = {}
    for lid, res in resources.items():
        where = f"Resources.{lid}"
        _need(isinstance(lid, str) and _LOGICAL_ID.fullmatch(lid) is not None, where,
              "a logical id must be 1-255 letters and digits")
        _need(isinstance(res, dict), where, "must be an object with a Type")
        for key in res:
            _need(key in RESOURCE_KEYS, f"{where}.{key}", f"is not a resource attribute (allowed: {', '.join(RESOURCE_KEYS)})")
        type_name = res.get("Type")
        _need(isinstance(type_name, str), f"{where}.Type", "is required")
        if type_name not in RESOURCE_TYPES:
            raise InvalidInput(f"{where}.Type", f"{type_name!r} is not a supported resource type "
                                                f"(see docs/stacks.md for the list)")
        rtype = RESOURCE_TYPES[type_name]
        props = res.get("Properties", {})
        _need(isinstance(props, dict), f"{where}.Properties", "must be an object")
        for pname in props:
            _need(pname in rtype.properties, f"{where}.Properties.{pname}",
                  f"is not a property of {type_name} (allowed: {', '.join(rtype.properties)})")
        for pname, prop in rtype.properties.items():
            if prop.required and pname not in props:
                raise InvalidInput(f"{where}.Properties.{pname}", f"is required by {type_name}")
        found = checker.refs(props, f"{where}.Properties")
        for pname, value in props.items():
            if not _mentions_fn(value):
                coerce(rtype.properties[pname], value, f"{where}.Properties.{pname}")
        depends = res.get("DependsOn", [])
        if isinstance(depends, str):
            depends = [depends]
        _need(isinstance(depends, list) and all(isinstance(d, str) for d in depends), f"{where}.DependsOn",
              "must be a logical id or a list of them")
        for d in depends:
            _need(d in resources, f"{where}.DependsOn", f"names {d!r}, which is not a resource")
        cond = res.get("Condition")
        if cond is not None:
            _need(isinstance(cond, str) and cond in conditions, f"{where}.Condition", f"names no declared condition ({cond!r})")
        policy = res.get("DeletionPolicy", "Delete")
        _need(policy in DELETION_POLICIES, f"{where}.DeletionPolicy", f"must be one of {', '.join(DELETION_POLICIES)}")
        if policy == "Snapshot":
            _need(rtype.snapshot is not None, f"{where}.DeletionPolicy",
                  f"Snapshot is not possible for {type_name} (only for types that have snapshots)")
        upolicy = res.get("UpdateReplacePolicy", "Delete")
        _need(upolicy in DELETION_POLICIES, f"{where}.UpdateReplacePolicy", f"must be one of {', '.join(DELETION_POLICIES)}")
        _need(lid not in found and lid not in depends, where, f"refers to itself ({lid} -> {lid})")
        deps[lid] = frozenset(found | set(depends))

    outputs = body.get("Outputs") or {}
    for name, out in outputs.items():
        where = f"Outputs.{name}"
        _need(isinstance(name, str) and _LOGICAL_ID.fullmatch(name) is not None, where,
              "an output name must be 1-255 letters and digits")
        _need(isinstance(out, dict) and "Value" in out, where, "must be an object with a Value")
        for key in out:
            _need(key in OUTPUT_KEYS, f"{where}.{key}", f"is not an output property (allowed: {', '.join(OUTPUT_KEYS)})")
        checker.refs(out["Value"], f"{where}.Value")
        cond = out.get("Condition")
        if cond is not None:
            _need(isinstance(cond, str) and cond in conditions, f"{where}.Condition", f"names no declared condition ({cond!r})")
        export = out.get("Export")
        if export is not None:
            _need(isinstance(export, dict) and set(export) == {"Name"}, f"{where}.Export", "must be {Name: ...}")
            checker.refs(export["Name"], f"{where}.Export.Name")

    dependency_order(deps)  # raises on a cycle
    return Template(body=body, description=desc, parameters=params, mappings=mappings, conditions=conditions,
                    resources=resources, outputs=outputs, dependencies=deps)


def dependency_order(deps: Mapping[str, frozenset[str]] | Mapping[str, set[str]]) -> list[str]:
    """The logical ids in an order where each comes after what it depends on; a cycle is named."""
    order: list[str] = []
    state: dict[str, int] = {}
    for start in deps:
        if state.get(start):
            continue
        # iterative depth-first search keeping the path, so a cycle can be reported whole
        path: list[str] = [start]
        iters = [iter(sorted(deps[start]))]
        state[start] = 1
        while path:
            nxt = next(iters[-1], None)
            if nxt is None:
                done = path.pop()
                iters.pop()
                state[done] = 2
                order.append(done)
                continue
            if nxt not in deps:
                continue
            if state.get(nxt) == 1:
                cycle = [*path[path.index(nxt):], nxt]
                raise InvalidInput(f"Resources.{nxt}", "dependency cycle: " + " -> ".join(cycle))
            if state.get(nxt) == 2:
                continue
            state[nxt] = 1
            path.append(nxt)
            iters.append(iter(sorted(deps[nxt])))
    return order
