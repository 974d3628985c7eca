"""Pins the family validators of cloudkit.validation rule by rule (found by mutation testing).

Every refusal compares the whole field and rule; every acceptance compares the exact value returned.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from cloudkit import InvalidInput
from cloudkit import validation as v
from cloudkit.models.compute import SecurityRule as SR
from cloudkit.models.dns import RecordSet as RS
from cloudkit.models.storage import LifecycleRule as LR

ZONE = "example.com"
LINK_LOCAL = (
    "must not point at a link-local or cloud metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254); "
    "set allow_link_local_endpoints to allow it"
)
QUEUE_RULE = "must be 1 to 80 letters, digits, '-' or '_' (optionally ending in '.fifo')"
TOPIC_RULE = "must be 1 to 256 letters, digits, '-' or '_' (optionally ending in '.fifo')"
MIME_RULE = "must be a MIME type such as 'text/plain' (printable ASCII, at most 255 characters)"
EMAIL_RULE = "must be an e-mail address such as ops@example.com"
PHONE_RULE = "must be a phone number in E.164 form, such as +14155550100"
LABELS_RULE = "host labels may contain only letters, digits and inner '-'"
NUMERIC_RULE = "host is neither a dotted IPv4 address nor a name (numeric last label)"
CONTROLS = "must not contain control characters (U+0000-U+001F, U+007F-U+009F)"
NOT_XML = "must not contain C0 control characters other than tab, LF and CR, or U+FFFE/U+FFFF"
SURROGATE = "must be valid Unicode text (no lone surrogate code points)"
APP_RULE = "must be 1 to 100 printable characters without '/'"
ENV_RULE = "must be 4 to 40 letters, digits or hyphens, not starting or ending with a hyphen"
WINDOW_RULE = "must be 'ddd:hh:mm-ddd:hh:mm' in UTC, such as 'sun:05:00-sun:06:00'"
DB_ID_RULE = "must be 1 to 63 letters, digits or hyphens, start with a letter, and not end with or contain two hyphens in a row"
PASSWORD_CHARS = "may contain only printable ASCII characters other than '/', '\"', '@', \"'\" and space"
BUCKET_CHARS = "may contain only lower-case letters, digits, '.' and '-', and must start and end with a letter or digit"
#: A host name of 253 characters (four labels).
LONG_HOST = "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 61
ARN_HEAD = "arn:aws:sqs:us-east-1:123456789012:"

Refusal = tuple[Callable[[], object], str, str]
Acceptance = tuple[Callable[[], object], object]


def _refusal(call: Callable[[], object]) -> tuple[str, str]:
    with pytest.raises(InvalidInput) as info:
        call()
    return info.value.field, info.value.rule


REFUSED: list[Refusal] = [
    # lifecycle rules
    (lambda: v.lifecycle_rules("abc"), "rules", "must be a sequence of LifecycleRule"),
    (lambda: v.lifecycle_rules(b"abc"), "rules", "must be a sequence of LifecycleRule"),
    (lambda: v.lifecycle_rules(5), "rules", "must be a sequence of LifecycleRule"),
    (lambda: v.lifecycle_rules([object()]), "rules[0]", "must be a LifecycleRule"),
    (lambda: v.lifecycle_rules([LR(expire_after_days=1), "x"]), "rules[1]", "must be a LifecycleRule"),
    (
        lambda: v.lifecycle_rules([LR(prefix="a\x01", expire_after_days=1)]),
        "rules[0].prefix",
        "must not contain C0 control characters (U+0000-U+001F) or U+FFFE/U+FFFF",
    ),
    (lambda: v.lifecycle_rules([LR(prefix="logs/")]), "rules[0]", "must set archive_after_days or expire_after_days"),
    (lambda: v.lifecycle_rules([LR(archive_after_days=-1)]), "rules[0].archive_after_days", "must be between 0 and 36500 (got -1)"),
    (
        lambda: v.lifecycle_rules([LR(archive_after_days=36501)]),
        "rules[0].archive_after_days",
        "must be between 0 and 36500 (got 36501)",
    ),
    (lambda: v.lifecycle_rules([LR(expire_after_days=0)]), "rules[0].expire_after_days", "must be between 1 and 36500 (got 0)"),
    (
        lambda: v.lifecycle_rules([LR(expire_after_days=36501)]),
        "rules[0].expire_after_days",
        "must be between 1 and 36500 (got 36501)",
    ),
    (
        lambda: v.lifecycle_rules([LR(archive_after_days=30, expire_after_days=30)]),
        "rules[0].expire_after_days",
        "must be later than archive_after_days",
    ),
    (
        lambda: v.lifecycle_rules([LR(archive_after_days=30, expire_after_days=29)]),
        "rules[0].expire_after_days",
        "must be later than archive_after_days",
    ),
    (
        lambda: v.lifecycle_rules([LR(expire_after_days=5, archive_class="GLACIER")]),
        "rules[0].archive_class",
        "must be one of ARCHIVE, DEEP_ARCHIVE",
    ),
    (
        lambda: v.lifecycle_rules([LR(expire_after_days=5, archive_class="archive")]),
        "rules[0].archive_class",
        "must be one of ARCHIVE, DEEP_ARCHIVE",
    ),
    (
        lambda: v.lifecycle_rules([LR(id="rule-2", expire_after_days=1), LR(expire_after_days=2)]),
        "rules[1].id",
        "duplicate rule id 'rule-2'",
    ),
    (
        lambda: v.lifecycle_rules([LR(id="a", expire_after_days=1), LR(id="a", expire_after_days=2)]),
        "rules[1].id",
        "duplicate rule id 'a'",
    ),
    (lambda: v.lifecycle_rules([LR(expire_after_days=1)] * 1001), "rules", "at most 1000 rules"),
    # record sets
    (lambda: v.record_set("www", ZONE), "records", "must be a RecordSet"),
    (
        lambda: v.record_set(RS(name="www", type="HINFO", values=("x",)), ZONE),
        "records.type",
        "must be one of A, AAAA, CNAME, MX, TXT, SRV, NS, CAA, PTR, SOA (got 'HINFO')",
    ),
    (
        lambda: v.record_set(RS(name="www", type="hinfo", values=("x",)), ZONE, "r"),
        "r.type",
        "must be one of A, AAAA, CNAME, MX, TXT, SRV, NS, CAA, PTR, SOA (got 'HINFO')",
    ),
    (lambda: v.record_set(RS(name="www", type="A", values=()), ZONE), "records.values", "must hold at least one value"),
    (lambda: v.record_set(RS(name="www", type="A", values=()), ZONE, "r"), "r.values", "must hold at least one value"),
    (
        lambda: v.record_set(RS(name="www", type="A", values=("1.2.3.4", "1.2.3.4")), ZONE),
        "records.values",
        "must not repeat a value",
    ),
    (
        lambda: v.record_set(RS(name="www", type="A", values=("1.2.3.4", " 1.2.3.4 ")), ZONE, "r"),
        "r.values",
        "must not repeat a value",
    ),
    (
        lambda: v.record_set(RS(name="@", type="CNAME", values=("a.example.com.",)), ZONE),
        "records.name",
        "a CNAME cannot be at the zone apex",
    ),
    (
        lambda: v.record_set(RS(name="@", type="CNAME", values=("a.example.com.",)), ZONE, "r"),
        "r.name",
        "a CNAME cannot be at the zone apex",
    ),
    (
        lambda: v.record_set(RS(name="www", type="CNAME", values=("a.example.com.", "b.example.com.")), ZONE),
        "records.values",
        "a CNAME has exactly one value",
    ),
    (
        lambda: v.record_set(RS(name="www", type="CNAME", values=("a.example.com.", "b.example.com.")), ZONE, "r"),
        "r.values",
        "a CNAME has exactly one value",
    ),
    (
        lambda: v.record_set(RS(name="www", type="SOA", values=("ns1 hostmaster 1 7200 900 1209600 86400",)), ZONE),
        "records.name",
        "an SOA record can only be at the zone apex",
    ),
    (
        lambda: v.record_set(RS(name="www", type="SOA", values=("ns1 hostmaster 1 7200 900 1209600 86400",)), ZONE, "r"),
        "r.name",
        "an SOA record can only be at the zone apex",
    ),
    (
        lambda: v.record_set(RS(name="www.other.org.", type="A", values=("10.0.0.1",)), ZONE),
        "records.name",
        "'www.other.org.' is not inside the zone example.com",
    ),
    (
        lambda: v.record_set(RS(name="www", type="A", values=("bad",)), ZONE),
        "records.values",
        "must be an IPv4 address (got 'bad': Text input is malformed.)",
    ),
    (
        lambda: v.record_set(RS(name="www", type="A", ttl=2**31, values=("10.0.0.1",)), ZONE),
        "RecordSet.ttl",
        "must be an integer number of seconds from 0 to 2147483647 (got 2147483648)",
    ),
    # record values
    (lambda: v.record_value("A", 5, ZONE), "values", "each value must be a non-empty string"),
    (lambda: v.record_value("A", "   ", ZONE), "values", "each value must be a non-empty string"),
    (lambda: v.record_value("A", "", ZONE, "vals"), "vals", "each value must be a non-empty string"),
    (lambda: v.record_value("TXT", "a\ud800", ZONE), "values", SURROGATE),
    (lambda: v.record_value("TXT", "a\nb", ZONE), "values", "values must not contain line breaks or other control characters"),
    (lambda: v.record_value("TXT", "a\x7f", ZONE), "values", "values must not contain line breaks or other control characters"),
    (lambda: v.record_value("TXT", "a" * 4001, ZONE), "values", "each value must be at most 4000 characters"),
    (lambda: v.record_value("A", "1.2.3", ZONE), "values", "must be an IPv4 address (got '1.2.3': Text input is malformed.)"),
    (
        lambda: v.record_value("AAAA", "1.2.3.4", ZONE),
        "values",
        "must be an IPv6 address (got '1.2.3.4': Text input is malformed.)",
    ),
    (lambda: v.record_value("MX", "mail", ZONE), "values", "must be 'priority host' (got 'mail': expecting an integer)"),
    (
        lambda: v.record_value("SRV", "1 2 three", ZONE),
        "values",
        "must be 'priority weight port target' (got '1 2 three': expecting an integer)",
    ),
    (lambda: v.record_value("CAA", "0 issue", ZONE), "values", "must be 'flags tag \"value\"' (got '0 issue': expecting a string)"),
    (
        lambda: v.record_value("TXT", '"unterminated', ZONE),
        "values",
        "must be text or quoted strings (got '\"unterminated': Text input ended unexpectedly.)",
    ),
    (lambda: v.record_value("NS", "bad..name", ZONE), "values", "must be a valid NS value (got 'bad..name': A DNS label is empty.)"),
    (lambda: v.record_value("PTR", "1 2", ZONE), "values", "must be a valid PTR value (got '1 2': expected EOL or EOF, got 3 \"2\")"),
    # message attributes
    (lambda: v.message_attributes({str(i): "x" for i in range(11)}), "attributes", "must have at most 10 entries"),
    (lambda: v.message_attributes({"a" * 257: "x"}), f"attributes[{'a' * 257!r}]", "names are at most 256 letters, digits, '-', '_' or '.'"),
    (lambda: v.message_attributes({"a b": "x"}), "attributes['a b']", "names are at most 256 letters, digits, '-', '_' or '.'"),
    (lambda: v.message_attributes({"a b": "x"}, "attrs"), "attrs['a b']", "names are at most 256 letters, digits, '-', '_' or '.'"),
    (lambda: v.message_attributes({"k": "a\x01"}), "attributes['k']", NOT_XML),
    (lambda: v.message_attributes({"k": "\ufffe"}, "attrs"), "attrs['k']", NOT_XML),
    (lambda: v.message_attributes({"k": "a\ud800"}), "attributes['k']", SURROGATE),
    (lambda: v.message_attributes({"k": "a" * 262145}), "attributes['k']", "must be at most 262144 bytes of UTF-8"),
    (lambda: v.message_attributes({"k": "é" * 131073}, "attrs"), "attrs['k']", "must be at most 262144 bytes of UTF-8"),
    (lambda: v.message_attributes({"k": 1}), "attributes['k']", "must be a string"),
    # messages and subjects
    (lambda: v.message(5), "message", "must be a string"),
    (lambda: v.message(b"x", "body"), "body", "must be a string"),
    (lambda: v.message(""), "message", "must not be empty"),
    (lambda: v.message("", "body"), "body", "must not be empty"),
    (lambda: v.message("a\x00b"), "message", NOT_XML),
    (lambda: v.message("a\x0bb"), "message", NOT_XML),
    (lambda: v.message("a\x1fb"), "message", NOT_XML),
    (lambda: v.message("\uffff"), "message", NOT_XML),
    (lambda: v.message("a\udfff"), "message", SURROGATE),
    (lambda: v.message("a" * 262145), "message", "must be at most 262144 bytes of UTF-8 (got 262145)"),
    (lambda: v.message("é" * 131073, "body"), "body", "must be at most 262144 bytes of UTF-8 (got 262146)"),
    (lambda: v.message_text("f", "\x08"), "f", NOT_XML),
    (lambda: v.message_text("f", "\x0e"), "f", NOT_XML),
    (lambda: v.message_text("f", "\x0c"), "f", NOT_XML),
    (lambda: v.message_text("f", "\ud800"), "f", SURROGATE),
    (lambda: v.subject(5), "subject", "must be a string, not int"),
    (lambda: v.subject(""), "subject", "must not be empty"),
    (lambda: v.subject("a" * 101), "subject", "must be one line of at most 100 printable characters"),
    (lambda: v.subject("a\nb", "title"), "title", "must be one line of at most 100 printable characters"),
    (lambda: v.subject("a\x9fb"), "subject", "must be one line of at most 100 printable characters"),
    # urls
    (lambda: v.url(5), "endpoint", "must be a string, not int"),
    (lambda: v.url("", "hook"), "hook", "must not be empty"),
    (lambda: v.url("http://a.com/" + "a" * 2036), "endpoint", "must be at most 2048 characters"),
    (lambda: v.url("http://a.com/" + "a" * 2036, "hook"), "hook", "must be at most 2048 characters"),
    (lambda: v.url("http://a.com/x y"), "endpoint", "must not contain whitespace or control characters"),
    (lambda: v.url("http://a.com/x\x85y", "hook"), "hook", "must not contain whitespace or control characters"),
    (lambda: v.url("http://a.com/x\u2003y"), "endpoint", "must not contain whitespace or control characters"),
    (lambda: v.url("http://a.com:99999/"), "endpoint", "is not a valid URL (bad host or port)"),
    (lambda: v.url("http://[::1/", "hook"), "hook", "is not a valid URL (bad host or port)"),
    (lambda: v.url("http://a.com:80:90/"), "endpoint", "is not a valid URL (bad host or port)"),
    (lambda: v.url("ftp://a.com/"), "endpoint", "must be an absolute http/https URL with a host"),
    (lambda: v.url("ftp://a.com/", "hook"), "hook", "must be an absolute http/https URL with a host"),
    (lambda: v.url("https://a.com/", schemes=("http",)), "endpoint", "must be an absolute http URL with a host"),
    (lambda: v.url("http:///path"), "endpoint", "must be an absolute http/https URL with a host"),
    (lambda: v.url("http://a.com:0/"), "endpoint", "port must be 1 to 65535"),
    (lambda: v.url("http://a.com:0/", "hook"), "hook", "port must be 1 to 65535"),
    (lambda: v.url("http://[zz]/"), "endpoint", "is not a valid URL (bad host or port)"),
    (lambda: v.url("http://1.2.3.999/"), "endpoint", NUMERIC_RULE),
    (lambda: v.url("http://1.2.3.999/", "hook"), "hook", NUMERIC_RULE),
    (lambda: v.url("http://a_b.com/"), "endpoint", LABELS_RULE),
    (lambda: v.url("http://169.254.169.254/", allow_link_local=False), "endpoint", LINK_LOCAL),
    (lambda: v.url("http://169.254.169.254/", "hook", allow_link_local=False), "hook", LINK_LOCAL),
    (lambda: v.url("http://[fe80::1]/", allow_link_local=False), "endpoint", LINK_LOCAL),
    (lambda: v.url("http://[fe80::1]:8080/", allow_link_local=False), "endpoint", LINK_LOCAL),
    (lambda: v.url("http://u:p@169.254.1.1:80/", allow_link_local=False), "endpoint", LINK_LOCAL),
    (lambda: v.url("http://metadata.google.internal/", allow_link_local=False), "endpoint", LINK_LOCAL),
    # host names
    (lambda: v.host_name(""), "endpoint", "host must be a name of 1 to 253 characters"),
    (lambda: v.host_name("."), "endpoint", "host must be a name of 1 to 253 characters"),
    (lambda: v.host_name("a" * 254, "h"), "h", "host must be a name of 1 to 253 characters"),
    (lambda: v.host_name(LONG_HOST + "e"), "endpoint", "host must be a name of 1 to 253 characters"),
    (lambda: v.host_name("a..b"), "endpoint", "host is not a valid domain name"),
    (lambda: v.host_name("a" * 64 + ".com", "h"), "h", "host is not a valid domain name"),
    (lambda: v.host_name("-a.com"), "endpoint", LABELS_RULE),
    (lambda: v.host_name("a-.com", "h"), "h", LABELS_RULE),
    (lambda: v.host_name("a_b.com"), "endpoint", LABELS_RULE),
    (lambda: v.host_name("localhost", min_labels=2), "endpoint", LABELS_RULE),
    (lambda: v.host_name("a.0x1F"), "endpoint", NUMERIC_RULE),
    (lambda: v.host_name("a.0x", "h"), "h", NUMERIC_RULE),
    (lambda: v.host_name("a.123"), "endpoint", NUMERIC_RULE),
    (lambda: v.host_name("2852039166"), "endpoint", NUMERIC_RULE),
    # e-mail and phone
    (lambda: v.email(5), "endpoint", "must be a string, not int"),
    (lambda: v.email("a" * 65 + "@example.com"), "endpoint", EMAIL_RULE),
    (lambda: v.email("ab@" + LONG_HOST[:-1]), "endpoint", EMAIL_RULE),
    (lambda: v.email("ab@" + LONG_HOST[:-1], "to"), "to", EMAIL_RULE),
    (lambda: v.email("opsexample.com"), "endpoint", EMAIL_RULE),
    (lambda: v.email("@example.com"), "endpoint", EMAIL_RULE),
    (lambda: v.email("a..b@example.com"), "endpoint", EMAIL_RULE),
    (lambda: v.email("a b@example.com"), "endpoint", EMAIL_RULE),
    (lambda: v.email("a@b@example.com"), "endpoint", EMAIL_RULE),
    (lambda: v.email("ops@bücher.de"), "endpoint", "must be an e-mail address with an ASCII domain such as ops@example.com"),
    (lambda: v.email("ops@bücher.de", "to"), "to", "must be an e-mail address with an ASCII domain such as ops@example.com"),
    (lambda: v.email("ops@localhost"), "endpoint", LABELS_RULE),
    (lambda: v.email("ops@localhost", "to"), "to", LABELS_RULE),
    (lambda: v.email("ops@example.com\n"), "endpoint", CONTROLS),
    (lambda: v.phone("+1234567"), "endpoint", PHONE_RULE),
    (lambda: v.phone("+1234567890123456"), "endpoint", PHONE_RULE),
    (lambda: v.phone("+0234567890"), "endpoint", PHONE_RULE),
    (lambda: v.phone("12345678901"), "endpoint", PHONE_RULE),
    (lambda: v.phone("+1415555010x"), "endpoint", PHONE_RULE),
    (lambda: v.phone("x", "to"), "to", PHONE_RULE),
    (lambda: v.phone("", "to"), "to", "must not be empty"),
    # subscription endpoints
    (lambda: v.endpoint("https", "http://10.0.0.1/hook"), "endpoint", "must be an absolute https URL with a host"),
    (lambda: v.endpoint("http", "https://10.0.0.1/hook"), "endpoint", "must be an absolute http URL with a host"),
    (lambda: v.endpoint("https", "https://169.254.169.254/"), "endpoint", LINK_LOCAL),
    (lambda: v.endpoint("http", "http://metadata/"), "endpoint", LINK_LOCAL),
    (lambda: v.endpoint("queue", ARN_HEAD), "endpoint", "must be a queue ARN (arn:partition:service:region:account:name)"),
    (lambda: v.endpoint("queue", "arn:AWS:sqs:r:1:q"), "endpoint", "must be a queue ARN (arn:partition:service:region:account:name)"),
    (lambda: v.endpoint("queue", "arn:aws:sqs:r:1a:q"), "endpoint", "must be a queue ARN (arn:partition:service:region:account:name)"),
    (lambda: v.endpoint("queue", "arn:aws:sqs:r:1:q q"), "endpoint", "must be a queue ARN (arn:partition:service:region:account:name)"),
    (
        lambda: v.endpoint("queue", ARN_HEAD + "j" * 2014),
        "endpoint",
        "must be a queue ARN (arn:partition:service:region:account:name)",
    ),
    (lambda: v.endpoint("queue", "ftp://x/"), "endpoint", QUEUE_RULE),
    (lambda: v.endpoint("queue", "http://10.0.0.1:0/q"), "endpoint", "port must be 1 to 65535"),
    (lambda: v.endpoint("queue", "a" * 81), "endpoint", QUEUE_RULE),
    (lambda: v.endpoint("queue", 5), "endpoint", "must be a string, not int"),
    (lambda: v.endpoint("pigeon", "x"), "protocol", "must be one of http, https, email, sms, queue (got 'pigeon')"),
    (lambda: v.endpoint(None, "x"), "protocol", "must be one of http, https, email, sms, queue (got None)"),
    (lambda: v.endpoint("email", "not-an-address"), "endpoint", EMAIL_RULE),
    (lambda: v.endpoint("sms", "12345"), "endpoint", PHONE_RULE),
    # topic and queue names
    (lambda: v.topic_name("a" * 257), "name", TOPIC_RULE),
    (lambda: v.topic_name("a.b", "topic"), "topic", TOPIC_RULE),
    (lambda: v.topic_name(".fifo"), "name", TOPIC_RULE),
    (lambda: v.topic_name("a" * 257 + ".fifo"), "name", TOPIC_RULE),
    (lambda: v.topic_name("fifo.fifo.fifo"), "name", TOPIC_RULE),
    (lambda: v.queue_name("a" * 81), "name", QUEUE_RULE),
    (lambda: v.queue_name("a" * 81 + ".fifo", "queue"), "queue", QUEUE_RULE),
    (lambda: v.queue_name(".fifo"), "name", QUEUE_RULE),
    (lambda: v.queue_name("a b"), "name", QUEUE_RULE),
    # security rules
    (lambda: v.security_rule("x"), "rules", "must be a SecurityRule"),
    (lambda: v.security_rule("x", "r[0]"), "r[0]", "must be a SecurityRule"),
    (lambda: v.security_rule(SR(protocol="tcp")), "rules.from_port", "is required for tcp and udp"),
    (lambda: v.security_rule(SR(protocol="udp"), "r[1]"), "r[1].from_port", "is required for tcp and udp"),
    (lambda: v.security_rule(SR(protocol="tcp", from_port=-1)), "rules.from_port", "must be between 0 and 65535 (got -1)"),
    (
        lambda: v.security_rule(SR(protocol="tcp", from_port=1, to_port=65536)),
        "rules.to_port",
        "must be between 0 and 65535 (got 65536)",
    ),
    (lambda: v.security_rule(SR(protocol="tcp", from_port=10, to_port=9)), "rules.to_port", "must not be below from_port"),
    (lambda: v.security_rule(SR(protocol="udp", from_port=10, to_port=9), "r"), "r.to_port", "must not be below from_port"),
    (lambda: v.security_rule(SR(protocol="gre")), "rules.protocol", "must be one of tcp, udp, icmp, -1 (got 'gre')"),
    (lambda: v.security_rule(SR(protocol="tcp", from_port=1, cidr="nope")), "rules.cidr", "must be a CIDR such as 10.0.0.0/8 (got 'nope')"),
    (lambda: v.security_rule(SR(protocol="icmp", cidr="nope"), "r"), "r.cidr", "must be a CIDR such as 10.0.0.0/8 (got 'nope')"),
    # user data, tags, instance names
    (lambda: v.user_data(b"\xff"), "user_data", "must be UTF-8 text"),
    (lambda: v.user_data(b"\xff", "ud"), "ud", "must be UTF-8 text"),
    (lambda: v.user_data(5), "user_data", "must be text"),
    (lambda: v.user_data(5, "ud"), "ud", "must be text"),
    (lambda: v.user_data("a\ud800"), "user_data", SURROGATE),
    (lambda: v.user_data("a" * 16385), "user_data", "must be at most 16384 bytes (EC2's limit)"),
    (lambda: v.user_data("é" * 8193, "ud"), "ud", "must be at most 16384 bytes (EC2's limit)"),
    (lambda: v.tags({str(i): "" for i in range(51)}), "tags", "must have at most 50 entries"),
    (lambda: v.tags({"k" * 129: "v"}), f"tags[{'k' * 129!r}]", "keys are at most 128 and values at most 256 characters"),
    (lambda: v.tags({"k": "v" * 257}), "tags['k']", "keys are at most 128 and values at most 256 characters"),
    (lambda: v.tags({"k": "v" * 257}, "labels"), "labels['k']", "keys are at most 128 and values at most 256 characters"),
    (lambda: v.tags({"k": "a\nb"}), "tags['k']", CONTROLS),
    (lambda: v.tags({"k": "a\nb"}, "labels"), "labels['k']", CONTROLS),
    (lambda: v.tags({"": "v"}), "tags", "keys must be non-empty strings"),
    (lambda: v.tags({1: "v"}), "tags", "keys must be non-empty strings"),  # type: ignore[dict-item]
    (lambda: v.tags({"a\x01": "v"}), "tags", CONTROLS),
    (lambda: v.tags({"a\ud800": "v"}), "tags", SURROGATE),
    (lambda: v.tags({"k": "\ud800"}), "tags['k']", SURROGATE),
    (lambda: v.tags([("k", "v")]), "tags", "must be a mapping of strings to strings"),  # type: ignore[arg-type]
    (lambda: v.instance_name("a" * 64), "name", "must be 1 to 63 letters, digits or inner '-' (it becomes the host name)"),
    (lambda: v.instance_name("-a", "host"), "host", "must be 1 to 63 letters, digits or inner '-' (it becomes the host name)"),
    (lambda: v.instance_name("a-"), "name", "must be 1 to 63 letters, digits or inner '-' (it becomes the host name)"),
    (lambda: v.instance_name("a_b"), "name", "must be 1 to 63 letters, digits or inner '-' (it becomes the host name)"),
    (lambda: v.instance_name("", "host"), "host", "must not be empty"),
    # content types and metadata
    (lambda: v.content_type("text"), "content_type", MIME_RULE),
    (lambda: v.content_type("text/plain\n"), "content_type", MIME_RULE),
    (lambda: v.content_type("text/" + "a" * 251), "content_type", MIME_RULE),
    (lambda: v.content_type("text/" + "a" * 251, "ct"), "ct", MIME_RULE),
    (lambda: v.content_type("text /plain"), "content_type", MIME_RULE),
    (lambda: v.content_type("text/plain; é"), "content_type", MIME_RULE),
    (lambda: v.content_type("text/plain x"), "content_type", MIME_RULE),
    (lambda: v.content_type("a_b/c"), "content_type", MIME_RULE),
    (lambda: v.content_type("/c"), "content_type", MIME_RULE),
    (lambda: v.content_type("", "ct"), "ct", "must not be empty"),
    (lambda: v.user_metadata({"a b": "v"}), "metadata['a b']", "names may contain only ASCII letters, digits, '-' and '_'"),
    (lambda: v.user_metadata({"é": "v"}, "meta"), "meta['é']", "names may contain only ASCII letters, digits, '-' and '_'"),
    (lambda: v.user_metadata({"k": "a\nb"}), "metadata['k']", "values must not contain line breaks or other control characters"),
    (lambda: v.user_metadata({"k": "a\x85"}, "meta"), "meta['k']", "values must not contain line breaks or other control characters"),
    (lambda: v.user_metadata({"k": "v" * 2048}), "metadata", "must be at most 2048 bytes in all (got 2049)"),
    (lambda: v.user_metadata({"k": "é" * 1024}, "meta"), "meta", "must be at most 2048 bytes in all (got 2049)"),
    (lambda: v.user_metadata({"a": "v" * 1000, "b": "v" * 1047}), "metadata", "must be at most 2048 bytes in all (got 2049)"),
    (lambda: v.user_metadata([("k", "v")]), "metadata", "must be a mapping of strings to strings"),  # type: ignore[arg-type]
    # buckets
    (lambda: v.bucket_name("ab"), "bucket", "must be 3 to 63 characters long (got 2)"),
    (lambda: v.bucket_name("a" * 64, "b"), "b", "must be 3 to 63 characters long (got 64)"),
    (lambda: v.bucket_name("Abc"), "bucket", BUCKET_CHARS),
    (lambda: v.bucket_name("-abc", "b"), "b", BUCKET_CHARS),
    (lambda: v.bucket_name("abc-"), "bucket", BUCKET_CHARS),
    (lambda: v.bucket_name("a_c"), "bucket", BUCKET_CHARS),
    (lambda: v.bucket_name("a..c"), "bucket", "must not contain '..', '.-' or '-.'"),
    (lambda: v.bucket_name("a.-c", "b"), "b", "must not contain '..', '.-' or '-.'"),
    (lambda: v.bucket_name("a-.c"), "bucket", "must not contain '..', '.-' or '-.'"),
    (lambda: v.bucket_name("10.0.0.1"), "bucket", "must not be formatted as an IP address"),
    (lambda: v.bucket_name("10.0.0.1", "b"), "b", "must not be formatted as an IP address"),
    (lambda: v.bucket_name("xn--abc"), "bucket", "must not start with 'xn--' or end with '-s3alias'"),
    (lambda: v.bucket_name("abc-s3alias", "b"), "b", "must not start with 'xn--' or end with '-s3alias'"),
    (lambda: v.bucket_name(None), "bucket", "must be a string, not NoneType"),
    (lambda: v.object_key("a/./b"), "key", "must not contain '.' or '..' path segments"),
    (lambda: v.object_key("..", "k"), "k", "must not contain '.' or '..' path segments"),
    (lambda: v.object_key("a\x1f"), "key", "must not contain C0 control characters (U+0000-U+001F) or U+FFFE/U+FFFF"),
    (lambda: v.object_key("a\uffff", "k"), "k", "must not contain C0 control characters (U+0000-U+001F) or U+FFFE/U+FFFF"),
    (lambda: v.object_key("é" * 513), "key", "must be at most 1024 bytes of UTF-8 (got 1026)"),
    (lambda: v.key_prefix("a\x00"), "prefix", "must not contain a NUL character"),
    (lambda: v.key_prefix(5, "p"), "p", "must be a string, not int"),
    (lambda: v.presign_method("DELETE"), "method", "must be GET or PUT (got 'DELETE')"),
    (lambda: v.presign_method(None), "method", "must be GET or PUT (got None)"),
    (lambda: v.presign_method("post"), "method", "must be GET or PUT (got 'post')"),
    # zones and record names
    (lambda: v.zone_name("com"), "zone", "must have at least two labels, such as 'example.com'"),
    (lambda: v.zone_name("com.", "z"), "z", "must have at least two labels, such as 'example.com'"),
    (lambda: v.zone_name("a_b.com"), "zone", "label 'a_b' may contain only letters, digits and inner '-'"),
    (lambda: v.zone_name("a.-b.com", "z"), "z", "label '-b' may contain only letters, digits and inner '-'"),
    (lambda: v.zone_name("b-.com"), "zone", "label 'b-' may contain only letters, digits and inner '-'"),
    (lambda: v.zone_name("a..com"), "zone", "is not a valid domain name (A DNS label is empty.)"),
    (lambda: v.zone_name("   "), "zone", "must not be empty or only spaces (write '@' for the zone apex)"),
    (lambda: v.zone_name("a\\066.com"), "zone", "must not contain '\\' (zone-file escapes are not taken in names)"),
    (lambda: v.zone_name("a." * 512 + "com"), "zone", "must be at most 1024 characters"),
    (lambda: v.zone_name("a\tb.com"), "zone", CONTROLS),
    (lambda: v.record_name("a%b", ZONE), "name", "label 'a%b' may contain only letters, digits, '_' and inner '-'"),
    (lambda: v.record_name("-a", ZONE, "n"), "n", "label '-a' may contain only letters, digits, '_' and inner '-'"),
    (lambda: v.record_name("a.*", ZONE), "name", "label '*' may contain only letters, digits, '_' and inner '-'"),
    (lambda: v.record_name("a-", ZONE), "name", "label 'a-' may contain only letters, digits, '_' and inner '-'"),
    (lambda: v.record_name("www.other.org.", ZONE, "n"), "n", "'www.other.org.' is not inside the zone example.com"),
    (lambda: v.record_name("a..b", ZONE), "name", "is not a valid domain name (A DNS label is empty.)"),
    (lambda: v.record_name(" ", ZONE), "name", "must not be empty or only spaces (write '@' for the zone apex)"),
    # database
    (lambda: v.db_identifier("1abc"), "identifier", DB_ID_RULE),
    (lambda: v.db_identifier("a" * 64, "id"), "id", DB_ID_RULE),
    (lambda: v.db_identifier("a--b"), "identifier", DB_ID_RULE),
    (lambda: v.db_identifier("ab-"), "identifier", DB_ID_RULE),
    (lambda: v.db_identifier("a_b"), "identifier", DB_ID_RULE),
    (lambda: v.db_username("1admin"), "master_username", "must be 1 to 16 letters, digits or '_', starting with a letter"),
    (lambda: v.db_username("a" * 17, "u"), "u", "must be 1 to 16 letters, digits or '_', starting with a letter"),
    (lambda: v.db_username("a-b"), "master_username", "must be 1 to 16 letters, digits or '_', starting with a letter"),
    (lambda: v.db_username("Postgres"), "master_username", "'Postgres' is reserved by the engine"),
    (lambda: v.db_username("rdsadmin", "u"), "u", "'rdsadmin' is reserved by the engine"),
    (lambda: v.db_username("admin_reserved"), "master_username", "'admin_reserved' is reserved by the engine"),
    (lambda: v.db_username("ROOT"), "master_username", "'ROOT' is reserved by the engine"),
    (lambda: v.db_username("mysql"), "master_username", "'mysql' is reserved by the engine"),
    (lambda: v.db_password(12345678), "master_password", "must be a string"),
    (lambda: v.db_password(None, "pw"), "pw", "must be a string"),
    (lambda: v.db_password("a" * 7), "master_password", "must be 8 to 128 characters long"),
    (lambda: v.db_password("a" * 129, "pw"), "pw", "must be 8 to 128 characters long"),
    (lambda: v.db_password("abcdefg/"), "master_password", PASSWORD_CHARS),
    (lambda: v.db_password('abcdefg"', "pw"), "pw", PASSWORD_CHARS),
    (lambda: v.db_password("abcdefg@"), "master_password", PASSWORD_CHARS),
    (lambda: v.db_password("abcdefg'"), "master_password", PASSWORD_CHARS),
    (lambda: v.db_password("abcd efg"), "master_password", PASSWORD_CHARS),
    (lambda: v.db_password("abcdefg\x7f"), "master_password", PASSWORD_CHARS),
    (lambda: v.db_password("abcdefg\x1f"), "master_password", PASSWORD_CHARS),
    (lambda: v.db_password("abcdefgé"), "master_password", PASSWORD_CHARS),
    (lambda: v.maintenance_window("sun:24:00-sun:06:00"), "maintenance_window", WINDOW_RULE),
    (lambda: v.maintenance_window("sun:05:00-sun:24:00", "w"), "w", WINDOW_RULE),
    (lambda: v.maintenance_window("sun:05:60-sun:06:00"), "maintenance_window", WINDOW_RULE),
    (lambda: v.maintenance_window("sun:05:00-sun:06:60"), "maintenance_window", WINDOW_RULE),
    (lambda: v.maintenance_window("sun:5:00-sun:06:00"), "maintenance_window", WINDOW_RULE),
    (lambda: v.maintenance_window("xyz:05:00-sun:06:00"), "maintenance_window", WINDOW_RULE),
    (lambda: v.maintenance_window("sun:05:00-sun:06:00x"), "maintenance_window", WINDOW_RULE),
    (lambda: v.cidr("10.0.0.0/33"), "cidr", "must be a CIDR such as 10.0.0.0/8 (got '10.0.0.0/33')"),
    (lambda: v.cidr("x", "src"), "src", "must be a CIDR such as 10.0.0.0/8 (got 'x')"),
    (lambda: v.timeout(0), "timeout", "must be between 0.001 and 86400 (got 0)"),
    (lambda: v.timeout(86400.5, "wait"), "wait", "must be between 0.001 and 86400 (got 86400.5)"),
    (lambda: v.timeout("1"), "timeout", "must be a number, not str"),
    # platform
    (lambda: v.application_name("a" * 101), "application", APP_RULE),
    (lambda: v.application_name("a/b", "app"), "app", APP_RULE),
    (lambda: v.application_name("a\x7fb"), "application", APP_RULE),
    (lambda: v.application_name(""), "application", "must not be empty"),
    (lambda: v.version_label("a" * 101), "version", APP_RULE),
    (lambda: v.version_label("a/b", "label"), "label", APP_RULE),
    (lambda: v.environment_name("abc"), "environment", ENV_RULE),
    (lambda: v.environment_name("a" * 41, "env"), "env", ENV_RULE),
    (lambda: v.environment_name("-abcd"), "environment", ENV_RULE),
    (lambda: v.environment_name("abcd-"), "environment", ENV_RULE),
    (lambda: v.environment_name("ab_cd"), "environment", ENV_RULE),
    (lambda: v.environment_name(5), "environment", "must be a string, not int"),
    (lambda: v.env_var_name("1A"), "env_vars", "'1A' is not a valid environment variable name"),
    (lambda: v.env_var_name("A-B", "env"), "env", "'A-B' is not a valid environment variable name"),
    (lambda: v.env_var_name(5), "env_vars", "5 is not a valid environment variable name"),
    (lambda: v.env_var_name(""), "env_vars", "'' is not a valid environment variable name"),
    (lambda: v.since("yesterday"), "since", "must be a datetime"),
    (lambda: v.since(5, "after"), "after", "must be a datetime"),
    (lambda: v.aware_datetime("at", "2020"), "at", "must be a datetime"),
    # generic helpers
    (lambda: v.string_map("m", 5), "m", "must be a mapping of strings to strings"),  # type: ignore[arg-type]
    (lambda: v.string_map("m", {"a": "b"}, max_items=0), "m", "must have at most 0 entries"),
    (lambda: v.string_map("m", {str(i): "" for i in range(101)}), "m", "must have at most 100 entries"),
    (lambda: v.string_map("m", {"": "x"}), "m", "keys must be non-empty strings"),
    (lambda: v.string_map("m", {"k": 1}), "m['k']", "must be a string"),
    (lambda: v.string_map("m", {"k": "\x00"}), "m['k']", "must not contain a NUL character"),
    (lambda: v.string_map("m", {"k\x00": "v"}), "m", "must not contain a NUL character"),
    (lambda: v.sequence("s", "ab"), "s", "must be a sequence, not str"),
    (lambda: v.sequence("s", b"ab"), "s", "must be a sequence, not bytes"),
    (lambda: v.sequence("s", {"a": 1}), "s", "must be a sequence, not dict"),
    (lambda: v.sequence("s", 5), "s", "must be a sequence, not int"),
    (lambda: v.client_token(""), "client_token", "must be 1 to 64 printable ASCII characters"),
    (lambda: v.client_token("a b", "token"), "token", "must be 1 to 64 printable ASCII characters"),
    (lambda: v.client_token("a" * 65), "client_token", "must be 1 to 64 printable ASCII characters"),
    (lambda: v.client_token(5), "client_token", "must be 1 to 64 printable ASCII characters"),
    (lambda: v.client_token("é"), "client_token", "must be 1 to 64 printable ASCII characters"),
    (lambda: v.optional_text("d", 5), "d", "must be a string, not int"),
    (lambda: v.optional_text("d", "a\nb"), "d", CONTROLS),
    (lambda: v.optional_text("d", "\ud800"), "d", SURROGATE),
    (lambda: v.require_str("f", None), "f", "must be a string, not NoneType"),
    (lambda: v.resource_name("n", "-a"), "n", "may contain only letters, digits, '_', '.' and '-', starting with a letter or digit"),
    (lambda: v.resource_name("n", "a b"), "n", "may contain only letters, digits, '_', '.' and '-', starting with a letter or digit"),
    (lambda: v.number_range("x", 2, 0, 1), "x", "must be between 0 and 1 (got 2)"),
    (lambda: v.int_range("n", 2, 0, 1), "n", "must be between 0 and 1 (got 2)"),
]


def _long_txt(data: str) -> str:
    """The zone-file form of ``data`` split into 255-byte strings (ASCII text only)."""
    return " ".join(f'"{data[i : i + 255]}"' for i in range(0, len(data), 255))


ACCEPTED: list[Acceptance] = [
    # lifecycle rules
    (lambda: v.lifecycle_rules([]), []),
    (
        lambda: v.lifecycle_rules([LR(archive_after_days=0, expire_after_days=1)]),
        [LR(archive_after_days=0, expire_after_days=1, id="rule-1")],
    ),
    (lambda: v.lifecycle_rules([LR(archive_after_days=36500)]), [LR(archive_after_days=36500, id="rule-1")]),
    (lambda: v.lifecycle_rules([LR(expire_after_days=36500)]), [LR(expire_after_days=36500, id="rule-1")]),
    (lambda: v.lifecycle_rules([LR(archive_after_days=30, expire_after_days=31)]), [LR(archive_after_days=30, expire_after_days=31, id="rule-1")]),
    (
        lambda: v.lifecycle_rules(
            [
                LR(expire_after_days=1),
                LR(prefix="a/", archive_after_days=3, expire_after_days=4, archive_class="DEEP_ARCHIVE", enabled=False),
            ]
        ),
        [
            LR(expire_after_days=1, id="rule-1"),
            LR(prefix="a/", archive_after_days=3, expire_after_days=4, archive_class="DEEP_ARCHIVE", id="rule-2", enabled=False),
        ],
    ),
    (lambda: v.lifecycle_rules(r for r in [LR(id="x", expire_after_days=7)]), [LR(id="x", expire_after_days=7)]),
    (lambda: len(v.lifecycle_rules([LR(expire_after_days=1)] * 1000)), 1000),
    (lambda: v.lifecycle_rules([LR(expire_after_days=1)] * 1000)[999].id, "rule-1000"),
    # record sets
    (
        lambda: v.record_set(RS(name="@", type="SOA", values=("ns1 hostmaster 1 7200 900 1209600 86400",)), ZONE),
        RS(name="@", type="SOA", values=("ns1.example.com. hostmaster.example.com. 1 7200 900 1209600 86400",)),
    ),
    (
        lambda: v.record_set(RS(name="WWW", type="cname", ttl=60, values=("Target",), extra={"k": 1}), ZONE),
        RS(name="www", type="CNAME", ttl=60, values=("Target.example.com.",), extra={"k": 1}),
    ),
    (lambda: v.record_set(RS(name="WWW", type="A", values=("10.0.0.1",), extra={"k": 1}), ZONE).extra, {"k": 1}),
    (
        lambda: v.record_set(RS(name="www", type="A", ttl=0, values=("10.0.0.1", "10.0.0.2")), ZONE),
        RS(name="www", type="A", ttl=0, values=("10.0.0.1", "10.0.0.2")),
    ),
    (
        lambda: v.record_set(RS(name="www", type="A", ttl=2147483647, values=("10.0.0.1",)), ZONE),
        RS(name="www", type="A", ttl=2147483647, values=("10.0.0.1",)),
    ),
    (lambda: v.record_set(RS(name="Mail", type="MX", values=("10 mx",)), "Example.COM"), RS(name="mail", type="MX", values=("10 mx.Example.COM.",))),
    (lambda: v.record_set(RS(name="@", type="TXT", values=("a", "b")), ZONE), RS(name="@", type="TXT", values=('"a"', '"b"'))),
    # record values
    (lambda: v.record_value("A", " 1.2.3.4 ", ZONE), "1.2.3.4"),
    (lambda: v.record_value("A", "1.2.3.4", ZONE, "vals"), "1.2.3.4"),
    (lambda: v.record_value("AAAA", "2001:DB8::1", ZONE), "2001:db8::1"),
    (lambda: v.record_value("MX", "10 mail", ZONE), "10 mail.example.com."),
    (lambda: v.record_value("MX", "10 mail.other.org.", ZONE), "10 mail.other.org."),
    (lambda: v.record_value("SRV", "1 2 443 sip", ZONE), "1 2 443 sip.example.com."),
    (lambda: v.record_value("CAA", '0 issue "letsencrypt.org"', ZONE), '0 issue "letsencrypt.org"'),
    (lambda: v.record_value("CNAME", "target", ZONE), "target.example.com."),
    (lambda: v.record_value("TXT", "hello world", ZONE), '"hello world"'),
    (lambda: v.record_value("TXT", '"already" "quoted"', ZONE), '"already" "quoted"'),
    (lambda: v.record_value("TXT", 'say "hi" \\ bye', ZONE), '"say \\"hi\\" \\\\ bye"'),
    (lambda: v.record_value("TXT", "é", ZONE), '"\\195\\169"'),
    (lambda: v.record_value("TXT", "a" * 255, ZONE), _long_txt("a" * 255)),
    (lambda: v.record_value("TXT", "a" * 256, ZONE), _long_txt("a" * 256)),
    (lambda: v.record_value("TXT", "a" * 510, ZONE), _long_txt("a" * 510)),
    (lambda: v.record_value("TXT", "a" * 4000, ZONE), _long_txt("a" * 4000)),
    # a character whose UTF-8 bytes straddle the 255-byte split is carried whole (it used to be mangled)
    (lambda: v.record_value("TXT", "a" * 254 + "é", ZONE), '"' + "a" * 254 + '\\195" "\\169"'),
    (lambda: v._quote_txt(""), '""'),
    (lambda: v._quote_txt('"x'), '"x'),
    (lambda: v._quote_txt("x\\y\"z"), '"x\\\\y\\"z"'),
    (lambda: v._quote_txt("é" * 128), '"' + "\\195\\169" * 127 + '\\195" "\\169"'),
    # message attributes, messages, subjects
    (lambda: v.message_attributes(None), {}),
    (lambda: v.message_attributes({"A-z_0.9": "x"}), {"A-z_0.9": "x"}),
    (lambda: v.message_attributes({str(i): "x" for i in range(10)}), {str(i): "x" for i in range(10)}),
    (lambda: len(next(iter(v.message_attributes({"a" * 256: "x"})))), 256),
    (lambda: v.message_attributes({"k": "a\tb\nc\r"}), {"k": "a\tb\nc\r"}),
    (lambda: len(v.message_attributes({"k": "a" * 262144})["k"]), 262144),
    (lambda: len(v.message_attributes({"k": "é" * 131072})["k"]), 131072),
    (lambda: v.message("a\tb\nc\r"), "a\tb\nc\r"),
    (lambda: v.message("\x7f\x85", "body"), "\x7f\x85"),
    (lambda: len(v.message("a" * 262144)), 262144),
    (lambda: len(v.message("é" * 131072)), 131072),
    (lambda: v.message_text("f", "\ufffd"), "\ufffd"),
    (lambda: v.subject(None), None),
    (lambda: v.subject("a" * 100), "a" * 100),
    (lambda: v.subject("Deployed", "title"), "Deployed"),
    # urls and link-local hosts
    (lambda: v.url("http://a.com/" + "a" * 2035), "http://a.com/" + "a" * 2035),
    (lambda: v.url("HTTP://a.com/"), "HTTP://a.com/"),
    (lambda: v.url("http://a.com:1/"), "http://a.com:1/"),
    (lambda: v.url("http://a.com:65535/"), "http://a.com:65535/"),
    (lambda: v.url("http://user:pw@a.com:8080/x"), "http://user:pw@a.com:8080/x"),
    (lambda: v.url("http://user@10.0.0.1/", allow_link_local=False), "http://user@10.0.0.1/"),
    (lambda: v.url("http://[::1]:80/"), "http://[::1]:80/"),
    (lambda: v.url("http://[::1]/", allow_link_local=False), "http://[::1]/"),
    (lambda: v.url("http://10.0.0.1/", allow_link_local=False), "http://10.0.0.1/"),
    (lambda: v.url("http://169.254.169.254/"), "http://169.254.169.254/"),
    (lambda: v.url("http://a.com./x?q=1#f", "hook"), "http://a.com./x?q=1#f"),
    (lambda: v.url("ftp://a.com/", schemes=("ftp", "sftp")), "ftp://a.com/"),
    (lambda: v.url("https://bücher.de/"), "https://bücher.de/"),
    (lambda: v.is_link_local("METADATA."), True),
    (lambda: v.is_link_local("metadata"), True),
    (lambda: v.is_link_local("instance-data"), True),
    (lambda: v.is_link_local("instance-data.ec2.internal"), True),
    (lambda: v.is_link_local("metadata.google.internal"), True),
    (lambda: v.is_link_local("[fd00:ec2::254]"), True),
    (lambda: v.is_link_local("[fd00:ec2::255]"), False),
    (lambda: v.is_link_local("::ffff:169.254.1.1"), True),
    (lambda: v.is_link_local("::ffff:10.0.0.1"), False),
    (lambda: v.is_link_local("169.254.0.0"), True),
    (lambda: v.is_link_local("169.254.255.255"), True),
    (lambda: v.is_link_local("169.255.0.0"), False),
    (lambda: v.is_link_local("fe80::"), True),
    (lambda: v.is_link_local("febf:ffff::"), True),
    (lambda: v.is_link_local("fec0::"), False),
    (lambda: v.is_link_local("example.com"), False),
    (lambda: v.is_link_local("metadata.example.com"), False),
    # host names, e-mail, phone
    (lambda: v.host_name("Example.COM."), "example.com"),
    (lambda: v.host_name("bücher.de"), "xn--bcher-kva.de"),
    (lambda: v.host_name("a" * 63 + ".com"), "a" * 63 + ".com"),
    (lambda: v.host_name(LONG_HOST), LONG_HOST),
    (lambda: v.host_name(LONG_HOST + "."), LONG_HOST),
    (lambda: v.host_name("localhost"), "localhost"),
    (lambda: v.host_name("a.com", "h", min_labels=2), "a.com"),
    (lambda: v.host_name("a-b.c0m"), "a-b.c0m"),
    (lambda: v.host_name("a.0xg"), "a.0xg"),
    (lambda: v.host_name("a.1b"), "a.1b"),
    (lambda: v.host_name("123.com"), "123.com"),
    (lambda: v.email("ops@example.com"), "ops@example.com"),
    (lambda: v.email("Ops@Example.COM", "to"), "Ops@Example.COM"),
    (lambda: v.email("first.last+tag@example.com"), "first.last+tag@example.com"),
    (lambda: v.email("a" * 64 + "@example.com"), "a" * 64 + "@example.com"),
    (lambda: v.email("a@" + LONG_HOST[:-1]), "a@" + LONG_HOST[:-1]),
    (lambda: v.email("a@b@example.com".replace("a@b", "a")), "a@example.com"),
    (lambda: v.phone("+12345678"), "+12345678"),
    (lambda: v.phone("+123456789012345"), "+123456789012345"),
    (lambda: v.phone("+1.415.555.0100"), "+14155550100"),
    (lambda: v.phone("+1 (415) 555-0100", "to"), "+14155550100"),
    # subscription endpoints
    (lambda: v.endpoint("email", "Ops@Example.com"), ("email", "Ops@Example.com")),
    (lambda: v.endpoint("EMAIL", "ops@example.com"), ("email", "ops@example.com")),
    (lambda: v.endpoint("sms", "+1 (415) 555-0100"), ("sms", "+14155550100")),
    (lambda: v.endpoint("http", "http://10.0.0.1/hook"), ("http", "http://10.0.0.1/hook")),
    (lambda: v.endpoint("HTTPS", "https://10.0.0.1/hook"), ("https", "https://10.0.0.1/hook")),
    (lambda: v.endpoint("https", "https://169.254.169.254/", allow_link_local=True), ("https", "https://169.254.169.254/")),
    (lambda: v.endpoint("queue", "jobs"), ("queue", "jobs")),
    (lambda: v.endpoint("queue", "jobs.fifo"), ("queue", "jobs.fifo")),
    (lambda: v.endpoint("queue", ARN_HEAD + "jobs"), ("queue", ARN_HEAD + "jobs")),
    (lambda: v.endpoint("queue", "arn:aws-cn:sqs::12:q"), ("queue", "arn:aws-cn:sqs::12:q")),
    (lambda: v.endpoint("queue", ARN_HEAD + "j" * 2013), ("queue", ARN_HEAD + "j" * 2013)),
    (lambda: v.endpoint("queue", "http://127.0.0.1:9324/queue/jobs"), ("queue", "http://127.0.0.1:9324/queue/jobs")),
    (lambda: v.endpoint("queue", "https://127.0.0.1/q"), ("queue", "https://127.0.0.1/q")),
    # topic and queue names
    (lambda: v.topic_name("a" * 256), "a" * 256),
    (lambda: v.topic_name("a" * 256 + ".fifo", "topic"), "a" * 256 + ".fifo"),
    (lambda: v.topic_name("A-z_0"), "A-z_0"),
    (lambda: v.queue_name("a" * 80), "a" * 80),
    (lambda: v.queue_name("a" * 80 + ".fifo", "queue"), "a" * 80 + ".fifo"),
    (lambda: v.queue_name("A-z_0"), "A-z_0"),
    # security rules, user data, tags, instance names
    (lambda: v.security_rule(SR(protocol="TCP", from_port=22)), SR(protocol="tcp", from_port=22, to_port=22)),
    (
        lambda: v.security_rule(SR(protocol="udp", from_port=53, to_port=54, cidr="10.0.0.1/8")),
        SR(protocol="udp", from_port=53, to_port=54, cidr="10.0.0.0/8"),
    ),
    (lambda: v.security_rule(SR(protocol="tcp", from_port=0, to_port=65535)), SR(protocol="tcp", from_port=0, to_port=65535)),
    (lambda: v.security_rule(SR(protocol="tcp", from_port=10, to_port=10)), SR(protocol="tcp", from_port=10, to_port=10)),
    (lambda: v.security_rule(SR(protocol="icmp", from_port=-5, to_port=-9)), SR(protocol="icmp", from_port=-5, to_port=-9)),
    (lambda: v.security_rule(SR(protocol="-1", cidr="::/0")), SR(protocol="-1", cidr="::/0")),
    (lambda: v.user_data(None), None),
    (lambda: v.user_data(b"#!/bin/sh\n"), "#!/bin/sh\n"),
    (lambda: v.user_data("é" * 8192) == "é" * 8192, True),
    (lambda: len(v.user_data(b"a" * 16384) or ""), 16384),
    (lambda: v.user_data("x", "ud"), "x"),
    (lambda: v.tags(None), {}),
    (lambda: v.tags({"k": "v"}), {"k": "v"}),
    (lambda: v.tags({str(i): "" for i in range(50)}), {str(i): "" for i in range(50)}),
    (lambda: v.tags({"k" * 128: "v" * 256}), {"k" * 128: "v" * 256}),
    (lambda: v.tags({"k": "é" * 256}), {"k": "é" * 256}),
    (lambda: v.instance_name("a" * 63), "a" * 63),
    (lambda: v.instance_name("a"), "a"),
    (lambda: v.instance_name("Web-1"), "Web-1"),
    # storage
    (lambda: v.content_type(None), None),
    (lambda: v.content_type("text/plain"), "text/plain"),
    (lambda: v.content_type("text/plain; charset=utf-8"), "text/plain; charset=utf-8"),
    (lambda: v.content_type("text/plain;charset=utf-8"), "text/plain;charset=utf-8"),
    (lambda: v.content_type("application/vnd.api+json"), "application/vnd.api+json"),
    (lambda: v.content_type("text/" + "a" * 250), "text/" + "a" * 250),
    (lambda: v.content_type("A.1-x/B+2.y"), "A.1-x/B+2.y"),
    (lambda: v.user_metadata(None), {}),
    (lambda: v.user_metadata({"Key_1-a": "Value é"}), {"key_1-a": "Value é"}),
    (lambda: v.user_metadata({"k": "v" * 2047}), {"k": "v" * 2047}),
    (lambda: v.user_metadata({"k": "é" * 1023 + "v"}), {"k": "é" * 1023 + "v"}),
    (lambda: v.bucket_name("abc"), "abc"),
    (lambda: v.bucket_name("a" * 63), "a" * 63),
    (lambda: v.bucket_name("a.b-c.1"), "a.b-c.1"),
    (lambda: v.bucket_name("10.0.0.1a"), "10.0.0.1a"),
    (lambda: v.bucket_name("axn--b-s3aliasx"), "axn--b-s3aliasx"),
    (lambda: v.object_key("a/.b/..c"), "a/.b/..c"),
    (lambda: v.object_key("é" * 512), "é" * 512),
    (lambda: v.object_key("a\x7f\ufffd"), "a\x7f\ufffd"),
    (lambda: v.key_prefix(None), ""),
    (lambda: v.key_prefix(""), ""),
    (lambda: v.key_prefix("a/."), "a/."),
    (lambda: v.presign_method("get"), "GET"),
    (lambda: v.presign_method("Put"), "PUT"),
    (lambda: v.byte_range((0, 0)), (0, 0)),
    # zones and record names
    (lambda: v.zone_name(" Example.COM. "), "example.com"),
    (lambda: v.zone_name("a-b.c0"), "a-b.c0"),
    (lambda: v.zone_name("bücher.de"), "xn--bcher-kva.de"),
    (lambda: v.record_name("@", ZONE), "@"),
    (lambda: v.record_name("Example.COM.", ZONE), "@"),
    (lambda: v.record_name("*.WWW", ZONE), "*.www"),
    (lambda: v.record_name("_sip._tcp", ZONE), "_sip._tcp"),
    (lambda: v.record_name("a.b.example.com.", ZONE, "n"), "a.b"),
    (lambda: v.record_name("a-b_c", ZONE), "a-b_c"),
    (lambda: v.ttl(300, "t"), 300),
    # database
    (lambda: v.db_identifier("Simco-Prod-01"), "simco-prod-01"),
    (lambda: v.db_identifier("a" * 63), "a" * 63),
    (lambda: v.db_identifier("a"), "a"),
    (lambda: v.db_username("a" * 16), "a" * 16),
    (lambda: v.db_username("Admin_1"), "Admin_1"),
    (lambda: v.db_username("postgres1"), "postgres1"),
    (lambda: v.db_password("a" * 8), "a" * 8),
    (lambda: v.db_password("a" * 128), "a" * 128),
    (lambda: v.db_password("!~#$%^&*()"), "!~#$%^&*()"),
    (lambda: v.maintenance_window(None), None),
    (lambda: v.maintenance_window("SUN:23:59-mon:00:00"), "sun:23:59-mon:00:00"),
    (lambda: v.maintenance_window("tue:00:00-wed:23:59", "w"), "tue:00:00-wed:23:59"),
    (lambda: v.cidr("10.0.0.1/8"), "10.0.0.0/8"),
    (lambda: v.cidr("2001:db8::1/32"), "2001:db8::/32"),
    (lambda: v.timeout(0.001), 0.001),
    (lambda: v.timeout(86400), 86400.0),
    # platform
    (lambda: v.application_name("a" * 100), "a" * 100),
    (lambda: v.application_name("My App é"), "My App é"),
    (lambda: v.version_label("v1.2 (build 3)"), "v1.2 (build 3)"),
    (lambda: v.environment_name("abcd"), "abcd"),
    (lambda: v.environment_name("a" * 40), "a" * 40),
    (lambda: v.environment_name("A-1b"), "A-1b"),
    (lambda: v.env_var_name("_A1"), "_A1"),
    (lambda: v.env_var_name("a"), "a"),
    (lambda: v.since(None), None),
    (lambda: v.since(datetime(2020, 1, 2, 3, 4)), datetime(2020, 1, 2, 3, 4, tzinfo=UTC)),
    (
        lambda: v.since(datetime(2020, 1, 2, tzinfo=timezone(timedelta(hours=2)))),
        datetime(2020, 1, 2, tzinfo=timezone(timedelta(hours=2))),
    ),
    (lambda: v.aware_datetime("at", datetime(2020, 1, 2)).tzinfo, UTC),
    # generic helpers
    (lambda: v.string_map("m", None), {}),
    (lambda: v.string_map("m", {str(i): "" for i in range(100)}), {str(i): "" for i in range(100)}),
    (lambda: v.string_map("m", {"k": ""}, max_items=1), {"k": ""}),
    (lambda: v.sequence("s", (1, 2)), [1, 2]),
    (lambda: v.sequence("s", iter("ab")), ["a", "b"]),
    (lambda: v.client_token(None), None),
    (lambda: v.client_token("!" + "~" * 63), "!" + "~" * 63),
    (lambda: v.optional_text("d", None), None),
    (lambda: v.optional_text("d", ""), ""),
    (lambda: v.flag("f", " YES "), True),
    (lambda: v.flag("f", "no"), False),
    (lambda: v.flag("f", "0"), False),
    (lambda: v.one_of("f", "B", ("a", "b")), "b"),
]


@pytest.mark.parametrize(("call", "field", "rule"), REFUSED)
def test_refused_with_field_and_rule(call: Callable[[], object], field: str, rule: str) -> None:
    assert _refusal(call) == (field, rule)


@pytest.mark.parametrize(("call", "expected"), ACCEPTED)
def test_accepted_exactly(call: Callable[[], object], expected: object) -> None:
    assert call() == expected


def test_since_a_timedelta_is_that_long_before_now() -> None:
    before = datetime.now(UTC)
    got = v.since(timedelta(hours=1))
    after = datetime.now(UTC)
    assert got is not None
    assert before - timedelta(hours=1) <= got <= after - timedelta(hours=1)
    assert got.tzinfo is UTC


def test_lifecycle_rules_keep_named_rules_and_name_the_others() -> None:
    named = LR(id="keep", expire_after_days=3)
    out = v.lifecycle_rules([named, LR(expire_after_days=5)])
    assert out[0] is named
    assert out[1] == LR(expire_after_days=5, id="rule-2")


def test_record_set_type_checked_even_when_the_model_was_bypassed() -> None:
    record: Any = RS(name="www", type="A", values=("10.0.0.1",))
    object.__setattr__(record, "type", "a")
    assert v.record_set(record, ZONE).type == "A"
    object.__setattr__(record, "type", 5)
    assert _refusal(lambda: v.record_set(record, ZONE)) == (
        "records.type",
        "must be one of A, AAAA, CNAME, MX, TXT, SRV, NS, CAA, PTR, SOA (got 5)",
    )
    object.__setattr__(record, "type", "A")
    object.__setattr__(record, "ttl", -1)
    assert _refusal(lambda: v.record_set(record, ZONE)) == ("records.ttl", "must be between 0 and 2147483647 (got -1)")


@pytest.mark.parametrize(
    ("call", "field", "rule"),
    [
        (lambda: v.ttl(-1), "ttl", "must be between 0 and 2147483647 (got -1)"),
        (lambda: v.port(-1), "port", "must be between 0 and 65535 (got -1)"),
        (lambda: v.storage_gb(0), "storage_gb", "must be between 1 and 65536 (got 0)"),
        (lambda: v.storage_gb(0, "size"), "size", "must be between 1 and 65536 (got 0)"),
        (lambda: v.retention_days(-1), "backup_retention_days", "must be between 0 and 35 (got -1)"),
        (lambda: v.retention_days(-1, "keep"), "keep", "must be between 0 and 35 (got -1)"),
        (lambda: v.expires_in(0), "expires_in", "must be between 1 and 604800 (got 0)"),
        (lambda: v.int_range("n", "x", 0), "n", "must be an integer, not str"),
        (lambda: v.byte_range([1, 2]), "range", "must be a (start, end) tuple; end is inclusive or None"),
        (lambda: v.resource_name("n", 5), "n", "must be a string, not int"),
        (lambda: v.object_key("\ud800", "k"), "k", SURROGATE),
        (lambda: v.zone_name(5, "z"), "z", "must be a string, not int"),
        (lambda: v.topic_name(5, "t"), "t", "must be a string, not int"),
        (lambda: v.queue_name(5, "q"), "q", "must be a string, not int"),
        (lambda: v.db_identifier(5, "i"), "i", "must be a string, not int"),
        (lambda: v.db_username(5, "u"), "u", "must be a string, not int"),
        (lambda: v.maintenance_window(5, "w"), "w", "must be a string, not int"),
        (lambda: v.cidr(5, "c"), "c", "must be a string, not int"),
        (lambda: v.record_name("*.a%b", ZONE), "name", "label 'a%b' may contain only letters, digits, '_' and inner '-'"),
        (lambda: v.url("http://[v1.x]/"), "endpoint", "host in brackets must be an IPv6 address"),
        (lambda: v.url("http://[v1.x]/", "hook"), "hook", "host in brackets must be an IPv6 address"),
    ],
)
def test_named_fields_and_remaining_rules(call: Callable[[], object], field: str, rule: str) -> None:
    assert _refusal(call) == (field, rule)


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: v._dns_text("f", "\u2003"), "\u2003"),
        (lambda: v._dns_text("f", "XaX"), "XaX"),
        (lambda: v._dns_text("f", " a " + "b" * 1022 + " "), "a " + "b" * 1022),
        (lambda: v.url("http://[1::]/"), "http://[1::]/"),
        (lambda: v.is_link_local("metadataX"), False),
        (lambda: v.is_link_local("X169.254.1.1"), False),
        (lambda: v.db_password("abcdefgX"), "abcdefgX"),
    ],
)
def test_remaining_values_kept_exactly(call: Callable[[], object], expected: object) -> None:
    assert call() == expected
