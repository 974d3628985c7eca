"""Hostile input for the property-based suites: value strategies, per-parameter kinds, and an oracle.

Each parameter of a public method is given a *kind*: a valid example value (``base``) and a
predicate ``invalid(value)`` that says whether docs/security.md ("Hostile input") calls the value
invalid. The predicates restate the documented rules on their own (they do not call
:mod:`cloudkit.validation`), so a rule the code forgets shows up as an accepted invalid value.

Values are drawn from every Unicode category (lone surrogates included), NUL and control
characters, very long and path-like strings, numeric edge cases, non-string types, and the valid
base with hostile characters inserted (the ``"name\\n"`` kind of slip a regex with ``$`` lets by).
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from cloudkit import CloudkitError, InvalidInput

ALL_CATEGORIES = (
    "Lu", "Ll", "Lt", "Lm", "Lo", "Mn", "Mc", "Me", "Nd", "Nl", "No", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf",
    "Po", "Sm", "Sc", "Sk", "So", "Zs", "Zl", "Zp", "Cc", "Cf", "Cs", "Co", "Cn",
)

NASTY_STRINGS = (
    "", " ", "  ", "\t", "\n", "\r\n", "\x00", "a\x00b", "\udcff", "\ud800", "a\udcffb", "\x7f", "\x85", "\x9f",
    "\u2028", "\u2029", "\ufeff", "\u200b", "\u202e", "\ufffe", "\uffff", "\U0010ffff", "\U0001d54f",
    ".", "..", "/", "//", "../../etc/passwd", "/etc/passwd", "C:\\Windows\\system32", "\\\\server\\share",
    "%00", "%2e%2e/", "~", "~root", "-", "--help", "0", "-1", "1e309", "NaN", "inf", "null", "None", "true",
    "'; DROP TABLE t;--", "${jndi:ldap://x}", "{{7*7}}", "\x1b[31mred", "a" * 5000, "é" * 600, "\U0001f600" * 300,
    "http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/", "http://[::ffff:169.254.169.254]/",
    "http://2852039166/", "http://0xa9fea9fe/", "http://metadata.google.internal/", "http://[fe80::1]/",
    "http://\x00", "http://a\nb", "http://x\x7f", "http://user:pw@127.0.0.1:9/", "http://127.0.0.1:0/",
    "http://127.0.0.1:99999/", "http://[::1/", "http://:9/", "http:///x", "file:///etc/passwd",
)

NON_STRINGS: tuple[Any, ...] = (
    None, 0, -1, 1, 2**31, 2**63, -(2**63), 10**400, 0.5, float("nan"), float("inf"), float("-inf"), -0.0,
    True, False, b"bytes", b"\xff\xfe", bytearray(b"x"), [], ["a"], {}, {"a": "b"}, ("a",), object(),
)

#: Characters spliced into valid values.
SPLICE = st.one_of(
    st.sampled_from(["\x00", "\n", "\r", "\t", " ", "\x7f", "\x85", "\udcff", "\ufffe", "/", "..", "@", ":", "%", "\\",
                     "\u202e", "\u200b", "é", "\U0001d54f", "[", "]", "#", "?", "'", '"']),
    st.text(st.characters(categories=ALL_CATEGORIES), min_size=1, max_size=3),
)


def any_text(max_size: int = 40) -> st.SearchStrategy[str]:
    """Text from every Unicode category, lone surrogates included."""
    return st.text(st.characters(categories=ALL_CATEGORIES), max_size=max_size)


@st.composite
def spliced(draw: st.DrawFn, base: Any) -> Any:
    """``base`` with hostile characters inserted, appended, or repeated to excess."""
    if not isinstance(base, str):
        return base
    how = draw(st.sampled_from(["insert", "append", "prepend", "repeat"]))
    bit = draw(SPLICE)
    if how == "repeat":
        return base * draw(st.integers(50, 800))
    if how == "append":
        return base + bit
    if how == "prepend":
        return bit + base
    i = draw(st.integers(0, len(base)))
    return base[:i] + bit + base[i:]


def hostile(base: Any) -> st.SearchStrategy[Any]:
    """Hostile values around one valid ``base``."""
    return st.one_of(
        st.sampled_from(NASTY_STRINGS),
        st.sampled_from(NON_STRINGS),
        any_text(),
        spliced(base),
        spliced(base),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=True, allow_infinity=True),
        st.just(base),
    )


# --------------------------------------------------------------------------- the oracle

_SURR = re.compile("[\ud800-\udfff]")
_CC = re.compile("[\x00-\x1f\x7f-\x9f]")


def bad_text(value: Any, *, empty_ok: bool = False) -> bool:
    """Invalid everywhere: not a string, empty, a lone surrogate, or NUL."""
    if not isinstance(value, str):
        return True
    if not value and not empty_ok:
        return True
    return bool(_SURR.search(value)) or "\x00" in value


def bad_ref(value: Any, max_len: int = 2048) -> bool:
    """References (ids, names, ARNs): no control character, at most ``max_len`` characters."""
    return bad_text(value) or bool(_CC.search(value)) or len(value) > max_len


def optional(pred: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """``None`` is allowed, anything else as ``pred`` says."""
    return lambda value: value is not None and pred(value)


def full(pattern: str, max_len: int | None = None, min_len: int = 1) -> Callable[[Any], bool]:
    """Invalid unless the whole string matches ``pattern`` (ASCII, no trailing-newline slack)."""
    rx = re.compile(pattern)

    def pred(value: Any) -> bool:
        if bad_text(value) or len(value) < min_len or (max_len is not None and len(value) > max_len):
            return True
        return rx.fullmatch(value) is None

    return pred


def bad_key(value: Any) -> bool:
    """Object keys: 1 to 1024 UTF-8 bytes, no C0 control or U+FFFE/U+FFFF, no '.'/'..' segment."""
    if bad_text(value) or re.search("[\x00-\x1f\ufffe\uffff]", value):
        return True
    return len(value.encode()) > 1024 or any(seg in (".", "..") for seg in value.split("/"))


def bad_prefix(value: Any) -> bool:
    """Listing prefixes: keys' characters and size; may be empty."""
    if value is None or value == "":
        return False
    if bad_text(value) or re.search("[\x00-\x1f\ufffe\uffff]", value):
        return True
    return len(value.encode()) > 1024


