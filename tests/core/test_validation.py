"""Validation rejects bad input with InvalidInput naming the field and the rule."""

from __future__ import annotations

import pytest

from cloudkit import InvalidInput, LifecycleRule, RecordSet, SecurityRule
from cloudkit import validation as v


@pytest.mark.parametrize(
    "name",
    ["ab", "a" * 64, "Upper", "under_score", "-start", "end-", "two..dots", "192.168.1.1", "xn--punycode", "x-s3alias", "a.-b"],
)
def test_bad_bucket_names(name: str) -> None:
    with pytest.raises(InvalidInput) as info:
        v.bucket_name(name)
    assert info.value.field == "bucket"


@pytest.mark.parametrize("name", ["abc", "my-bucket.v2", "a" * 63, "0day"])
def test_good_bucket_names(name: str) -> None:
    assert v.bucket_name(name) == name


@pytest.mark.parametrize("key", ["", "a/../b", "..", "./x", "x/.", "nul\x00byte", "k" * 1025, "é" * 513])
def test_bad_keys(key: str) -> None:
    with pytest.raises(InvalidInput) as info:
        v.object_key(key)
    assert info.value.field == "key"


@pytest.mark.parametrize("key", ["a", "a/b/c.txt", "..hidden", "a..b", "x/y/", "ünïcode/ключ"])
def test_good_keys(key: str) -> None:
    assert v.object_key(key) == key


def test_metadata_rules() -> None:
    assert v.user_metadata({"Owner": "ops"}) == {"owner": "ops"}
    with pytest.raises(InvalidInput, match=r"metadata\['bad name'\]"):
        v.user_metadata({"bad name": "x"})
    with pytest.raises(InvalidInput, match="line breaks"):
        v.user_metadata({"a": "x\ny"})
    with pytest.raises(InvalidInput, match="2048 bytes"):
        v.user_metadata({"a": "x" * 3000})


def test_zone_names() -> None:
    assert v.zone_name("Example.COM.") == "example.com"
    for bad in ("com", "exa mple.com", "-x.com", "a_b.com", ""):
        with pytest.raises(InvalidInput):
            v.zone_name(bad)


def test_record_names_relative_and_absolute() -> None:
    assert v.record_name("www", "example.com") == "www"
    assert v.record_name("WWW.example.com.", "example.com") == "www"
    assert v.record_name("@", "example.com") == "@"
    assert v.record_name("example.com.", "example.com") == "@"
    assert v.record_name("_sip._tcp", "example.com") == "_sip._tcp"
    assert v.record_name("*.dev", "example.com") == "*.dev"
    with pytest.raises(InvalidInput, match="not inside the zone"):
        v.record_name("www.other.org.", "example.com")
    with pytest.raises(InvalidInput, match="label"):
        v.record_name("bad label", "example.com")


@pytest.mark.parametrize(
    ("rtype", "value", "rule"),
    [
        ("A", "1.2.3", "IPv4"),
        ("A", "::1", "IPv4"),
        ("AAAA", "1.2.3.4", "IPv6"),
        ("MX", "mail.example.com.", "priority host"),
        ("SRV", "10 5 sip.example.com.", "priority weight port target"),
        ("CAA", "0 issue", "flags tag"),
    ],
)
def test_bad_record_values(rtype: str, value: str, rule: str) -> None:
    with pytest.raises(InvalidInput, match=rule):
        v.record_value(rtype, value, "example.com")


def test_record_values_are_normalised_with_dnspython() -> None:
    assert v.record_value("MX", "10 mail", "example.com") == "10 mail.example.com."
    assert v.record_value("CNAME", "target.example.net.", "example.com") == "target.example.net."
    assert v.record_value("AAAA", "2001:DB8::0:1", "example.com") == "2001:db8::1"
    assert v.record_value("TXT", 'say "hi"', "example.com") == '"say \\"hi\\""'
    assert v.record_value("TXT", '"already" "quoted"', "example.com") == '"already" "quoted"'
    long = v.record_value("TXT", "x" * 300, "example.com")
    assert long == '"' + "x" * 255 + '" "' + "x" * 45 + '"'


