"""The compute family: instances, images, sizes, key pairs, security groups, volumes."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, ClassVar

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.models.compute import (
    INSTANCE_STATES,
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
from cloudkit.refs import (
    GroupRef,
    ImageRef,
    InstanceRef,
    InstanceTypeRef,
    KeyPairRef,
    LocationRef,
    VolumeRef,
    VolumeSnapshotRef,
    optional_ref,
    ref,
    refs,
)
from cloudkit.services.base import Service, operation

VSnapshotRef = VolumeSnapshotRef


class ComputeService(Service):
    """Virtual machines and what they need. Long operations wait by default (``wait``, ``timeout``)."""

    family: ClassVar[str] = "compute"

    # ---------------------------------------------------------------- catalogue
    @operation()
    def list_images(self, *, name: str | None = None, owner: str | None = None) -> Iterator[Image]:
        """Images, optionally filtered by name (``*`` wildcards allowed) and owner."""
        return self._list_images(
            None if name is None else v.reference("name", name, max_len=255),
            None if owner is None else v.reference("owner", owner, max_len=255),
        )

    @operation()
    def get_image(self, image: ImageRef) -> Image:
        """An image by id, or ``NotFound``."""
        return self._get_image(ref(image, "image", Image))

    @operation()
    def create_image(self, instance: InstanceRef, name: str, *, wait: bool = True, timeout: float = 1800) -> Image:
        """Capture an instance's disk as a new image."""
        return self._create_image(ref(instance, "instance", Instance), v.resource_name("name", name), wait, v.timeout(timeout))

    @operation()
    def list_instance_types(self) -> Iterator[InstanceType]:
        """The sizes instances can have here."""
        return self._list_instance_types()

    @operation()
    def list_locations(self) -> Iterator[Location]:
        """Regions or zones instances can be placed in."""
        return self._list_locations()

    # ---------------------------------------------------------------- instances
    @operation()
    def create_instance(
        self,
        name: str,
        *,
        image: ImageRef,
        instance_type: InstanceTypeRef,
        key_pair: KeyPairRef | None = None,
        security_groups: Sequence[GroupRef] = (),
        user_data: str | bytes | None = None,
        role: str | None = None,
        subnet: str | None = None,
        zone: LocationRef | None = None,
        tags: Mapping[str, str] | None = None,
        client_token: str | None = None,
        wait: bool = True,
        timeout: float = 600,
    ) -> Instance:
        """Launch an instance; ``user_data`` (cloud-init text) runs at first boot.

        ``client_token`` makes the call idempotent: a retry with the same token returns the same
        instance instead of starting a second one (one is generated when not given).
        """
        if isinstance(security_groups, str):
            raise InvalidInput("security_groups", "must be a sequence of groups, not a single string")
        security_groups = v.sequence("security_groups", security_groups)
        kp = optional_ref(key_pair, "key_pair", KeyPair)
        groups = tuple(refs(security_groups, "security_groups", SecurityGroup))
        client_token = v.client_token(client_token)
        return self._create_instance(
            v.instance_name(name),
            image=ref(image, "image", Image),
            instance_type=ref(instance_type, "instance_type", InstanceType),
            key_pair=kp,
            security_groups=groups,
            user_data=v.user_data(user_data),
            role=None if role is None else v.reference("role", role),
            subnet=None if subnet is None else v.reference("subnet", subnet),
            zone=optional_ref(zone, "zone", Location),
            tags=v.tags(tags),
            client_token=client_token,
            wait=wait,
            timeout=v.timeout(timeout),
        )

    @operation()
    def get_instance(self, instance: InstanceRef) -> Instance:
        """An instance by id, or ``NotFound``."""
        return self._get_instance(ref(instance, "instance", Instance))

    @operation()
    def list_instances(self, *, state: str | None = None, tags: Mapping[str, str] | None = None) -> Iterator[Instance]:
        """Instances (terminated ones included until the provider forgets them), lazily."""
        st = None if state is None else v.one_of("state", state, INSTANCE_STATES)
        return self._list_instances(st, v.tags(tags))

    @operation()
    def start_instance(self, instance: InstanceRef, *, wait: bool = True, timeout: float = 600) -> Instance:
        """Start a stopped instance."""
        return self._start_instance(ref(instance, "instance", Instance), wait, v.timeout(timeout))

    @operation()
    def stop_instance(self, instance: InstanceRef, *, wait: bool = True, timeout: float = 600) -> Instance:
        """Stop an instance; its disk is kept."""
        return self._stop_instance(ref(instance, "instance", Instance), wait, v.timeout(timeout))

    @operation()
    def reboot_instance(self, instance: InstanceRef, *, wait: bool = True, timeout: float = 600) -> Instance:
        """Reboot an instance."""
        return self._reboot_instance(ref(instance, "instance", Instance), wait, v.timeout(timeout))

    @operation()
    def terminate_instance(self, instance: InstanceRef, *, wait: bool = True, timeout: float = 600) -> Instance:
        """Terminate an instance; its disk is gone."""
        return self._terminate_instance(ref(instance, "instance", Instance), wait, v.timeout(timeout))

    @operation()
    def wait_for_instance(self, instance: InstanceRef, state: str, *, timeout: float = 600) -> Instance:
        """Block until the instance reaches ``state`` or raise ``Timeout``."""
        return self._wait_for_instance(ref(instance, "instance", Instance), v.one_of("state", state, INSTANCE_STATES), v.timeout(timeout))

    @operation()
    def get_console_output(self, instance: InstanceRef) -> str:
        """What the instance printed on its console (boot log, user-data output)."""
        return self._get_console_output(ref(instance, "instance", Instance))

    # ---------------------------------------------------------------- key pairs
    @operation()
    def create_key_pair(self, name: str) -> KeyPair:
        """Create an SSH key pair; the private key is in the result, once."""
        return self._create_key_pair(v.resource_name("name", name))

    @operation()
    def import_key_pair(self, name: str, public_key: str) -> KeyPair:
        """Register an existing OpenSSH public key."""
        pk = v.no_controls("public_key", v.require_str("public_key", public_key).strip())
        if len(pk) > 16384:
            raise InvalidInput("public_key", "must be at most 16384 characters")
        if not pk.startswith(("ssh-rsa ", "ssh-ed25519 ", "ecdsa-sha2-")):
            raise InvalidInput("public_key", "must be an OpenSSH public key ('ssh-ed25519 AAAA...')")
        return self._import_key_pair(v.resource_name("name", name), pk)

    @operation()
    def list_key_pairs(self) -> Iterator[KeyPair]:
        """Registered key pairs (public parts only)."""
        return self._list_key_pairs()

    @operation()
    def delete_key_pair(self, name: KeyPairRef) -> None:
        """Delete a key pair."""
        self._delete_key_pair(ref(name, "name", KeyPair))

    # ---------------------------------------------------------------- security groups
    @operation()
    def create_security_group(self, name: str, *, description: str = "", rules: Sequence[SecurityRule] = ()) -> SecurityGroup:
        """Create a security group, optionally with ingress rules."""
        checked = [v.security_rule(r, f"rules[{i}]") for i, r in enumerate(v.sequence("rules", rules))]
        if not isinstance(description, str):
            raise InvalidInput("description", "must be a string of at most 255 characters")
        v.optional_text("description", description, max_len=255)
        return self._create_security_group(v.resource_name("name", name), description, checked)

    @operation()
    def list_security_groups(self) -> Iterator[SecurityGroup]:
        """Security groups with their rules."""
        return self._list_security_groups()

    @operation()
    def delete_security_group(self, group: GroupRef) -> None:
        """Delete a security group."""
        self._delete_security_group(ref(group, "group", SecurityGroup))

    @operation()
    def authorize_ingress(self, group: GroupRef, rules: Sequence[SecurityRule]) -> SecurityGroup:
        """Add ingress rules."""
        checked = [v.security_rule(r, f"rules[{i}]") for i, r in enumerate(v.sequence("rules", rules))]
        if not checked:
            raise InvalidInput("rules", "must hold at least one rule")
        return self._authorize_ingress(ref(group, "group", SecurityGroup), checked)

    @operation()
    def revoke_ingress(self, group: GroupRef, rules: Sequence[SecurityRule]) -> SecurityGroup:
        """Remove ingress rules."""
        checked = [v.security_rule(r, f"rules[{i}]") for i, r in enumerate(v.sequence("rules", rules))]
        if not checked:
            raise InvalidInput("rules", "must hold at least one rule")
        return self._revoke_ingress(ref(group, "group", SecurityGroup), checked)

    # ---------------------------------------------------------------- volumes
    @operation()
    def create_volume(
        self, size_gb: int, *, name: str | None = None, zone: LocationRef | None = None, snapshot: VSnapshotRef | None = None,
        wait: bool = True, timeout: float = 600,
    ) -> Volume:
        """Create a volume (from a snapshot when given)."""
        return self._create_volume(
            v.int_range("size_gb", size_gb, 1, 65536),
            None if name is None else v.resource_name("name", name),
            optional_ref(zone, "zone", Location),
            optional_ref(snapshot, "snapshot", VolumeSnapshot),
            wait,
            v.timeout(timeout),
        )

    @operation()
    def list_volumes(self) -> Iterator[Volume]:
        """Volumes, lazily."""
        return self._list_volumes()

    @operation()
    def delete_volume(self, volume: VolumeRef) -> None:
        """Delete a detached volume."""
        self._delete_volume(ref(volume, "volume", Volume))

    @operation()
    def attach_volume(self, volume: VolumeRef, instance: InstanceRef, device: str, *, wait: bool = True, timeout: float = 300) -> Volume:
        """Attach a volume to an instance as ``device`` (``/dev/sdf``)."""
        dev = v.require_str("device", device)
        if not re.fullmatch(r"/dev/[A-Za-z0-9/_-]{1,64}", dev):
            raise InvalidInput("device", "must be a device path such as /dev/sdf")
        return self._attach_volume(ref(volume, "volume", Volume), ref(instance, "instance", Instance), dev, wait, v.timeout(timeout))

    @operation()
    def detach_volume(self, volume: VolumeRef, *, wait: bool = True, timeout: float = 300) -> Volume:
        """Detach a volume."""
        return self._detach_volume(ref(volume, "volume", Volume), wait, v.timeout(timeout))

    @operation()
    def create_volume_snapshot(self, volume: VolumeRef, *, description: str = "", wait: bool = True, timeout: float = 1800) -> VolumeSnapshot:
        """Snapshot a volume."""
        if not isinstance(description, str):
            raise InvalidInput("description", "must be a string of at most 255 characters")
        v.optional_text("description", description, max_len=255)
        return self._create_volume_snapshot(ref(volume, "volume", Volume), description, wait, v.timeout(timeout))

    @operation()
    def list_volume_snapshots(self) -> Iterator[VolumeSnapshot]:
        """Volume snapshots owned by this account, lazily."""
        return self._list_volume_snapshots()

    @operation()
    def delete_volume_snapshot(self, snapshot: VSnapshotRef) -> None:
        """Delete a volume snapshot."""
        self._delete_volume_snapshot(ref(snapshot, "snapshot", VolumeSnapshot))

    # ---------------------------------------------------------------- driver methods
    if TYPE_CHECKING:  # declared for type checkers; unimplemented ones raise NotSupported
        def _list_images(self, name: str | None, owner: str | None) -> Iterator[Image]:
            ...

        def _get_image(self, image_id: str) -> Image:
            ...

        def _create_image(self, instance_id: str, name: str, wait: bool, timeout: float) -> Image:
            ...

        def _list_instance_types(self) -> Iterator[InstanceType]:
            ...

        def _list_locations(self) -> Iterator[Location]:
            ...

        def _create_instance(self, name: str, **kw: object) -> Instance:
            """Keyword arguments as :meth:`create_instance` passes them, already validated."""
            ...

        def _get_instance(self, instance_id: str) -> Instance:
            ...

        def _list_instances(self, state: str | None, tags: dict[str, str]) -> Iterator[Instance]:
            ...

        def _start_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
            ...

        def _stop_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
            ...

        def _reboot_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
            ...

        def _terminate_instance(self, instance_id: str, wait: bool, timeout: float) -> Instance:
            ...

        def _wait_for_instance(self, instance_id: str, state: str, timeout: float) -> Instance:
            ...

        def _get_console_output(self, instance_id: str) -> str:
            ...

        def _create_key_pair(self, name: str) -> KeyPair:
            ...

        def _import_key_pair(self, name: str, public_key: str) -> KeyPair:
            ...

        def _list_key_pairs(self) -> Iterator[KeyPair]:
            ...

        def _delete_key_pair(self, name: str) -> None:
            ...

        def _create_security_group(self, name: str, description: str, rules: list[SecurityRule]) -> SecurityGroup:
            ...

        def _list_security_groups(self) -> Iterator[SecurityGroup]:
            ...

        def _delete_security_group(self, group_id: str) -> None:
            ...

        def _authorize_ingress(self, group_id: str, rules: list[SecurityRule]) -> SecurityGroup:
            ...

        def _revoke_ingress(self, group_id: str, rules: list[SecurityRule]) -> SecurityGroup:
            ...

        def _create_volume(self, size_gb: int, name: str | None, zone: str | None, snapshot_id: str | None, wait: bool, timeout: float) -> Volume:
            ...

        def _list_volumes(self) -> Iterator[Volume]:
            ...

        def _delete_volume(self, volume_id: str) -> None:
            ...

        def _attach_volume(self, volume_id: str, instance_id: str, device: str, wait: bool, timeout: float) -> Volume:
            ...

        def _detach_volume(self, volume_id: str, wait: bool, timeout: float) -> Volume:
            ...

        def _create_volume_snapshot(self, volume_id: str, description: str, wait: bool, timeout: float) -> VolumeSnapshot:
            ...

        def _list_volume_snapshots(self) -> Iterator[VolumeSnapshot]:
            ...

        def _delete_volume_snapshot(self, snapshot_id: str) -> None:
            ...































