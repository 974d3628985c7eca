"""The reference suite: every resource parameter of every family is exercised with the model and with the id.

The cases are generated from the signatures: :func:`reference_parameters` reads each public
operation's annotations and finds every parameter typed with a reference alias of
:mod:`cloudkit.refs` (``BucketRef``, ``QueueRef | None``, ``Sequence[GroupRef]``...), so a new
reference parameter is covered without writing a test.

:func:`check_reference` runs one operation twice on a service: once passing a model for the
parameter, once passing that model's reference string, with the provider's driver methods replaced
(on that service instance only, for the duration of the check) by a recorder that stops the call
where it reaches the driver. Nothing is created, changed or sent. The two runs must reach the
driver with the same arguments, and the reference string must be among them; when a provider
overrides a public method and never reaches its driver methods, the two outcomes must be the same.
A provider that refuses a model where it accepts the id fails.

Subclass :class:`ReferenceConformance` in a provider's tests (with a ``cloudkit_cloud`` fixture),
or run ``pytest --pyargs cloudkit.testing``.
"""

from __future__ import annotations

import inspect
import os
import tempfile
import typing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import attrs
import pytest

from cloudkit.cloud import Cloud
from cloudkit.errors import CloudkitError
from cloudkit.models import STATE_FIELDS
from cloudkit.models.compute import SecurityRule
from cloudkit.models.dns import RecordChange, RecordSet, Zone
from cloudkit.refs import KINDS, RefKind, ref_kinds
from cloudkit.services.base import Service
from cloudkit.services.compute import ComputeService
from cloudkit.services.database import DatabaseService
from cloudkit.services.dns import DNSService
from cloudkit.services.loadbalancer import LoadBalancerService
from cloudkit.services.notification import NotificationService
from cloudkit.services.platform import PlatformService
from cloudkit.services.storage import StorageService
from cloudkit.testing.helpers import Conformance

#: The family interfaces whose reference parameters the suite exercises.
INTERFACES: tuple[type[Service], ...] = (
    StorageService, DNSService, NotificationService, ComputeService, DatabaseService, PlatformService,
    LoadBalancerService,
)

#: The reference string given for the parameter under test (valid for every kind's rule).
TARGET = "ckref-target1"
#: The reference string given for every other reference parameter.
OTHER = "ckref-other0"

_RECORD = RecordSet(name="www", type="A", ttl=300, values=("192.0.2.1",))
_ZIP = b"PK\x05\x06" + b"\x00" * 18

#: Values for the required parameters that are not references: ``"operation.parameter"`` first,
#: then the parameter name. A new operation with a required parameter of a new name needs an
#: entry here (the case says so when it is missing). Callables are called for a fresh value.
SAMPLES: dict[str, Any] = {
    "storage.put_object.key": "k.txt",
    "storage.upload_file.key": "k.txt",
    "data": b"x",
    "dst_key": "copy.txt",
    "rules": [],
    "compute.authorize_ingress.rules": [SecurityRule(protocol="tcp", from_port=22, to_port=22)],
    "compute.revoke_ingress.rules": [SecurityRule(protocol="tcp", from_port=22, to_port=22)],
    "dns.get_record.name": "www",
    "type": "A",
    "changes": [RecordChange("UPSERT", _RECORD)],
    "records": [_RECORD],
    "desired": [_RECORD],
    "text": "www 300 IN A 192.0.2.1\n",
    "protocol": "queue",
    "token": "token-1",
    "message": "hello",
    "compute.create_image.name": "img-1",
    "compute.create_instance.name": "web-1",
    "device": "/dev/sdf",
    "state": "running",
    "size_gb": 1,
    "identifier": "ckref-new0",
    "snapshot_id": "ckref-snap0",
    "label": "v1",
    "source": _ZIP,
    "platform.create_environment.name": "env-1",
    "platform.create_template.name": "tpl-1",
    "settings": lambda: __import__("cloudkit").EnvironmentSettings(env_vars={"A": "1"}),
    "loadbalancer.add_listener.listener": lambda: __import__("cloudkit").Listener(protocol="http", port=8080, target_port=80),
    "loadbalancer.remove_listener.listener": 8080,
    "health_check": lambda: __import__("cloudkit").HealthCheck(path="/health"),
    "engine": "postgres",
    "master_username": "master",
    "master_password": "Ref-Pass-1234",
    "database.modify_parameter_group.parameters": {"work_mem": "8MB"},
    "target_id": "ckref-copy0",
}


@attrs.frozen
class ReferenceParameter:
    """One parameter that takes a reference: where it is and which models it accepts."""

    family: str
    operation: str
    parameter: str
    kinds: tuple[RefKind, ...]
    many: bool = False
    optional: bool = False

    @property
    def id(self) -> str:
        """``family.operation.parameter``, the case's test id."""
        return f"{self.family}.{self.operation}.{self.parameter}"


