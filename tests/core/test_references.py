"""Model or id: every resource parameter takes the model a list/get call returns, or its reference string.

The generated cases come from the signatures (:mod:`cloudkit.testing.references`): every reference
parameter of every public operation of every family, run on a recording service that stops where
the call reaches the driver, once with the model and once with its id. The local provider runs the
same kit (``TestLocalReferences``), and the regressions of issue 10 run on local with real resources.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import cloudkit
from cloudkit import InvalidInput
from cloudkit.models.compute import InstanceType, Location
from cloudkit.models.notification import Queue, Topic
from cloudkit.models.platform import ConfigurationTemplate
from cloudkit.models.storage import Bucket, ObjectInfo
from cloudkit.refs import KINDS, BucketRef, ref
from cloudkit.services.base import Service
from cloudkit.services.storage import StorageService
from cloudkit.testing.references import (
    INTERFACES,
    TARGET,
    ReferenceConformance,
    ReferenceParameter,
    all_reference_parameters,
    check_reference,
    reference_parameters,
    sample_model,
)

CASES = all_reference_parameters()


def recording(interface: type[Service]) -> Service:
    """An instance of ``interface`` whose every driver method exists (the kit replaces them while it checks)."""

    def driver(name: str) -> Any:
        def method(self: Service, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError(f"{name} runs only under the kit's recorder")

        return method

    names = {"_" + op for op in interface.OPERATIONS}
    cls = type(f"Recording{interface.__name__}", (interface,), {n: driver(n) for n in names})
    return cls("recording", {})


# ---------------------------------------------------------------------------------------------- generated


@pytest.mark.parametrize("param", CASES, ids=lambda p: p.id)
def test_model_and_id_reach_the_driver_as_the_same_string(param: ReferenceParameter) -> None:
    interface = next(i for i in INTERFACES if i.family == param.family)
    check_reference(recording(interface), param)


def test_the_signatures_name_every_resource_parameter_of_issue_10() -> None:
    found = {p.id: {k.model for k in p.kinds} for p in CASES}
    assert found["compute.create_instance.instance_type"] == {InstanceType}
    assert found["compute.create_volume.zone"] == {Location}
    assert found["compute.create_instance.zone"] == {Location}
    assert found["notification.subscribe.endpoint"] == {Queue}
    assert "notification.ack_message.receipt" in found
    for op in ("get_object", "delete_object", "head_object", "presign_url", "download_file"):
        assert found[f"storage.{op}.key"] == {ObjectInfo}
    assert found["storage.delete_objects.keys"] == {ObjectInfo}
    assert found["platform.create_environment.template"] == {ConfigurationTemplate}
    assert found["platform.delete_template.name"] == {ConfigurationTemplate}
    # every family contributes, and every kind in the table is used by some parameter
    assert {p.family for p in CASES} == {i.family for i in INTERFACES}
    assert {k.model for p in CASES for k in p.kinds} == set(KINDS)


def test_a_new_reference_parameter_is_found_without_writing_a_test() -> None:
    class Extended(StorageService):
        def tag_bucket(self, bucket: BucketRef, *, tags: dict[str, str] | None = None) -> None:
            """A new operation taking a bucket."""
            self._tag_bucket(ref(bucket, "bucket", Bucket))

        def _tag_bucket(self, bucket: str) -> None:
            self._not_supported("tag_bucket")

    Extended.OPERATIONS = (*StorageService.OPERATIONS, "tag_bucket")  # an interface with one more operation
    params = [p for p in reference_parameters(Extended) if p.operation == "tag_bucket"]
    assert [p.parameter for p in params] == ["bucket"]
    check_reference(recording(Extended), params[0])


# ---------------------------------------------------------------------------------------------- the kit fails broken plugins


class _RefusesModels(StorageService):
    """A plugin overriding a public method so that it accepts only a string (what issue 10 reported)."""

    def _get_object(self, bucket: str, key: str, range: Any) -> Any:
        raise AssertionError("replaced by the kit")

    def get_object(self, bucket: Any, key: Any, *, range: Any = None) -> Any:  # type: ignore[override]
        """Refuses an ObjectInfo key."""
        if not isinstance(key, str):
            raise InvalidInput("key", f"must be a string, not {type(key).__name__}")
        return self._get_object(bucket if isinstance(bucket, str) else bucket.name, key, range)


class _PassesModelsThrough(StorageService):
    """A plugin overriding a public method that hands the model itself to its driver."""

    def _get_bucket(self, name: str) -> Any:
        raise AssertionError("replaced by the kit")

    def get_bucket(self, bucket: Any) -> Any:
        """Passes whatever it is given."""
        return self._get_bucket(bucket)


def _case(op: str, name: str) -> ReferenceParameter:
    return next(p for p in CASES if p.id == f"storage.{op}.{name}")


def test_the_kit_fails_a_plugin_refusing_a_model_where_the_id_is_accepted() -> None:
    with pytest.raises(AssertionError, match="the id reaches the driver but the model does not"):
        check_reference(_RefusesModels("refuser", {}), _case("get_object", "key"))
    # the same plugin passes for the parameter it handles
    check_reference(_RefusesModels("refuser", {}), _case("get_object", "bucket"))


def test_the_kit_fails_a_plugin_handing_the_model_to_its_driver() -> None:
    with pytest.raises(AssertionError, match="the driver got"):
        check_reference(_PassesModelsThrough("leaky", {}), _case("get_bucket", "bucket"))


def test_the_kit_leaves_the_service_as_it_found_it() -> None:
    service = recording(StorageService)
    check_reference(service, _case("get_bucket", "bucket"))
    assert "_get_bucket" not in vars(service)


# ---------------------------------------------------------------------------------------------- the one mechanism


def test_a_model_of_the_wrong_kind_is_refused_naming_the_parameter_and_the_accepted_types() -> None:
    service = recording(cloudkit.NotificationService)
    topic = sample_model(Topic, TARGET)
    with pytest.raises(InvalidInput) as info:
        service.get_queue(topic)  # type: ignore[arg-type]
    assert info.value.field == "queue"
    assert "Queue" in str(info.value) and "Topic" in str(info.value)


def test_anything_else_is_refused_with_the_accepted_types() -> None:
    with pytest.raises(InvalidInput) as info:
        ref(42, "instance_type", InstanceType)
    assert info.value.field == "instance_type"
    assert "an InstanceType" in str(info.value) and "int" in str(info.value)


def test_a_model_carrying_a_hostile_id_is_refused_like_the_string() -> None:
    for bad in ("a\nb", "x" * 300):
        with pytest.raises(InvalidInput) as info:
            ref(InstanceType(name=bad), "instance_type", InstanceType)
        assert info.value.field == "instance_type"


def test_an_object_of_another_bucket_is_refused() -> None:
    obj = ObjectInfo(bucket="other-bucket", key="k.txt", size=1)
    with pytest.raises(InvalidInput) as info:
        recording(StorageService).delete_object("my-bucket", obj)
    assert info.value.field == "key" and "other-bucket" in str(info.value)


def test_a_sequence_parameter_refuses_a_single_model() -> None:
    obj = ObjectInfo(bucket="my-bucket", key="k.txt", size=1)
    with pytest.raises(InvalidInput) as info:
        recording(StorageService).delete_objects("my-bucket", obj)  # type: ignore[arg-type]
    assert info.value.field == "keys"


# ---------------------------------------------------------------------------------------------- on local, real resources


@pytest.fixture
def local(tmp_path: Path) -> Iterator[cloudkit.Cloud]:
    cloud = cloudkit.connect("local", root=str(tmp_path / "root"))
    try:
        yield cloud
    finally:
        cloud.close()


def test_local_storage_takes_object_infos(local: cloudkit.Cloud) -> None:
    s = local.storage
    bucket = s.create_bucket("refs-bucket")
    info = s.put_object(bucket, "a.txt", b"alpha")
    s.put_object(bucket, "b.txt", b"beta")
    with s.get_object(bucket, info) as reader:
        assert reader.read() == b"alpha"
    assert s.head_object(bucket, info).size == 5
    listed = [o for o in s.list_objects(bucket) if isinstance(o, ObjectInfo)]
    s.delete_object(bucket, listed[0])
    result = s.delete_objects(bucket, listed[1:])
    assert list(result.deleted) == ["b.txt"]
    assert list(s.list_objects(bucket)) == []


def test_local_volume_takes_a_location(local: cloudkit.Cloud) -> None:
    c = local.compute
    if not c.supports("create_volume"):
        pytest.skip("local compute has no volumes here")
    zone = next(iter(c.list_locations()))
    volume = c.create_volume(1, zone=zone)
    assert volume.zone == zone.id


def test_local_subscription_and_ack_take_models(local: cloudkit.Cloud) -> None:
    n = local.notification
    topic = n.create_topic("refs-topic")
    queue = n.create_queue("refs-queue")
    sub = n.subscribe(topic, protocol="queue", endpoint=queue)
    assert sub.status == "confirmed"
    n.publish(topic, "hello")
    got = n.receive_messages(queue, wait_seconds=5)
    assert [m.body for m in got] == ["hello"]
    n.ack_message(queue, got[0])
    assert n.receive_messages(queue, visibility_timeout=0) == []


def test_local_template_takes_a_model(local: cloudkit.Cloud) -> None:
    p = local.platform
    app = p.create_application("Refs App")
    stack = next(iter(p.list_stacks()))
    template = p.create_template(app, "tpl-1", stack=stack)
    assert [t.name for t in p.list_templates(app)] == ["tpl-1"]
    p.delete_template(app, template)
    assert list(p.list_templates(app)) == []


class TestLocalReferences(ReferenceConformance):
    """The kit's reference suite on the local provider (the default ``cloudkit_cloud``)."""
