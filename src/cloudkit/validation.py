"""Input validation: the one module every provider relies on.

Each function either returns the value normalised or raises :class:`InvalidInput` naming the
field and the rule. Nothing here touches a network or a disk. DNS syntax is checked with
dnspython rather than by hand (imported on first use, so programs without DNS never load it).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from cloudkit.errors import InvalidInput

if TYPE_CHECKING:  # imported where used, so validating a bucket name does not load the DNS models
    from cloudkit.models.dns import RecordSet

# --------------------------------------------------------------------------- generic


#: Lone surrogates (U+D800-U+DFFF): Python strings can hold them, UTF-8 (and so every provider) cannot.
_SURROGATE = re.compile("[\ud800-\udfff]")
#: Unicode control characters (category Cc): C0, DEL and C1.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
#: Characters XML 1.0 cannot carry (C0 controls other than tab, LF and CR; U+FFFE; U+FFFF); SQS and
#: every XML-based storage listing refuse or mangle them.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
#: Characters refused in object keys: every C0 control, U+FFFE and U+FFFF.
_NOT_KEY = re.compile("[\x00-\x1f\ufffe\uffff]")


def unicode_text(field: str, value: str) -> str:
    """``value`` must be encodable as UTF-8 (no lone surrogate) and hold no NUL character."""
    if _SURROGATE.search(value):
        raise InvalidInput(field, "must be valid Unicode text (no lone surrogate code points)")
    if "\x00" in value:
        raise InvalidInput(field, "must not contain a NUL character")
    return value


def require_str(field: str, value: object) -> str:
    """``value`` must be a non-empty string of valid Unicode text without NUL."""
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, not {type(value).__name__}")
    if not value:
        raise InvalidInput(field, "must not be empty")
    return unicode_text(field, value)


def no_controls(field: str, value: str) -> str:
    """``value`` must hold no control character (Unicode category Cc: U+0000-U+001F, U+007F-U+009F)."""
    if _CONTROL.search(value):
        raise InvalidInput(field, "must not contain control characters (U+0000-U+001F, U+007F-U+009F)")
    return value


def reference(field: str, value: object, *, max_len: int = 2048) -> str:
    """A resource id, name or ARN given by reference: one line of at most ``max_len`` characters, no controls."""
    value = require_str(field, value)
    if len(value) > max_len:
        raise InvalidInput(field, f"must be at most {max_len} characters")
    return no_controls(field, value)


def optional_text(field: str, value: object, *, max_len: int = 1024) -> str | None:
    """Free text such as a description: ``None`` or one line of at most ``max_len`` characters, no controls."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(field, f"must be a string, not {type(value).__name__}")
    if len(value) > max_len:
        raise InvalidInput(field, f"must be at most {max_len} characters")
    return no_controls(field, unicode_text(field, value))


