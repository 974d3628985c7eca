"""References: every parameter that names a resource accepts the model or its id, in every family.

The rule (documented in ``docs/guide.md``, section "Model or id"):

* A *reference* is the model a list or get call returned, or a string. Passing the model and
  passing its reference string are the same call: the core reduces both to one validated string
  before a driver runs, so a driver only ever receives strings.
* The reference string of each model is one field, named in :data:`KINDS`: ``id`` where the model
  has one, else the field that identifies it (a bucket's ``name``, an object's ``key``, an
  instance type's ``name``, a key pair's ``name``, an application's ``name``, a version's
  ``label``, a template's ``name``, a stack's ``name``, a queue message's ``receipt``).
* Where a family's resources have unique names, the string may be the name instead of the id, and
  the provider resolves it (zones, topics, queues, environments; for buckets, key pairs,
  applications and database instances the name *is* the id; load balancers). Instances, images, volumes,
  snapshots, subscriptions and security groups are referenced by id only: their names are not
  unique (or not names at all).
* A model of the wrong kind (a ``Topic`` where a ``Queue`` is expected) is refused with
  :class:`~cloudkit.errors.InvalidInput` naming the parameter and the accepted types, as is
  anything that is neither a model nor a string. A model that lives inside another resource (an
  object in a bucket, a version or template of an application) must belong to the one named
  beside it.

:func:`ref` is the one function the family interfaces call; the ``...Ref`` aliases below are the
annotations of the parameters that take references, which the conformance kit reads to exercise
every such parameter with the model and with the id (:mod:`cloudkit.testing.references`).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Union

import attrs

from cloudkit import validation as v
from cloudkit.errors import InvalidInput

# LAZY MODELS: the models are imported when a reference is first checked (the KINDS table) or an
# alias is first imported (each alias loads only its own family's models), not with this module.
if TYPE_CHECKING:
    from cloudkit.models.compute import Image, Instance, InstanceType, KeyPair, Location, SecurityGroup, Volume, VolumeSnapshot
    from cloudkit.models.database import DatabaseInstance, DatabaseParameterGroup, DatabaseSnapshot
    from cloudkit.models.dns import Zone
    from cloudkit.models.loadbalancer import LoadBalancer
    from cloudkit.models.notification import Queue, QueueMessage, Subscription, Topic
    from cloudkit.models.platform import Application, AppVersion, ConfigurationTemplate, Environment, Stack
    from cloudkit.models.storage import Bucket, ObjectInfo

__all__ = [
    "KINDS",
    "AppRef",
    "BucketRef",
    "DatabaseRef",
    "DatabaseParameterGroupRef",
    "DatabaseSnapshotRef",
    "EnvRef",
    "GroupRef",
    "ImageRef",
    "InstanceRef",
    "InstanceTypeRef",
    "KeyPairRef",
    "LoadBalancerRef",
    "LocationRef",
    "MessageRef",
    "ObjectRef",
    "QueueRef",
    "RefKind",
    "StackRef",
    "SubscriptionRef",
    "TemplateRef",
    "TopicRef",
    "VersionRef",
    "VolumeRef",
    "VolumeSnapshotRef",
    "ZoneRef",
    "optional_ref",
    "ref",
    "ref_kinds",
    "refs",
]

Check = Callable[[str, object], str]


def _ref_text(max_len: int) -> Check:
    """The generic check of a reference string: one line of at most ``max_len`` characters."""
    return functools.partial(_reference, max_len=max_len)


def _reference(field: str, value: object, *, max_len: int) -> str:
    return v.reference(field, value, max_len=max_len)


def _swap(check: Callable[[object, str], str]) -> Check:
    """Adapt a ``check(value, field)`` validator to the ``(field, value)`` order."""
    return lambda field, value: check(value, field)


@attrs.frozen
class RefKind:
    """How one model type is referenced.

    ``attribute`` is the model's field holding its reference string, ``check`` validates a
    reference string (``check(field, value) -> str``), ``noun`` says what the string is in
    messages, ``by_name`` whether the provider also resolves the resource's name, and ``scope`` the
    model's field naming the resource it lives in (``None`` for top-level resources).
    """

    model: type[Any]
    attribute: str
    check: Check
    noun: str
    by_name: bool = False
    scope: str | None = None


@functools.cache
def _kinds() -> Mapping[type[Any], RefKind]:
    """The one table of references: each model type a parameter may name, with how it is referenced."""
    from cloudkit.models.compute import Image, Instance, InstanceType, KeyPair, Location, SecurityGroup, Volume, VolumeSnapshot
    from cloudkit.models.database import DatabaseInstance, DatabaseParameterGroup, DatabaseSnapshot
    from cloudkit.models.dns import Zone
    from cloudkit.models.loadbalancer import LoadBalancer
    from cloudkit.models.notification import Queue, QueueMessage, Subscription, Topic
    from cloudkit.models.platform import Application, AppVersion, ConfigurationTemplate, Environment, Stack
    from cloudkit.models.storage import Bucket, ObjectInfo

    return {
        kind.model: kind
        for kind in (
            # storage
            RefKind(Bucket, "name", _swap(v.bucket_name), "bucket name"),
            RefKind(ObjectInfo, "key", _swap(v.object_key), "object key", scope="bucket"),
            # dns
            RefKind(Zone, "id", _ref_text(2048), "zone id or name", by_name=True),
            # notification
            RefKind(Topic, "id", _ref_text(2048), "topic id or name", by_name=True),
            RefKind(Subscription, "id", _ref_text(2048), "subscription id"),
            RefKind(Queue, "id", _ref_text(2048), "queue id or name", by_name=True),
            RefKind(QueueMessage, "receipt", _ref_text(2048), "receipt"),
            # compute
            RefKind(Image, "id", _ref_text(2048), "image id"),
            RefKind(Instance, "id", _ref_text(2048), "instance id"),
            RefKind(InstanceType, "name", _ref_text(255), "instance type name"),
            RefKind(Location, "id", _ref_text(255), "location id"),
            RefKind(KeyPair, "name", _ref_text(255), "key pair name"),
            RefKind(SecurityGroup, "id", _ref_text(2048), "security group id"),
            RefKind(Volume, "id", _ref_text(2048), "volume id"),
            RefKind(VolumeSnapshot, "id", _ref_text(2048), "snapshot id"),
            # database
            RefKind(DatabaseInstance, "id", _swap(v.db_identifier), "instance identifier"),
            RefKind(DatabaseSnapshot, "id", _swap(v.db_identifier), "snapshot identifier"),
            RefKind(DatabaseParameterGroup, "name", _swap(v.db_parameter_group_name), "parameter group name"),
            # platform
            RefKind(Application, "name", _swap(v.application_name), "application name"),
            RefKind(AppVersion, "label", _swap(v.version_label), "version label", scope="application"),
            RefKind(Environment, "id", _ref_text(2048), "environment id or name", by_name=True),
            RefKind(ConfigurationTemplate, "name", _ref_text(100), "template name", scope="application"),
            RefKind(Stack, "name", _ref_text(256), "stack name"),
            # loadbalancer
            RefKind(LoadBalancer, "id", _ref_text(2048), "load balancer id or name", by_name=True),
        )
    }


if TYPE_CHECKING:
    #: The one table of references (see :func:`_kinds`).
    KINDS: Mapping[type[Any], RefKind]
    BucketRef = Union[Bucket, str]
    ObjectRef = Union[ObjectInfo, str]
    ZoneRef = Union[Zone, str]
    TopicRef = Union[Topic, str]
    SubscriptionRef = Union[Subscription, str]
    QueueRef = Union[Queue, str]
    MessageRef = Union[QueueMessage, str]
    ImageRef = Union[Image, str]
    InstanceRef = Union[Instance, str]
    InstanceTypeRef = Union[InstanceType, str]
    LocationRef = Union[Location, str]
    KeyPairRef = Union[KeyPair, str]
    GroupRef = Union[SecurityGroup, str]
    VolumeRef = Union[Volume, str]
    VolumeSnapshotRef = Union[VolumeSnapshot, str]
    DatabaseRef = Union[DatabaseInstance, str]
    DatabaseSnapshotRef = Union[DatabaseSnapshot, str]
    DatabaseParameterGroupRef = Union[DatabaseParameterGroup, str]
    AppRef = Union[Application, str]
    VersionRef = Union[AppVersion, str]
    EnvRef = Union[Environment, str]
    TemplateRef = Union[ConfigurationTemplate, str]
    StackRef = Union[Stack, str]
    LoadBalancerRef = Union[LoadBalancer, str]

#: alias -> (submodule of cloudkit.models, model): the ``...Ref`` annotations, built on first import.
_ALIASES: dict[str, tuple[str, str]] = {
    "BucketRef": ("storage", "Bucket"),
    "ObjectRef": ("storage", "ObjectInfo"),
    "ZoneRef": ("dns", "Zone"),
    "TopicRef": ("notification", "Topic"),
    "SubscriptionRef": ("notification", "Subscription"),
    "QueueRef": ("notification", "Queue"),
    "MessageRef": ("notification", "QueueMessage"),
    "ImageRef": ("compute", "Image"),
    "InstanceRef": ("compute", "Instance"),
    "InstanceTypeRef": ("compute", "InstanceType"),
    "LocationRef": ("compute", "Location"),
    "KeyPairRef": ("compute", "KeyPair"),
    "GroupRef": ("compute", "SecurityGroup"),
    "VolumeRef": ("compute", "Volume"),
    "VolumeSnapshotRef": ("compute", "VolumeSnapshot"),
    "DatabaseRef": ("database", "DatabaseInstance"),
    "DatabaseSnapshotRef": ("database", "DatabaseSnapshot"),
    "DatabaseParameterGroupRef": ("database", "DatabaseParameterGroup"),
    "AppRef": ("platform", "Application"),
    "VersionRef": ("platform", "AppVersion"),
    "EnvRef": ("platform", "Environment"),
    "TemplateRef": ("platform", "ConfigurationTemplate"),
    "StackRef": ("platform", "Stack"),
    "LoadBalancerRef": ("loadbalancer", "LoadBalancer"),
}


def __getattr__(name: str) -> Any:
    """Build ``KINDS`` or a ``...Ref`` alias the first time it is asked for, and keep it."""
    if name == "KINDS":
        value: Any = _kinds()
    elif name in _ALIASES:
        module, model = _ALIASES[name]
        value = Union[getattr(importlib.import_module(f"cloudkit.models.{module}"), model), str]
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def _article(word: str) -> str:
    return f"an {word}" if word[:1].lower() in "aeiou" else f"a {word}"


def _accepted(kinds: tuple[RefKind, ...]) -> str:
    models = " or ".join(_article(k.model.__name__) for k in kinds)
    return f"must be {models}, or a string (the {kinds[0].noun})"


def ref(value: object, field: str, *models: type[Any], within: str | None = None) -> str:
    """The validated reference string of ``value``: one of ``models`` or a string.

    ``field`` names the parameter in errors. ``within`` is the (validated) reference of the
    resource the parameter lives in, when it has one (the bucket of an object key): a model
    from another one is refused. Raises :class:`InvalidInput` naming ``field`` and listing the
    accepted types for anything else.
    """
    if not models:
        raise TypeError("ref() needs at least one model type")
    kinds = tuple(_kinds()[m] for m in models)
    if isinstance(value, str):
        return kinds[0].check(field, value)
    for kind in kinds:
        if isinstance(value, kind.model):
            if within is not None and kind.scope is not None:
                owner = getattr(value, kind.scope)
                if owner != within:
                    raise InvalidInput(
                        field, f"is {_article(kind.model.__name__)} of {kind.scope} {owner!r}, not of {within!r}"
                    )
            return kind.check(field, getattr(value, kind.attribute))
    raise InvalidInput(field, f"{_accepted(kinds)}, not {type(value).__name__}")


def optional_ref(value: object, field: str, *models: type[Any], within: str | None = None) -> str | None:
    """:func:`ref`, with ``None`` passed through."""
    return None if value is None else ref(value, field, *models, within=within)


def refs(values: object, field: str, *models: type[Any], within: str | None = None) -> list[str]:
    """:func:`ref` of each item of an iterable (a single string or model is refused: give a sequence)."""
    kinds = tuple(_kinds()[m] for m in models)
    if isinstance(values, (str, bytes)) or any(isinstance(values, k.model) for k in kinds) or not isinstance(values, Iterable):
        models_ = " or ".join(k.model.__name__ for k in kinds)
        raise InvalidInput(field, f"must be a sequence of {models_} models or strings (each the {kinds[0].noun})")
    return [ref(item, field, *models, within=within) for item in values]


def ref_kinds(hint: object) -> tuple[RefKind, ...]:
    """The reference kinds an annotation accepts (``BucketRef``, ``QueueRef | None``...), else ``()``.

    Used by the conformance kit to find, from the signatures alone, every parameter that takes a
    reference.
    """
    import types
    import typing

    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        found: list[RefKind] = []
        for arg in typing.get_args(hint):
            found.extend(k for k in ref_kinds(arg) if k not in found)
        return tuple(found)
    if isinstance(hint, type) and hint in _kinds():
        return (_kinds()[hint],)
    return ()