def bad_message(value: Any) -> bool:
    """Message bodies: 1 byte to 256 KiB; no C0 control other than tab, LF, CR; no U+FFFE/U+FFFF."""
    if bad_text(value) or re.search("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]", value):
        return True
    return len(value.encode()) > 256 * 1024


def bad_line(max_len: int) -> Callable[[Any], bool]:
    """One line of printable text of at most ``max_len`` characters (no control character)."""
    return lambda value: bad_text(value, empty_ok=True) or bool(_CC.search(value)) or len(value) > max_len


def bad_dns_name(value: Any) -> bool:
    """Record names: never empty or only spaces (no silent apex), no control character, no backslash."""
    return bad_text(value) or bool(_CC.search(value)) or not value.strip(" ") or "\\" in value


def bad_url(value: Any) -> bool:
    """http(s) endpoints: no whitespace/control, a host, a port 1-65535, no link-local/metadata host."""
    if bad_text(value) or _CC.search(value) or any(c.isspace() for c in value):
        return True
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return True
    if parts.scheme not in ("http", "https") or not parts.hostname or port == 0:
        return True
    host = parts.hostname
    if host in ("metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"):
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return bool(re.fullmatch(r"[0-9]+|0x[0-9a-f]*", host.rstrip(".").rsplit(".", 1)[-1]))
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    nets = ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128")
    return any(addr in ipaddress.ip_network(n) for n in nets)


def bad_int(low: int, high: int) -> Callable[[Any], bool]:
    """An int (not a bool) in ``[low, high]``."""
    return lambda value: isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high