def client_token(value: object, field: str = "client_token") -> str | None:
    """An idempotency token: ``None`` or 1 to 64 printable ASCII characters (EC2's rule)."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[\x21-\x7e]{1,64}", value):
        raise InvalidInput(field, "must be 1 to 64 printable ASCII characters")
    return value


def int_range(field: str, value: object, low: int, high: int | None = None) -> int:
    """``value`` must be an int in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(field, f"must be an integer, not {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInput(field, f"must be {bound} (got {value})")
    return value


def number_range(field: str, value: object, low: float, high: float | None = None) -> float:
    """``value`` must be a real number in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInput(field, f"must be a number, not {type(value).__name__}")
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise InvalidInput(field, f"must be {bound} (got {value})")
    return float(value)


def sequence(field: str, value: object) -> list[Any]:
    """A list, tuple or other iterable of items (a string or a mapping is refused), as a list."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise InvalidInput(field, f"must be a sequence, not {type(value).__name__}")
    return list(value)


def flag(field: str, value: object) -> bool:
    """A yes/no setting: a bool, or ``"true"``/``"false"``/``"1"``/``"0"`` as config files and env vars give it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return value.strip().lower() in ("true", "1", "yes")
    raise InvalidInput(field, "must be true or false")


def one_of(field: str, value: object, choices: Iterable[str]) -> str:
    """``value`` must be one of ``choices`` (compared case-insensitively, returned lower-case)."""
    options = tuple(choices)
    if not isinstance(value, str) or value.lower() not in options:
        raise InvalidInput(field, f"must be one of {', '.join(options)} (got {value!r})")
    return value.lower()


def string_map(field: str, value: Mapping[str, Any] | None, *, max_items: int = 100) -> dict[str, str]:
    """A mapping of non-empty string keys to string values."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidInput(field, "must be a mapping of strings to strings")
    if len(value) > max_items:
        raise InvalidInput(field, f"must have at most {max_items} entries")
    out: dict[str, str] = {}
    for k, v in value.items():
        if not isinstance(k, str) or not k:
            raise InvalidInput(field, "keys must be non-empty strings")
        no_controls(field, unicode_text(field, k))
        if not isinstance(v, str):
            raise InvalidInput(f"{field}[{k!r}]", "must be a string")
        unicode_text(f"{field}[{k!r}]", v)
        out[k] = v
    return out


_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def resource_name(field: str, value: object, *, max_len: int = 255) -> str:
    """A generic resource name: letters, digits, ``_``, ``.``, ``-``; starts with a letter or digit."""
    value = require_str(field, value)
    if len(value) > max_len:
        raise InvalidInput(field, f"must be at most {max_len} characters")
    if not _NAME.fullmatch(value):
        raise InvalidInput(field, "may contain only letters, digits, '_', '.' and '-', starting with a letter or digit")
    return value


def aware_datetime(field: str, value: object) -> datetime:
    """A datetime; naive values are taken as UTC."""
    if not isinstance(value, datetime):
        raise InvalidInput(field, "must be a datetime")
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --------------------------------------------------------------------------- storage

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")


def bucket_name(value: object, field: str = "bucket") -> str:
    """S3 bucket naming rules, the strictest common denominator of object stores."""
    value = require_str(field, value)
    if not 3 <= len(value) <= 63:
        raise InvalidInput(field, f"must be 3 to 63 characters long (got {len(value)})")
    if not _BUCKET.fullmatch(value):
        raise InvalidInput(
            field,
            "may contain only lower-case letters, digits, '.' and '-', and must start and end with a letter or digit",
        )
    if ".." in value or ".-" in value or "-." in value:
        raise InvalidInput(field, "must not contain '..', '.-' or '-.'")
    try:
        ipaddress.IPv4Address(value)
    except ValueError:
        pass
    else:
        raise InvalidInput(field, "must not be formatted as an IP address")
    if value.startswith("xn--") or value.endswith("-s3alias"):
        raise InvalidInput(field, "must not start with 'xn--' or end with '-s3alias'")
    return value


def _key_text(field: str, value: str) -> str:
    """The characters every object store can carry in a key: UTF-8, no C0 control, no U+FFFE/U+FFFF."""
    unicode_text(field, value)
    if _NOT_KEY.search(value):
        raise InvalidInput(field, "must not contain C0 control characters (U+0000-U+001F) or U+FFFE/U+FFFF")
    size = len(value.encode("utf-8"))
    if size > 1024:
        raise InvalidInput(field, f"must be at most 1024 bytes of UTF-8 (got {size})")
    return value


def object_key(value: object, field: str = "key") -> str:
    """Object keys: 1 to 1024 bytes of UTF-8; no C0 control character, U+FFFE or U+FFFF; no ``.``/``..`` segment.

    S3 itself accepts control characters in keys, but XML listings (libcloud's S3 and Azure drivers,
    S3 without ``encoding-type=url``) cannot carry them, so cloudkit refuses them everywhere.
    """
    value = _key_text(field, require_str(field, value))
    if any(seg in (".", "..") for seg in value.split("/")):
        raise InvalidInput(field, "must not contain '.' or '..' path segments")
    return value


def key_prefix(value: object, field: str = "prefix") -> str:
    """A listing prefix: may be empty; otherwise the rules of keys except segment rules at the end."""
    if value is None or value == "":
        return ""
    return _key_text(field, require_str(field, value))


def content_type(value: object, field: str = "content_type") -> str | None:
    """A MIME type ``type/subtype`` (parameters allowed)."""
    if value is None:
        return None
    value = require_str(field, value)
    if len(value) > 255 or not re.fullmatch(r"[A-Za-z0-9.+-]+/[A-Za-z0-9.+-]+(?: *;[\x20-\x7e]*)?", value):
        raise InvalidInput(field, "must be a MIME type such as 'text/plain' (printable ASCII, at most 255 characters)")
    return value


def user_metadata(value: Mapping[str, Any] | None, field: str = "metadata") -> dict[str, str]:
    """User metadata: ASCII names of letters, digits and ``-``/``_``; values without line breaks; 2 KiB total."""
    data = string_map(field, value)
    total = 0
    seen: dict[str, str] = {}
    for k, v in data.items():
        if k.lower() in seen:
            raise InvalidInput(f"{field}[{k!r}]", f"names are case-insensitive: {k!r} and {seen[k.lower()]!r} are the same name")
        seen[k.lower()] = k
        if not re.fullmatch(r"^[A-Za-z0-9_-]+$", k):
            raise InvalidInput(f"{field}[{k!r}]", "names may contain only ASCII letters, digits, '-' and '_'")
        if _CONTROL.search(v):
            raise InvalidInput(f"{field}[{k!r}]", "values must not contain line breaks or other control characters")
        total += len(k.encode()) + len(v.encode())
    if total > 2048:
        raise InvalidInput(field, f"must be at most 2048 bytes in all (got {total})")
    return {k.lower(): v for k, v in data.items()}


def byte_range(value: object, field: str = "range") -> tuple[int, int | None] | None:
    """``(start, end)`` with ``end`` inclusive or ``None`` for "to the end"."""
    if value is None:
        return None
    if not isinstance(value, tuple) or len(value) != 2:
        raise InvalidInput(field, "must be a (start, end) tuple; end is inclusive or None")
    start, end = value
    int_range(f"{field}[0]", start, 0)
    if end is not None:
        int_range(f"{field}[1]", end, start)
    return (start, end)


def presign_method(value: object) -> str:
    """``GET`` or ``PUT``."""
    if not isinstance(value, str) or value.upper() not in ("GET", "PUT"):
        raise InvalidInput("method", f"must be GET or PUT (got {value!r})")
    return value.upper()


def expires_in(value: object) -> int:
    """Seconds a presigned URL lives: 1 to 604800 (7 days)."""
    return int_range("expires_in", value, 1, 604800)


ARCHIVE_CLASSES = ("ARCHIVE", "DEEP_ARCHIVE")


def lifecycle_rules(rules: Any) -> list[Any]:
    """A sequence of :class:`LifecycleRule` with sane day counts and unique ids."""
    from cloudkit.models.storage import LifecycleRule

    if isinstance(rules, (str, bytes)) or not isinstance(rules, Iterable):
        raise InvalidInput("rules", "must be a sequence of LifecycleRule")
    out = []
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        f = f"rules[{i}]"
        if not isinstance(rule, LifecycleRule):
            raise InvalidInput(f, "must be a LifecycleRule")
        key_prefix(rule.prefix, f"{f}.prefix")
        if rule.archive_after_days is None and rule.expire_after_days is None:
            raise InvalidInput(f, "must set archive_after_days or expire_after_days")
        if rule.archive_after_days is not None:
            int_range(f"{f}.archive_after_days", rule.archive_after_days, 0, 36500)
        if rule.expire_after_days is not None:
            int_range(f"{f}.expire_after_days", rule.expire_after_days, 1, 36500)
        if (
            rule.archive_after_days is not None
            and rule.expire_after_days is not None
            and rule.expire_after_days <= rule.archive_after_days
        ):
            raise InvalidInput(f"{f}.expire_after_days", "must be later than archive_after_days")
        if rule.archive_class not in ARCHIVE_CLASSES:
            raise InvalidInput(f"{f}.archive_class", f"must be one of {', '.join(ARCHIVE_CLASSES)}")
        rid = rule.id or f"rule-{i + 1}"
        if rid in seen:
            raise InvalidInput(f"{f}.id", f"duplicate rule id {rid!r}")
        seen.add(rid)
        out.append(rule if rule.id else LifecycleRule(
            prefix=rule.prefix,
            archive_after_days=rule.archive_after_days,
            expire_after_days=rule.expire_after_days,
            archive_class=rule.archive_class,
            id=rid,
            enabled=rule.enabled,
        ))
    if len(out) > 1000:
        raise InvalidInput("rules", "at most 1000 rules")
    return out


# --------------------------------------------------------------------------- dns

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "TXT", "SRV", "NS", "CAA", "PTR", "SOA")
TTL_MAX = 2147483647


