"""Pins where a local listing starts and stops (issue 11: listing start positions at prefix boundaries).

``list_objects`` with a prefix, ``start_after`` before, at, inside and past the prefix, a key equal
to the prefix, common prefixes rolled up and the first key after them, and keyset pages that end
exactly at a page boundary. Through the public calls only.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cloudkit_local import storage as local_storage
from cloudkit_local.storage import LocalStorage

KEYS = ["a", "b", "b!", "b/1", "b/2", "b0", "c"]


@pytest.fixture
def storage(tmp_path: Path) -> Iterator[LocalStorage]:
    svc = LocalStorage({"root": str(tmp_path / "root")})
    svc.create_bucket("bkt")
    for key in KEYS:
        svc.put_object("bkt", key, b"")
    yield svc
    svc.close()


def _names(listing: Any) -> list[str]:
    return [getattr(item, "key", None) or item.prefix for item in listing]


@pytest.mark.parametrize(
    ("start_after", "expected"),
    [
        (None, ["b", "b!", "b/1", "b/2", "b0"]),
        ("", ["b", "b!", "b/1", "b/2", "b0"]),
        ("a", ["b", "b!", "b/1", "b/2", "b0"]),  # before the prefix: the key equal to the prefix is listed
        ("a~", ["b", "b!", "b/1", "b/2", "b0"]),
        ("b", ["b!", "b/1", "b/2", "b0"]),  # at the prefix: after it
        ("b/1", ["b/2", "b0"]),  # inside: after that key
        ("b/", ["b/1", "b/2", "b0"]),  # between keys
        ("b0", []),  # the last key under the prefix
        ("b1", []),  # past every key under the prefix
        ("c", []),
    ],
)
def test_start_after_around_the_prefix(storage: LocalStorage, start_after: str | None, expected: list[str]) -> None:
    assert _names(storage.list_objects("bkt", prefix="b", start_after=start_after)) == expected


def test_without_prefix_start_after_is_exclusive(storage: LocalStorage) -> None:
    assert _names(storage.list_objects("bkt", start_after="b/1")) == ["b/2", "b0", "c"]
    assert _names(storage.list_objects("bkt")) == KEYS
    assert _names(storage.list_objects("bkt", start_after="0")) == KEYS


def test_the_key_after_a_common_prefix_is_listed(storage: LocalStorage) -> None:
    # "b0" is the first key past "b/..." ("0" follows "/"): the jump lands on it, not past it
    assert _names(storage.list_objects("bkt", delimiter="/")) == ["a", "b", "b!", "b/", "b0", "c"]
    assert _names(storage.list_objects("bkt", prefix="b", delimiter="/")) == ["b", "b!", "b/", "b0"]


def test_the_delimiter_is_looked_for_after_the_prefix(storage: LocalStorage) -> None:
    for key in ("b//x", "b/x/1", "b/x/2"):
        storage.put_object("bkt", key, b"")
    assert _names(storage.list_objects("bkt", prefix="b/", delimiter="/")) == ["b//", "b/1", "b/2", "b/x/"]
    assert _names(storage.list_objects("bkt", prefix="b/", delimiter="/", start_after="b/1")) == ["b/2", "b/x/"]
    assert _names(storage.list_objects("bkt", prefix="b/x", delimiter="/")) == ["b/x/"]


@pytest.mark.parametrize("page", [1, 2, 3, 7, 8])
def test_pages_end_anywhere(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch, page: int) -> None:
    """Seven keys in pages of 1..8: each key once, in order, whether the last page is full or not."""
    monkeypatch.setattr(local_storage, "PAGE", page)
    assert _names(storage.list_objects("bkt")) == KEYS
    assert _names(storage.list_objects("bkt", prefix="b", start_after="b")) == ["b!", "b/1", "b/2", "b0"]
    assert _names(storage.list_objects("bkt", delimiter="/")) == ["a", "b", "b!", "b/", "b0", "c"]


def test_a_common_prefix_spanning_pages_is_listed_once(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(3, 9):
        storage.put_object("bkt", f"b/{i}", b"")
    monkeypatch.setattr(local_storage, "PAGE", 2)
    assert _names(storage.list_objects("bkt", delimiter="/")) == ["a", "b", "b!", "b/", "b0", "c"]


def test_an_empty_prefix_range(storage: LocalStorage) -> None:
    assert _names(storage.list_objects("bkt", prefix="bb")) == []
    assert _names(storage.list_objects("bkt", prefix="z")) == []


def test_listed_items_name_their_bucket(storage: LocalStorage) -> None:
    items = list(storage.list_objects("bkt", prefix="b", delimiter="/"))
    assert {(type(i).__name__, i.bucket) for i in items} == {("ObjectInfo", "bkt"), ("CommonPrefix", "bkt")}


def test_the_first_delimiter_after_the_prefix_cuts(storage: LocalStorage) -> None:
    for key in ("/root", "/root/x", "c/x/y/1"):
        storage.put_object("bkt", key, b"")
    # a key starting with the delimiter rolls up into "/"; deeper keys roll up at their first delimiter
    assert _names(storage.list_objects("bkt", delimiter="/")) == ["/", "a", "b", "b!", "b/", "b0", "c", "c/"]
    assert _names(storage.list_objects("bkt", prefix="c/", delimiter="/")) == ["c/x/"]


def test_the_last_code_point_as_delimiter_lists_each_common_prefix_once(storage: LocalStorage,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    last = "\U0010ffff"
    for key in (f"b{last}1", f"b{last}2", f"b{last}3"):
        storage.put_object("bkt", key, b"")
    monkeypatch.setattr(local_storage, "PAGE", 2)
    assert _names(storage.list_objects("bkt", delimiter=last)) == ["a", "b", "b!", "b/1", "b/2", "b0", f"b{last}", "c"]


def test_a_failing_listing_names_the_listing(storage: LocalStorage, monkeypatch: pytest.MonkeyPatch) -> None:
    import sqlite3

    from cloudkit.errors import CloudkitError

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise sqlite3.OperationalError("disk I/O error")

    listing = storage.list_objects("bkt")
    monkeypatch.setattr(storage.db, "query", broken)
    with pytest.raises(CloudkitError) as caught:
        list(listing)
    assert caught.value.message.startswith("list objects: ")
