"""The stack lifecycle: validate, plan, create, update, delete, events, outputs, list, with durable state."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import string
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import UTC, datetime
from typing import Any

import attrs

import cloudkit
from cloudkit import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound, NotSupported
from cloudkit_contrib.stacks.resources import RESOURCE_TYPES, Applied, Env, ResourceType, coerce
from cloudkit_contrib.stacks.state import BucketStore, FileStore, StateStore, stack_lock
from cloudkit_contrib.stacks.template import (
    NO_VALUE,
    Context,
    Template,
    Unknown,
    dependency_order,
    evaluate,
    load_template,
)

__all__ = ["Change", "Plan", "StackEvent", "StackSummary", "Stacks", "Validation", "validate_template"]

_STACK_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]{0,127}")
STACK_TYPE = "AWS::CloudFormation::Stack"
STATE_VERSION = 1


@attrs.frozen
class StackEvent:
    """One event: CloudFormation's status names and order."""

    timestamp: datetime
    stack_name: str
    logical_id: str
    resource_type: str
    physical_id: str | None
    status: str
    reason: str | None = None


@attrs.frozen
class ParameterInfo:
    """A parameter as ``validate`` lists it back."""

    name: str
    type: str
    default: str | None
    no_echo: bool
    description: str | None


@attrs.frozen
class Validation:
    """What ``validate`` found: the description and the parameters."""

    description: str | None
    parameters: tuple[ParameterInfo, ...]
    resources: tuple[tuple[str, str], ...]


@attrs.frozen
class Change:
    """One planned change. ``action``: ``add``, ``modify``, ``replace``, ``delete``; ``details``: property -> (old, new)."""

    action: str
    logical_id: str
    resource_type: str
    physical_id: str | None = None
    details: Mapping[str, tuple[Any, Any]] = attrs.field(factory=dict)


@attrs.frozen
class Plan:
    """What a create or update would do (a change set), computed before anything is applied."""

    stack_name: str
    kind: str  # "create" or "update"
    changes: tuple[Change, ...]

    def counts(self) -> dict[str, int]:
        """How many changes of each action."""
        out = {"add": 0, "modify": 0, "replace": 0, "delete": 0}
        for c in self.changes:
            out[c.action] += 1
        return out


@attrs.frozen
class StackSummary:
    """A stack as ``list`` and the lifecycle calls return it."""

    name: str
    stack_id: str
    status: str
    status_reason: str | None
    created_at: datetime
    updated_at: datetime
    description: str | None
    outputs: Mapping[str, Any] = attrs.field(factory=dict)

    @property
    def rolled_back(self) -> bool:
        """True when the last create or update ended rolled back (or failed)."""
        return "ROLLBACK" in self.status or self.status.endswith("FAILED")


def _now() -> datetime:
    return datetime.now(UTC)