def zone_name(value: object, field: str = "zone") -> str:
    """An absolute domain of at least two labels; returned lower-case without the trailing dot."""
    import dns.exception
    import dns.name

    value = _dns_text(field, value)
    try:
        name = dns.name.from_text(value)
    except dns.exception.DNSException as exc:
        raise InvalidInput(field, f"is not a valid domain name ({exc})") from None
    labels = [label.decode("ascii", "replace") for label in name.labels if label]
    if len(labels) < 2:
        raise InvalidInput(field, "must have at least two labels, such as 'example.com'")
    for label in labels:
        if not re.fullmatch(r"^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$", label):
            raise InvalidInput(field, f"label {label!r} may contain only letters, digits and inner '-'")
    return ".".join(labels).lower()


def _dns_text(field: str, value: object) -> str:
    """A domain name as text: surrounding spaces are dropped, but never down to nothing (no silent apex).

    No control character and no backslash (dnspython would read ``\\h`` as ``h``); non-ASCII names
    are converted to IDNA (``xn--``) labels.
    """
    value = no_controls(field, require_str(field, value)).strip(" ")
    if not value:
        raise InvalidInput(field, "must not be empty or only spaces (write '@' for the zone apex)")
    if "\\" in value:
        raise InvalidInput(field, "must not contain '\\' (zone-file escapes are not taken in names)")
    if len(value) > 1024:
        raise InvalidInput(field, "must be at most 1024 characters")
    return value


def ttl(value: object, field: str = "ttl") -> int:
    """A TTL in seconds: 0 to 2^31-1 (RFC 2181)."""
    return int_range(field, value, 0, TTL_MAX)


