"""The loadbalancer family on Elastic Load Balancing v2 (application and network load balancers).

How the neutral model maps onto ELBv2:

* A load balancer's id is its ARN (its name is accepted too). ``http``/``https`` listeners make an
  *application* load balancer, ``tcp`` ones a *network* load balancer; a load balancer created
  without listeners is an application one. It is placed in the region's **default VPC**, one
  subnet per availability zone. ``scheme`` ``None`` is ``internet-facing``.
* Targets live in target groups of type ``instance`` (address targets raise ``NotSupported``:
  register instances). Each distinct listener ``target_port`` has one target group
  (``ck<digest>-<port>``, the digest taken from the load balancer's ARN) that its listeners forward
  to; a *registry* group (``ck<digest>-r``, attached to no listener) holds every registration, so
  targets can be registered before any listener exists (they are ``unused`` then). A target without
  its own port is registered in the registry on port 1, which stands for "the listener's target
  port". Every group gets the load balancer's health check and ``deregistration_delay`` (the
  ``deregistration_delay.timeout_seconds`` attribute), and ``matcher`` ``200-399`` like HAProxy's.
* ``target_health`` is ``DescribeTargetHealth`` of the groups in use; ELB's ``unavailable`` is
  ``unhealthy``.
* Listener port 0 is refused (``InvalidInput``): ELB has no "pick a free port".
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound, NotSupported, ProviderError
from cloudkit.models.loadbalancer import HealthCheck, Listener, LoadBalancer, Target, TargetHealth, listener_url
from cloudkit.provider import poll_until
from cloudkit.services.loadbalancer import LoadBalancerService, kind_of, resolved_health_check
from cloudkit_aws._session import PROVIDER, AwsSession
from cloudkit_aws.errors import AwsErrors

_STATES = {"provisioning": "provisioning", "active": "active", "active_impaired": "active", "failed": "failed"}
_HEALTH = {"initial": "initial", "healthy": "healthy", "unhealthy": "unhealthy", "unused": "unused",
           "draining": "draining", "unavailable": "unhealthy", "unhealthy.draining": "draining"}
#: The registry group's port: a registration without a port of its own.
ANY_PORT = 1


def make_service(settings: Mapping[str, Any]) -> AwsLoadBalancer:
    """The aws provider's loadbalancer service (the plugin calls this)."""
    return AwsLoadBalancer(settings)


def _digest(arn: str) -> str:
    """12 hex digits naming a load balancer's groups: from its ARN's resource part (no account, no region)."""
    return hashlib.sha1(arn.split(":loadbalancer/", 1)[-1].encode()).hexdigest()[:12]


def _group_name(arn: str, port: int | None) -> str:
    return f"ck{_digest(arn)}-{'r' if port is None else port}"


