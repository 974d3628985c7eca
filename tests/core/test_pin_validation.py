"""Pins the exact boundaries of cloudkit.validation: lengths, ranges, label rules (found by mutation testing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from cloudkit import InvalidInput
from cloudkit import validation as v


def _rule(call, *args, **kwargs) -> InvalidInput:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput) as info:
        call(*args, **kwargs)
    return info.value


@pytest.mark.parametrize(
    ("call", "field", "limit"),
    [(v.reference, "ref", 2048), (v.optional_text, "description", 1024), (v.resource_name, "name", 255)],
)
def test_length_limits_are_inclusive(call, field: str, limit: int) -> None:  # type: ignore[no-untyped-def]
    assert call(field, "a" * limit) == "a" * limit
    err = _rule(call, field, "a" * (limit + 1))
    assert (err.field, err.rule) == (field, f"must be at most {limit} characters")


def test_explicit_max_len_is_used() -> None:
    assert v.reference("r", "abc", max_len=3) == "abc"
    assert _rule(v.reference, "r", "abc", max_len=2).rule == "must be at most 2 characters"
    assert _rule(v.optional_text, "d", "abc", max_len=2).rule == "must be at most 2 characters"


def test_int_range_bounds_are_inclusive_and_named() -> None:
    assert v.int_range("n", 1, 1, 3) == 1
    assert v.int_range("n", 3, 1, 3) == 3
    assert v.int_range("n", 10**9, 1) == 10**9
    err = _rule(v.int_range, "n", 0, 1, 3)
    assert (err.field, err.rule) == ("n", "must be between 1 and 3 (got 0)")
    assert _rule(v.int_range, "n", 4, 1, 3).rule == "must be between 1 and 3 (got 4)"
    assert _rule(v.int_range, "n", 0, 1).rule == "must be at least 1 (got 0)"
    assert _rule(v.int_range, "n", True, 0).rule == "must be an integer, not bool"
    assert _rule(v.int_range, "n", "1", 0).rule == "must be an integer, not str"


def test_number_range_bounds_are_inclusive_and_named() -> None:
    assert v.number_range("x", 0.5, 0.5, 1.5) == 0.5
    assert v.number_range("x", 1.5, 0.5, 1.5) == 1.5
    assert isinstance(v.number_range("x", 2, 0), float)
    assert _rule(v.number_range, "x", 1.6, 0.5, 1.5).rule == "must be between 0.5 and 1.5 (got 1.6)"
    assert _rule(v.number_range, "x", 0.4, 0.5, 1.5).rule == "must be between 0.5 and 1.5 (got 0.4)"
    assert _rule(v.number_range, "x", -1, 0).rule == "must be at least 0 (got -1)"
    assert _rule(v.number_range, "x", False, 0).rule == "must be a number, not bool"
    assert _rule(v.number_range, "x", "1", 0).rule == "must be a number, not str"


def test_byte_range_whose_end_precedes_its_start_is_refused() -> None:
    assert v.byte_range((5, 5)) == (5, 5)
    assert v.byte_range((0, None)) == (0, None)
    assert v.byte_range(None) is None
    err = _rule(v.byte_range, (5, 4))
    assert (err.field, err.rule) == ("range[1]", "must be at least 5 (got 4)")
    assert _rule(v.byte_range, (-1, 4)).field == "range[0]"
    assert _rule(v.byte_range, (1, 2, 3)).field == "range"
    assert _rule(v.byte_range, [1, 2]).field == "range"


@pytest.mark.parametrize(
    ("call", "low", "high"),
    [(v.ttl, 0, 2147483647), (v.port, 0, 65535), (v.storage_gb, 1, 65536), (v.retention_days, 0, 35), (v.expires_in, 1, 604800)],
)
def test_named_ranges(call, low: int, high: int) -> None:  # type: ignore[no-untyped-def]
    assert call(low) == low
    assert call(high) == high
    assert _rule(call, low - 1).rule == f"must be between {low} and {high} (got {low - 1})"
    assert _rule(call, high + 1).rule == f"must be between {low} and {high} (got {high + 1})"


def test_client_token_lengths() -> None:
    assert v.client_token(None) is None
    assert v.client_token("a" * 64) == "a" * 64
    assert _rule(v.client_token, "a" * 65).field == "client_token"
    assert _rule(v.client_token, "").field == "client_token"
    assert _rule(v.client_token, "a b").field == "client_token"
    assert _rule(v.client_token, 5).field == "client_token"


def test_flag_words() -> None:
    for word in ("true", " TRUE ", "1", "yes"):
        assert v.flag("f", word) is True
    for word in ("false", "0", "no", " No"):
        assert v.flag("f", word) is False
    assert v.flag("f", True) is True
    assert v.flag("f", False) is False
    assert _rule(v.flag, "f", "maybe").rule == "must be true or false"
    assert _rule(v.flag, "f", 1).field == "f"


def test_one_of_is_case_insensitive_and_lists_choices() -> None:
    assert v.one_of("p", "HTTP", ["http", "https"]) == "http"
    err = _rule(v.one_of, "p", "ftp", ["http", "https"])
    assert (err.field, err.rule) == ("p", "must be one of http, https (got 'ftp')")
    assert _rule(v.one_of, "p", 3, ["http"]).field == "p"


def test_string_map_limits_and_fields() -> None:
    assert v.string_map("tags", None) == {}
    assert v.string_map("tags", {str(i): "x" for i in range(100)}) == {str(i): "x" for i in range(100)}
    assert _rule(v.string_map, "tags", {str(i): "x" for i in range(101)}).rule == "must have at most 100 entries"
    assert _rule(v.string_map, "tags", {"a": "", "b": "", "c": ""}, max_items=2).rule == "must have at most 2 entries"
    assert v.string_map("tags", {"a": ""}, max_items=1) == {"a": ""}
    assert _rule(v.string_map, "tags", {"": "x"}).rule == "keys must be non-empty strings"
    assert _rule(v.string_map, "tags", {1: "x"}).rule == "keys must be non-empty strings"
    assert _rule(v.string_map, "tags", {"k": 1}).field == "tags['k']"
    assert _rule(v.string_map, "tags", {"k": "\ud800"}).field == "tags['k']"
    assert _rule(v.string_map, "tags", {"k\x01": "v"}).field == "tags"
    assert _rule(v.string_map, "tags", ["k"]).field == "tags"


def test_require_str_messages() -> None:
    assert _rule(v.require_str, "f", 3).rule == "must be a string, not int"
    assert _rule(v.require_str, "f", "").rule == "must not be empty"
    assert _rule(v.require_str, "f", "a\x00").rule == "must not contain a NUL character"
    assert _rule(v.require_str, "f", "a\udfff").rule == "must be valid Unicode text (no lone surrogate code points)"
    assert _rule(v.no_controls, "f", "a\x9f").rule == "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"
    assert v.no_controls("f", "a\xa0") == "a\xa0"


def test_optional_text_rules() -> None:
    assert v.optional_text("d", None) is None
    assert _rule(v.optional_text, "d", 1).rule == "must be a string, not int"
    assert _rule(v.optional_text, "d", "a\nb").field == "d"
    assert _rule(v.optional_text, "d", "a\ud800").field == "d"


def test_aware_datetime() -> None:
    naive = datetime(2024, 1, 2, 3, 4, 5)
    assert v.aware_datetime("t", naive) == naive.replace(tzinfo=UTC)
    other = datetime(2024, 1, 2, tzinfo=timezone(timedelta(hours=2)))
    assert v.aware_datetime("t", other).tzinfo == other.tzinfo
    assert _rule(v.aware_datetime, "t", "2024-01-01").field == "t"


def test_resource_name_start_rule() -> None:
    assert v.resource_name("n", "a_b.c-d") == "a_b.c-d"
    assert _rule(v.resource_name, "n", "_a").rule == "may contain only letters, digits, '_', '.' and '-', starting with a letter or digit"


def test_key_and_prefix_byte_limits() -> None:
    assert v.object_key("k" * 1024) == "k" * 1024
    assert _rule(v.object_key, "k" * 1025).rule == "must be at most 1024 bytes of UTF-8 (got 1025)"
    assert v.key_prefix(None) == ""
    assert v.key_prefix("") == ""
    assert v.key_prefix("a/.") == "a/."
    assert _rule(v.key_prefix, "a\x01").field == "prefix"
    assert _rule(v.object_key, "a\ufffe").field == "key"


def test_db_rules() -> None:
    assert v.db_identifier("A" + "b" * 62) == "a" + "b" * 62
    assert _rule(v.db_identifier, "a" * 64).field == "identifier"
    assert _rule(v.db_identifier, "a-").field == "identifier"
    assert _rule(v.db_identifier, "a--b").field == "identifier"
    assert v.db_username("u" + "x" * 15) == "u" + "x" * 15
    assert _rule(v.db_username, "u" + "x" * 16).field == "master_username"
    assert _rule(v.db_username, "Postgres").rule == "'Postgres' is reserved by the engine"
    assert v.db_password("p" * 8) == "p" * 8
    assert v.db_password("p" * 128) == "p" * 128
    assert _rule(v.db_password, "p" * 7).rule == "must be 8 to 128 characters long"
    assert _rule(v.db_password, "p" * 129).rule == "must be 8 to 128 characters long"
    assert v.db_password("!~" * 4) == "!~" * 4
    for bad in ("pass word", "pass/word", "pass\x7fword", "passéword"):
        err = _rule(v.db_password, bad)
        assert bad not in str(err)
    assert v.maintenance_window("SUN:23:59-mon:00:00") == "sun:23:59-mon:00:00"
    assert v.maintenance_window(None) is None
    for bad in ("sun:24:00-mon:00:00", "sun:00:60-mon:00:00", "sun:00:00-mon:24:00", "sun:00:00-mon:00:60"):
        assert _rule(v.maintenance_window, bad).field == "maintenance_window"


def test_zone_label_rules() -> None:
    assert v.zone_name("Example.COM.") == "example.com"
    assert _rule(v.zone_name, "com").rule == "must have at least two labels, such as 'example.com'"
    assert _rule(v.zone_name, "-a.com").rule == "label '-a' may contain only letters, digits and inner '-'"
    assert _rule(v.zone_name, "a-.com").rule == "label 'a-' may contain only letters, digits and inner '-'"
    assert v.zone_name("a-b.com") == "a-b.com"
    assert v.record_name("*.www", "example.com") == "*.www"
    assert _rule(v.record_name, "www.*", "example.com").rule == "label '*' may contain only letters, digits, '_' and inner '-'"
    assert v.record_name("@", "example.com") == "@"
    assert v.record_name("example.com.", "example.com") == "@"
    assert v.record_name("_srv._tcp.WWW", "example.com") == "_srv._tcp.www"
    assert _rule(v.record_name, "a-", "example.com").rule == "label 'a-' may contain only letters, digits, '_' and inner '-'"
    assert _rule(v.record_name, "www.other.org.", "example.com").rule == "'www.other.org.' is not inside the zone example.com"
    assert _rule(v.zone_name, "a" * 1025).rule == "must be at most 1024 characters"
    assert _rule(v.zone_name, "   ").rule == "must not be empty or only spaces (write '@' for the zone apex)"
    assert _rule(v.zone_name, "a\\b.com").rule == "must not contain '\\' (zone-file escapes are not taken in names)"