def test_record_set_rules() -> None:
    rs = v.record_set(RecordSet("Mail", "mx", 60, ["10 mx1", "20 mx2.example.net."]), "example.com")
    assert rs == RecordSet("mail", "MX", 60, ("10 mx1.example.com.", "20 mx2.example.net."))
    with pytest.raises(InvalidInput, match="apex"):
        v.record_set(RecordSet("@", "CNAME", 300, ["x.example.net."]), "example.com")
    with pytest.raises(InvalidInput, match="exactly one"):
        v.record_set(RecordSet("w", "CNAME", 300, ["a.example.net.", "b.example.net."]), "example.com")
    with pytest.raises(InvalidInput, match="ttl"):
        v.record_set(RecordSet("w", "A", -1, ["1.2.3.4"]), "example.com")
    with pytest.raises(InvalidInput, match="ttl"):
        v.record_set(RecordSet("w", "A", 2**31, ["1.2.3.4"]), "example.com")
    with pytest.raises(InvalidInput, match="type"):
        v.record_set(RecordSet("w", "SPF", 300, ["x"]), "example.com")
    with pytest.raises(InvalidInput, match="at least one value"):
        v.record_set(RecordSet("w", "A", 300, []), "example.com")
    with pytest.raises(InvalidInput, match="repeat"):
        v.record_set(RecordSet("w", "A", 300, ["1.2.3.4", "1.2.3.4"]), "example.com")


def test_notification_endpoints() -> None:
    assert v.endpoint("email", "ops@example.com") == ("email", "ops@example.com")
    assert v.endpoint("SMS", "+1 415-555-0100") == ("sms", "+14155550100")
    assert v.endpoint("https", "https://hooks.example.com/x") == ("https", "https://hooks.example.com/x")
    assert v.endpoint("queue", "orders") == ("queue", "orders")
    for proto, bad, field in [
        ("email", "not-an-address", "endpoint"),
        ("sms", "5550100", "endpoint"),
        ("http", "https://x.example.com", "endpoint"),
        ("https", "ftp://x", "endpoint"),
        ("pigeon", "x", "protocol"),
    ]:
        with pytest.raises(InvalidInput) as info:
            v.endpoint(proto, bad)
        assert info.value.field == field


def test_topic_and_message() -> None:
    assert v.topic_name("adventtopic") == "adventtopic"
    assert v.topic_name("orders.fifo") == "orders.fifo"
    with pytest.raises(InvalidInput):
        v.topic_name("has space")
    with pytest.raises(InvalidInput, match="262144"):
        v.message("x" * (256 * 1024 + 1))
    assert len(v.message("x" * 256 * 1024)) == 256 * 1024


def test_database_rules_never_echo_the_password() -> None:
    assert v.db_identifier("SimCo-Prod-01") == "simco-prod-01"
    for bad in ("1abc", "a--b", "a-", "a" * 64, "under_score"):
        with pytest.raises(InvalidInput):
            v.db_identifier(bad)
    secret = "short"
    with pytest.raises(InvalidInput) as info:
        v.db_password(secret)
    assert secret not in str(info.value)
    secret = "has space inside"
    with pytest.raises(InvalidInput) as info:
        v.db_password(secret)
    assert secret not in str(info.value)
    assert v.db_password("S3cure-pass!") == "S3cure-pass!"
    with pytest.raises(InvalidInput, match="reserved"):
        v.db_username("postgres")
    assert v.maintenance_window("Sun:05:00-sun:06:00") == "sun:05:00-sun:06:00"
    with pytest.raises(InvalidInput):
        v.maintenance_window("sunday 5am")
    with pytest.raises(InvalidInput):
        v.retention_days(36)


def test_lifecycle_rules() -> None:
    rules = v.lifecycle_rules([LifecycleRule(prefix="db/", archive_after_days=30, expire_after_days=365)])
    assert rules[0].id == "rule-1"
    with pytest.raises(InvalidInput, match="later than"):
        v.lifecycle_rules([LifecycleRule(archive_after_days=30, expire_after_days=10)])
    with pytest.raises(InvalidInput, match="must set"):
        v.lifecycle_rules([LifecycleRule(prefix="x")])
    with pytest.raises(InvalidInput, match="archive_class"):
        v.lifecycle_rules([LifecycleRule(archive_after_days=1, archive_class="COLD")])


