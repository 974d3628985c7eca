"""The compute conformance suite: what every provider's instances, keys, groups and volumes must do.

Subclass :class:`ComputeConformance` in a provider's tests (with a ``cloudkit_cloud`` fixture), or
run ``pytest --pyargs cloudkit.testing --cloudkit-profile=NAME``. It sticks to what EC2-like clouds
all do; an operation the provider's capabilities exclude is skipped with that reason. Every
instance a test starts is terminated when the test ends, even when it fails.

Class attributes a provider may set:

``image``
    The image instances boot from (default: the first image ``list_images`` yields).
``instance_type``
    The size instances get (default: the smallest ``list_instance_types`` yields by memory).
``device``
    The device name volumes are attached as.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

import pytest

from cloudkit import Cloud
from cloudkit.errors import AlreadyExists, CloudkitError, Conflict, InvalidInput, NotFound
from cloudkit.models.compute import Instance, SecurityRule
from cloudkit.services.compute import ComputeService
from cloudkit.testing.helpers import Conformance, requires, unique_name


class ComputeConformance(Conformance):
    """Provider-neutral tests of :class:`cloudkit.ComputeService`."""

    image: ClassVar[str | None] = None
    instance_type: ClassVar[str | None] = None
    device: ClassVar[str] = "/dev/sdf"

    # ------------------------------------------------------------ fixtures
    @pytest.fixture
    def compute(self, cloudkit_cloud: Cloud) -> ComputeService:
        """The compute service under test."""
        return cloudkit_cloud.compute

    @pytest.fixture
    def launch(self, cloudkit_cloud: Cloud, compute: ComputeService) -> Iterator[object]:
        """A function that launches an instance and terminates it after the test."""
        requires(cloudkit_cloud, "compute", "create_instance", "terminate_instance", "list_images", "list_instance_types")
        started: list[str] = []
        image = self.image or next(iter(compute.list_images())).id
        itype = self.instance_type or min(compute.list_instance_types(), key=lambda t: (t.memory_mb or 0, t.name)).name

        def _launch(**kw: object) -> Instance:
            name = str(kw.pop("name", unique_name("ck")))
            inst = compute.create_instance(name, image=image, instance_type=itype, **kw)  # type: ignore[arg-type]
            started.append(inst.id)
            return inst

        yield _launch
        for instance_id in started:
            try:
                compute.terminate_instance(instance_id)
            except CloudkitError:
                pass

    # ------------------------------------------------------------ capabilities and catalogue
    def test_capabilities_are_known_operations(self, compute: ComputeService) -> None:
        caps = compute.capabilities()
        assert caps <= set(ComputeService.OPERATIONS)
        for op in ComputeService.OPERATIONS:
            assert compute.supports(op) == (op in caps)

    def test_catalogue(self, cloudkit_cloud: Cloud, compute: ComputeService) -> None:
        requires(cloudkit_cloud, "compute", "list_images", "get_image", "list_instance_types", "list_locations")
        images = list(compute.list_images())
        assert images, "a provider offers at least one image"
        first = images[0]
        assert compute.get_image(first.id).id == first.id
        assert compute.get_image(first).name == first.name
        types = list(compute.list_instance_types())
        assert types and all(t.name for t in types)
        assert list(compute.list_locations())
        with pytest.raises(NotFound):
            compute.get_image("ami-0000000000000dead")

    # ------------------------------------------------------------ instances
    def test_instance_life_cycle(self, cloudkit_cloud: Cloud, compute: ComputeService, launch: object) -> None:
        requires(cloudkit_cloud, "compute", "get_instance", "list_instances", "stop_instance", "start_instance",
                 "reboot_instance")
        inst = launch(tags={"role": "web", "suite": "compute"})  # type: ignore[operator]
        assert inst.state == "running"
        assert inst.tags["role"] == "web"
        assert compute.get_instance(inst.id).id == inst.id
        assert inst.id in [i.id for i in compute.list_instances(tags={"role": "web"})]
        assert inst.id not in [i.id for i in compute.list_instances(tags={"role": "db"})]
        assert inst.id in [i.id for i in compute.list_instances(state="running")]
        assert compute.stop_instance(inst).state == "stopped"
        assert compute.get_instance(inst).state == "stopped"
        assert compute.start_instance(inst).state == "running"
        assert compute.reboot_instance(inst).state == "running"
        done = compute.terminate_instance(inst)
        assert done.state == "terminated"
        try:
            assert compute.get_instance(inst).state == "terminated"
        except NotFound:
            pass  # a provider may forget terminated instances at once

    def test_wait_for_instance(self, cloudkit_cloud: Cloud, compute: ComputeService, launch: object) -> None:
        requires(cloudkit_cloud, "compute", "wait_for_instance", "stop_instance")
        inst = launch(wait=False)  # type: ignore[operator]
        assert compute.wait_for_instance(inst, "running", timeout=120).state == "running"
        compute.stop_instance(inst, wait=False)
        assert compute.wait_for_instance(inst, "stopped", timeout=120).state == "stopped"

    def test_client_token_makes_create_idempotent(self, cloudkit_cloud: Cloud, compute: ComputeService, launch: object) -> None:
        token = unique_name("tok", 16)
        a = launch(client_token=token)  # type: ignore[operator]
        b = launch(client_token=token)  # type: ignore[operator]
        assert a.id == b.id
        named = [i for i in compute.list_instances() if i.name == a.name and i.state != "terminated"]
        assert len(named) == 1

    def test_console_output_is_text(self, cloudkit_cloud: Cloud, compute: ComputeService, launch: object) -> None:
        requires(cloudkit_cloud, "compute", "get_console_output")
        inst = launch()  # type: ignore[operator]
        assert isinstance(compute.get_console_output(inst), str)

    def test_missing_instance(self, cloudkit_cloud: Cloud, compute: ComputeService) -> None:
        requires(cloudkit_cloud, "compute", "get_instance")
        with pytest.raises(NotFound):
            compute.get_instance("i-00000000000000000")

    # ------------------------------------------------------------ key pairs
    def test_key_pairs(self, cloudkit_cloud: Cloud, compute: ComputeService) -> None:
        requires(cloudkit_cloud, "compute", "create_key_pair", "list_key_pairs", "delete_key_pair", "import_key_pair")
        name = unique_name("key")
        kp = compute.create_key_pair(name)
        try:
            assert kp.private_key, "create returns the private key once"
            assert kp.private_key not in repr(kp)
            listed = {k.name: k for k in compute.list_key_pairs()}
            assert name in listed and listed[name].private_key is None
            with pytest.raises(AlreadyExists):
                compute.create_key_pair(name)
        finally:
            compute.delete_key_pair(name)
        assert name not in {k.name for k in compute.list_key_pairs()}

        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

        public = Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
        imported_name = unique_name("imp")
        imported = compute.import_key_pair(imported_name, public)
        try:
            assert imported.private_key is None
            assert imported.fingerprint
            assert imported_name in {k.name for k in compute.list_key_pairs()}
        finally:
            compute.delete_key_pair(imported_name)

    # ------------------------------------------------------------ security groups
    def test_security_groups(self, cloudkit_cloud: Cloud, compute: ComputeService) -> None:
        requires(cloudkit_cloud, "compute", "create_security_group", "list_security_groups", "delete_security_group",
                 "authorize_ingress", "revoke_ingress")
        name = unique_name("sg")
        ssh = SecurityRule("tcp", 22, 22, "10.0.0.0/8")
        web = SecurityRule("tcp", 80, 80, "0.0.0.0/0")
        group = compute.create_security_group(name, description="conformance", rules=[ssh])
        try:
            assert group.name == name and ssh in group.rules
            group = compute.authorize_ingress(group, [web])
            assert set(group.rules) >= {ssh, web}
            listed = {g.id: g for g in compute.list_security_groups()}
            assert web in listed[group.id].rules
            group = compute.revoke_ingress(group, [ssh])
            assert ssh not in group.rules and web in group.rules
        finally:
            compute.delete_security_group(group)
        assert group.id not in {g.id for g in compute.list_security_groups()}

    def test_instance_in_security_group(self, cloudkit_cloud: Cloud, compute: ComputeService, launch: object) -> None:
        requires(cloudkit_cloud, "compute", "create_security_group", "delete_security_group")
        group = compute.create_security_group(unique_name("sg"), description="web", rules=[SecurityRule("tcp", 8080)])
        try:
            inst = launch(security_groups=[group])  # type: ignore[operator]
            assert group.id in inst.security_groups
            compute.terminate_instance(inst)
        finally:
            compute.delete_security_group(group)

    # ------------------------------------------------------------ volumes
    def test_volumes_and_snapshots(self, cloudkit_cloud: Cloud, compute: ComputeService, launch: object) -> None:
        requires(cloudkit_cloud, "compute", "create_volume", "list_volumes", "delete_volume", "attach_volume",
                 "detach_volume", "create_volume_snapshot", "list_volume_snapshots", "delete_volume_snapshot")
        zone = next(iter(compute.list_locations())).id
        inst = launch()  # type: ignore[operator]
        vol = compute.create_volume(1, zone=inst.zone or zone)
        restored = None
        snap = None
        try:
            assert vol.size_gb == 1 and vol.state == "available"
            assert vol.id in {v.id for v in compute.list_volumes()}
            attached = compute.attach_volume(vol, inst, self.device)
            assert attached.attached_to == inst.id and attached.state == "in-use"
            with pytest.raises(Conflict):
                compute.delete_volume(vol)
            detached = compute.detach_volume(vol)
            assert detached.attached_to is None and detached.state == "available"
            snap = compute.create_volume_snapshot(vol, description="conformance")
            assert snap.volume_id == vol.id and snap.size_gb == 1
            assert snap.id in {s.id for s in compute.list_volume_snapshots()}
            restored = compute.create_volume(2, zone=inst.zone or zone, snapshot=snap)
            assert restored.size_gb == 2 and restored.snapshot_id == snap.id
        finally:
            for volume in (restored, vol):
                if volume is not None:
                    try:
                        compute.delete_volume(volume)
                    except CloudkitError:
                        pass
            if snap is not None:
                compute.delete_volume_snapshot(snap)
        assert vol.id not in {v.id for v in compute.list_volumes()}
        assert snap.id not in {s.id for s in compute.list_volume_snapshots()}

    # ------------------------------------------------------------ bad input
    def test_bad_input_is_rejected_before_any_call(self, compute: ComputeService) -> None:
        with pytest.raises(InvalidInput, match="name"):
            compute.create_instance("not a host name!", image="x", instance_type="y")
        with pytest.raises(InvalidInput, match="security_groups"):
            compute.create_instance("ok-name", image="x", instance_type="y", security_groups="sg-1")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="user_data"):
            compute.create_instance("ok-name", image="x", instance_type="y", user_data=b"\xff\xfe")
        with pytest.raises(InvalidInput, match="from_port"):
            compute.create_security_group("g", rules=[SecurityRule("tcp", 70000)])
        with pytest.raises(InvalidInput, match="cidr"):
            compute.create_security_group("g", rules=[SecurityRule("tcp", 22, 22, "10.0.0.0/99")])
        with pytest.raises(InvalidInput, match="size_gb"):
            compute.create_volume(0)
        with pytest.raises(InvalidInput, match="device"):
            compute.attach_volume("vol-1", "i-1", "sdf")
        with pytest.raises(InvalidInput, match="public_key"):
            compute.import_key_pair("k", "not a key")
        with pytest.raises(InvalidInput, match="state"):
            list(compute.list_instances(state="sleeping"))