def record_name(value: object, zone: str, field: str = "name") -> str:
    """A record name relative to ``zone`` (``@`` for the apex); absolute names must be inside it."""
    import dns.exception
    import dns.name

    value = _dns_text(field, value)
    origin = dns.name.from_text(zone)
    try:
        name = origin if value == "@" else dns.name.from_text(value, origin=origin)
    except dns.exception.DNSException as exc:
        raise InvalidInput(field, f"is not a valid domain name ({exc})") from None
    if not name.is_subdomain(origin):
        raise InvalidInput(field, f"{value!r} is not inside the zone {zone}")
    rel = name.relativize(origin)
    for i, label in enumerate(rel.labels):
        text = label.decode("ascii", "replace")
        if text == "*" and i == 0:
            continue
        if not re.fullmatch(r"^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?$", text):
            raise InvalidInput(field, f"label {text!r} may contain only letters, digits, '_' and inner '-'")
    text = rel.to_text()
    return "@" if text == "@" else text.lower()


def _quote_txt(value: str) -> str:
    """Unquoted TXT text as zone-file strings of at most 255 bytes of UTF-8 each (quoted text is kept).

    dnspython renders the strings, escaping bytes outside printable ASCII as ``\\DDD``, so a
    character whose UTF-8 bytes straddle two strings is carried intact rather than mangled.
    """
    import dns.rdataclass
    import dns.rdatatype
    from dns.rdtypes.ANY.TXT import TXT

    if value.startswith('"'):
        return value
    data = value.encode("utf-8")
    chunks = [data[i : i + 255] for i in range(0, len(data), 255)] or [b""]
    return str(TXT(dns.rdataclass.IN, dns.rdatatype.TXT, chunks).to_text())


def record_value(rtype: str, value: Any, zone: str, field: str = "values") -> str:
    """One value of a record of ``rtype``, checked by dnspython and returned canonical.

    Domain names inside values are made absolute (relative ones are taken relative to ``zone``).
    TXT values that are not already quoted are quoted (and split into 255-byte strings).
    """
    import dns.exception
    import dns.name
    import dns.rdata
    import dns.rdataclass
    import dns.rdatatype

    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, "each value must be a non-empty string")
    unicode_text(field, value)
    if _CONTROL.search(value):
        raise InvalidInput(field, "values must not contain line breaks or other control characters")
    if len(value) > 4000:
        raise InvalidInput(field, "each value must be at most 4000 characters")
    text = value.strip()
    if rtype in ("TXT",):
        text = _quote_txt(text)
    origin = dns.name.from_text(zone)
    try:
        rdata = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), text, origin=origin, relativize=False)
    except (dns.exception.DNSException, ValueError) as exc:
        rules = {
            "A": "must be an IPv4 address",
            "AAAA": "must be an IPv6 address",
            "MX": "must be 'priority host'",
            "SRV": "must be 'priority weight port target'",
            "CAA": "must be 'flags tag \"value\"'",
            "TXT": "must be text or quoted strings",
        }
        rule = rules.get(rtype, f"must be a valid {rtype} value")
        raise InvalidInput(field, f"{rule} (got {value!r}: {exc})") from None
    return str(rdata.to_text())


def record_set(record: Any, zone: str, field: str = "records") -> RecordSet:
    """Validate and normalise one :class:`RecordSet` against ``zone``."""
    from cloudkit.models.dns import RecordSet

    if not isinstance(record, RecordSet):
        raise InvalidInput(field, "must be a RecordSet")
    rtype = record.type.upper() if isinstance(record.type, str) else record.type
    if rtype not in RECORD_TYPES:
        raise InvalidInput(f"{field}.type", f"must be one of {', '.join(RECORD_TYPES)} (got {record.type!r})")
    name = record_name(record.name, zone, f"{field}.name")
    ttl(record.ttl, f"{field}.ttl")
    if not record.values:
        raise InvalidInput(f"{field}.values", "must hold at least one value")
    values = tuple(record_value(rtype, v, zone, f"{field}.values") for v in record.values)
    if len(set(values)) != len(values):
        raise InvalidInput(f"{field}.values", "must not repeat a value")
    if rtype == "CNAME":
        if name == "@":
            raise InvalidInput(f"{field}.name", "a CNAME cannot be at the zone apex")
        if len(values) != 1:
            raise InvalidInput(f"{field}.values", "a CNAME has exactly one value")
    if rtype == "SOA" and name != "@":
        raise InvalidInput(f"{field}.name", "an SOA record can only be at the zone apex")
    return RecordSet(name=name, type=rtype, ttl=record.ttl, values=values, extra=record.extra)


# --------------------------------------------------------------------------- notification

_TOPIC = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


def topic_name(value: object, field: str = "name") -> str:
    """SNS topic naming: 1 to 256 letters, digits, ``-`` and ``_`` (a ``.fifo`` suffix is allowed)."""
    value = require_str(field, value)
    base = value[:-5] if value.endswith(".fifo") else value
    if not _TOPIC.fullmatch(base):
        raise InvalidInput(field, "must be 1 to 256 letters, digits, '-' or '_' (optionally ending in '.fifo')")
    return value