def _public(interface: type[Service], operation: str) -> Callable[..., Any]:
    return typing.cast(Callable[..., Any], inspect.unwrap(getattr(interface, operation)))


def interface_of(service: Service) -> type[Service]:
    """The family interface ``service`` implements: the nearest class declaring its own ``OPERATIONS``."""
    for klass in type(service).__mro__:
        if "OPERATIONS" in vars(klass) and vars(klass)["OPERATIONS"]:
            return klass
    return type(service)


def reference_parameters(interface: type[Service]) -> list[ReferenceParameter]:
    """Every reference parameter of the public operations of ``interface``, from the annotations."""
    out: list[ReferenceParameter] = []
    for op in interface.OPERATIONS:
        method = _public(interface, op)
        hints = typing.get_type_hints(method)
        for name in inspect.signature(method).parameters:
            hint = hints.get(name)
            if hint is None:
                continue
            optional = type(None) in typing.get_args(hint)
            kinds, many = ref_kinds(hint), False
            if not kinds:
                for arg in (hint, *typing.get_args(hint)):
                    if typing.get_origin(arg) in (Sequence, Iterable, list, tuple) and typing.get_args(arg):
                        kinds, many = ref_kinds(typing.get_args(arg)[0]), True
                        break
            if kinds:
                out.append(ReferenceParameter(interface.family, op, name, kinds, many, optional))
    return out


def all_reference_parameters() -> list[ReferenceParameter]:
    """:func:`reference_parameters` of every family interface."""
    return [p for interface in INTERFACES for p in reference_parameters(interface)]


def sample_model(model: type[Any], ident: str, scope: str = OTHER) -> Any:
    """A model of ``model`` whose reference string is ``ident`` (living in ``scope`` where it has one)."""
    kind = KINDS[model]
    hints = typing.get_type_hints(model)
    values: dict[str, Any] = {}
    for field in attrs.fields(model):
        if field.name == kind.attribute:
            values[field.name] = ident
        elif field.name == kind.scope:
            values[field.name] = scope
        elif field.default is attrs.NOTHING:
            choices = STATE_FIELDS.get((model, field.name))
            hint = hints.get(field.name)
            if choices:
                values[field.name] = choices[0]
            elif model is Zone and field.name == "name":
                values[field.name] = "example.com."
            elif hint is int:
                values[field.name] = 1
            elif type(None) in typing.get_args(hint):
                values[field.name] = None
            else:
                values[field.name] = "x"
    return model(**values)


class _Reached(CloudkitError):
    """Raised by the recorder where a call reaches the driver (passes the core boundary unchanged)."""


