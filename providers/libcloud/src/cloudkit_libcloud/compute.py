"""Compute on any libcloud compute driver (EC2, GCE, DigitalOcean, OpenStack, ...).

Operations map to libcloud's ``NodeDriver`` API; an operation is offered when the driver class
implements the libcloud methods it needs (the base class raises ``NotImplementedError``).
Options of ``create_instance`` that libcloud only exposes as driver extensions (key pair, user
data, security groups, tags, IAM role, client token) are passed when the driver's ``create_node``
accepts the EC2-style ``ex_*`` argument, and rejected with ``NotSupported`` otherwise.
Security groups and console output have no portable libcloud API and are not offered.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from cloudkit.errors import InvalidInput, NotFound
from cloudkit.models.compute import Image, Instance, InstanceType, KeyPair, Location, Volume, VolumeSnapshot
from cloudkit.provider import poll_until
from cloudkit.services.compute import ComputeService
from cloudkit_libcloud._driver import LazyDriver
from cloudkit_libcloud.errors import LibcloudErrors, mapped

#: cloudkit operation -> the libcloud NodeDriver methods it needs.
_NEEDS: dict[str, tuple[str, ...]] = {
    "list_images": ("list_images",),
    "get_image": ("get_image",),
    "create_image": ("create_image", "get_image"),
    "list_instance_types": ("list_sizes",),
    "list_locations": ("list_locations",),
    "create_instance": ("create_node", "list_nodes"),
    "get_instance": ("list_nodes",),
    "list_instances": ("list_nodes",),
    "start_instance": ("start_node", "list_nodes"),
    "stop_instance": ("stop_node", "list_nodes"),
    "reboot_instance": ("reboot_node", "list_nodes"),
    "terminate_instance": ("destroy_node", "list_nodes"),
    "wait_for_instance": ("list_nodes",),
    "create_key_pair": ("create_key_pair",),
    "import_key_pair": ("import_key_pair_from_string",),
    "list_key_pairs": ("list_key_pairs",),
    "delete_key_pair": ("get_key_pair", "delete_key_pair"),
    "create_volume": ("create_volume", "list_volumes"),
    "list_volumes": ("list_volumes",),
    "delete_volume": ("destroy_volume",),
    "attach_volume": ("attach_volume", "list_volumes"),
    "detach_volume": ("detach_volume", "list_volumes"),
    "create_volume_snapshot": ("create_volume_snapshot",),
    "list_volume_snapshots": ("list_snapshots",),
    "delete_volume_snapshot": ("destroy_volume_snapshot",),
}
_NEVER = {
    "create_security_group": "libcloud has no portable security-group API",
    "list_security_groups": "libcloud has no portable security-group API",
    "delete_security_group": "libcloud has no portable security-group API",
    "authorize_ingress": "libcloud has no portable security-group API",
    "revoke_ingress": "libcloud has no portable security-group API",
    "get_console_output": "libcloud has no portable console-output API",
}
#: Tag holding a create_instance client token (see ``_create_instance``).
TOKEN_TAG = "cloudkit-client-token"
_STATES = {
    "running": "running",
    "pending": "pending",
    "starting": "pending",
    "rebooting": "pending",
    "reconfiguring": "pending",
    "migrating": "pending",
    "updating": "pending",
    "stopping": "stopping",
    "shutting-down": "stopping",
    "stopped": "stopped",
    "suspended": "stopped",
    "paused": "stopped",
    "terminated": "terminated",
}


def _plain(extra: Mapping[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (extra or {}).items() if isinstance(v, (str, int, float, bool)) or v is None}


def _utc(value: Any) -> datetime | None:
    """A libcloud time as aware UTC (its drivers parse the API's UTC times, some without a zone)."""
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _enum(value: Any) -> str:
    return str(getattr(value, "value", value) or "").lower()


#: libcloud volume states -> cloudkit's (cloudkit.models.VOLUME_STATES); the native one goes to extra.
_VOLUME_STATES = {
    "available": "available", "inuse": "in-use", "in-use": "in-use", "attaching": "in-use", "creating": "creating",
    "deleting": "deleting", "deleted": "deleted", "error": "error", "backup": "in-use",
}
#: libcloud snapshot states -> cloudkit's (cloudkit.models.SNAPSHOT_STATES): libcloud's ``available``
#: (EC2's ``completed``) is ``completed`` everywhere.
_SNAPSHOT_STATES = {
    "available": "completed", "completed": "completed", "creating": "pending", "pending": "pending",
    "restoring": "completed", "deleting": "deleting", "error": "error",
}


def _ec2_compat(driver: Any) -> None:
    """Make libcloud's EC2 driver work with EC2-compatible endpoints such as moto.

    Namespace: libcloud's EC2 parser must read responses whose XML namespace lacks the trailing slash.

    libcloud looks elements up in ``http://ec2.amazonaws.com/doc/2016-11-15/``; moto (and some
    EC2-compatible clouds) answer in ``.../2016-11-15`` without the slash, which makes every lookup
    come back empty. The namespace is rewritten before parsing; responses from AWS are unchanged.
    """
    from libcloud.compute.drivers.ec2 import NAMESPACE, EC2Response

    base = driver.connection.responseCls
    if not (isinstance(base, type) and issubclass(base, EC2Response)):
        return
    bare = f'xmlns="{NAMESPACE.rstrip("/")}"'
    full = f'xmlns="{NAMESPACE}"'

    class NamespaceTolerantResponse(base):  # type: ignore[misc, valid-type]
        def parse_body(self) -> Any:
            body: Any = self.body  # type: ignore[has-type]
            if isinstance(body, str) and bare in body:
                self.body = body.replace(bare, full)
            return super().parse_body()

        def parse_error(self) -> Any:
            text = super().parse_error()
            if not text and isinstance(self.body, str):
                # moto's error documents carry Code and Message in a shape libcloud's parser misses.
                code = re.search(r"<Code>([^<]*)</Code>", self.body)
                message = re.search(r"<Message>([^<]*)</Message>", self.body)
                text = ": ".join(m.group(1) for m in (code, message) if m)
            return text

    driver.connection.responseCls = NamespaceTolerantResponse

    def ex_create_tags(resource: Any, tags: Mapping[str, str]) -> bool:
        """libcloud's EC2 ``ex_create_tags`` with the API's documented 1-based parameter indexes.

        libcloud numbers ``ResourceId.0``/``Tag.0.Key`` from zero, which moto rejects with HTTP 400
        (and which ``create_volume`` and ``create_volume_snapshot`` call for every name).
        """
        if not tags:
            return False
        params = {"Action": "CreateTags", "ResourceId.1": resource.id}
        for i, key in enumerate(tags, start=1):
            params[f"Tag.{i}.Key"] = key
            params[f"Tag.{i}.Value"] = tags[key]
        driver.connection.request(driver.path, params=params)
        return True

    driver.ex_create_tags = ex_create_tags


class LibcloudCompute(LibcloudErrors, LazyDriver, ComputeService):
    """The compute family on a libcloud compute driver."""

    def __init__(self, provider: str, settings: Mapping[str, Any] | None = None) -> None:
        super().__init__(provider, settings)
        self._setup_driver("compute")
        from libcloud.compute.base import NodeDriver

        cls = self._driver_cls
        for op, methods in _NEEDS.items():
            lacking = [m for m in methods if getattr(cls, m, None) is getattr(NodeDriver, m, None) or not hasattr(cls, m)]
            if lacking:
                self.unsupported[op] = f"libcloud's {cls.__name__} does not implement {', '.join(lacking)}"
        self.unsupported.update(_NEVER)
        try:
            self._create_params = set(inspect.signature(cls.create_node).parameters)
        except (TypeError, ValueError):
            self._create_params = set()
        interval = self.settings.get("poll_interval", 2.0)
        if isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0:
            raise InvalidInput("poll_interval", "must be a number of seconds >= 0")
        self._poll = float(interval)

    def _prepare_driver(self, driver: Any) -> None:
        _ec2_compat(driver)

    @property
    def native(self) -> Any:
        """The libcloud ``NodeDriver``."""
        return self._driver

    # ---------------------------------------------------------------- conversions
    def _instance(self, node: Any) -> Instance:
        extra = node.extra or {}
        raw = _enum(extra.get("status")) or _enum(node.state)
        state = _STATES.get(raw) or _STATES.get(_enum(node.state), "pending")
        groups = []
        for g in extra.get("groups") or ():
            name = g.get("group_name") or g.get("group_id") if isinstance(g, Mapping) else str(g)
            if name:
                groups.append(str(name))
        image = extra.get("image_id") or getattr(getattr(node, "image", None), "id", None)
        size = extra.get("instance_type") or getattr(getattr(node, "size", None), "id", None)
        tags = {str(k): str(v) for k, v in (extra.get("tags") or {}).items() if k != TOKEN_TAG}
        created = _utc(getattr(node, "created_at", None))
        return Instance(
            id=str(node.id),
            name=tags.get("Name") or str(node.name),
            state=state,
            image_id=image,
            instance_type=size,
            key_pair=extra.get("key_name"),
            security_groups=tuple(groups),
            private_ip=(node.private_ips or [None])[0],
            public_ip=(node.public_ips or [None])[0],
            zone=extra.get("availability"),
            tags=tags,
            launched_at=created,
            extra=_plain(extra),
        )

    def _image(self, img: Any) -> Image:
        extra = img.extra or {}
        return Image(id=str(img.id), name=str(img.name or img.id), owner=extra.get("owner_id"),
                     description=extra.get("description"), extra=_plain(extra))

    def _volume(self, vol: Any) -> Volume:
        extra = vol.extra or {}
        state = _enum(vol.state) or _enum(extra.get("state"))
        return Volume(
            id=str(vol.id),
            size_gb=int(vol.size or 0),
            state=_VOLUME_STATES.get(state, "unknown"),
            name=vol.name if vol.name and vol.name != vol.id else None,
            zone=extra.get("zone"),
            attached_to=extra.get("instance_id"),
            device=extra.get("device"),
            snapshot_id=extra.get("snapshot_id") or None,
            extra={**_plain(extra), "native_state": state},
        )

    def _snapshot(self, snap: Any) -> VolumeSnapshot:
        extra = snap.extra or {}
        native = _enum(snap.state) or _enum(extra.get("state"))
        return VolumeSnapshot(
            id=str(snap.id),
            volume_id=extra.get("volume_id"),
            size_gb=int(snap.size or 0),
            state=_SNAPSHOT_STATES.get(native, "unknown"),
            description=str(extra.get("description") or ""),
            created_at=_utc(getattr(snap, "created", None)),
            extra={**_plain(extra), "native_state": native},
        )

    def _key_pair(self, kp: Any) -> KeyPair:
        return KeyPair(name=str(kp.name), fingerprint=kp.fingerprint, public_key=kp.public_key or None,
                       private_key=kp.private_key or None)

    # ---------------------------------------------------------------- native handles (no round trip)
    def _node(self, instance_id: str) -> Any:
        from libcloud.compute.base import Node
        from libcloud.compute.types import NodeState

        return Node(id=instance_id, name=instance_id, state=NodeState.UNKNOWN, public_ips=[], private_ips=[], driver=self._driver)

    def _native_volume(self, volume_id: str) -> Any:
        from libcloud.compute.base import StorageVolume

        return StorageVolume(id=volume_id, name=volume_id, size=0, driver=self._driver)

    def _find_node(self, instance_id: str) -> Any:
        with mapped(self.provider, "compute.get_instance"):
            params = inspect.signature(self._driver.list_nodes).parameters
            nodes = self._driver.list_nodes(ex_node_ids=[instance_id]) if "ex_node_ids" in params else self._driver.list_nodes()
        for node in nodes:
            if str(node.id) == instance_id:
                return node
        raise NotFound(f"compute.get_instance: instance {instance_id!r} does not exist", provider=self.provider)

    def _wait(self, what: str, target: str, fetch: Callable[[], Any], done: Callable[[Any], bool], timeout: float) -> Any:
        """Poll through the shared wait rule: a Timeout names the resource and its state, and deletes nothing."""
        return poll_until(fetch, done, timeout=timeout, what=what, target=target, interval=self._poll,
                          initial=min(self._poll, 0.5), state=lambda current: getattr(current, "state", None),
                          provider=self.provider)

    def _location(self, zone: str) -> Any:
        with mapped(self.provider, "compute.list_locations"):
            locations = self._driver.list_locations()
        for loc in locations:
            az = getattr(loc, "availability_zone", None)
            if zone in (str(loc.id), str(loc.name), getattr(az, "name", None)):
                return loc
        raise InvalidInput("zone", f"{zone!r} is not one of this provider's locations")

    # ---------------------------------------------------------------- catalogue
    def _list_images(self, name: str | None, owner: str | None) -> Iterator[Image]:
        params = set(inspect.signature(self._driver.list_images).parameters)
        kwargs: dict[str, Any] = {}
        if owner is not None and "ex_owner" in params:
            kwargs["ex_owner"] = owner
        if name is not None and "ex_filters" in params:
            kwargs["ex_filters"] = {"name": name}
        images = self._driver.list_images(**kwargs)
        for img in images:
            result = self._image(img)
            if name is not None and not fnmatch.fnmatchcase(result.name, name):
                continue
            if owner is not None and "ex_owner" not in kwargs and result.owner != owner:
                continue
            yield result

    def _get_image(self, image_id: str) -> Image:
        return self._image(self._driver.get_image(image_id))

    def _create_image(self, instance_id: str, name: str, wait: bool, timeout: float) -> Image:
        img = self._driver.create_image(self._node(instance_id), name)
        return self._image(img)

    def _list_instance_types(self) -> Iterator[InstanceType]:
        sizes = self._driver.list_sizes()
        for s in sizes:
            extra = s.extra or {}
            cpus = extra.get("cpu") or extra.get("vcpus") or getattr(s, "vcpus", None)
            yield InstanceType(name=str(s.id), vcpus=float(cpus) if cpus else None, memory_mb=int(s.ram) if s.ram else None,
                               extra=_plain({**extra, "price": s.price, "disk_gb": s.disk}))

    def _list_locations(self) -> Iterator[Location]:
        locations = self._driver.list_locations()
        for loc in locations:
            az = getattr(loc, "availability_zone", None)
            ident = getattr(az, "name", None) or str(loc.id)
            yield Location(id=ident, name=str(loc.name), extra={"country": loc.country, "libcloud_id": str(loc.id)})

    # ---------------------------------------------------------------- instances
    def _create_instance(self, name: str, **kw: Any) -> Instance:
        from libcloud.compute.base import NodeImage, NodeSize

        wanted = {
            "key_pair": ("ex_keyname", kw.get("key_pair")),
            "user_data": ("ex_userdata", kw.get("user_data")),
            "security_groups": ("ex_security_groups", list(kw.get("security_groups") or ()) or None),
            "role": ("ex_iamprofile", kw.get("role")),
            "tags": ("ex_metadata", dict(kw.get("tags") or {}) or None),
        }
        kwargs: dict[str, Any] = {}
        for option, (param, value) in wanted.items():
            if value is None:
                continue
            if param not in self._create_params:
                self._not_supported("create_instance", f"libcloud's {self._driver_cls.__name__} has no {option} option")
            kwargs[param] = value
        if kw.get("subnet") is not None:
            self._not_supported("create_instance", "choosing a subnet needs the driver's own network objects")
        token = kw.get("client_token")
        if "ex_clienttoken" in self._create_params:
            kwargs["ex_clienttoken"] = token or uuid.uuid4().hex
        elif token is not None:
            self._not_supported("create_instance", f"libcloud's {self._driver_cls.__name__} has no idempotency token")
        if token is not None and "ex_metadata" in self._create_params:
            # EC2 honours ClientToken itself; EC2-compatible clouds (moto) ignore it. A tag carrying the
            # token finds the instance an earlier attempt started, on every EC2-style endpoint.
            earlier = self._by_token(token)
            if earlier is not None:
                return earlier
            kwargs["ex_metadata"] = {**(kwargs.get("ex_metadata") or {}), TOKEN_TAG: token}
        if kw.get("zone") is not None:
            kwargs["location"] = self._location(str(kw["zone"]))
        image = NodeImage(id=str(kw["image"]), name=None, driver=self._driver)  # type: ignore[arg-type]
        size = NodeSize(id=str(kw["instance_type"]), name=str(kw["instance_type"]), ram=0, disk=0, bandwidth=None,
                        price=None, driver=self._driver)  # type: ignore[arg-type]
        node = self._driver.create_node(name=name, image=image, size=size, **kwargs)
        instance = self._instance(node)
        if kw.get("wait", True):
            return self._wait_for_instance(instance.id, "running", float(kw.get("timeout", 600)))
        return instance

    def _by_token(self, token: str) -> Instance | None:
        params = inspect.signature(self._driver.list_nodes).parameters
        with mapped(self.provider, "compute.create_instance"):
            if "ex_filters" in params:
                nodes = self._driver.list_nodes(ex_filters={f"tag:{TOKEN_TAG}": token})
            else:
                nodes = self._driver.list_nodes()
        for node in nodes:
            if str(((node.extra or {}).get("tags") or {}).get(TOKEN_TAG)) == token:
                inst = self._instance(node)
                if inst.state != "terminated":
                    return inst
        return None

    def _get_instance(self, instance_id: str) -> Instance:
        return self._instance(self._find_node(instance_id))

    def _list_instances(self, state: str | None, tags: dict[str, str]) -> Iterator[Instance]:
        nodes = self._driver.list_nodes()
        for node in nodes:
            inst = self._instance(node)
            if state is not None and inst.state != state:
                continue
            if any(inst.tags.get(k) != val for k, val in tags.items()):
                continue
            yield inst

    def _act(self, op: str, method: str, instance_id: str, target: str | None, wait: bool, timeout: float) -> Instance:
        node = self._find_node(instance_id)
        with mapped(self.provider, f"compute.{op}"):
            # libcloud's boolean is not trusted: its EC2 driver reads a <return> element that moto
            # (following the EC2 API model) leaves out. Failures arrive as HTTP errors; the state is
            # checked below.
            getattr(self._driver, method)(node)
        if wait and target is not None:
            return self._wait_for_instance(instance_id, target, timeout)
        return self._get_instance(instance_id)

    def _start_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._act("start_instance", "start_node", instance_id, "running", wait, timeout)

    def _stop_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._act("stop_instance", "stop_node", instance_id, "stopped", wait, timeout)

    def _reboot_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._act("reboot_instance", "reboot_node", instance_id, "running", wait, timeout)

    def _terminate_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
        return self._act("terminate_instance", "destroy_node", instance_id, "terminated", wait, timeout)

    def _wait_for_instance(self, instance_id: str, state: str, timeout: float) -> Instance:
        return self._wait(  # type: ignore[no-any-return]
            f"instance {instance_id}", state,
            lambda: self._get_instance(instance_id),
            lambda inst: inst.state == state,
            timeout,
        )

    # ---------------------------------------------------------------- key pairs
    def _create_key_pair(self, name: str) -> KeyPair:
        return self._key_pair(self._driver.create_key_pair(name))

    def _import_key_pair(self, name: str, public_key: str) -> KeyPair:
        kp = self._driver.import_key_pair_from_string(name, public_key)
        result = self._key_pair(kp)
        return KeyPair(name=result.name, fingerprint=result.fingerprint, public_key=result.public_key or public_key)

    def _list_key_pairs(self) -> Iterator[KeyPair]:
        pairs = self._driver.list_key_pairs()
        for kp in pairs:
            yield KeyPair(name=str(kp.name), fingerprint=kp.fingerprint, public_key=kp.public_key or None)

    def _delete_key_pair(self, name: str) -> None:
        kp = self._driver.get_key_pair(name)
        self._driver.delete_key_pair(kp)

    # ---------------------------------------------------------------- volumes
    def _find_volume(self, volume_id: str) -> Any:
        with mapped(self.provider, "compute.list_volumes"):
            for vol in self._driver.list_volumes():
                if str(vol.id) == volume_id:
                    return vol
        raise NotFound(f"compute: volume {volume_id!r} does not exist", provider=self.provider)

    def _wait_volume(self, volume_id: str, done: Callable[[Volume], bool], what: str, timeout: float) -> Volume:
        return self._wait(  # type: ignore[no-any-return]
            f"volume {volume_id}", what, lambda: self._volume(self._find_volume(volume_id)), done, timeout
        )

    def _create_volume(self, size_gb: int, name: str | None, zone: str | None, snapshot_id: str | None, wait: bool,
                       timeout: float) -> Volume:
        location = None
        if zone is not None:
            location = self._location(zone)
        else:
            locations = self._driver.list_locations()
            location = locations[0] if locations else None
        snapshot = None
        if snapshot_id is not None:
            from libcloud.compute.base import VolumeSnapshot as LSnapshot

            snapshot = LSnapshot(id=snapshot_id, driver=self._driver)
        vol = self._driver.create_volume(size_gb, name or "", location=location, snapshot=snapshot)
        if wait:
            return self._wait_volume(str(vol.id), lambda x: x.state not in ("creating", "unknown"), "available", timeout)
        return self._volume(vol)

    def _list_volumes(self) -> Iterator[Volume]:
        volumes = self._driver.list_volumes()
        for vol in volumes:
            yield self._volume(vol)

    def _delete_volume(self, volume_id: str) -> None:
        self._driver.destroy_volume(self._native_volume(volume_id))

    def _attach_volume(self, volume_id: str, instance_id: str, device: str, wait: bool, timeout: float) -> Volume:
        self._driver.attach_volume(self._node(instance_id), self._native_volume(volume_id), device)
        if wait:
            return self._wait_volume(volume_id, lambda x: x.attached_to == instance_id, f"attached to {instance_id}", timeout)
        return self._volume(self._find_volume(volume_id))

    def _detach_volume(self, volume_id: str, wait: bool, timeout: float) -> Volume:
        from libcloud.compute.drivers.ec2 import BaseEC2NodeDriver

        if issubclass(self._driver_cls, BaseEC2NodeDriver):
            # libcloud sends VolumeId alone; moto needs the (optional in EC2's API) InstanceId too.
            current = self._volume(self._find_volume(volume_id))
            params = {"Action": "DetachVolume", "VolumeId": volume_id}
            if current.attached_to:
                params["InstanceId"] = current.attached_to
            self._driver.connection.request(self._driver.path, params=params)
        else:
            self._driver.detach_volume(self._native_volume(volume_id))
        if wait:
            return self._wait_volume(volume_id, lambda x: x.attached_to is None, "detached", timeout)
        return self._volume(self._find_volume(volume_id))

    def _create_volume_snapshot(self, volume_id: str, description: str, wait: bool, timeout: float) -> VolumeSnapshot:
        snap = self._driver.create_volume_snapshot(self._native_volume(volume_id), name=description or None)
        result = self._snapshot(snap)
        if result.volume_id is None:
            result = VolumeSnapshot(id=result.id, volume_id=volume_id, size_gb=result.size_gb, state=result.state,
                                    description=description or result.description, created_at=result.created_at,
                                    extra=result.extra)
        return result

    def _list_volume_snapshots(self) -> Iterator[VolumeSnapshot]:
        params = set(inspect.signature(self._driver.list_snapshots).parameters)
        snaps = self._driver.list_snapshots(owner="self") if "owner" in params else self._driver.list_snapshots()
        for snap in snaps:
            yield self._snapshot(snap)

    def _delete_volume_snapshot(self, snapshot_id: str) -> None:
        from libcloud.compute.base import VolumeSnapshot as LSnapshot

        self._driver.destroy_volume_snapshot(LSnapshot(id=snapshot_id, driver=self._driver))


def make_service(provider: str, settings: Mapping[str, Any]) -> LibcloudCompute:
    """The compute service of ``provider`` (``libcloud:<name>`` or a bare libcloud name).

    On EC2 requests are signed with AWS signature version 4 unless ``signature_version`` says
    otherwise (libcloud's default, version 2, is retired by AWS and not understood by moto).
    """
    from cloudkit.settings import Settings
    from cloudkit_libcloud._driver import driver_name

    if driver_name(provider) == "ec2" and settings.get("signature_version") is None:
        settings = Settings(settings).with_(signature_version="4")
    return LibcloudCompute(provider, settings)