def queue_name(value: object, field: str = "name") -> str:
    """SQS queue naming: 1 to 80 letters, digits, ``-`` and ``_`` (a ``.fifo`` suffix is allowed)."""
    value = require_str(field, value)
    base = value[:-5] if value.endswith(".fifo") else value
    if not re.fullmatch(r"^[A-Za-z0-9_-]{1,80}$", base):
        raise InvalidInput(field, "must be 1 to 80 letters, digits, '-' or '_' (optionally ending in '.fifo')")
    return value


_LOCAL_PART = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_PHONE = re.compile(r"\+[1-9][0-9]{7,14}")
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
#: Link-local and cloud metadata addresses: refused as http(s) endpoints unless allowed.
_LINK_LOCAL_NETS = tuple(ipaddress.ip_network(n) for n in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"))
#: Host names of cloud metadata services (refused like their addresses).
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "instance-data", "instance-data.ec2.internal"})


def host_name(value: str, field: str = "endpoint", *, min_labels: int = 1) -> str:
    """A DNS host name (letters, digits, inner ``-``; IDNA for non-ASCII), returned in ASCII lower case.

    A name whose last label is numeric (``2852039166``, ``0xa9fea9fe``, ``1.2.3.999``) is refused:
    URL parsers read such names as IPv4 addresses in other notations.
    """
    import dns.exception
    import dns.name

    text = value[:-1] if value.endswith(".") else value
    if not text or len(text) > 253:
        raise InvalidInput(field, "host must be a name of 1 to 253 characters")
    try:
        labels = [lab.decode("ascii") for lab in dns.name.from_unicode(text).labels if lab]
    except (dns.exception.DNSException, UnicodeError, ValueError):
        raise InvalidInput(field, "host is not a valid domain name") from None
    labels = [lab.lower() for lab in labels]
    if len(labels) < min_labels or not all(_LABEL.fullmatch(lab) for lab in labels):
        raise InvalidInput(field, "host labels may contain only letters, digits and inner '-'")
    if re.fullmatch(r"[0-9]+|0x[0-9a-f]*", labels[-1]):
        raise InvalidInput(field, "host is neither a dotted IPv4 address nor a name (numeric last label)")
    return ".".join(labels)


def email(value: object, field: str = "endpoint") -> str:
    """An e-mail address ``local@domain.tld``: a dot-atom local part and a host name of two labels or more."""
    value = no_controls(field, require_str(field, value))
    local, at, domain = value.rpartition("@")
    if not at or len(value) > 254 or len(local) > 64 or not _LOCAL_PART.fullmatch(local):
        raise InvalidInput(field, "must be an e-mail address such as ops@example.com")
    if not domain.isascii():
        raise InvalidInput(field, "must be an e-mail address with an ASCII domain such as ops@example.com")
    host_name(domain, field, min_labels=2)
    return value


def phone(value: object, field: str = "endpoint") -> str:
    """A phone number in E.164 form (``+`` and 8 to 15 digits); spaces, dots, dashes and brackets are removed."""
    value = re.sub(r"[ ().-]", "", require_str(field, value))
    if not _PHONE.fullmatch(value):
        raise InvalidInput(field, "must be a phone number in E.164 form, such as +14155550100")
    return value


def is_link_local(host: str) -> bool:
    """Whether ``host`` (a URL's host: an IP literal or a name) is link-local or a cloud metadata service."""
    if host.lower().rstrip(".") in METADATA_HOSTS:
        return True
    try:
        addr = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return any(addr in net for net in _LINK_LOCAL_NETS)


def url(
    value: object, field: str = "endpoint", schemes: tuple[str, ...] = ("http", "https"), *, allow_link_local: bool = True
) -> str:
    """An absolute URL with one of ``schemes`` and a valid host, taken exactly as given.

    Parsed with :func:`urllib.parse.urlsplit`; the host must be an IPv4 address, a bracketed IPv6
    address or a host name (:func:`host_name`); no whitespace or control character anywhere; a port,
    when given, is 1 to 65535. With ``allow_link_local=False`` link-local and metadata hosts
    (169.254.0.0/16, fe80::/10, fd00:ec2::254, ``metadata.google.internal``...) are refused.
    Messages never repeat the URL (it may carry credentials).
    """
    value = require_str(field, value)
    if len(value) > 2048:
        raise InvalidInput(field, "must be at most 2048 characters")
    if _CONTROL.search(value) or any(c.isspace() for c in value):
        raise InvalidInput(field, "must not contain whitespace or control characters")
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise InvalidInput(field, "is not a valid URL (bad host or port)") from None
    if parts.scheme.lower() not in schemes or not parts.netloc:
        raise InvalidInput(field, f"must be an absolute {'/'.join(schemes)} URL with a host")
    if port == 0:
        raise InvalidInput(field, "port must be 1 to 65535")
    host = parts.netloc.rpartition("@")[2]
    host = host.rsplit(":", 1)[0] if not host.endswith("]") and ":" in host else host
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1] if host.endswith("]") else "!")
        except ValueError:
            raise InvalidInput(field, "host in brackets must be an IPv6 address") from None
    else:
        try:
            ipaddress.IPv4Address(host)
        except ValueError:
            host_name(host, field)
    if not allow_link_local and is_link_local(host):
        raise InvalidInput(
            field,
            "must not point at a link-local or cloud metadata address (169.254.0.0/16, fe80::/10, fd00:ec2::254); "
            "set allow_link_local_endpoints to allow it",
        )
    return value