def test_security_rules_and_names() -> None:
    r = v.security_rule(SecurityRule("TCP", 22, None, "10.1.2.3/8"))
    assert r == SecurityRule("tcp", 22, 22, "10.0.0.0/8")
    with pytest.raises(InvalidInput, match="from_port"):
        v.security_rule(SecurityRule("tcp", None))
    with pytest.raises(InvalidInput, match="to_port"):
        v.security_rule(SecurityRule("tcp", 90, 80))
    with pytest.raises(InvalidInput, match="cidr"):
        v.security_rule(SecurityRule("tcp", 80, 80, "nope"))
    with pytest.raises(InvalidInput):
        v.instance_name("web_1")
    with pytest.raises(InvalidInput):
        v.environment_name("ab")
    with pytest.raises(InvalidInput, match="16384"):
        v.user_data("x" * 20000)


# --------------------------------------------------------------------------- hostile input (issue 9)

def test_whitespace_record_name_is_not_the_apex() -> None:
    for name in ("\t", " ", "  ", "\u3000"):
        with pytest.raises(InvalidInput) as info:
            v.record_name(name, "example.com")
        assert info.value.field == "name"
    with pytest.raises(InvalidInput, match="escapes"):
        v.record_name("w\\ww", "example.com")


@pytest.mark.parametrize("value", ["a\udcffb", "\ud800"])
def test_lone_surrogates_are_invalid_input(value: str) -> None:
    with pytest.raises(InvalidInput, match="surrogate"):
        v.record_value("TXT", value, "example.com")
    with pytest.raises(InvalidInput, match="surrogate"):
        v.object_key("k" + value)
    with pytest.raises(InvalidInput, match="surrogate"):
        v.key_prefix(value)
    with pytest.raises(InvalidInput, match="surrogate"):
        v.message(value)
    with pytest.raises(InvalidInput):
        v.user_data(value)


def test_client_token_is_checked_before_the_driver() -> None:
    from cloudkit.services.compute import ComputeService

    compute = ComputeService("nothing", {})
    for token in ("\udcff", "tok\n", "", "x" * 65, "sp ace", "é"):
        with pytest.raises(InvalidInput) as info:
            compute.create_instance("web-1", image="img-1", instance_type="t", client_token=token)
        assert info.value.field == "client_token"


@pytest.mark.parametrize("name", ["abc\n", "abc\r\n"])
def test_a_trailing_newline_is_not_swallowed_by_dollar(name: str) -> None:
    for check in (v.bucket_name, v.topic_name, v.queue_name, v.db_identifier, v.instance_name, v.environment_name):
        with pytest.raises(InvalidInput):
            check(name + "d")
    with pytest.raises(InvalidInput):
        v.resource_name("name", name)
    with pytest.raises(InvalidInput):
        v.env_var_name(name)


@pytest.mark.parametrize(
    "url",
    ["http://\x00", "http://a\nb", "http://x\x7f", "http://x/\x85", "http://x/ y", " http://x/", "http://x/\t",
     "http://exa mple.com/", "http://-bad-.com/", "http://a..b/", "http://:80/", "http://x:0/", "http://x:99999/",
     "http://[::1/", "http://[nothex]/", "http://2852039166/", "http://0xa9fea9fe/", "http://1.2.3.999/", "ftp://x/"],
)
def test_bad_http_endpoints(url: str) -> None:
    with pytest.raises(InvalidInput) as info:
        v.endpoint("http", url)
    assert info.value.field == "endpoint"
    assert "user:pw" not in str(info.value)