def _flatten(value: Any) -> Iterator[Any]:
    if isinstance(value, (str, bytes, int, float, bool)) or value is None:
        yield value
    elif attrs.has(type(value)):
        for field in attrs.fields(type(value)):
            yield from _flatten(getattr(value, field.name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield key
            yield from _flatten(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _flatten(item)


def _normal(value: Any) -> Any:
    """A comparable view of a driver argument (streams and other live objects become their type name)."""
    if isinstance(value, (str, bytes, int, float, bool, os.PathLike)) or value is None or attrs.has(type(value)):
        return value
    if isinstance(value, Mapping):
        return {k: _normal(item) for k, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normal(item) for item in value]
    return f"<{type(value).__name__}>"


class _Recorder:
    """Replaces a service's driver methods on the instance, records the calls, stops at the driver."""

    def __init__(self, service: Service) -> None:
        self.service = service
        self.calls: list[tuple[str, Any, Any]] = []
        interface = interface_of(service)
        self.drivers = sorted({"_" + op for op in interface.OPERATIONS if hasattr(type(service), "_" + op)})
        self.returns: dict[str, Any] = {}
        for name in self.drivers:
            # what a driver returns is what its public operation returns (lookups: get_zone -> Zone)
            public = getattr(interface, name[1:], None)
            try:
                self.returns[name] = typing.get_type_hints(inspect.unwrap(public)).get("return") if public else None
            except Exception:
                self.returns[name] = None

    def __enter__(self) -> _Recorder:
        for name in self.drivers:
            setattr(self.service, name, self._stub(name))
        return self

    def __exit__(self, *exc: object) -> None:
        for name in self.drivers:
            self.service.__dict__.pop(name, None)

    def start(self, operation: str) -> None:
        """Forget earlier calls; ``operation`` is the one about to run."""
        self.calls = []
        self.operation = operation

    def _stub(self, name: str) -> Callable[..., Any]:
        def record(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, _normal(args), _normal(kwargs)))
            returns = self.returns.get(name)
            # A lookup another operation makes on the way (DNS resolves a zone name) is answered.
            if name.startswith("_get_") and name != "_" + self.operation and isinstance(returns, type) and returns in KINDS and args:
                return sample_model(returns, args[0])
            raise _Reached(f"reached {name}")

        return record


def _sample(param: ReferenceParameter, name: str, temp: str) -> Any:
    key = f"{param.family}.{param.operation}.{name}"
    if key in SAMPLES:
        value = SAMPLES[key]
    elif name == "path" and param.operation == "upload_file":
        value = os.path.join(temp, "upload.bin")
    elif name == "path":
        value = os.path.join(temp, "download.bin")
    elif name in SAMPLES:
        value = SAMPLES[name]
    else:
        raise LookupError(f"no sample value for {key}: add one to cloudkit.testing.references.SAMPLES")
    return value() if callable(value) else value


def _arguments(service: Service, param: ReferenceParameter, given: Any, temp: str) -> tuple[list[Any], dict[str, Any]]:
    """Positional and keyword arguments of one run: ``given`` for the parameter under test."""
    method = _public(interface_of(service), param.operation)
    hints = typing.get_type_hints(method)
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for name, p in list(inspect.signature(method).parameters.items())[1:]:
        if name == param.parameter:
            value = given
        elif ref_kinds(hints.get(name)) or any(ref_kinds(a) for a in typing.get_args(hints.get(name))):
            value = OTHER
        elif any(typing.get_origin(a) in (Sequence, Iterable) and ref_kinds((*typing.get_args(a), None)[0])
                 for a in (hints.get(name), *typing.get_args(hints.get(name)))):
            value = [OTHER]
        elif p.default is not inspect.Parameter.empty:
            continue
        else:
            value = _sample(param, name, temp)
        if p.kind is inspect.Parameter.KEYWORD_ONLY:
            kwargs[name] = value
        else:
            args.append(value)
    return args, kwargs


Outcome = tuple[str, Any]


def _run(service: Service, recorder: _Recorder, param: ReferenceParameter, given: Any, temp: str) -> Outcome:
    args, kwargs = _arguments(service, param, given, temp)
    recorder.start(param.operation)
    try:
        result = getattr(service, param.operation)(*args, **kwargs)
        if isinstance(result, Iterator):
            result = list(result)
    except _Reached:
        return "reached", recorder.calls[-1]
    except CloudkitError as exc:
        return "raised", exc
    return "returned", result


def check_reference(service: Service, param: ReferenceParameter, kind: RefKind | None = None) -> None:
    """Run ``param``'s operation with a model and with its reference string; fail unless they agree.

    Raises ``AssertionError`` describing the difference. ``kind`` picks one accepted model type
    (default: each in turn).
    """
    for k in (kind,) if kind is not None else param.kinds:
        model = sample_model(k.model, TARGET)
        as_model: Any = [model] if param.many else model
        as_id: Any = [TARGET] if param.many else TARGET
        where = f"{service.provider}: {param.id} with {k.model.__name__}"
        with tempfile.TemporaryDirectory(prefix="ckref-") as temp, _Recorder(service) as recorder:
            with open(os.path.join(temp, "upload.bin"), "wb") as fh:
                fh.write(b"x")
            by_id = _run(service, recorder, param, as_id, temp)
            by_model = _run(service, recorder, param, as_model, temp)
        if by_id[0] == "reached":
            if by_model[0] != "reached":
                raise AssertionError(
                    f"{where}: the id reaches the driver but the model does not ({_describe(by_model)})"
                )
            if by_model[1] != by_id[1]:
                raise AssertionError(f"{where}: the driver got {by_model[1]!r} for the model but {by_id[1]!r} for the id")
            if TARGET not in set(_flatten(by_id[1])):
                raise AssertionError(f"{where}: the reference {TARGET!r} never reached the driver ({by_id[1]!r})")
            return_ok = True
        else:
            return_ok = by_id[0] == by_model[0] and (
                type(by_id[1]) is type(by_model[1]) if by_id[0] == "raised" else by_id[1] == by_model[1]
            )
        if not return_ok:
            raise AssertionError(f"{where}: the id gave {_describe(by_id)} but the model gave {_describe(by_model)}")


def _describe(outcome: Outcome) -> str:
    what, value = outcome
    if what == "raised":
        return f"{type(value).__name__}: {value}"
    if what == "reached":
        return f"a driver call {value[0]}"
    return f"the result {value!r}"


class ReferenceConformance(Conformance):
    """Provider-neutral check that every reference parameter takes the model and the id alike."""

    @pytest.mark.parametrize("param", all_reference_parameters(), ids=lambda p: p.id)
    def test_model_and_id_are_the_same_reference(self, cloudkit_cloud: Cloud, param: ReferenceParameter) -> None:
        """The operation reaches the driver with the same arguments for the model and for its id."""
        service = cloudkit_cloud.service(param.family)
        if not service.supports(param.operation):
            pytest.skip(f"{cloudkit_cloud.provider_of(param.family)} does not support {param.family}.{param.operation}")
        check_reference(service, param)