_ARN = re.compile(r"arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:[0-9]*:[\x21-\x7e]+")


def endpoint(protocol: Any, value: Any, *, allow_link_local: bool = False) -> tuple[str, str]:
    """A subscription ``(protocol, endpoint)`` pair, each checked for its protocol.

    http(s) endpoints, and queue endpoints given as URLs, to link-local or metadata addresses are
    refused unless ``allow_link_local``. A ``queue`` endpoint is a queue name, an ARN or a queue URL.
    """
    from cloudkit.models.notification import PROTOCOLS

    proto = one_of("protocol", protocol, PROTOCOLS)
    if proto == "email":
        return proto, email(value)
    if proto == "sms":
        return proto, phone(value)
    if proto in ("http", "https"):
        return proto, url(value, schemes=(proto,), allow_link_local=allow_link_local)
    value = require_str("endpoint", value)
    if value.startswith("arn:"):
        if len(value) > 2048 or not _ARN.fullmatch(value):
            raise InvalidInput("endpoint", "must be a queue ARN (arn:partition:service:region:account:name)")
        return proto, value
    if value.startswith(("http://", "https://")):
        return proto, url(value, allow_link_local=allow_link_local)
    return proto, queue_name(value, "endpoint")


MAX_MESSAGE_BYTES = 256 * 1024


def message_text(field: str, value: str) -> str:
    """Text SQS and SNS can carry: no lone surrogate, no C0 control other than tab, LF and CR, no U+FFFE/U+FFFF."""
    if _SURROGATE.search(value):
        raise InvalidInput(field, "must be valid Unicode text (no lone surrogate code points)")
    if _NOT_XML.search(value):
        raise InvalidInput(field, "must not contain C0 control characters other than tab, LF and CR, or U+FFFE/U+FFFF")
    return value


def message_attributes(value: Mapping[str, Any] | None, field: str = "attributes") -> dict[str, str]:
    """At most 10 attributes; names of letters, digits, ``-``, ``_``, ``.`` (at most 256); values as messages."""
    data = string_map(field, value, max_items=10)
    for k, v in data.items():
        if len(k) > 256 or not re.fullmatch(r"[A-Za-z0-9_.-]+", k):
            raise InvalidInput(f"{field}[{k!r}]", "names are at most 256 letters, digits, '-', '_' or '.'")
        message_text(f"{field}[{k!r}]", v)
        if len(v.encode("utf-8")) > MAX_MESSAGE_BYTES:
            raise InvalidInput(f"{field}[{k!r}]", "must be at most 262144 bytes of UTF-8")
    return data


def message(value: object, field: str = "message") -> str:
    """A notification body: text of at most 256 KiB in UTF-8."""
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    message_text(field, value)
    size = len(value.encode("utf-8"))
    if size > MAX_MESSAGE_BYTES:
        raise InvalidInput(field, f"must be at most 262144 bytes of UTF-8 (got {size})")
    if not value:
        raise InvalidInput(field, "must not be empty")
    return value


def subject(value: object, field: str = "subject") -> str | None:
    """An e-mail style subject: at most 100 printable characters, one line."""
    if value is None:
        return None
    value = require_str(field, value)
    if len(value) > 100 or _CONTROL.search(value):
        raise InvalidInput(field, "must be one line of at most 100 printable characters")
    return value


# --------------------------------------------------------------------------- database

_DB_ID = re.compile(r"^[A-Za-z](?:[A-Za-z0-9]|-(?!-))*$")


def db_identifier(value: object, field: str = "identifier") -> str:
    """RDS identifiers: 1 to 63 letters, digits or hyphens; starts with a letter; no ``--``; no trailing ``-``."""
    value = require_str(field, value)
    if len(value) > 63 or not _DB_ID.fullmatch(value) or value.endswith("-"):
        raise InvalidInput(
            field,
            "must be 1 to 63 letters, digits or hyphens, start with a letter, and not end with or contain two hyphens in a row",
        )
    return value.lower()


def db_parameter_group_name(value: object, field: str = "parameter_group") -> str:
    """An RDS parameter group name: 1 to 255 letters, digits or hyphens; starts with a letter; no
    ``--``; no trailing ``-``; compared in lower case."""
    value = require_str(field, value)
    if len(value) > 255 or not _DB_ID.fullmatch(value) or value.endswith("-"):
        raise InvalidInput(
            field,
            "must be 1 to 255 letters, digits or hyphens, start with a letter, and not end with or contain two hyphens in a row",
        )
    return value.lower()