class AwsLoadBalancer(AwsErrors, LoadBalancerService):
    """ELBv2 load balancers, listeners and target groups."""

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(PROVIDER, settings)
        self._aws = AwsSession(self.settings)

    @property
    def native(self) -> Any:
        """The boto3 ``elbv2`` client."""
        return self._aws.client("elbv2")

    def close(self) -> None:
        """Close the HTTP connection pools."""
        self._aws.close()

    def _call(self, method: str, operation: str, **params: Any) -> Any:
        return self._aws.call("elbv2", method, f"loadbalancer.{operation}", **params)

    # ------------------------------------------------------------ lookups
    def _describe(self, ref: str, operation: str) -> dict[str, Any]:
        params = {"LoadBalancerArns": [ref]} if ref.startswith("arn:") else {"Names": [ref]}
        try:
            found = self._call("describe_load_balancers", operation, **params)["LoadBalancers"]
        except NotFound:
            found = []
        if not found:
            raise NotFound(f"loadbalancer.{operation}: load balancer {ref!r} does not exist", provider=PROVIDER,
                           code="LoadBalancerNotFound")
        lb: dict[str, Any] = found[0]
        return lb

    def _listeners(self, arn: str, operation: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for page in self._aws.pages("elbv2", "describe_listeners", f"loadbalancer.{operation}", LoadBalancerArn=arn):
            out += page.get("Listeners", [])
        return sorted(out, key=lambda item: item["Port"])

    def _group(self, arn: str, port: int | None, operation: str) -> dict[str, Any] | None:
        try:
            groups = self._call("describe_target_groups", operation, Names=[_group_name(arn, port)])["TargetGroups"]
        except NotFound:
            return None
        return groups[0] if groups else None

    def _groups(self, arn: str, operation: str) -> dict[int, dict[str, Any]]:
        """Target port -> the target group of the listeners forwarding to it."""
        out: dict[int, dict[str, Any]] = {}
        for item in self._listeners(arn, operation):
            port = _target_port(item)
            if port is not None and port not in out:
                group = self._group(arn, port, operation)
                if group is not None:
                    out[port] = group
        return out

    def _model(self, lb: Mapping[str, Any], operation: str) -> LoadBalancer:
        arn = lb["LoadBalancerArn"]
        listeners = tuple(
            Listener(protocol=item["Protocol"].lower(), port=item["Port"], target_port=_target_port(item),
                     certificate=(item.get("Certificates") or [{}])[0].get("CertificateArn"))
            for item in self._listeners(arn, operation)
        )
        registry = self._group(arn, None, operation)
        check, delay = HealthCheck(), 300
        if registry is not None:
            check = _check_of(registry)
            attrs = self._call("describe_target_group_attributes", operation, TargetGroupArn=registry["TargetGroupArn"])
            for item in attrs.get("Attributes", []):
                if item["Key"] == "deregistration_delay.timeout_seconds":
                    delay = int(item["Value"])
        first = listeners[0] if listeners else None
        state = _STATES.get(lb.get("State", {}).get("Code", ""), "failed")
        return LoadBalancer(
            id=arn, name=lb["LoadBalancerName"], state=state, kind=lb.get("Type", "application"),
            scheme=lb.get("Scheme", "internet-facing"), dns_name=lb.get("DNSName"),
            url=listener_url(first.protocol, lb.get("DNSName"), first.port) if first else None,
            listeners=listeners, health_check=check, deregistration_delay=delay, created_at=lb.get("CreatedTime"),
            extra={"native_state": lb.get("State", {}).get("Code"), "vpc_id": lb.get("VpcId"),
                   "registry_target_group": None if registry is None else registry["TargetGroupArn"]},
        )

    # ------------------------------------------------------------ target groups
    def _default_subnets(self, operation: str) -> tuple[str, list[str]]:
        ec2 = f"loadbalancer.{operation}"
        vpcs = self._aws.call("ec2", "describe_vpcs", ec2, Filters=[{"Name": "isDefault", "Values": ["true"]}])["Vpcs"]
        if not vpcs:
            raise NotSupported(PROVIDER, ec2, "this region has no default VPC to place the load balancer in")
        vpc = vpcs[0]["VpcId"]
        subnets = self._aws.call("ec2", "describe_subnets", ec2, Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
        by_zone: dict[str, str] = {}
        for subnet in sorted(subnets, key=lambda s: (s["AvailabilityZone"], s["SubnetId"])):
            by_zone.setdefault(subnet["AvailabilityZone"], subnet["SubnetId"])
        return vpc, [by_zone[z] for z in sorted(by_zone)]

    def _make_group(self, lb: Mapping[str, Any], port: int | None, check: HealthCheck, delay: int,
                    operation: str) -> dict[str, Any]:
        arn = lb["LoadBalancerArn"]
        kind = lb.get("Type", "application")
        params: dict[str, Any] = {
            "Name": _group_name(arn, port), "Protocol": "TCP" if kind == "network" else "HTTP",
            "Port": ANY_PORT if port is None else port, "VpcId": lb["VpcId"], "TargetType": "instance",
            **_check_params(check, kind),
        }
        group: dict[str, Any] = self._call("create_target_group", operation, **params)["TargetGroups"][0]
        self._call("modify_target_group_attributes", operation, TargetGroupArn=group["TargetGroupArn"],
                   Attributes=[{"Key": "deregistration_delay.timeout_seconds", "Value": str(delay)}])
        if port is not None:  # a new port's group starts with every registration
            registry = self._group(arn, None, operation)
            if registry is not None:
                members = self._members(registry["TargetGroupArn"], operation)
                if members:
                    self._call("register_targets", operation, TargetGroupArn=group["TargetGroupArn"],
                               Targets=[_native_target(t, port) for t in members])
        return group

    def _members(self, group_arn: str, operation: str) -> list[Target]:
        """The registrations of the registry group (port ``None`` where none was given), draining ones left out."""
        out = []
        for item in self._call("describe_target_health", operation, TargetGroupArn=group_arn)["TargetHealthDescriptions"]:
            if item.get("TargetHealth", {}).get("State") == "draining":
                continue
            port = item["Target"].get("Port")
            out.append(Target(instance_id=item["Target"]["Id"], port=None if port in (None, ANY_PORT) else port))
        return out

    # ------------------------------------------------------------ load balancers
    def _create_load_balancer(self, name: str, listeners: list[Listener], health_check: HealthCheck,
                              scheme: str | None, deregistration_delay: int, wait: bool, timeout: float) -> LoadBalancer:
        op = "create_load_balancer"
        for i, item in enumerate(listeners):
            _real_port(item, f"listeners[{i}].port")
        try:
            self._describe(name, op)
        except NotFound:
            pass
        else:
            raise AlreadyExists(f"a load balancer named {name!r} already exists", provider=PROVIDER,
                                code="DuplicateLoadBalancerName")
        kind = kind_of(listeners[0].protocol) if listeners else "application"
        check = resolved_health_check(health_check, kind)
        _, subnets = self._default_subnets(op)
        lb = self._call("create_load_balancer", op, Name=name, Subnets=subnets, Type=kind,
                        Scheme=scheme or "internet-facing", IpAddressType="ipv4")["LoadBalancers"][0]
        try:
            self._make_group(lb, None, check, deregistration_delay, op)
            for item in listeners:
                self._listen(lb, item, check, deregistration_delay, op)
        except BaseException:  # no half-made load balancer: remove it and the groups made so far
            with contextlib.suppress(CloudkitError):
                self._delete_load_balancer(lb["LoadBalancerArn"])
            for port in (None, *(item.target_port for item in listeners)):
                with contextlib.suppress(CloudkitError):
                    group = self._group(lb["LoadBalancerArn"], port, op)
                    if group is not None:
                        self._call("delete_target_group", op, TargetGroupArn=group["TargetGroupArn"])
            raise
        if wait:
            poll_until(lambda: self._describe(lb["LoadBalancerArn"], op),
                       lambda cur: cur.get("State", {}).get("Code") in ("active", "active_impaired"),
                       timeout=timeout, what=f"load balancer {name}", target="active",
                       state=lambda cur: cur.get("State", {}).get("Code"),
                       failed=lambda cur: ProviderError(f"load balancer {name} failed", provider=PROVIDER)
                       if cur.get("State", {}).get("Code") == "failed" else None,
                       interval=float(self.settings.get("waiter_delay") or 5), initial=0.5, provider=PROVIDER)
        return self._model(self._describe(lb["LoadBalancerArn"], op), op)

    def _listen(self, lb: Mapping[str, Any], item: Listener, check: HealthCheck, delay: int, operation: str) -> None:
        assert item.target_port is not None
        group = self._group(lb["LoadBalancerArn"], item.target_port, operation) or \
            self._make_group(lb, item.target_port, check, delay, operation)
        params: dict[str, Any] = {
            "LoadBalancerArn": lb["LoadBalancerArn"], "Protocol": item.protocol.upper(), "Port": item.port,
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": group["TargetGroupArn"]}],
        }
        if item.certificate:
            params["Certificates"] = [{"CertificateArn": item.certificate}]
        self._call("create_listener", operation, **params)

    def _get_load_balancer(self, load_balancer: str) -> LoadBalancer:
        return self._model(self._describe(load_balancer, "get_load_balancer"), "get_load_balancer")

    def _list_load_balancers(self) -> Iterator[LoadBalancer]:
        for page in self._aws.pages("elbv2", "describe_load_balancers", "loadbalancer.list_load_balancers"):
            for lb in page.get("LoadBalancers", []):
                try:
                    yield self._model(lb, "list_load_balancers")
                except NotFound:  # deleted while listing
                    continue

    def _delete_load_balancer(self, load_balancer: str) -> None:
        op = "delete_load_balancer"
        lb = self._describe(load_balancer, op)
        arn = lb["LoadBalancerArn"]
        ports = {p for p in (_target_port(item) for item in self._listeners(arn, op)) if p is not None}
        self._call("delete_load_balancer", op, LoadBalancerArn=arn)  # its listeners go with it
        for port in (None, *sorted(ports)):
            group = self._group(arn, port, op)
            if group is not None:
                self._call("delete_target_group", op, TargetGroupArn=group["TargetGroupArn"])

    # ------------------------------------------------------------ listeners
    def _add_listener(self, load_balancer: str, listener: Listener) -> Listener:
        op = "add_listener"
        _real_port(listener, "listener.port")
        lb = self._describe(load_balancer, op)
        current = self._listeners(lb["LoadBalancerArn"], op)
        if kind_of(listener.protocol) != lb.get("Type", "application"):
            raise Conflict(f"load balancer {lb['LoadBalancerName']} is an {lb.get('Type')} load balancer: "
                           f"a {listener.protocol} listener does not fit", provider=PROVIDER)
        if any(item["Port"] == listener.port for item in current):
            raise Conflict(f"load balancer {lb['LoadBalancerName']} already listens on port {listener.port}",
                           provider=PROVIDER, code="DuplicateListener")
        model = self._model(lb, op)
        self._listen(lb, listener, model.health_check, model.deregistration_delay, op)
        return listener

    def _remove_listener(self, load_balancer: str, port: int) -> None:
        op = "remove_listener"
        lb = self._describe(load_balancer, op)
        arn = lb["LoadBalancerArn"]
        current = self._listeners(arn, op)
        found = [item for item in current if item["Port"] == port]
        if not found:
            raise NotFound(f"load balancer {lb['LoadBalancerName']} has no listener on port {port}", provider=PROVIDER,
                           code="ListenerNotFound")
        self._call("delete_listener", op, ListenerArn=found[0]["ListenerArn"])
        gone = _target_port(found[0])
        if gone is not None and all(_target_port(item) != gone for item in current if item is not found[0]):
            group = self._group(arn, gone, op)
            if group is not None:
                self._call("delete_target_group", op, TargetGroupArn=group["TargetGroupArn"])

    # ------------------------------------------------------------ targets
    def _check_targets(self, targets: list[Target], operation: str) -> None:
        for t in targets:
            if t.instance_id is None:
                raise NotSupported(PROVIDER, f"loadbalancer.{operation}",
                                   "address targets: aws target groups here are of type instance (register instances)")

    def _register_targets(self, load_balancer: str, targets: list[Target]) -> None:
        op = "register_targets"
        self._check_targets(targets, op)
        lb = self._describe(load_balancer, op)
        arn = lb["LoadBalancerArn"]
        registry = self._group(arn, None, op)
        if registry is None:
            raise ProviderError(f"load balancer {lb['LoadBalancerName']} has no registry target group "
                                f"({_group_name(arn, None)}): it was not made by cloudkit", provider=PROVIDER)
        self._call("register_targets", op, TargetGroupArn=registry["TargetGroupArn"],
                   Targets=[_native_target(t, ANY_PORT) for t in targets])
        for port, group in self._groups(arn, op).items():
            self._call("register_targets", op, TargetGroupArn=group["TargetGroupArn"],
                       Targets=[_native_target(t, port) for t in targets])

    def _deregister_targets(self, load_balancer: str, targets: list[Target]) -> None:
        op = "deregister_targets"
        self._check_targets(targets, op)
        lb = self._describe(load_balancer, op)
        arn = lb["LoadBalancerArn"]
        registry = self._group(arn, None, op)
        members = [] if registry is None else self._members(registry["TargetGroupArn"], op)
        for t in targets:
            if t not in members:
                raise NotFound(f"target {t.instance_id} is not registered with load balancer {lb['LoadBalancerName']}; "
                               "nothing was changed", provider=PROVIDER, code="InvalidTarget")
        assert registry is not None
        self._call("deregister_targets", op, TargetGroupArn=registry["TargetGroupArn"],
                   Targets=[_native_target(t, ANY_PORT) for t in targets])
        for port, group in self._groups(arn, op).items():
            self._call("deregister_targets", op, TargetGroupArn=group["TargetGroupArn"],
                       Targets=[_native_target(t, port) for t in targets])

    def _target_health(self, load_balancer: str) -> list[TargetHealth]:
        op = "target_health"
        lb = self._describe(load_balancer, op)
        arn = lb["LoadBalancerArn"]
        groups = self._groups(arn, op)
        unused = not groups  # no listener: every registration is unused (read from the registry group)
        if unused:
            registry = self._group(arn, None, op)
            groups = {} if registry is None else {ANY_PORT: registry}
        out: dict[Target, TargetHealth] = {}
        for group in groups.values():
            found = self._call("describe_target_health", op, TargetGroupArn=group["TargetGroupArn"])
            for item in found["TargetHealthDescriptions"]:
                port = item["Target"].get("Port")
                shown = Target(instance_id=item["Target"]["Id"], port=None if port == ANY_PORT else port)
                health = item.get("TargetHealth", {})
                native = health.get("State", "")
                state = "unused" if unused else _HEALTH.get(native, "unhealthy")
                out.setdefault(shown, TargetHealth(target=shown, state=state,
                                                   reason=health.get("Description") or health.get("Reason"),
                                                   extra={"native_state": native, "reason_code": health.get("Reason")}))
        return list(out.values())

    def _set_health_check(self, load_balancer: str, health_check: HealthCheck) -> LoadBalancer:
        op = "set_health_check"
        lb = self._describe(load_balancer, op)
        arn = lb["LoadBalancerArn"]
        check = resolved_health_check(health_check, lb.get("Type", "application"))
        params = _check_params(check, lb.get("Type", "application"))
        targets = [g for g in (self._group(arn, None, op), *self._groups(arn, op).values()) if g is not None]
        for group in targets:
            self._call("modify_target_group", op, TargetGroupArn=group["TargetGroupArn"], **params)
        return self._model(self._describe(arn, op), op)


# ---------------------------------------------------------------- helpers
def _real_port(item: Listener, field: str) -> None:
    if item.port == 0:
        raise InvalidInput(field, "must be 1 to 65535 on aws (ELB cannot pick a free port)")


def _target_port(listener: Mapping[str, Any]) -> int | None:
    """The target port of a listener: the port of the group its default action forwards to (from the group's name)."""
    for action in listener.get("DefaultActions", []):
        group = action.get("TargetGroupArn") or ""
        name = group.split(":targetgroup/", 1)[-1].split("/", 1)[0]
        tail = name.rsplit("-", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return None


def _native_target(t: Target, port: int) -> dict[str, Any]:
    return {"Id": t.instance_id, "Port": t.port or port}


def _check_params(check: HealthCheck, kind: str) -> dict[str, Any]:
    proto = (check.protocol or ("tcp" if kind == "network" else "http")).upper()
    params: dict[str, Any] = {
        "HealthCheckProtocol": proto, "HealthCheckPort": str(check.port) if check.port else "traffic-port",
        "HealthCheckIntervalSeconds": check.interval, "HealthCheckTimeoutSeconds": check.timeout,
        "HealthyThresholdCount": check.healthy_threshold, "UnhealthyThresholdCount": check.unhealthy_threshold,
    }
    if proto in ("HTTP", "HTTPS"):
        params["HealthCheckPath"] = check.path
        params["Matcher"] = {"HttpCode": "200-399"}
    return params


def _check_of(group: Mapping[str, Any]) -> HealthCheck:
    port = group.get("HealthCheckPort")
    return HealthCheck(
        protocol=str(group.get("HealthCheckProtocol", "HTTP")).lower(), path=group.get("HealthCheckPath") or "/",
        port=int(port) if port and str(port).isdigit() else None,
        interval=int(group.get("HealthCheckIntervalSeconds", 30)), timeout=int(group.get("HealthCheckTimeoutSeconds", 5)),
        healthy_threshold=int(group.get("HealthyThresholdCount", 3)),
        unhealthy_threshold=int(group.get("UnhealthyThresholdCount", 3)),
    )


__all__ = ["AwsLoadBalancer", "make_service"]
