"""Export a load balancer's configuration to a bucket and re-create it elsewhere (neutral API only).

:func:`export_load_balancer` writes one JSON document (format ``cloudkit-loadbalancer-export/1``)
holding what defines a load balancer independently of where it runs: its listeners, health check,
scheme, connection draining delay and a *target selection*: the instance tags whose instances
should be its targets (``target_tags``), plus, optionally, its address targets. The bucket may
belong to another cloud than the load balancer (keep the copy away from what it protects).

:func:`recreate_load_balancer` reads such a document and makes the load balancer again through
another cloud, profile or region: same listeners and health check, and as targets the running
instances that carry the selection's tags there (and the recorded address targets). With
``any_port`` the listeners ask for a free port (port 0) instead of the recorded one, for providers
that pick ports (local) where the original still holds them.

Certificates of https listeners are carried as references (an ACM ARN, a PEM path on local),
never as key material. Both functions check the providers' capabilities first (``NotSupported``
names what is missing) and reject bad arguments with ``InvalidInput`` before any call.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Union

import attrs

from cloudkit import Cloud, validation
from cloudkit.errors import CloudkitError, InvalidInput, NotSupported
from cloudkit.models import HealthCheck, Listener, LoadBalancer, Target
from cloudkit.services import ComputeService, LoadBalancerService, StorageService
from cloudkit_contrib._services import service_of

__all__ = ["FORMAT", "LoadBalancerExport", "RecreateResult", "export_load_balancer", "read_export",
           "recreate_load_balancer"]

FORMAT = "cloudkit-loadbalancer-export/1"
DEFAULT_PREFIX = "cloudkit-loadbalancers/"
MAX_DOCUMENT = 1 << 20

LoadBalancerServiceRef = Union[Cloud, LoadBalancerService]
StorageRef = Union[Cloud, StorageService]
ComputeRef = Union[Cloud, ComputeService]


@attrs.frozen
class LoadBalancerExport:
    """An exported load balancer configuration: where it is stored and what it holds."""

    bucket: str
    key: str
    name: str
    provider: str
    exported_at: datetime
    listeners: tuple[Listener, ...]
    health_check: HealthCheck
    scheme: str
    deregistration_delay: int
    target_tags: Mapping[str, str]
    address_targets: tuple[Target, ...]


@attrs.frozen
class RecreateResult:
    """What :func:`recreate_load_balancer` made: the load balancer and the targets it registered."""

    load_balancer: LoadBalancer
    targets: tuple[Target, ...]


def _lb_service(ref: object, field: str = "loadbalancer") -> LoadBalancerService:
    return service_of(ref, "loadbalancer", LoadBalancerService, field)


def _storage(ref: object, field: str = "storage") -> StorageService:
    return service_of(ref, "storage", StorageService, field)


def _compute(ref: object, field: str = "compute") -> ComputeService:
    return service_of(ref, "compute", ComputeService, field)


def _require(service: Any, ops: tuple[str, ...], job: str) -> None:
    have = service.capabilities()
    for op in ops:
        if op not in have:
            raise NotSupported(service.provider, f"{service.family}.{op}", f"{job} needs it")


def _key(value: object, name: str) -> str:
    if value is None:
        return f"{DEFAULT_PREFIX}{name}.json"
    return validation.object_key(value, "key")


def export_load_balancer(
    loadbalancer: LoadBalancerServiceRef,
    load_balancer: LoadBalancer | str,
    storage: StorageRef,
    bucket: str,
    *,
    target_tags: Mapping[str, str] | None = None,
    include_addresses: bool = True,
    key: str | None = None,
    now: datetime | None = None,
) -> LoadBalancerExport:
    """Write ``load_balancer``'s configuration to ``bucket`` (``key``: ``cloudkit-loadbalancers/<name>.json``).

    ``target_tags`` is the target selection recorded for re-creation (instances carrying all these
    tags); with ``include_addresses`` the load balancer's address targets are recorded too.
    """
    lbs, store = _lb_service(loadbalancer), _storage(storage)
    bucket = validation.bucket_name(bucket)
    tags = validation.tags(target_tags, "target_tags")
    include = validation.flag("include_addresses", include_addresses)
    when = datetime.now(UTC) if now is None else validation.aware_datetime("now", now).astimezone(UTC)
    _require(lbs, ("get_load_balancer",) + (("target_health",) if include else ()), "a load balancer export")
    _require(store, ("put_object",), "a load balancer export")
    lb = lbs.get_load_balancer(load_balancer)
    target_key = _key(key, lb.name)
    addresses: list[Target] = []
    if include:
        for health in lbs.target_health(lb):
            t = health.target
            if t.instance_id is None and health.state != "draining":
                found = Target(t.address, t.port)
                if found not in addresses:
                    addresses.append(found)
    doc = {
        "format": FORMAT, "name": lb.name, "provider": lbs.provider, "exported_at": when.isoformat(),
        "kind": lb.kind, "scheme": lb.scheme, "deregistration_delay": lb.deregistration_delay,
        "listeners": [attrs.asdict(item) for item in lb.listeners],
        "health_check": attrs.asdict(lb.health_check),
        "targets": {"instance_tags": tags, "addresses": [{"address": t.address, "port": t.port} for t in addresses]},
    }
    store.put_object(bucket, target_key, json.dumps(doc, indent=1, sort_keys=True).encode(), content_type="application/json")
    return _export_of(bucket, target_key, doc)


def read_export(storage: StorageRef, bucket: str, key: str) -> LoadBalancerExport:
    """Read and check an export document (``InvalidInput`` when it is not one)."""
    store = _storage(storage)
    bucket = validation.bucket_name(bucket)
    key = validation.object_key(key, "key")
    _require(store, ("get_object",), "reading a load balancer export")
    raw = bytearray()
    with store.get_object(bucket, key) as reader:
        for chunk in reader.iter_chunks():
            raw += chunk
            if len(raw) > MAX_DOCUMENT:
                raise InvalidInput("key", f"{key} is larger than {MAX_DOCUMENT} bytes: not a load balancer export")
    try:
        doc = json.loads(bytes(raw))
    except ValueError:
        raise InvalidInput("key", f"{key} does not hold JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidInput("key", f"{key} is not a {FORMAT} document")
    return _export_of(bucket, key, doc)


def _export_of(bucket: str, key: str, doc: Mapping[str, Any]) -> LoadBalancerExport:
    try:
        targets = doc.get("targets") or {}
        return LoadBalancerExport(
            bucket=bucket, key=key, name=str(doc["name"]), provider=str(doc["provider"]),
            exported_at=datetime.fromisoformat(str(doc["exported_at"])).astimezone(UTC),
            listeners=tuple(Listener(**item) for item in doc["listeners"]),
            health_check=HealthCheck(**doc["health_check"]), scheme=str(doc["scheme"]),
            deregistration_delay=int(doc["deregistration_delay"]),
            target_tags=dict(targets.get("instance_tags") or {}),
            address_targets=tuple(Target(item["address"], item.get("port")) for item in targets.get("addresses") or []),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidInput("key", f"{key} is a damaged {FORMAT} document ({type(exc).__name__}: {exc})") from None


def recreate_load_balancer(
    storage: StorageRef,
    bucket: str,
    key: str,
    loadbalancer: LoadBalancerServiceRef,
    *,
    compute: ComputeRef | None = None,
    name: str | None = None,
    scheme: str | None = None,
    any_port: bool = False,
) -> RecreateResult:
    """Make the exported load balancer again through ``loadbalancer`` (another profile or region).

    ``name`` defaults to the exported name and ``scheme`` to the exported scheme. Targets are the
    running instances of ``compute`` (default: the same cloud as ``loadbalancer`` when it is a
    :class:`Cloud`) that carry every recorded tag, and the recorded address targets. A load
    balancer half made when a later step fails is deleted again.
    """
    lbs = _lb_service(loadbalancer)
    any_port = validation.flag("any_port", any_port)
    export = read_export(storage, bucket, key)
    compute_svc: ComputeService | None = None
    if export.target_tags:
        if compute is None and isinstance(loadbalancer, Cloud):
            compute = loadbalancer
        if compute is None:
            raise InvalidInput("compute", "is needed to find the instances the export selects by tag")
        compute_svc = _compute(compute)
        _require(compute_svc, ("list_instances",), "selecting targets by tag")
    _require(lbs, ("create_load_balancer", "delete_load_balancer"), "re-creating a load balancer")
    listeners = [attrs.evolve(item, port=0) if any_port else item for item in export.listeners]
    instances = [] if compute_svc is None else list(compute_svc.list_instances(state="running", tags=export.target_tags))
    targets: list[Target] = [Target(instance_id=inst.id) for inst in instances] + list(export.address_targets)
    if targets:
        _require(lbs, ("register_targets",), "re-creating a load balancer's targets")
    lb = lbs.create_load_balancer(
        export.name if name is None else name, listeners=listeners, health_check=export.health_check,
        scheme=export.scheme if scheme is None else scheme, deregistration_delay=export.deregistration_delay)
    try:
        if targets:
            lbs.register_targets(lb, targets)
    except CloudkitError:
        try:
            lbs.delete_load_balancer(lb)
        except CloudkitError:
            pass
        raise
    return RecreateResult(load_balancer=lbs.get_load_balancer(lb), targets=tuple(targets))