_DB_FAMILY = re.compile(r"^[a-z][a-z0-9-]*[0-9](?:\.[0-9]+)*$")
_DB_PARAMETER = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")


def db_family(value: object, field: str = "family") -> str:
    """A parameter group family: an engine name and its version, ``mysql10.11`` or ``postgres15``."""
    value = require_str(field, value).lower()
    if len(value) > 64 or not _DB_FAMILY.fullmatch(value):
        raise InvalidInput(field, "must be an engine name followed by its version, like 'mysql10.11' or 'postgres15'")
    return value


def db_parameters(value: object, field: str = "parameters") -> dict[str, str]:
    """Parameter names to values: names of 1 to 64 letters, digits, ``_``, ``.`` or ``-`` starting
    with a letter; values of 1 to 256 printable characters without quotes, backslashes or ``#``
    (they go into the engine's configuration file). Numbers and booleans become text."""
    if not isinstance(value, Mapping) or not value:
        raise InvalidInput(field, "must be a non-empty mapping of parameter names to values")
    if len(value) > 100:
        raise InvalidInput(field, "may set at most 100 parameters in one call")
    out: dict[str, str] = {}
    for name, raw in value.items():
        if not isinstance(name, str) or not _DB_PARAMETER.fullmatch(name):
            shown = str(name)[:70]
            raise InvalidInput(field, f"parameter names must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter (got {shown!r})")
        if isinstance(raw, bool):
            text = "1" if raw else "0"
        elif isinstance(raw, (int, float, str)):
            text = str(raw)
        else:
            raise InvalidInput(field, f"the value of {name!r} must be text, a number or a boolean")
        if not 1 <= len(text) <= 256 or any(c in "'\"\\#" or not 32 <= ord(c) < 127 for c in text):
            raise InvalidInput(field, f"the value of {name!r} must be 1 to 256 printable ASCII characters without quotes, backslashes or '#'")
        out[name.lower().replace("-", "_")] = text
    return out