def bad_number(low: float, high: float) -> Callable[[Any], bool]:
    """An int or float (not a bool, not NaN) in ``[low, high]``."""
    def pred(value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return True
        return not low <= value <= high

    return pred


@dataclass(frozen=True)
class Op:
    """One public method with one parameter under attack."""

    name: str
    base: Any
    invalid: Callable[[Any], bool]
    call: Callable[[Any, Any], Any]  # (service-or-cloud, value) -> result
    as_key: bool = False  # the value is used as a mapping key (unhashable values are not drawn)

    def values(self) -> st.SearchStrategy[Any]:
        """The hostile values for this parameter."""
        strategy = hostile(self.base)
        return strategy.filter(_hashable) if self.as_key else strategy


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


class Tally:
    """Per family counts: tried, refused (InvalidInput), other CloudkitError, accepted, leaked."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter[str]] = {}

    def add(self, family: str, *outcomes: str) -> None:
        """Count one value tried for ``family`` with its outcomes."""
        c = self.counts.setdefault(family, Counter())
        c["tried"] += 1
        for outcome in outcomes:
            c[outcome] += 1

    def report(self) -> str:
        """One line per family."""
        lines = []
        for fam, c in sorted(self.counts.items()):
            lines.append(f"{fam}: tried {c['tried']}, refused {c['refused']}, other CloudkitError {c['other']}, "
                         f"accepted {c['accepted']}, leaked {c['leaked']}, accepted-invalid {c['accepted_invalid']}")
        return "\n".join(lines)


class Reached(BaseException):
    """Raised by stubbed driver methods and the network guard: validation let the call through."""


def run(op: Op, target: Any, value: Any, tally: Tally, family: str) -> None:
    """Call ``op`` with ``value`` and hold the result against the oracle (raises AssertionError)."""
    invalid = op.invalid(value)
    try:
        op.call(target, value)
    except InvalidInput as exc:
        tally.add(family, "refused")
        assert exc.field, f"{op.name}: InvalidInput without a field"
        return
    except CloudkitError as exc:
        if invalid:
            tally.add(family, "other", "accepted_invalid")
            raise AssertionError(f"{op.name}({value!r}) is invalid but reached the driver: {exc!r}") from exc
        tally.add(family, "other")
        return
    except Reached:
        if invalid:
            tally.add(family, "accepted", "accepted_invalid")
            raise AssertionError(f"{op.name}({value!r}) is invalid but passed validation") from None
        tally.add(family, "accepted")
        return
    except Exception as exc:
        tally.add(family, "leaked")
        raise AssertionError(f"{op.name}({value!r}) leaked {type(exc).__name__}: {exc}") from exc
    if invalid:
        tally.add(family, "accepted", "accepted_invalid")
        raise AssertionError(f"{op.name}({value!r}) is invalid but was accepted")
    tally.add(family, "accepted")


# --------------------------------------------------------------------------- operations per family

_BUCKET_RX = r"(?=[a-z0-9.-]{3,63}\Z)[a-z0-9][a-z0-9.-]*[a-z0-9]"


def _bad_bucket(value: Any) -> bool:
    if full(_BUCKET_RX)(value):
        return True
    return ".." in value or ".-" in value or "-." in value or bool(re.fullmatch(r"[0-9.]+", value)) \
        or value.startswith("xn--") or value.endswith("-s3alias")


def storage_ops(bucket: str) -> list[Op]:
    """Every public storage method, with each string parameter under attack; ``bucket`` exists."""
    def put(s: Any, **kw: Any) -> Any:
        args = {"key": "k.txt", "data": b"x"}
        args.update(kw)
        return s.put_object(bucket, args.pop("key"), args.pop("data"), **args)

    def bad_meta_name(value: Any) -> bool:
        return bad_text(value) or not re.fullmatch(r"[A-Za-z0-9_-]+", value)

    return [
        Op("create_bucket", "hostile-bkt", _bad_bucket, lambda s, x: s.create_bucket(x)),
        Op("get_bucket", bucket, _bad_bucket, lambda s, x: s.get_bucket(x)),
        Op("delete_bucket", "no-such-bkt", _bad_bucket, lambda s, x: s.delete_bucket(x)),
        Op("put_object.key", "dir/file.txt", bad_key, lambda s, x: put(s, key=x)),
        Op("get_object", "dir/file.txt", bad_key, lambda s, x: s.get_object(bucket, x).close()),
        Op("head_object", "dir/file.txt", bad_key, lambda s, x: s.head_object(bucket, x)),
        Op("delete_object", "dir/file.txt", bad_key, lambda s, x: s.delete_object(bucket, x)),
        Op("delete_objects", "dir/file.txt", bad_key, lambda s, x: s.delete_objects(bucket, [x])),
        Op("copy_object.dst_key", "copy.txt", bad_key, lambda s, x: s.copy_object(bucket, "k.txt", bucket, x)),
        Op("presign_url.key", "dir/file.txt", bad_key, lambda s, x: s.presign_url(bucket, x)),
        Op("presign_url.method", "GET", lambda x: not (isinstance(x, str) and x.upper() in ("GET", "PUT")),
           lambda s, x: s.presign_url(bucket, "k.txt", method=x)),
        Op("presign_url.expires_in", 600, bad_int(1, 604800), lambda s, x: s.presign_url(bucket, "k.txt", expires_in=x)),
        Op("list_objects.prefix", "dir/", bad_prefix, lambda s, x: list(s.list_objects(bucket, prefix=x))),
        Op("list_objects.start_after", "dir/a", optional(bad_prefix), lambda s, x: list(s.list_objects(bucket, start_after=x))),
        Op("list_objects.delimiter", "/", optional(lambda x: bad_prefix(x) or x == "" or len(x) != 1),
           lambda s, x: list(s.list_objects(bucket, delimiter=x))),
        Op("put_object.content_type", "text/plain", optional(full(r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+(?: *;[\x20-\x7e]*)?", 255)),
           lambda s, x: put(s, content_type=x)),
        Op("put_object.metadata value", "ops", lambda x: bad_text(x, empty_ok=True) or bool(_CC.search(x)) or len(x.encode()) > 2040,
           lambda s, x: put(s, metadata={"m": x})),
        Op("put_object.metadata name", "owner", bad_meta_name, lambda s, x: put(s, metadata={x: "v"}), as_key=True),
        Op("get_object.range", (0, 3), optional(lambda x: not (isinstance(x, tuple) and len(x) == 2)),
           lambda s, x: s.get_object(bucket, "k.txt", range=x).close()),
    ]


def dns_ops(zone: Any) -> list[Op]:
    """Every public DNS method, with each string parameter under attack; ``zone`` (a Zone) exists."""
    from cloudkit import RecordSet

    def upsert(s: Any, name: Any = "www", rtype: Any = "A", values: Any = ("10.0.0.1",)) -> Any:
        return s.upsert_records(zone, [RecordSet(name, rtype, 60, list(values))])

    def bad_value(value: Any) -> bool:
        return bad_text(value) or not value.strip() or bool(_CC.search(value)) or len(value) > 4000

    def bad_ipv4(value: Any) -> bool:
        if bad_value(value):
            return True
        if "\\" in value:
            return False  # zone-file escapes: dnspython decodes them; the stored value is canonical
        try:
            ipaddress.IPv4Address(value.strip())
        except ValueError:
            return True
        return False

    types = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "NS", "CAA", "PTR", "SOA")
    label = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?"

    def bad_zone(value: Any) -> bool:
        # ASCII names must be two LDH labels or more; non-ASCII ones go through IDNA (either outcome is fine).
        if bad_dns_name(value):
            return True
        return value.isascii() and full(rf"(?:{label}\.)+{label}\.?", 253)(value.strip(" "))
    return [
        Op("create_zone", "hostile-example.com", bad_zone, lambda s, x: s.create_zone(x)),
        Op("create_zone.comment", "hello", optional(bad_line(256)), lambda s, x: s.create_zone("comment-example.com", comment=x)),
        Op("get_zone", zone.id, bad_ref, lambda s, x: s.get_zone(x)),
        Op("upsert_records.name", "www", bad_dns_name, lambda s, x: upsert(s, name=x)),
        Op("upsert_records.A", "10.0.0.2", bad_ipv4, lambda s, x: upsert(s, values=[x])),
        Op("upsert_records.TXT", "hello world", bad_value, lambda s, x: upsert(s, name="txt", rtype="TXT", values=[x])),
        Op("upsert_records.MX", "10 mail.example.com.", bad_value, lambda s, x: upsert(s, name="mx", rtype="MX", values=[x])),
        Op("upsert_records.type", "A", lambda x: not (isinstance(x, str) and x.strip().upper() in types),
           lambda s, x: upsert(s, name="t", rtype=x)),
        Op("delete_records.name", "www", bad_dns_name, lambda s, x: s.delete_records(zone, [RecordSet(x, "A", 60, ["10.0.0.9"])])),
        Op("list_records.name", "www", optional(bad_dns_name), lambda s, x: list(s.list_records(zone, name=x))),
        Op("list_records.type", "A", optional(lambda x: not (isinstance(x, str) and x.upper() in types)),
           lambda s, x: list(s.list_records(zone, type=x))),
        Op("get_record.name", "www", bad_dns_name, lambda s, x: s.get_record(zone, x, "A")),
        Op("import_zone", "www 60 IN A 10.0.0.3\n", lambda x: bad_text(x) or not x.strip(), lambda s, x: s.import_zone(zone, x)),
        Op("plan_sync.name", "www", bad_dns_name, lambda s, x: s.plan_sync(zone, [RecordSet(x, "A", 60, ["10.0.0.4"])])),
    ]


def notification_ops(topic: Any, queue: Any) -> list[Op]:
    """Every public notification method, with each string parameter under attack."""
    name_rx = r"[A-Za-z0-9_-]{1,%d}(?:\.fifo)?"

    def bad_email(value: Any) -> bool:
        if bad_text(value) or _CC.search(value) or len(value) > 254:
            return True
        local, at, domain = value.rpartition("@")
        atom = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
        label = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
        if not at or len(local) > 64 or not re.fullmatch(rf"{atom}(?:\.{atom})*", local):
            return True
        d = domain[:-1] if domain.endswith(".") else domain
        return not re.fullmatch(rf"{label}(?:\.{label})+", d) or bool(re.fullmatch(r"[0-9]+|0x[0-9a-fA-F]*", d.rsplit(".", 1)[-1]))

    def bad_phone(value: Any) -> bool:
        return bad_text(value) or not re.fullmatch(r"\+[1-9][0-9]{7,14}", re.sub(r"[ ().-]", "", value))

    def bad_queue_endpoint(value: Any) -> bool:
        if bad_text(value):
            return True
        if value.startswith("arn:"):
            return len(value) > 2048 or not re.fullmatch(r"arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[\x21-\x7e]+", value)
        if value.startswith(("http://", "https://")):
            return bad_url(value)
        return full(name_rx % 80)(value)

    statuses = ("pending", "retrying", "sent", "dead")

    def bad_attr(value: Any) -> bool:
        return bad_text(value, empty_ok=True) or bad_message(value or "x")

    return [
        Op("create_topic", "topic-ok", full(name_rx % 256), lambda s, x: s.create_topic(x)),
        Op("create_topic.display_name", "Ops", optional(bad_line(100)), lambda s, x: s.create_topic("topic-dn", display_name=x)),
        Op("get_topic", topic.id, bad_ref, lambda s, x: s.get_topic(x)),
        Op("delete_topic", "no-such-topic", bad_ref, lambda s, x: s.delete_topic(x)),
        Op("subscribe.http", "http://127.0.0.1:9/hook", lambda x: bad_url(x) or not x.startswith("http:"),
           lambda s, x: s.subscribe(topic, protocol="http", endpoint=x)),
        Op("subscribe.https", "https://localhost:9/hook", lambda x: bad_url(x) or not x.startswith("https:"),
           lambda s, x: s.subscribe(topic, protocol="https", endpoint=x)),
        Op("subscribe.email", "ops@example.com", bad_email, lambda s, x: s.subscribe(topic, protocol="email", endpoint=x)),
        Op("subscribe.sms", "+14155550100", bad_phone, lambda s, x: s.subscribe(topic, protocol="sms", endpoint=x)),
        Op("subscribe.queue", "q-ok", bad_queue_endpoint, lambda s, x: s.subscribe(topic, protocol="queue", endpoint=x)),
        Op("subscribe.protocol", "sms", lambda x: not (isinstance(x, str) and x.lower() in ("http", "https", "email", "sms", "queue")),
           lambda s, x: s.subscribe(topic, protocol=x, endpoint="+14155550100")),
        Op("confirm_subscription", "token-1", bad_ref, lambda s, x: s.confirm_subscription(topic, x)),
        Op("get_subscription", "sub-1", bad_ref, lambda s, x: s.get_subscription(x)),
        Op("unsubscribe", "sub-1", bad_ref, lambda s, x: s.unsubscribe(x)),
        Op("list_subscriptions", topic.id, optional(bad_ref), lambda s, x: list(s.list_subscriptions(x))),
        Op("publish.message", "hello", bad_message, lambda s, x: s.publish(topic, x)),
        Op("publish.subject", "Deployed", optional(bad_line(100)), lambda s, x: s.publish(topic, "m", subject=x)),
        Op("publish.attribute value", "v", bad_attr, lambda s, x: s.publish(topic, "m", attributes={"a": x})),
        Op("publish.attribute name", "a", full(r"[A-Za-z0-9_.-]+", 256), lambda s, x: s.publish(topic, "m", attributes={x: "v"}), as_key=True),
        Op("create_queue", "q-hostile", full(name_rx % 80), lambda s, x: s.create_queue(x)),
        Op("get_queue", queue.id, bad_ref, lambda s, x: s.get_queue(x)),
        Op("delete_queue", "no-such-queue", bad_ref, lambda s, x: s.delete_queue(x)),
        Op("receive_messages.max_messages", 1, bad_int(1, 10), lambda s, x: s.receive_messages(queue, max_messages=x)),
        Op("receive_messages.visibility_timeout", 0, bad_int(0, 43200), lambda s, x: s.receive_messages(queue, visibility_timeout=x)),
        Op("ack_message", "receipt-1", bad_ref, lambda s, x: s.ack_message(queue, x)),
        Op("list_deliveries.status", "sent", optional(lambda x: not (isinstance(x, str) and x.lower() in statuses)),
           lambda s, x: list(s.list_deliveries(status=x))),
    ]


def compute_ops() -> list[Op]:
    """Public compute methods, parameters under attack (drive validation only: drivers are stubbed)."""
    from cloudkit import SecurityRule

    def launch(s: Any, **kw: Any) -> Any:
        args: dict[str, Any] = {"name": "web-1", "image": "img-1", "instance_type": "local.nano"}
        args.update(kw)
        return s.create_instance(args.pop("name"), **args)

    def bad_tag(limit: int, key: bool) -> Callable[[Any], bool]:
        return lambda x: bad_text(x, empty_ok=not key) or bool(_CC.search(x)) or len(x) > limit

    def bad_user_data(value: Any) -> bool:
        if isinstance(value, bytes):
            try:
                value = value.decode("utf-8")
            except UnicodeDecodeError:
                return True
        return bad_text(value, empty_ok=True) or len(value.encode()) > 16384

    def bad_cidr(value: Any) -> bool:
        if bad_text(value):
            return True
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            return True
        return False

    return [
        Op("create_instance.name", "web-1", full(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"), lambda s, x: launch(s, name=x)),
        Op("create_instance.image", "img-1", bad_ref, lambda s, x: launch(s, image=x)),
        Op("create_instance.instance_type", "local.nano", lambda x: bad_ref(x, 255), lambda s, x: launch(s, instance_type=x)),
        Op("create_instance.client_token", "tok-1", optional(full(r"[\x21-\x7e]{1,64}")), lambda s, x: launch(s, client_token=x)),
        Op("create_instance.user_data", "#cloud-config\n", optional(bad_user_data), lambda s, x: launch(s, user_data=x)),
        Op("create_instance.key_pair", "kp-1", optional(lambda x: bad_ref(x, 255)), lambda s, x: launch(s, key_pair=x)),
        Op("create_instance.security_groups", "sg-1", bad_ref, lambda s, x: launch(s, security_groups=[x])),
        Op("create_instance.zone", "zone-a", optional(lambda x: bad_ref(x, 255)), lambda s, x: launch(s, zone=x)),
        Op("create_instance.tag value", "v", bad_tag(256, False), lambda s, x: launch(s, tags={"k": x})),
        Op("create_instance.tag key", "k", bad_tag(128, True), lambda s, x: launch(s, tags={x: "v"}), as_key=True),
        Op("get_instance", "i-1", bad_ref, lambda s, x: s.get_instance(x)),
        Op("terminate_instance", "i-1", bad_ref, lambda s, x: s.terminate_instance(x)),
        Op("wait_for_instance.state", "running",
           lambda x: not (isinstance(x, str) and x in ("pending", "running", "stopping", "stopped", "terminated", "rebooting",
                                                      "shutting-down", "error", "unknown")),
           lambda s, x: s.wait_for_instance("i-1", x)),
        Op("create_key_pair", "kp-1", full(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 255), lambda s, x: s.create_key_pair(x)),
        Op("import_key_pair.public_key", "ssh-ed25519 AAAAC3Nza x", lambda x: bad_text(x) or bool(_CC.search(x.strip())),
           lambda s, x: s.import_key_pair("kp-2", x)),
        Op("create_security_group.description", "web", lambda x: bad_text(x, empty_ok=True) or bool(_CC.search(x)) or len(x) > 255,
           lambda s, x: s.create_security_group("sg-a", description=x)),
        Op("authorize_ingress.cidr", "10.0.0.0/8", bad_cidr, lambda s, x: s.authorize_ingress("sg-1", [SecurityRule("tcp", 22, 22, x)])),
        Op("attach_volume.device", "/dev/sdf", full(r"/dev/[A-Za-z0-9/_-]{1,64}"), lambda s, x: s.attach_volume("vol-1", "i-1", x)),
        Op("create_volume.size_gb", 10, bad_int(1, 65536), lambda s, x: s.create_volume(x)),
        Op("list_images.name", "ubuntu*", optional(lambda x: bad_ref(x, 255)), lambda s, x: list(s.list_images(name=x))),
        Op("create_volume_snapshot.description", "nightly", lambda x: bad_text(x, empty_ok=True) or bool(_CC.search(x)) or len(x) > 255,
           lambda s, x: s.create_volume_snapshot("vol-1", description=x)),
    ]


def database_ops() -> list[Op]:
    """Public database methods, parameters under attack (drive validation only)."""
    def create(s: Any, **kw: Any) -> Any:
        args: dict[str, Any] = {"identifier": "db-1", "engine": "sqlite", "master_username": "admin1",
                                "master_password": "Passw0rd!x"}
        args.update(kw)
        return s.create_instance(args.pop("identifier"), **args)

    dbid = full(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*", 63)

    def bad_dbid(value: Any) -> bool:
        return dbid(value) or value.endswith("-")

    def bad_password(value: Any) -> bool:
        return not isinstance(value, str) or not 8 <= len(value) <= 128 or any(c in "/\"@' " or not 32 < ord(c) < 127 for c in value)

    days = "(?:mon|tue|wed|thu|fri|sat|sun)"
    return [
        Op("create_instance.identifier", "db-1", bad_dbid, lambda s, x: create(s, identifier=x)),
        Op("create_instance.engine", "sqlite", lambda x: bad_ref(x, 64), lambda s, x: create(s, engine=x)),
        Op("create_instance.instance_class", "db.t3.micro", lambda x: bad_ref(x, 64), lambda s, x: create(s, instance_class=x)),
        Op("create_instance.master_username", "admin1",
           lambda x: full(r"[A-Za-z][A-Za-z0-9_]{0,15}")(x) or x.lower() in ("postgres", "rdsadmin", "admin_reserved", "root", "mysql"),
           lambda s, x: create(s, master_username=x)),
        Op("create_instance.master_password", "Passw0rd!x", bad_password, lambda s, x: create(s, master_password=x)),
        Op("create_instance.storage_gb", 20, bad_int(1, 65536), lambda s, x: create(s, storage_gb=x)),
        Op("create_instance.maintenance_window", "sun:05:00-sun:06:00",
           optional(lambda x: full(rf"{days}:([01][0-9]|2[0-3]):[0-5][0-9]-{days}:([01][0-9]|2[0-3]):[0-5][0-9]")(
               x.lower() if isinstance(x, str) else x)),
           lambda s, x: create(s, maintenance_window=x)),
        Op("create_instance.backup_retention_days", 7, bad_int(0, 35), lambda s, x: create(s, backup_retention_days=x)),
        Op("get_instance", "db-1", bad_dbid, lambda s, x: s.get_instance(x)),
        Op("create_snapshot.snapshot_id", "snap-1", bad_dbid, lambda s, x: s.create_snapshot("db-1", x)),
        Op("delete_instance.final_snapshot", "final-1", optional(bad_dbid), lambda s, x: s.delete_instance("db-1", final_snapshot=x)),
        Op("restore_snapshot.instance_class", "db.t3.micro", optional(lambda x: bad_ref(x, 64)),
           lambda s, x: s.restore_snapshot("snap-1", "db-2", instance_class=x)),
        Op("modify_instance.master_password", "Passw0rd!y", optional(bad_password),
           lambda s, x: s.modify_instance("db-1", master_password=x, storage_gb=30)),
    ]


def platform_ops() -> list[Op]:
    """Public platform methods, parameters under attack (drive validation only)."""
    from cloudkit.models.platform import EnvironmentSettings

    def bad_app(value: Any) -> bool:
        return bad_text(value) or len(value) > 100 or "/" in value or bool(_CC.search(value))

    env = full(r"[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]")

    def with_settings(s: Any, **kw: Any) -> Any:
        return s.create_environment("My App", "env-1", version="v1", stack="python", settings=EnvironmentSettings(**kw))

    return [
        Op("create_application", "My App", bad_app, lambda s, x: s.create_application(x)),
        Op("create_application.description", "about", optional(bad_line(200)), lambda s, x: s.create_application("My App", description=x)),
        Op("create_version.label", "v1", bad_app, lambda s, x: s.create_version("My App", x, source=b"PK\x03\x04")),
        Op("create_version.source", "/nonexistent/app.zip", bad_text, lambda s, x: s.create_version("My App", "v1", source=x)),
        Op("create_environment.name", "env-1", env, lambda s, x: s.create_environment("My App", x, version="v1", stack="python")),
        Op("create_environment.stack", "python", lambda x: bad_ref(x, 256),
           lambda s, x: s.create_environment("My App", "env-1", version="v1", stack=x)),
        Op("create_environment.env var name", "APP_MODE", full(r"[A-Za-z_][A-Za-z0-9_]*"),
           lambda s, x: with_settings(s, env_vars={x: "1"}), as_key=True),
        Op("create_environment.env var value", "prod", lambda x: bad_text(x, empty_ok=True), lambda s, x: with_settings(s, env_vars={"A": x})),
        Op("create_environment.option", "aws:elb:policies:x",
           lambda x: bad_ref(x, 256) or ":" not in x, lambda s, x: with_settings(s, options={x: "1"}), as_key=True),
        Op("get_environment", "e-1", bad_ref, lambda s, x: s.get_environment(x)),
        Op("deploy.version", "v2", bad_app, lambda s, x: s.deploy("e-1", x)),
        Op("delete_template.name", "tpl", lambda x: bad_ref(x, 100), lambda s, x: s.delete_template("My App", x)),
        Op("create_template.name", "tpl", full(r"[A-Za-z0-9][A-Za-z0-9_.-]*", 100), lambda s, x: s.create_template("My App", x, stack="python")),
        Op("logs.tail", 100, bad_int(1, 10_000), lambda s, x: s.logs("e-1", tail=x)),
        Op("create_environment.min_instances", 2, optional(bad_int(1, 100)), lambda s, x: with_settings(s, min_instances=x)),
        Op("create_environment.max_instances", 4, optional(bad_int(1, 100)), lambda s, x: with_settings(s, max_instances=x)),
        Op("rebuild", "e-1", bad_ref, lambda s, x: s.rebuild(x)),
    ]


def loadbalancer_ops() -> list[Op]:
    """Public loadbalancer methods, parameters under attack (drive validation only)."""

    from cloudkit.models.loadbalancer import HealthCheck, Listener, Target

    name_ok = full(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,30}[A-Za-z0-9])?")

    def bad_name(value: Any) -> bool:
        return name_ok(value) or value.lower().startswith("internal-")

    def bad_protocol(value: Any) -> bool:  # https needs a certificate, so only http and tcp pass alone
        return not isinstance(value, str) or value.lower() not in ("http", "tcp")

    def bad_path(value: Any) -> bool:
        return (bad_text(value) or not value.startswith("/") or len(value) > 1024 or bool(re.search(r"\s", value))
                or bool(_CC.search(value)))

    def bad_address(value: Any) -> bool:
        if bad_text(value):
            return True
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return True
        return False

    def create(s: Any, **kw: Any) -> Any:
        return s.create_load_balancer("web", **kw)

    return [
        Op("create_load_balancer.name", "web", bad_name, lambda s, x: s.create_load_balancer(x)),
        Op("listener.port", 80, bad_int(0, 65535), lambda s, x: create(s, listeners=[Listener(port=x, target_port=80)])),
        Op("listener.target_port", 8000, optional(bad_int(1, 65535)),
           lambda s, x: create(s, listeners=[Listener(port=80, target_port=x)])),
        Op("listener.protocol", "http", bad_protocol, lambda s, x: create(s, listeners=[Listener(protocol=x, port=80)])),
        Op("health_check.path", "/health", bad_path, lambda s, x: create(s, health_check=HealthCheck(path=x))),
        Op("health_check.interval", 30, bad_int(5, 300), lambda s, x: create(s, health_check=HealthCheck(interval=x))),
        Op("deregistration_delay", 300, bad_int(0, 3600), lambda s, x: create(s, deregistration_delay=x)),
        Op("register_targets.address", "127.0.0.1", bad_address, lambda s, x: s.register_targets("web", [Target(x, 80)])),
        Op("get_load_balancer", "web", bad_ref, lambda s, x: s.get_load_balancer(x)),
        Op("remove_listener.port", 80, bad_int(1, 65535), lambda s, x: s.remove_listener("web", x)),
    ]


def stub_drivers(service: Any) -> None:
    """Replace every driver method of ``service`` by one that raises :class:`Reached`."""
    def reached(*args: Any, **kwargs: Any) -> Any:
        raise Reached

    for op in type(service).OPERATIONS:
        setattr(service, "_" + op, reached)
