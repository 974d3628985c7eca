"""The frozen value classes every service returns (and accepts).

See :mod:`cloudkit.models._base` for what every model guarantees (hashable, aware-UTC datetimes,
states from a documented enumeration). :data:`STATE_FIELDS` lists, per model, the fields whose
values come from an enumeration; the conformance kit checks every returned model against it.
"""

# LAZY EXPORTS (PEP 562): names are imported on first use, so ``import cloudkit`` and a program
# that uses one family do not pay for every family's models. To export a new model: import it
# under TYPE_CHECKING below (for type checkers), add it to _MODULES (name -> submodule of
# cloudkit.models) and to __all__. A name in __all__ missing from _MODULES is still found (every
# submodule is searched), only more slowly.
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cloudkit.models.compute import (
        INSTANCE_STATES,
        SNAPSHOT_STATES,
        VOLUME_STATES,
        Image,
        Instance,
        InstanceType,
        KeyPair,
        Location,
        SecurityGroup,
        SecurityRule,
        Volume,
        VolumeSnapshot,
    )
    from cloudkit.models.database import (
        DATABASE_SNAPSHOT_STATES,
        DATABASE_STATES,
        DatabaseInstance,
        DatabaseParameterGroup,
        DatabaseSnapshot,
        Endpoint,
    )
    from cloudkit.models.dns import CHANGE_STATES, ChangeInfo, RecordChange, RecordSet, Zone
    from cloudkit.models.loadbalancer import (
        LISTENER_PROTOCOLS,
        LOAD_BALANCER_KINDS,
        LOAD_BALANCER_STATES,
        SCHEMES,
        TARGET_HEALTH_STATES,
        HealthCheck,
        Listener,
        LoadBalancer,
        Target,
        TargetHealth,
    )
    from cloudkit.models.notification import (
        DELIVERY_STATES,
        PROTOCOLS,
        SUBSCRIPTION_STATES,
        Delivery,
        PublishResult,
        Queue,
        QueueMessage,
        Subscription,
        Topic,
        TopicNotification,
    )
    from cloudkit.models.platform import (
        ENVIRONMENT_STATES,
        HEALTH_STATES,
        Application,
        AppVersion,
        ConfigurationTemplate,
        Environment,
        EnvironmentSettings,
        Event,
        InstanceLog,
        Stack,
    )
    from cloudkit.models.storage import (
        Bucket,
        CommonPrefix,
        DeleteResult,
        LifecycleReport,
        LifecycleRule,
        ObjectInfo,
    )


_MODULES: dict[str, str] = {
    "DatabaseParameterGroup": "database",
    "HealthCheck": "loadbalancer",
    "InstanceLog": "platform",
    "LISTENER_PROTOCOLS": "loadbalancer",
    "LOAD_BALANCER_KINDS": "loadbalancer",
    "LOAD_BALANCER_STATES": "loadbalancer",
    "Listener": "loadbalancer",
    "LoadBalancer": "loadbalancer",
    "SCHEMES": "loadbalancer",
    "TARGET_HEALTH_STATES": "loadbalancer",
    "Target": "loadbalancer",
    "TargetHealth": "loadbalancer",
    "AppVersion": "platform",
    "Application": "platform",
    "Bucket": "storage",
    "CHANGE_STATES": "dns",
    "ChangeInfo": "dns",
    "CommonPrefix": "storage",
    "ConfigurationTemplate": "platform",
    "DATABASE_SNAPSHOT_STATES": "database",
    "DATABASE_STATES": "database",
    "DELIVERY_STATES": "notification",
    "DatabaseInstance": "database",
    "DatabaseSnapshot": "database",
    "DeleteResult": "storage",
    "Delivery": "notification",
    "ENVIRONMENT_STATES": "platform",
    "Endpoint": "database",
    "Environment": "platform",
    "EnvironmentSettings": "platform",
    "Event": "platform",
    "HEALTH_STATES": "platform",
    "INSTANCE_STATES": "compute",
    "Image": "compute",
    "Instance": "compute",
    "InstanceType": "compute",
    "KeyPair": "compute",
    "LifecycleReport": "storage",
    "LifecycleRule": "storage",
    "Location": "compute",
    "ObjectInfo": "storage",
    "PROTOCOLS": "notification",
    "PublishResult": "notification",
    "Queue": "notification",
    "QueueMessage": "notification",
    "RecordChange": "dns",
    "RecordSet": "dns",
    "SNAPSHOT_STATES": "compute",
    "SUBSCRIPTION_STATES": "notification",
    "SecurityGroup": "compute",
    "SecurityRule": "compute",
    "Stack": "platform",
    "Subscription": "notification",
    "Topic": "notification",
    "TopicNotification": "notification",
    "VOLUME_STATES": "compute",
    "Volume": "compute",
    "VolumeSnapshot": "compute",
    "Zone": "dns",
}