def _show(value: Any) -> Any:
    if isinstance(value, Unknown):
        return "{known after apply}"
    if isinstance(value, dict):
        return {k: _show(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_show(v) for v in value]
    return value


def _has_unknown(value: Any) -> bool:
    if isinstance(value, Unknown):
        return True
    if isinstance(value, dict):
        return any(_has_unknown(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_unknown(v) for v in value)
    return False


class _Failed(Exception):
    def __init__(self, logical_id: str, reason: str) -> None:
        super().__init__(reason)
        self.logical_id = logical_id
        self.reason = reason


class Stacks:
    """Stacks on one cloud: ``Stacks(cloud)`` keeps state in the bucket ``cloudkit-stacks`` of its storage family.

    ``state_dir`` keeps state in a local folder instead; ``state_bucket`` names another bucket.
    ``concurrency`` bounds how many independent resources are created or deleted at once.
    ``region`` is what ``AWS::Region`` evaluates to (default: the first compute location's
    region); ``account_id`` is ``AWS::AccountId``.
    """

    def __init__(
        self,
        cloud: cloudkit.Cloud,
        *,
        state_dir: str | None = None,
        state_bucket: str = "cloudkit-stacks",
        concurrency: int = 4,
        region: str | None = None,
        account_id: str = "000000000000",
    ) -> None:
        if not isinstance(concurrency, int) or isinstance(concurrency, bool) or not 1 <= concurrency <= 32:
            raise InvalidInput("concurrency", "must be an integer from 1 to 32")
        self.cloud = cloud
        self.store: StateStore = FileStore(state_dir) if state_dir is not None else BucketStore(cloud, state_bucket)
        self.concurrency = concurrency
        self._region = region
        self.account_id = account_id
        self._locks: dict[str, threading.RLock] = {}
        self._io_locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._generation: dict[str, int] = {}  # stack name -> changes made in memory
        self._durable: dict[str, int] = {}  # stack name -> changes the last completed write held
        self._secrets: dict[str, tuple[str, ...]] = {}  # stack name -> NoEcho values of the running apply

    # ------------------------------------------------------------------ helpers
    def _io_lock_of(self, name: str) -> threading.Lock:
        with self._locks_guard:
            return self._io_locks.setdefault(name, threading.Lock())

    def _lock_of(self, doc: Mapping[str, Any]) -> threading.RLock:
        """The lock that keeps one stack's in-memory state and its writes consistent across worker threads."""
        with self._locks_guard:
            return self._locks.setdefault(doc["name"], threading.RLock())

    @property
    def region(self) -> str:
        """What ``AWS::Region`` evaluates to."""
        if self._region is None:
            try:
                first = next(iter(self.cloud.compute.list_locations()), None)
            except CloudkitError:
                first = None
            zone = first.id if first is not None else "local-1"
            self._region = re.sub(r"(?<=[0-9])[a-z]$", "", zone)
        return self._region

    def _azs(self, region: str) -> list[str]:
        try:
            zones = [loc.id for loc in self.cloud.compute.list_locations() if loc.id.startswith(region)]
        except CloudkitError:
            zones = []
        return zones or [f"{region}a"]

    @staticmethod
    def _check_name(name: str) -> str:
        if not isinstance(name, str) or not _STACK_NAME.fullmatch(name):
            raise InvalidInput("name", "a stack name must start with a letter and hold 1-128 letters, digits and hyphens")
        return name

    def _read(self, name: str) -> dict[str, Any] | None:
        raw = self.store.read(f"stacks/{name}.json")
        if raw is None:
            return None
        try:
            doc: dict[str, Any] = json.loads(raw)
        except ValueError as exc:
            raise cloudkit.ProviderError(f"the state of stack {name!r} is unreadable") from exc
        return doc

    def _write(self, doc: dict[str, Any]) -> None:
        """Make the state durable, including every change made so far (never call it holding the stack's lock).

        Writes are group-committed: steps that finish while a write is under way share the next one,
        and each caller returns only once a write holding its change has completed.
        """
        name = doc["name"]
        with self._lock_of(doc):
            doc["updated_at"] = _now().isoformat()
            gen = self._generation[name] = self._generation.get(name, 0) + 1
        with self._io_lock_of(name):
            if self._durable.get(name, 0) >= gen:
                return
            with self._lock_of(doc):
                data = json.dumps(doc, default=str).encode()
                covered = self._generation[name]
            self.store.write(f"stacks/{name}.json", data)
            self._durable[name] = covered

    def _load(self, template: str | Mapping[str, Any] | Template) -> Template:
        return template if isinstance(template, Template) else load_template(template)

    # ------------------------------------------------------------------ validate
    def validate(self, template: str | Mapping[str, Any]) -> Validation:
        """Check a template (no cloud call); its description, parameters and resources listed back."""
        return validate_template(template)

    # ------------------------------------------------------------------ evaluation
    def _pseudo(self, name: str, stack_id: str) -> dict[str, Any]:
        return {"AWS::Region": self.region, "AWS::StackName": name, "AWS::StackId": stack_id,
                "AWS::AccountId": self.account_id, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}

    def _prepare(self, t: Template, name: str, stack_id: str, values: Mapping[str, str] | None,
                 previous: Mapping[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, Any], dict[str, bool]]:
        given = dict(values or {})
        for k, v in given.items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise InvalidInput("parameters", "must map names to string values")
        if previous:
            for k, v in previous.items():  # an update keeps earlier values unless new ones are given
                if k in t.parameters and k not in given and not t.parameters[k].no_echo:
                    given[k] = ",".join(v) if isinstance(v, list) else v
        params = t.bind(given)
        self._secrets[name] = tuple(sorted({params[n] for n in t.no_echo() if isinstance(params[n], str) and params[n]},
                                           key=len, reverse=True))
        pseudo = self._pseudo(name, stack_id)
        conditions = t.evaluate_conditions(params, pseudo)
        return params, pseudo, conditions

    def _context(self, t: Template, params: Mapping[str, Any], pseudo: Mapping[str, Any], conditions: Mapping[str, bool],
                 resources: Mapping[str, Any], active: set[str]) -> Context:
        def ref(lid: str) -> Any:
            if lid not in active:
                raise InvalidInput(f"Resources.{lid}", "is referred to but its Condition is false")
            rec = resources.get(lid)
            if rec is None or rec.get("ref") is None or rec.get("pending"):
                return Unknown(lid)
            return rec["ref"]

        def get_att(lid: str, att: str) -> Any:
            if lid not in active:
                raise InvalidInput(f"Resources.{lid}", "is referred to but its Condition is false")
            rec = resources.get(lid)
            if rec is None or rec.get("ref") is None or rec.get("pending"):
                return Unknown(f"{lid}.{att}")
            return rec.get("attributes", {}).get(att)

        return Context(params, pseudo, t.mappings, conditions, ref, get_att, self._azs)

    def _properties(self, t: Template, lid: str, ctx: Context, stack_id: str) -> dict[str, Any]:
        rtype = t.resource_type(lid)
        where = f"Resources.{lid}.Properties"
        raw = evaluate(t.resources[lid].get("Properties", {}), ctx, where)
        out: dict[str, Any] = {}
        for pname, value in raw.items():
            prop = rtype.properties[pname]
            if value is NO_VALUE or value is None:
                continue
            if not _has_unknown(value):
                value = coerce(prop, value, f"{where}.{pname}")
            out[pname] = value
        for pname, prop in rtype.properties.items():
            if prop.required and pname not in out:
                raise InvalidInput(f"{where}.{pname}", f"is required by {rtype.name} (it evaluated to no value)")
        rtype.check(out, where)
        return out

    def _digest(self, rtype: ResourceType, props: Mapping[str, Any], stack_id: str, name: str) -> dict[str, Any]:
        """Properties as state keeps them: secret properties and NoEcho parameter values as keyed digests."""
        out = {}
        for k, v in props.items():
            if rtype.properties[k].secret and not isinstance(v, Unknown):
                v = "sha256:" + hmac.new(stack_id.encode(), str(v).encode(), hashlib.sha256).hexdigest()
            out[k] = self._scrub(name, stack_id, v)
        return out

    def _scrub(self, name: str, stack_id: str, value: Any) -> Any:
        """``value`` with every NoEcho parameter value of the running apply replaced by a keyed digest."""
        hidden = self._secrets.get(name, ())
        if not hidden:
            return value
        if isinstance(value, str):
            for secret in hidden:
                if secret in value:
                    mark = hmac.new(stack_id.encode(), secret.encode(), hashlib.sha256).hexdigest()[:16]
                    value = value.replace(secret, f"****{mark}")
            return value
        if isinstance(value, dict):
            return {k: self._scrub(name, stack_id, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._scrub(name, stack_id, v) for v in value]
        return value

    def _check_provider_attributes(self, t: Template, active: Iterable[str]) -> None:
        """A GetAtt of an attribute this provider cannot fill is refused before anything is created."""
        text = json.dumps(t.body, default=str)
        for lid in active:
            rtype = t.resource_type(lid)
            for att, providers in rtype.provider_attributes.items():
                provider = self.cloud.provider_of(rtype.family)
                if provider in providers:
                    continue
                if f'["{lid}", "{att}"]' in text or f"${{{lid}.{att}}}" in text:
                    raise InvalidInput(f"Resources.{lid}", f"attribute {att} of {rtype.name} is available on "
                                                           f"{', '.join(providers)} only, not on {provider}")

    def _check_operations(self, t: Template, active: Iterable[str]) -> None:
        """Every resource's family offers what it needs here; else NotSupported names the resource, before anything is made."""
        seen: dict[str, frozenset[str]] = {}
        for lid in active:
            rtype = t.resource_type(lid)
            if rtype.family not in seen:
                seen[rtype.family] = self.cloud.service(rtype.family).capabilities()
            missing = [op for op in rtype.operations() if op not in seen[rtype.family]]
            if missing:
                provider = self.cloud.provider_of(rtype.family)
                raise NotSupported(provider, f"{rtype.family}.{', '.join(missing)}",
                                   f"resource {lid} ({rtype.name}) needs it; nothing was created")

    # ------------------------------------------------------------------ plan
    def plan(self, name: str, template: str | Mapping[str, Any] | Template, *,
             parameters: Mapping[str, str] | None = None) -> Plan:
        """What ``create`` (no such stack) or ``update`` would change; nothing is applied."""
        self._check_name(name)
        t = self._load(template)
        doc = self._read(name)
        live = doc is not None and doc["status"] not in ("DELETE_COMPLETE",)
        stack_id = doc["stack_id"] if live and doc else f"cloudkit:stack/{name}/{uuid.uuid4()}"
        changes = self._changes(t, name, stack_id, parameters, doc if live else None)
        return Plan(name, "update" if live else "create", tuple(changes))

    def _changes(self, t: Template, name: str, stack_id: str, parameters: Mapping[str, str] | None,
                 doc: dict[str, Any] | None) -> list[Change]:
        params, pseudo, conditions = self._prepare(t, name, stack_id, parameters, doc.get("parameters") if doc else None)
        active = t.active(conditions)
        self._check_provider_attributes(t, active)
        self._check_operations(t, active)
        order = [lid for lid in dependency_order(t.dependencies) if lid in active]
        old = dict(doc["resources"]) if doc else {}
        view: dict[str, Any] = {}
        changes: list[Change] = []
        for lid in order:
            ctx = self._context(t, params, pseudo, conditions, view, set(active))
            props = self._properties(t, lid, ctx, stack_id)
            rtype = t.resource_type(lid)
            new = self._digest(rtype, props, stack_id, name)
            rec = old.get(lid)
            if rec is None or rec.get("physical_id") is None:
                changes.append(Change("add", lid, rtype.name, None, {k: (None, _show(v)) for k, v in new.items()}))
                view[lid] = {"pending": True}
                continue
            if RESOURCE_TYPES[rec["type"]].neutral != rtype.neutral:
                changes.append(Change("replace", lid, rtype.name, rec["physical_id"], {"Type": (rec["type"], rtype.name)}))
                view[lid] = {"pending": True}
                continue
            before = rec.get("properties", {})
            diff = {k: (before.get(k), _show(new.get(k))) for k in set(before) | set(new) if before.get(k) != new.get(k)}
            if not diff:
                view[lid] = rec
                continue
            replace = any(rtype.properties[k].update != "modify" or rtype.modify is None for k in diff)
            np = rtype.name_property
            if replace and np is not None and np in new and np not in diff:
                raise InvalidInput(f"Resources.{lid}.Properties.{np}",
                                   f"the change of {', '.join(sorted(diff))} replaces the resource, which is not possible "
                                   f"while it keeps the custom name {new[np]!r}: give it a new name, or leave the name "
                                   "out to have one generated")
            changes.append(Change("replace" if replace else "modify", lid, rtype.name, rec["physical_id"],
                                  {k: (_redact(rtype, k, a), _redact(rtype, k, b)) for k, (a, b) in sorted(diff.items())}))
            view[lid] = {"pending": True} if replace else {**rec, "pending": _has_unknown(new)}
            if not replace:
                view[lid] = rec
        for lid, rec in old.items():
            if lid not in active and rec.get("physical_id") is not None:
                changes.append(Change("delete", lid, rec["type"], rec["physical_id"]))
        return changes

    # ------------------------------------------------------------------ events and state
    def _event(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None, lid: str, rtype: str,
               physical: str | None, status: str, reason: str | None = None) -> None:
        reason = self._scrub(doc["name"], doc["stack_id"], reason)
        ev = StackEvent(_now(), doc["name"], lid, rtype, physical, status, reason)
        doc["events"].append({"timestamp": ev.timestamp.isoformat(), "logical_id": lid, "resource_type": rtype,
                              "physical_id": physical, "status": status, "reason": reason})
        if on_event is not None:
            on_event(ev)

    def _stack_event(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None, status: str,
                     reason: str | None = None) -> None:
        doc["status"] = status
        doc["status_reason"] = reason
        self._event(doc, on_event, doc["name"], STACK_TYPE, doc["stack_id"], status, reason)
        self._write(doc)

    def _res_event(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None, lid: str, status: str,
                   reason: str | None = None) -> None:
        """Record a resource step and write the whole state (under the document lock)."""
        with self._lock_of(doc):
            rec = doc["resources"][lid]
            rec["status"] = status
            self._event(doc, on_event, lid, rec["type"], rec.get("physical_id"), status, reason)
        self._write(doc)

    def _env(self, doc: dict[str, Any], lid: str) -> Env:
        rec = doc["resources"][lid]
        return Env(self.cloud, self.region, rec["name"], rec["token"])

    # ------------------------------------------------------------------ create / update
    def create(self, name: str, template: str | Mapping[str, Any] | Template, *,
               parameters: Mapping[str, str] | None = None, disable_rollback: bool = False,
               on_event: Callable[[StackEvent], None] | None = None) -> StackSummary:
        """Create a stack; a failure rolls back (unless ``disable_rollback``) and the summary says so."""
        self._check_name(name)
        t = self._load(template)
        with stack_lock(self.store, name):
            existing = self._recover(name, on_event)
            if existing is not None and existing["status"] != "DELETE_COMPLETE":
                raise AlreadyExists(f"stack {name!r} already exists ({existing['status']}); update or delete it")
            stack_id = f"cloudkit:stack/{name}/{uuid.uuid4()}"
            changes = self._changes(t, name, stack_id, parameters, None)  # every check before anything is created
            del changes
            params, pseudo, conditions = self._prepare(t, name, stack_id, parameters)
            now = _now().isoformat()
            doc: dict[str, Any] = {
                "version": STATE_VERSION, "name": name, "stack_id": stack_id, "status": "CREATE_IN_PROGRESS",
                "status_reason": None, "created_at": now, "updated_at": now, "description": t.description,
                "template": t.body, "parameters": _storable_params(t, params), "resources": {}, "events": [],
                "outputs": {}, "disable_rollback": disable_rollback, "previous": None,
            }
            self._stack_event(doc, on_event, "CREATE_IN_PROGRESS", "User Initiated")
            try:
                self._apply(doc, t, params, pseudo, conditions, on_event)
            except _Failed as failure:
                if disable_rollback:
                    self._stack_event(doc, on_event, "CREATE_FAILED", failure.reason)
                else:
                    self._stack_event(doc, on_event, "ROLLBACK_IN_PROGRESS",
                                      f"The following resource(s) failed to create: [{failure.logical_id}]. "
                                      f"{failure.reason}")
                    self._rollback_create(doc, on_event)
                return self._summary(doc)
            doc["outputs"] = self._outputs(t, doc, params, pseudo, conditions)
            self._stack_event(doc, on_event, "CREATE_COMPLETE")
            return self._summary(doc)

    def update(self, name: str, template: str | Mapping[str, Any] | Template, *,
               parameters: Mapping[str, str] | None = None,
               on_event: Callable[[StackEvent], None] | None = None) -> StackSummary:
        """Update a stack in place where the family can modify, by replacement where it cannot.

        A failure returns every resource to its previous state (``UPDATE_ROLLBACK_COMPLETE``).
        Parameters not given keep their previous values (NoEcho ones must be given again).
        """
        self._check_name(name)
        t = self._load(template)
        with stack_lock(self.store, name):
            doc = self._recover(name, on_event)
            if doc is None or doc["status"] == "DELETE_COMPLETE":
                raise NotFound(f"no stack named {name!r}")
            if doc["status"] in ("ROLLBACK_COMPLETE", "CREATE_FAILED", "ROLLBACK_FAILED", "DELETE_FAILED"):
                raise Conflict(f"stack {name!r} is {doc['status']}: it can only be deleted")
            changes = self._changes(t, name, doc["stack_id"], parameters, doc)
            params, pseudo, conditions = self._prepare(t, name, doc["stack_id"], parameters, doc.get("parameters"))
            for rec in doc["resources"].values():  # marks of an earlier apply
                for key in ("action", "before", "replaced", "remove"):
                    rec.pop(key, None)
            doc["previous"] = {"template": doc["template"], "parameters": doc["parameters"],
                               "resources": json.loads(json.dumps(doc["resources"])), "outputs": doc["outputs"],
                               "description": doc.get("description")}
            doc["template"], doc["parameters"] = t.body, _storable_params(t, params)
            doc["description"] = t.description
            self._stack_event(doc, on_event, "UPDATE_IN_PROGRESS", "User Initiated")
            if not changes:
                for lid, rec in doc["resources"].items():  # DeletionPolicy and the like change no resource
                    if lid in t.resources:
                        rec["deletion_policy"] = t.resources[lid].get("DeletionPolicy", "Delete")
                        rec["depends"] = sorted(t.dependencies[lid])
                doc["previous"] = None
                self._stack_event(doc, on_event, "UPDATE_COMPLETE", "No updates are to be performed.")
                return self._summary(doc)
            try:
                self._apply(doc, t, params, pseudo, conditions, on_event)
            except _Failed as failure:
                self._stack_event(doc, on_event, "UPDATE_ROLLBACK_IN_PROGRESS",
                                  f"The following resource(s) failed to update: [{failure.logical_id}].")
                self._rollback_update(doc, on_event)
                return self._summary(doc)
            doc["outputs"] = self._outputs(t, doc, params, pseudo, conditions)
            self._stack_event(doc, on_event, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS")
            self._cleanup_update(doc, on_event)
            return self._summary(doc)

    def _apply(self, doc: dict[str, Any], t: Template, params: Mapping[str, Any], pseudo: Mapping[str, Any],
               conditions: Mapping[str, bool], on_event: Callable[[StackEvent], None] | None) -> None:
        """Bring every active resource to the template (dependencies first, ``concurrency`` at once)."""
        active = t.active(conditions)
        deps = {lid: {d for d in t.dependencies[lid] if d in active} for lid in active}
        done: set[str] = set()
        failure: _Failed | None = None
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stack") as pool:
            while True:
                if failure is None:
                    for lid in active:
                        if lid in done or lid in running.values() or not deps[lid] <= done:
                            continue
                        if len(running) >= self.concurrency:
                            break
                        running[pool.submit(self._step, doc, t, lid, params, pseudo, conditions, set(active),
                                            on_event)] = lid
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    lid = running.pop(fut)
                    exc = fut.exception()
                    if exc is None:
                        done.add(lid)
                    elif isinstance(exc, _Failed):
                        failure = failure or exc
                    else:
                        failure = failure or _Failed(lid, f"{type(exc).__name__}: {exc}")
        if failure is not None:
            raise failure
        # resources the new template no longer has (or whose condition turned false) go in the cleanup phase
        for lid, rec in doc["resources"].items():
            if lid not in active and rec.get("physical_id") is not None:
                rec["remove"] = True
        self._write(doc)

    def _step(self, doc: dict[str, Any], t: Template, lid: str, params: Mapping[str, Any], pseudo: Mapping[str, Any],
              conditions: Mapping[str, bool], active: set[str], on_event: Callable[[StackEvent], None] | None) -> None:
        rtype = t.resource_type(lid)
        try:
            with self._lock_of(doc):
                ctx = self._context(t, params, pseudo, conditions, doc["resources"], active)
            props = self._properties(t, lid, ctx, doc["stack_id"])
        except CloudkitError as exc:
            raise _Failed(lid, str(exc)) from exc
        stored = self._digest(rtype, props, doc["stack_id"], doc["name"])
        with self._lock_of(doc):
            rec = doc["resources"].get(lid)
            if rec is not None:  # attributes of the template that change no resource take effect at once
                rec["deletion_policy"] = t.resources[lid].get("DeletionPolicy", "Delete")
                rec["depends"] = sorted(t.dependencies[lid])
        if rec is not None and rec.get("physical_id") is not None and not rec.get("remove"):
            same_type = RESOURCE_TYPES[rec["type"]].neutral == rtype.neutral
            before = rec.get("properties", {})
            diff = {k for k in set(before) | set(stored) if before.get(k) != stored.get(k)}
            if same_type and not diff:
                return
            replace = not same_type or any(rtype.properties[k].update != "modify" or rtype.modify is None for k in diff)
            if not replace:
                self._modify(doc, lid, rtype, rec, props, stored, on_event)
                return
            with self._lock_of(doc):
                rec.setdefault("replaced", []).append({"physical_id": rec["physical_id"], "type": rec["type"],
                                                        "properties": rec["properties"], "name": rec["name"],
                                                        "token": rec["token"], "ref": rec.get("ref"),
                                                        "attributes": rec.get("attributes", {})})
            self._res_event(doc, on_event, lid, "UPDATE_IN_PROGRESS",
                            "Requested update requires the creation of a new physical resource; hence creating one.")
            with self._lock_of(doc):
                rec.update({"type": rtype.name, "physical_id": None, "ref": None, "attributes": {},
                            "properties": stored, "name": _physical_name(doc["name"], lid), "token": _token(),
                            "action": "replace"})
            self._write(doc)  # the new copy's name and token are durable before it is created
            self._create_one(doc, lid, rtype, props, on_event, "UPDATE")
            return
        with self._lock_of(doc):
            doc["resources"][lid] = {"type": rtype.name, "physical_id": None, "ref": None, "attributes": {},
                                     "properties": stored, "name": _physical_name(doc["name"], lid), "token": _token(),
                                     "status": "CREATE_IN_PROGRESS", "action": "add",
                                     "deletion_policy": t.resources[lid].get("DeletionPolicy", "Delete"),
                                     "depends": sorted(t.dependencies[lid])}
        self._res_event(doc, on_event, lid, "CREATE_IN_PROGRESS")  # written before the call
        self._create_one(doc, lid, rtype, props, on_event, "CREATE")

    def _create_one(self, doc: dict[str, Any], lid: str, rtype: ResourceType, props: Mapping[str, Any],
                    on_event: Callable[[StackEvent], None] | None, verb: str) -> None:
        try:
            applied = rtype.create(self._env(doc, lid), props)
        except CloudkitError as exc:
            self._res_event(doc, on_event, lid, f"{verb}_FAILED", _reason(exc))
            raise _Failed(lid, _reason(exc)) from exc
        self._record(doc, lid, applied)
        self._res_event(doc, on_event, lid, f"{verb}_COMPLETE")  # written after the call

    def _record(self, doc: dict[str, Any], lid: str, applied: Applied) -> None:
        with self._lock_of(doc):
            doc["resources"][lid].update({"physical_id": applied.physical_id, "ref": applied.ref,
                                          "attributes": dict(applied.attributes)})

    def _modify(self, doc: dict[str, Any], lid: str, rtype: ResourceType, rec: dict[str, Any], props: Mapping[str, Any],
                stored: Mapping[str, Any], on_event: Callable[[StackEvent], None] | None) -> None:
        assert rtype.modify is not None
        with self._lock_of(doc):
            rec["before"] = {"properties": rec["properties"], "attributes": rec.get("attributes", {}), "ref": rec.get("ref")}
            rec["action"] = "modify"
        self._res_event(doc, on_event, lid, "UPDATE_IN_PROGRESS")
        try:
            applied = rtype.modify(self._env(doc, lid), rec["physical_id"], rec["before"]["properties"], props)
        except CloudkitError as exc:
            self._res_event(doc, on_event, lid, "UPDATE_FAILED", _reason(exc))
            raise _Failed(lid, _reason(exc)) from exc
        with self._lock_of(doc):
            rec["properties"] = dict(stored)
        self._record(doc, lid, applied)
        self._res_event(doc, on_event, lid, "UPDATE_COMPLETE")

    # ------------------------------------------------------------------ delete and rollback
    def _delete_many(self, doc: dict[str, Any], items: list[tuple[str, dict[str, Any]]],
                     on_event: Callable[[StackEvent], None] | None, *, honour_policy: bool) -> list[str]:
        """Delete records in reverse dependency order (``concurrency`` at once); returns the failures' reasons."""
        names = {lid for lid, _ in items}
        by_lid = dict(items)
        # a record must go before what it depends on: wait for every record that depends on it
        dependents = {lid: {other for other, r in items if lid in r.get("depends", ())} & names for lid in names}
        done: set[str] = set()
        failures: list[str] = []
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="stack-delete") as pool:
            while True:
                for lid in [lid for lid, _ in items]:
                    if lid in done or lid in running.values() or not dependents[lid] <= done:
                        continue
                    if len(running) >= self.concurrency:
                        break
                    running[pool.submit(self._delete_one, doc, lid, by_lid[lid], on_event, honour_policy)] = lid
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for fut in finished:
                    lid = running.pop(fut)
                    done.add(lid)
                    exc = fut.exception()
                    if exc is not None:
                        failures.append(f"{lid}: {exc}")
        return failures

    def _delete_one(self, doc: dict[str, Any], lid: str, rec: dict[str, Any],
                    on_event: Callable[[StackEvent], None] | None, honour_policy: bool) -> None:
        rtype = RESOURCE_TYPES[rec["type"]]
        env = Env(self.cloud, self.region, rec["name"], rec["token"])
        physical = rec.get("physical_id")
        if physical is None:  # interrupted between "before" and "after": find what the call may have made
            try:
                found = rtype.find(env, rec.get("properties", {}))
            except CloudkitError:
                found = None
            if found is None:
                with self._lock_of(doc):
                    rec["status"] = "DELETE_COMPLETE"
                return
            physical = found.physical_id
            with self._lock_of(doc):
                rec["physical_id"] = physical
        policy = rec.get("deletion_policy", "Delete") if honour_policy else "Delete"
        self._event_for(doc, rec, lid, on_event, "DELETE_IN_PROGRESS" if policy != "Retain" else "DELETE_SKIPPED")
        if policy == "Retain":
            return
        try:
            if policy == "Snapshot" and rtype.snapshot is not None:
                rtype.snapshot(env, physical, rec.get("properties", {}), _snapshot_name(doc["name"], lid))
            else:
                rtype.delete(env, physical, rec.get("properties", {}))
        except CloudkitError as exc:
            self._event_for(doc, rec, lid, on_event, "DELETE_FAILED", _reason(exc))
            raise
        self._event_for(doc, rec, lid, on_event, "DELETE_COMPLETE")

    def _event_for(self, doc: dict[str, Any], rec: dict[str, Any], lid: str,
                   on_event: Callable[[StackEvent], None] | None, status: str, reason: str | None = None) -> None:
        with self._lock_of(doc):
            rec["status"] = status
            self._event(doc, on_event, lid, rec["type"], rec.get("physical_id"), status, reason)
        self._write(doc)

    def _rollback_create(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None) -> None:
        items = [(lid, rec) for lid, rec in doc["resources"].items()
                 if rec.get("status") not in ("DELETE_COMPLETE", "DELETE_SKIPPED")]
        failures = self._delete_many(doc, items, on_event, honour_policy=False)
        if failures:
            self._stack_event(doc, on_event, "ROLLBACK_FAILED", "; ".join(failures))
        else:
            self._stack_event(doc, on_event, "ROLLBACK_COMPLETE", doc.get("status_reason"))

    def _rollback_update(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None) -> None:
        prev = doc["previous"]
        failures: list[str] = []
        undo: list[tuple[str, dict[str, Any]]] = []
        for lid, rec in list(doc["resources"].items()):
            action = rec.get("action")
            if action == "modify" and rec.get("before") is not None:
                rtype = RESOURCE_TYPES[rec["type"]]
                old = {k: v for k, v in rec["before"]["properties"].items() if not rtype.properties[k].secret}
                new = {k: v for k, v in rec["properties"].items() if not rtype.properties[k].secret}
                self._event_for(doc, rec, lid, on_event, "UPDATE_IN_PROGRESS")
                try:
                    assert rtype.modify is not None
                    rtype.modify(Env(self.cloud, self.region, rec["name"], rec["token"]), rec["physical_id"], new, old)
                except CloudkitError as exc:
                    failures.append(f"{lid}: {exc}")
                    self._event_for(doc, rec, lid, on_event, "UPDATE_FAILED", _reason(exc))
                    continue
                with self._lock_of(doc):
                    rec.update(rec.pop("before"))
                    rec.pop("action", None)
                self._event_for(doc, rec, lid, on_event, "UPDATE_COMPLETE")
            elif action in ("add", "replace"):
                undo.append((lid, rec))
        self._stack_event(doc, on_event, "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS")
        failures += self._delete_many(doc, [(lid, {**rec, "deletion_policy": "Delete"}) for lid, rec in undo], on_event,
                                      honour_policy=False)
        doc["resources"] = prev["resources"]
        doc["template"], doc["parameters"] = prev["template"], prev["parameters"]
        doc["outputs"], doc["description"] = prev["outputs"], prev.get("description")
        doc["previous"] = None
        if failures:
            self._stack_event(doc, on_event, "UPDATE_ROLLBACK_FAILED", "; ".join(failures))
        else:
            self._stack_event(doc, on_event, "UPDATE_ROLLBACK_COMPLETE")

    def _cleanup_update(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None) -> None:
        items: list[tuple[str, dict[str, Any]]] = []
        for lid, rec in doc["resources"].items():
            for i, old in enumerate(rec.get("replaced", [])):
                items.append((f"{lid}#{i}" if i else lid, {**old, "depends": [], "deletion_policy":
                                                          rec.get("deletion_policy", "Delete")}))
            if rec.get("remove"):
                items.append((lid, rec))
        # the old copies keep logical ids for events; delete them after the removed resources' dependents
        failures = self._delete_many(doc, items, on_event, honour_policy=True)
        with self._lock_of(doc):
            for lid in [lid for lid, rec in doc["resources"].items() if rec.get("remove")]:
                del doc["resources"][lid]
            for rec in doc["resources"].values():
                for key in ("replaced", "before", "action"):
                    rec.pop(key, None)
            doc["previous"] = None
        self._stack_event(doc, on_event, "UPDATE_COMPLETE", "; ".join(failures) or None)

    def delete(self, name: str, *, on_event: Callable[[StackEvent], None] | None = None) -> StackSummary:
        """Delete a stack's resources in reverse dependency order, honouring DeletionPolicy."""
        self._check_name(name)
        with stack_lock(self.store, name):
            doc = self._recover(name, on_event)
            if doc is None or doc["status"] == "DELETE_COMPLETE":
                raise NotFound(f"no stack named {name!r}")
            return self._delete_doc(doc, on_event)

    def _delete_doc(self, doc: dict[str, Any], on_event: Callable[[StackEvent], None] | None) -> StackSummary:
        self._stack_event(doc, on_event, "DELETE_IN_PROGRESS", "User Initiated")
        items = [(lid, rec) for lid, rec in doc["resources"].items()
                 if rec.get("status") not in ("DELETE_COMPLETE", "DELETE_SKIPPED")]
        failures = self._delete_many(doc, items, on_event, honour_policy=True)
        if failures:
            self._stack_event(doc, on_event, "DELETE_FAILED", "; ".join(failures))
        else:
            doc["outputs"] = {}
            self._stack_event(doc, on_event, "DELETE_COMPLETE")
        return self._summary(doc)

    # ------------------------------------------------------------------ recovery
    def _recover(self, name: str, on_event: Callable[[StackEvent], None] | None) -> dict[str, Any] | None:
        """With the lock held: finish what an interrupted command left (the caller holds the lock)."""
        doc = self._read(name)
        if doc is None or not doc["status"].endswith("IN_PROGRESS"):
            return doc
        status = doc["status"]
        reason = f"an interrupted {status} was recovered"
        if status in ("CREATE_IN_PROGRESS", "ROLLBACK_IN_PROGRESS"):
            self._stack_event(doc, on_event, "ROLLBACK_IN_PROGRESS", reason)
            self._rollback_create(doc, on_event)
        elif status in ("UPDATE_IN_PROGRESS", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS"):
            self._stack_event(doc, on_event, "UPDATE_ROLLBACK_IN_PROGRESS", reason)
            self._rollback_update(doc, on_event)
        elif status == "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS":
            self._cleanup_update(doc, on_event)
        elif status == "DELETE_IN_PROGRESS":
            self._delete_doc(doc, on_event)
        return self._read(name)

    def recover(self, name: str, *, on_event: Callable[[StackEvent], None] | None = None) -> StackSummary:
        """Finish an interrupted apply of ``name`` now (every lifecycle command does this first)."""
        self._check_name(name)
        with stack_lock(self.store, name):
            doc = self._recover(name, on_event)
        if doc is None:
            raise NotFound(f"no stack named {name!r}")
        return self._summary(doc)

    # ------------------------------------------------------------------ reading
    def _outputs(self, t: Template, doc: dict[str, Any], params: Mapping[str, Any], pseudo: Mapping[str, Any],
                 conditions: Mapping[str, bool]) -> dict[str, Any]:
        active = set(t.active(conditions))
        ctx = self._context(t, params, pseudo, conditions, doc["resources"], active)
        out: dict[str, Any] = {}
        for oname, spec in t.outputs.items():
            if "Condition" in spec and not conditions[spec["Condition"]]:
                continue
            value = evaluate(spec["Value"], ctx, f"Outputs.{oname}.Value")
            export = spec.get("Export")
            out[oname] = {"value": _secret_free(t, value, params), "description": spec.get("Description"),
                          "export": None if export is None else evaluate(export["Name"], ctx, f"Outputs.{oname}.Export.Name")}
        return out

    def _summary(self, doc: dict[str, Any]) -> StackSummary:
        return StackSummary(doc["name"], doc["stack_id"], doc["status"], doc.get("status_reason"),
                            datetime.fromisoformat(doc["created_at"]), datetime.fromisoformat(doc["updated_at"]),
                            doc.get("description"), {k: v["value"] for k, v in doc.get("outputs", {}).items()})

    def _existing(self, name: str) -> dict[str, Any]:
        self._check_name(name)
        doc = self._read(name)
        if doc is None:
            raise NotFound(f"no stack named {name!r}")
        if doc["status"].endswith("IN_PROGRESS"):
            try:
                with stack_lock(self.store, name):
                    doc = self._recover(name, None) or doc
            except Conflict:
                pass  # another command is applying it now: show what it has done so far
        return doc

    def describe(self, name: str) -> StackSummary:
        """A stack's status, reason and outputs."""
        return self._summary(self._existing(name))

    def events(self, name: str) -> list[StackEvent]:
        """Every event of the stack's last lifecycle commands, oldest first."""
        doc = self._existing(name)
        return [StackEvent(datetime.fromisoformat(e["timestamp"]), name, e["logical_id"], e["resource_type"],
                           e.get("physical_id"), e["status"], e.get("reason")) for e in doc["events"]]

    def outputs(self, name: str) -> dict[str, dict[str, Any]]:
        """Output name -> {value, description, export}."""
        return dict(self._existing(name).get("outputs", {}))

    def resources(self, name: str) -> dict[str, dict[str, Any]]:
        """Logical id -> {type, physical_id, status} of the stack's resources."""
        doc = self._existing(name)
        return {lid: {"type": r["type"], "physical_id": r.get("physical_id"), "status": r.get("status")}
                for lid, r in doc["resources"].items()}

    def list(self, *, include_deleted: bool = False) -> list[StackSummary]:
        """Every stack (deleted ones too with ``include_deleted``)."""
        out = []
        for key in self.store.keys("stacks/"):
            if not key.endswith(".json"):
                continue
            doc = self._read(key[len("stacks/"):-len(".json")])
            if doc is None or (doc["status"] == "DELETE_COMPLETE" and not include_deleted):
                continue
            out.append(self._summary(doc))
        return sorted(out, key=lambda s: s.name)


def validate_template(template: str | Mapping[str, Any]) -> Validation:
    """Check a template (no cloud call); its description, parameters and resources listed back."""
    t = load_template(template)
    return Validation(
        description=t.description,
        parameters=tuple(ParameterInfo(p.name, p.type, None if p.no_echo else p.default, p.no_echo, p.description)
                         for p in t.parameters.values()),
        resources=tuple((lid, r["Type"]) for lid, r in t.resources.items()),
    )


def _redact(rtype: ResourceType, prop: str, value: Any) -> Any:
    return "****" if rtype.properties[prop].secret and value is not None else value


def _storable_params(t: Template, params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: ("****" if t.parameters[k].no_echo else v) for k, v in params.items()}


def _secret_free(t: Template, value: Any, params: Mapping[str, Any]) -> Any:
    secrets_ = [params[n] for n in t.no_echo() if isinstance(params.get(n), str) and params[n]]
    if isinstance(value, str):
        for s in secrets_:
            value = value.replace(s, "****")
    return value


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _token() -> str:
    return uuid.uuid4().hex


def _physical_name(stack: str, lid: str) -> str:
    suffix = "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(8))
    return f"{stack}-{lid}-{suffix}"


def _snapshot_name(stack: str, lid: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{stack}-{lid}-final-{_now():%Y%m%d%H%M%S}".lower())[:63]
