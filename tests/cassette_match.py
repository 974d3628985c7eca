"""Cassette matching shared by the aws and libcloud harnesses (``tests/aws/_harness.py``, ``tests/libcloud/lc_harness.py``).

What both compare on replay and how: the request body in canonical form (JSON as data, XML
canonicalised, multipart boundaries and ``127.0.0.1:<port>`` normalised, bodies too large to store
as their length and SHA-256), the headers that carry meaning, each recorded exchange played once
(:func:`assert_all_played`), and where a test's cassette lives (:func:`cassette_path`). Each
harness adds what is its own: the headers it compares, aws's query-protocol forms, archives and
Route 53 ``CallerReference``, and its failure messages.
"""

from __future__ import annotations

import hashlib
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from vcr.request import Request

LOOPBACK_PORT = re.compile(r"(127\.0\.0\.1|localhost):\d+")
LOOPBACK_PORT_BYTES = re.compile(LOOPBACK_PORT.pattern.encode())
BOUNDARY = re.compile(r"boundary=\"?([^\";,\s]+)")
#: How a request body too large to store begins (see :func:`large_body_placeholder`).
LARGE_BODY = b"<large body not stored: "


def raw_body(request: Request) -> bytes | None:
    """The request body as bytes (vcrpy keeps file and iterator bodies as bytes / a list of chunks)."""
    raw: Any = getattr(request, "_body", None)
    if isinstance(raw, list):
        raw = b"".join(c if isinstance(c, bytes) else str(c).encode() for c in raw)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if raw is None or isinstance(raw, bytes):
        return raw
    if hasattr(raw, "getvalue"):  # a BytesIO pickled by an older recording
        return bytes(raw.getvalue())
    return str(raw).encode("utf-8")


def header(request: Request, name: str) -> str:
    """A request header as text (``""`` when absent)."""
    value: Any = request.headers.get(name) or ""
    if isinstance(value, bytes):
        value = value.decode("latin-1")
    return str(value)


def large_body_placeholder(body: bytes) -> bytes:
    """What a body too large to store is stored (and matched) as: its length and SHA-256."""
    return LARGE_BODY + f"{len(body)} bytes, sha256 {hashlib.sha256(body).hexdigest()}>".encode()


def _without_keys(data: Any, keys: frozenset[str]) -> Any:
    if isinstance(data, dict):
        return {k: _without_keys(v, keys) for k, v in data.items() if k not in keys}
    if isinstance(data, list):
        return [_without_keys(v, keys) for v in data]
    return data


def canonical_payload(request: Request, body: bytes, ignore_json_keys: frozenset[str] = frozenset(),
                      xml_text: Callable[[str], str] = lambda text: text) -> tuple[str, Any]:
    """``body`` as compared on replay: ``("json", data)``, ``("xml", canonical text)`` or ``("bytes", ...)``.

    Multipart boundaries (named in the request's ``Content-Type``) and loopback ports are normalised;
    ``ignore_json_keys`` are left out of JSON objects at any depth; ``xml_text`` edits canonical XML
    (aws drops Route 53's random ``CallerReference``).
    """
    boundary = BOUNDARY.search(header(request, "Content-Type"))
    if boundary:
        body = body.replace(boundary.group(1).encode("latin-1"), b"BOUNDARY")
    stripped = body.strip()
    if stripped[:1] in (b"{", b"["):
        try:
            data = json.loads(LOOPBACK_PORT.sub(r"\1:PORT", stripped.decode("utf-8")))
            return ("json", _without_keys(data, ignore_json_keys) if ignore_json_keys else data)
        except ValueError:
            pass
    if stripped[:1] == b"<" and not stripped.startswith(LARGE_BODY):
        try:
            text = ET.canonicalize(stripped.decode("utf-8"), strip_text=True)
            return ("xml", LOOPBACK_PORT.sub(r"\1:PORT", xml_text(text)))
        except (ET.ParseError, ValueError):
            pass
    return ("bytes", LOOPBACK_PORT_BYTES.sub(rb"\1:PORT", body))


def meaningful_headers(request: Request, names: frozenset[str], prefixes: tuple[str, ...]) -> dict[str, str]:
    """The headers in ``names`` or starting with one of ``prefixes``, lower-cased, boundaries and ports normalised."""
    out: dict[str, str] = {}
    for name in request.headers:
        low = name.lower()
        if low in names or low.startswith(prefixes):
            value = LOOPBACK_PORT.sub(r"\1:PORT", header(request, name))
            out[low] = BOUNDARY.sub("boundary=BOUNDARY", value) if low == "content-type" else value
    return out


def differing(sent: Mapping[str, Any], recorded: Mapping[str, Any]) -> dict[str, tuple[Any, Any]]:
    """``{key: (sent, recorded)}`` for every key whose value differs (or is on one side only)."""
    return {k: (sent.get(k), recorded.get(k)) for k in sorted(set(sent) | set(recorded)) if sent.get(k) != recorded.get(k)}


def assert_same_headers(sent: Mapping[str, str], recorded: Mapping[str, str]) -> None:
    """Fail, naming each header that differs, unless the two sets of meaningful headers are equal."""
    if sent != recorded:
        raise AssertionError(f"headers differ (sent, recorded): {differing(sent, recorded)}")


def short(value: Any, limit: int = 300) -> str:
    """``repr(value)``, cut at ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


class UnplayedInteractions(AssertionError):
    """A replayed test sent fewer requests than its cassette recorded."""


def assert_all_played(cassette: Any, describe: Callable[[Request], str]) -> None:
    """Fail when a replayed cassette still holds exchanges nobody asked for (each listed by ``describe``)."""
    if cassette.all_played:
        return
    left = [f"#{i} {describe(req)}" for i, (req, _) in enumerate(cassette.data) if not cassette.play_counts[i]]
    raise UnplayedInteractions(
        f"{len(left)} of {len(cassette.data)} recorded exchanges of {cassette._path} were never requested:\n  "
        + "\n  ".join(left[:20]) + ("\n  ..." if len(left) > 20 else "")
    )


def cassette_path(nodeid: str) -> str:
    """``<module without test_>/<test name>.yaml`` for a pytest node id (class names kept)."""
    path, _, rest = nodeid.partition("::")
    module = Path(path).stem.removeprefix("test_")
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", rest.replace("::", ".")).strip("_")
    return f"{module}/{name}.yaml"


__all__: Iterable[str] = (
    "BOUNDARY", "LARGE_BODY", "LOOPBACK_PORT", "LOOPBACK_PORT_BYTES", "UnplayedInteractions", "assert_all_played",
    "assert_same_headers", "canonical_payload", "cassette_path", "differing", "header", "large_body_placeholder",
    "meaningful_headers", "raw_body", "short",
)