@pytest.mark.parametrize(
    "url",
    ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[fe80::1]/",
     "http://[::ffff:169.254.169.254]/", "http://metadata.google.internal/computeMetadata/v1/", "http://169.254.1.1:8080/"],
)
def test_link_local_endpoints_are_refused_unless_allowed(url: str) -> None:
    from cloudkit import NotSupported
    from cloudkit.services.notification import NotificationService

    with pytest.raises(InvalidInput, match="allow_link_local_endpoints"):
        NotificationService("nothing", {}).subscribe("arn:t", protocol="http", endpoint=url)
    for allowed in (True, "true"):
        with pytest.raises(NotSupported):  # past validation, into the (absent) driver
            NotificationService("nothing", {"allow_link_local_endpoints": allowed}).subscribe("arn:t", protocol="http", endpoint=url)
    with pytest.raises(InvalidInput, match="allow_link_local_endpoints"):
        NotificationService("nothing", {"allow_link_local_endpoints": "maybe"}).subscribe("arn:t", protocol="http", endpoint=url)


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "https://[::1]:9/x", "http://localhost/", "https://user:pw@hooks.example.com/a?b=c#d",
            "http://10.0.0.5/", "https://bücher.example/", "http://example.com./"],
)
def test_good_http_endpoints(url: str) -> None:
    assert v.endpoint(url.split(":")[0], url) == (url.split(":")[0], url)


@pytest.mark.parametrize(
    ("protocol", "value"),
    [("email", "ops@example.com\n"), ("email", "ops@exa\x00mple.com"), ("email", "a..b@example.com"), ("email", "ops@example"),
     ("email", "ops@1.2.3.4"), ("email", "ops@-x.com"), ("email", "o ps@example.com"), ("sms", "+1415555\n0100"),
     ("sms", "+1415555\x000100"), ("sms", "0014155550100"), ("queue", "arn:\x00"), ("queue", "arn:aws:sqs:us-east-1:1:q\n"),
     ("queue", "http://\x00")],
)
def test_bad_email_phone_and_queue_endpoints(protocol: str, value: str) -> None:
    with pytest.raises(InvalidInput):
        v.endpoint(protocol, value)


@pytest.mark.parametrize("key", ["a\x01b", "tab\there", "line\nbreak", "cr\r", "esc\x1b[0m", "x\ufffe", "x\uffff"])
def test_keys_with_c0_controls_are_refused(key: str) -> None:
    with pytest.raises(InvalidInput, match="control"):
        v.object_key(key)
    with pytest.raises(InvalidInput):
        v.key_prefix(key)


def test_keys_s3_allows_and_every_store_carries_round_trip_on_local(tmp_path: object) -> None:
    import cloudkit

    keys = ["del\x7fkey", "c1\x85key", "zero\u200bwidth", "rtl\u202eevil", "emoji/\U0001f600", "ünï/кл/ключ", "sp ace", "%00", "\\back"]
    with cloudkit.connect("local", root=str(tmp_path)) as cloud:
        cloud.storage.create_bucket("keys")
        for key in keys:
            cloud.storage.put_object("keys", key, key.encode())
            with cloud.storage.get_object("keys", key) as r:
                assert r.read() == key.encode()
        listed = [o.key for o in cloud.storage.list_objects("keys")]
        assert sorted(listed) == sorted(keys)


def test_get_record_refuses_a_missing_name() -> None:
    from cloudkit import Zone
    from cloudkit.services.dns import DNSService

    dns = DNSService("nothing", {})
    with pytest.raises(InvalidInput):
        dns.get_record(Zone(id="Z1", name="example.com"), None, "A")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput):
        dns.get_record(Zone(id="Z1", name="example.com"), "www", None)  # type: ignore[arg-type]


def test_references_refuse_control_characters() -> None:
    from cloudkit.services.notification import NotificationService

    for bad in ("topic\n", "a\x00", "x\x1b", "\udcff"):
        with pytest.raises(InvalidInput) as info:
            NotificationService("nothing", {}).get_topic(bad)
        assert info.value.field == "topic"


def test_a_queue_url_to_a_metadata_address_is_refused_unless_allowed() -> None:
    """Queue endpoints given as URLs follow the same link-local rule as http(s) endpoints."""
    from cloudkit import validation as val

    with pytest.raises(InvalidInput) as info:
        val.endpoint("queue", "https://169.254.169.254/latest/meta-data")
    assert info.value.field == "endpoint"
    assert val.endpoint("queue", "https://169.254.169.254/q", allow_link_local=True) == ("queue", "https://169.254.169.254/q")
    assert val.endpoint("queue", "https://127.0.0.1:4566/000000000000/q") == ("queue", "https://127.0.0.1:4566/000000000000/q")