def db_parameter_names(value: object, field: str = "parameters") -> list[str]:
    """Parameter names (for a reset), as :func:`db_parameters` checks them."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise InvalidInput(field, "must be a list of parameter names")
    names = list(value)
    if not names:
        raise InvalidInput(field, "must name at least one parameter (or be None to reset them all)")
    return list(db_parameters({n: "0" for n in names}, field))


def db_username(value: object, field: str = "master_username") -> str:
    """A master user name: 1 to 16 letters, digits or ``_``, starting with a letter."""
    value = require_str(field, value)
    if not re.fullmatch(r"^[A-Za-z][A-Za-z0-9_]{0,15}$", value):
        raise InvalidInput(field, "must be 1 to 16 letters, digits or '_', starting with a letter")
    if value.lower() in ("postgres", "rdsadmin", "admin_reserved", "root", "mysql"):
        raise InvalidInput(field, f"{value!r} is reserved by the engine")
    return value


def db_password(value: object, field: str = "master_password") -> str:
    """8 to 128 printable ASCII characters, without ``/``, ``"``, ``@``, ``'`` or spaces.

    The message never repeats the password.
    """
    if not isinstance(value, str):
        raise InvalidInput(field, "must be a string")
    if not 8 <= len(value) <= 128:
        raise InvalidInput(field, "must be 8 to 128 characters long")
    if any(c in "/\"@' " or not 32 < ord(c) < 127 for c in value):
        raise InvalidInput(field, "may contain only printable ASCII characters other than '/', '\"', '@', \"'\" and space")
    return value


def storage_gb(value: object, field: str = "storage_gb") -> int:
    """Allocated storage: 1 to 65536 GiB."""
    return int_range(field, value, 1, 65536)


def maintenance_window(value: object, field: str = "maintenance_window") -> str | None:
    """``ddd:hh:mm-ddd:hh:mm`` in UTC, as RDS writes it."""
    if value is None:
        return None
    value = require_str(field, value).lower()
    m = re.fullmatch(r"^(mon|tue|wed|thu|fri|sat|sun):([0-9]{2}):([0-9]{2})-(mon|tue|wed|thu|fri|sat|sun):([0-9]{2}):([0-9]{2})$", value)
    if not m or int(m[2]) > 23 or int(m[5]) > 23 or int(m[3]) > 59 or int(m[6]) > 59:
        raise InvalidInput(field, "must be 'ddd:hh:mm-ddd:hh:mm' in UTC, such as 'sun:05:00-sun:06:00'")
    return value


def backup_window(value: object, field: str = "backup_window") -> str | None:
    """``hh:mm-hh:mm`` in UTC, at least 30 minutes long, as RDS writes it (may cross midnight)."""
    if value is None:
        return None
    value = require_str(field, value)
    m = re.fullmatch(r"^([0-9]{2}):([0-9]{2})-([0-9]{2}):([0-9]{2})$", value)
    if not m or int(m[1]) > 23 or int(m[3]) > 23 or int(m[2]) > 59 or int(m[4]) > 59:
        raise InvalidInput(field, "must be 'hh:mm-hh:mm' in UTC, such as '03:00-03:30'")
    start, end = int(m[1]) * 60 + int(m[2]), int(m[3]) * 60 + int(m[4])
    if (end - start) % 1440 < 30:
        raise InvalidInput(field, "must be at least 30 minutes long")
    return value


def retention_days(value: object, field: str = "backup_retention_days") -> int:
    """Backup retention: 0 (off) to 35 days."""
    return int_range(field, value, 0, 35)


# --------------------------------------------------------------------------- compute

def cidr(value: object, field: str = "cidr") -> str:
    """An IPv4 or IPv6 network in CIDR form."""
    value = require_str(field, value)
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise InvalidInput(field, f"must be a CIDR such as 10.0.0.0/8 (got {value!r})") from None


def port(value: object, field: str = "port") -> int:
    """A TCP/UDP port: 0 to 65535."""
    return int_range(field, value, 0, 65535)


def security_rule(rule: Any, field: str = "rules") -> Any:
    """A :class:`SecurityRule` with a known protocol, ordered ports and a valid CIDR."""
    from cloudkit.models.compute import SecurityRule

    if not isinstance(rule, SecurityRule):
        raise InvalidInput(field, "must be a SecurityRule")
    proto = one_of(f"{field}.protocol", rule.protocol, ("tcp", "udp", "icmp", "-1"))
    lo, hi = rule.from_port, rule.to_port
    if proto in ("tcp", "udp"):
        if lo is None:
            raise InvalidInput(f"{field}.from_port", "is required for tcp and udp")
        port(lo, f"{field}.from_port")
        hi = lo if hi is None else port(hi, f"{field}.to_port")
        if hi < lo:
            raise InvalidInput(f"{field}.to_port", "must not be below from_port")
    return SecurityRule(protocol=proto, from_port=lo, to_port=hi, cidr=cidr(rule.cidr, f"{field}.cidr"))


def instance_name(value: object, field: str = "name") -> str:
    """An instance name usable as a host name: 1 to 63 letters, digits and inner hyphens."""
    value = require_str(field, value)
    if not re.fullmatch(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$", value):
        raise InvalidInput(field, "must be 1 to 63 letters, digits or inner '-' (it becomes the host name)")
    return value


def tags(value: Mapping[str, Any] | None, field: str = "tags") -> dict[str, str]:
    """At most 50 tags; keys up to 128 and values up to 256 characters, no control characters."""
    data = string_map(field, value, max_items=50)
    for k, v in data.items():
        if len(k) > 128 or len(v) > 256:
            raise InvalidInput(f"{field}[{k!r}]", "keys are at most 128 and values at most 256 characters")
        no_controls(f"{field}[{k!r}]", v)
    return data


def user_data(value: object, field: str = "user_data") -> str | None:
    """cloud-init user data: text of at most 16 KiB."""
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidInput(field, "must be UTF-8 text") from None
    if not isinstance(value, str):
        raise InvalidInput(field, "must be text")
    unicode_text(field, value)
    if len(value.encode()) > 16384:
        raise InvalidInput(field, "must be at most 16384 bytes (EC2's limit)")
    return value


def timeout(value: object, field: str = "timeout") -> float:
    """Seconds to wait: more than 0 and at most one day."""
    return number_range(field, value, 0.001, 86400)


# --------------------------------------------------------------------------- platform

def application_name(value: object, field: str = "application") -> str:
    """1 to 100 characters, no ``/``."""
    value = require_str(field, value)
    if len(value) > 100 or "/" in value or _CONTROL.search(value):
        raise InvalidInput(field, "must be 1 to 100 printable characters without '/'")
    return value


def version_label(value: object, field: str = "version") -> str:
    """1 to 100 characters, no ``/``."""
    return application_name(value, field)


def environment_name(value: object, field: str = "environment") -> str:
    """4 to 40 letters, digits and hyphens, not starting or ending with a hyphen (Elastic Beanstalk)."""
    value = require_str(field, value)
    if not re.fullmatch(r"^[A-Za-z0-9][A-Za-z0-9-]{2,38}[A-Za-z0-9]$", value):
        raise InvalidInput(field, "must be 4 to 40 letters, digits or hyphens, not starting or ending with a hyphen")
    return value


def env_var_name(value: object, field: str = "env_vars") -> str:
    """An environment variable name: letters, digits and ``_``, not starting with a digit."""
    if not isinstance(value, str) or not re.fullmatch(r"^[A-Za-z_][A-Za-z0-9_]*$", value):
        raise InvalidInput(field, f"{value!r} is not a valid environment variable name")
    return value


def since(value: object, field: str = "since") -> datetime | None:
    """A start time for event listings (a datetime or a timedelta ago)."""
    if value is None:
        return None
    if isinstance(value, timedelta):
        return datetime.now(UTC) - value
    return aware_datetime(field, value)