def _state_fields() -> dict[tuple[type, str], tuple[str, ...]]:
    from cloudkit.models.compute import INSTANCE_STATES, SNAPSHOT_STATES, VOLUME_STATES, Instance, Volume, VolumeSnapshot
    from cloudkit.models.database import DATABASE_SNAPSHOT_STATES, DATABASE_STATES, DatabaseInstance, DatabaseSnapshot
    from cloudkit.models.dns import CHANGE_STATES, ChangeInfo
    from cloudkit.models.loadbalancer import (
        LISTENER_PROTOCOLS,
        LOAD_BALANCER_KINDS,
        LOAD_BALANCER_STATES,
        SCHEMES,
        TARGET_HEALTH_STATES,
        Listener,
        LoadBalancer,
        TargetHealth,
    )
    from cloudkit.models.notification import DELIVERY_STATES, PROTOCOLS, SUBSCRIPTION_STATES, Delivery, Subscription
    from cloudkit.models.platform import ENVIRONMENT_STATES, HEALTH_STATES, Environment

    return {
        (Instance, "state"): INSTANCE_STATES,
        (Volume, "state"): VOLUME_STATES,
        (VolumeSnapshot, "state"): SNAPSHOT_STATES,
        (DatabaseInstance, "status"): DATABASE_STATES,
        (DatabaseSnapshot, "status"): DATABASE_SNAPSHOT_STATES,
        (DatabaseSnapshot, "kind"): ("manual", "automated"),
        (ChangeInfo, "status"): CHANGE_STATES,
        (Subscription, "status"): SUBSCRIPTION_STATES,
        (Subscription, "protocol"): PROTOCOLS,
        (Delivery, "status"): DELIVERY_STATES,
        (Delivery, "protocol"): PROTOCOLS,
        (Environment, "status"): ENVIRONMENT_STATES,
        (Environment, "health"): HEALTH_STATES,
        (LoadBalancer, "state"): LOAD_BALANCER_STATES,
        (LoadBalancer, "kind"): LOAD_BALANCER_KINDS,
        (LoadBalancer, "scheme"): SCHEMES,
        (Listener, "protocol"): LISTENER_PROTOCOLS,
        (TargetHealth, "state"): TARGET_HEALTH_STATES,
    }


if TYPE_CHECKING:
    #: (model class, field name) -> the enumeration the field's values come from.
    STATE_FIELDS: dict[tuple[type, str], tuple[str, ...]]


def __getattr__(name: str) -> Any:
    """Import a model (or enumeration) the first time it is asked for, and keep it."""
    if name == "STATE_FIELDS":
        value: Any = _state_fields()
    elif name in _MODULES:
        value = getattr(importlib.import_module(f"cloudkit.models.{_MODULES[name]}"), name)
    elif name in __all__:
        value = _search(name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def _search(name: str) -> Any:
    import pkgutil

    for sub in pkgutil.iter_modules(__path__):
        module = importlib.import_module(f"cloudkit.models.{sub.name}")
        if not sub.name.startswith("_") and hasattr(module, name):
            return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "CHANGE_STATES",
    "DATABASE_SNAPSHOT_STATES",
    "DATABASE_STATES",
    "DELIVERY_STATES",
    "ENVIRONMENT_STATES",
    "HEALTH_STATES",
    "INSTANCE_STATES",
    "LISTENER_PROTOCOLS",
    "LOAD_BALANCER_KINDS",
    "LOAD_BALANCER_STATES",
    "PROTOCOLS",
    "SCHEMES",
    "SNAPSHOT_STATES",
    "STATE_FIELDS",
    "SUBSCRIPTION_STATES",
    "TARGET_HEALTH_STATES",
    "VOLUME_STATES",
    "AppVersion",
    "Application",
    "Bucket",
    "ChangeInfo",
    "CommonPrefix",
    "ConfigurationTemplate",
    "DatabaseInstance",
    "DatabaseParameterGroup",
    "DatabaseSnapshot",
    "DeleteResult",
    "Delivery",
    "Endpoint",
    "Environment",
    "EnvironmentSettings",
    "Event",
    "HealthCheck",
    "Image",
    "Instance",
    "InstanceLog",
    "InstanceType",
    "KeyPair",
    "LifecycleReport",
    "LifecycleRule",
    "Listener",
    "LoadBalancer",
    "Location",
    "ObjectInfo",
    "PublishResult",
    "Queue",
    "QueueMessage",
    "RecordChange",
    "RecordSet",
    "SecurityGroup",
    "SecurityRule",
    "Stack",
    "Subscription",
    "Target",
    "TargetHealth",
    "Topic",
    "TopicNotification",
    "Volume",
    "VolumeSnapshot",
    "Zone",
]
