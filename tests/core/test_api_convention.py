"""One API convention for every family: operations declared once, keyword-only options, lazy lists.

The rule for parameters (docs/guide.md, "Conventions"): the parameters that name resources (a
model or its id, or the name of the resource being created) and at most one essential value (the
payload: data, message, records, rules, a state...) are positional; every other parameter is
keyword-only. A positional parameter has no default, except an optional reference filter
(``list_subscriptions(topic=None)``).
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from typing import Any

import pytest

import cloudkit
from cloudkit.errors import NotSupported
from cloudkit.models.storage import DeleteResult, ObjectInfo
from cloudkit.services import FAMILIES, Service, StorageService
from cloudkit.services.base import Operation, operation

#: names of parameters that name a resource (the one created, or one inside another)
NAMING = {"name", "identifier", "key", "src_key", "dst_key", "label", "snapshot_id"}

PUBLIC = [(family, op) for family, interface in FAMILIES.items() for op in interface.OPERATIONS]


def _is_reference(param: inspect.Parameter) -> bool:
    annotation = str(param.annotation)
    return param.name in NAMING or "Ref" in annotation


@pytest.mark.parametrize(("family", "op"), PUBLIC, ids=[f"{f}.{o}" for f, o in PUBLIC])
def test_parameters_follow_the_rule(family: str, op: str) -> None:
    params = list(inspect.signature(getattr(FAMILIES[family], op)).parameters.values())[1:]
    assert all(p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) for p in params), f"{op}: no *args, **kwargs"
    positional = [p for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    values = [p.name for p in positional if not _is_reference(p)]
    assert len(values) <= 1, f"{family}.{op}: {values} positional; options must be keyword-only"
    for p in positional:
        if p.default is not p.empty:
            assert _is_reference(p) and p.default is None, f"{family}.{op}: {p.name} has a default, make it keyword-only"


def test_the_rule_catches_the_old_signatures() -> None:
    def create_security_group(self: Any, name: str, description: str = "", *, rules: Any = ()) -> None: ...
    def subscribe(self: Any, topic: Any, protocol: str, endpoint: str) -> None: ...

    for old in (create_security_group, subscribe):
        positional = [p for p in list(inspect.signature(old).parameters.values())[1:] if p.kind is p.POSITIONAL_OR_KEYWORD]
        values = [p for p in positional if not _is_reference(p)]
        assert len(values) > 1 or any(p.default is not p.empty and not _is_reference(p) for p in positional)


def test_options_are_refused_positionally() -> None:
    compute = cloudkit.ComputeService("nothing", {})
    with pytest.raises(cloudkit.InvalidInput, match="bad arguments"):
        compute.create_security_group("web", "web servers")  # type: ignore[misc]
    notification = cloudkit.NotificationService("nothing", {})
    with pytest.raises(cloudkit.InvalidInput, match="bad arguments"):
        notification.subscribe("topic", "email", "ops@example.com")  # type: ignore[misc]


@pytest.mark.parametrize(("family", "op"), [p for p in PUBLIC if p[1].startswith("list_")],
                         ids=[f"{f}.{o}" for f, o in PUBLIC if o.startswith("list_")])
def test_every_list_is_a_lazy_iterator(family: str, op: str) -> None:
    annotation = str(inspect.signature(getattr(FAMILIES[family], op)).return_annotation)
    assert annotation.startswith("Iterator["), f"{family}.{op} returns {annotation}"


def test_list_engines_is_lazy_on_the_local_provider(tmp_path: Any) -> None:
    with cloudkit.connect("local", root=str(tmp_path)) as cloud:
        engines = cloud.database.list_engines()
        assert not isinstance(engines, list) and iter(engines) is engines
        assert "sqlite" in list(engines)


# ------------------------------------------------------------------ declarations
def test_operations_are_declared_once_on_the_public_methods() -> None:
    for family, interface in FAMILIES.items():
        declared = [name for name, value in vars(interface).items()
                    if isinstance(getattr(value, "__cloudkit_operation__", None), Operation)]
        assert list(interface.OPERATIONS) == declared, family
        assert dict(interface.DERIVED) == {n: d.derives for n, d in interface.DECLARATIONS.items() if d.derives}
        for name in interface.OPERATIONS:
            assert getattr(getattr(interface, name), "__cloudkit_instrumented__", False), f"{family}.{name}"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_an_empty_provider_supports_nothing_and_says_so(family: str) -> None:
    empty = type("Empty", (FAMILIES[family],), {})("empty", {})
    assert empty.capabilities() == frozenset()
    for name, decl in FAMILIES[family].DECLARATIONS.items():
        if not decl.derives:
            with pytest.raises(NotSupported, match=rf"empty does not support {family}\.{name}\b"):
                getattr(empty, decl.driver)()


def test_a_derived_operation_names_itself_when_unsupported(tmp_path: Any) -> None:
    source = tmp_path / "f.txt"
    source.write_bytes(b"x")
    with pytest.raises(NotSupported, match=r"storage\.upload_file\b"):
        StorageService("empty", {}).upload_file(source, "bucket-a", "k")
    with pytest.raises(cloudkit.InvalidInput):  # input is still checked first
        StorageService("empty", {}).upload_file(source, "Not A Bucket!", "k")


def test_a_declaration_must_name_real_operations() -> None:
    with pytest.raises(TypeError, match="not an operation"):
        class Broken(Service):
            family = "broken"

            @operation(derives=("nothing",))
            def thing(self) -> None:
                """A derived operation built on an undeclared one."""


def test_a_provider_implementing_a_derived_driver_supports_it_alone() -> None:
    class Uploads(StorageService):
        def _upload_file(self, *args: Any) -> ObjectInfo:
            raise AssertionError("not called")

    assert Uploads("u", {}).capabilities() == {"upload_file"}


# ------------------------------------------------------------------ delete_bucket(force=True)
class CountingStorage(StorageService):
    """An in-memory bucket counting driver calls."""

    def __init__(self, keys: int) -> None:
        super().__init__("counting", {})
        self.keys = {f"k{i:06d}" for i in range(keys)}
        self.list_calls = 0
        self.batches: list[int] = []

    def _list_objects(self, bucket: str, prefix: str, delimiter: str | None, start_after: str | None) -> Iterator[ObjectInfo]:
        self.list_calls += 1
        last = ""
        while True:  # keyset paging, 1,000 keys a page, like S3 and the local provider
            page = sorted(k for k in self.keys if k > last)[:1000]
            if not page:
                return
            for key in page:
                yield ObjectInfo(bucket=bucket, key=key, size=0, etag="0")
            last = page[-1]

    def _delete_objects(self, bucket: str, keys: list[str]) -> DeleteResult:
        assert len(keys) <= 1000
        self.batches.append(len(keys))
        self.keys -= set(keys)
        return DeleteResult(deleted=keys)

    def _delete_bucket(self, name: str) -> None:
        assert not self.keys, "bucket not empty"


def test_delete_bucket_force_lists_once_and_deletes_in_batches_of_1000() -> None:
    storage = CountingStorage(2500)
    storage.delete_bucket("bucket-a", force=True)
    assert storage.list_calls == 1
    assert storage.batches == [1000, 1000, 500]
