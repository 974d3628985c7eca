"""The libcloud fault scenario: libcloud provider -> :class:`~proxy.FaultProxy` -> Azurite, PowerDNS, moto.

:func:`run` makes object puts and gets on ``libcloud:azure_blobs`` (Azurite) and ``libcloud:s3``
(moto), and DNS record upserts on ``libcloud:powerdns``, each through a cloud whose endpoint is the
proxy, then checks every effect with a cloud straight to the server (no proxy) and sorts each call
as :mod:`scenario` does (``failed``, ``untyped``, ``lost``, ``corrupt``, ``applied``).

libcloud's retry loop sleeps between attempts and stops after ``retry_timeout`` seconds of wall
time; :func:`virtual_clock` makes those sleeps advance a virtual clock instead of waiting, so a
run takes seconds while every call gets exactly the attempts the real policy would give it.

Used by ``tests/faults/test_libcloud_faults.py`` (20% faults) and ``tests/faults/measure_libcloud.py``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from types import SimpleNamespace
from typing import Any
from unittest import mock

import cloudkit
from cloudkit.errors import CloudkitError, NotFound
from cloudkit.models import RecordSet

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "libcloud"))

import lc_servers as servers
import scenario as sc
from proxy import FaultProxy
from scenario import OpStats, payload

ZONE = "lcfaults.example.com"


@dataclass
class Sizes:
    """How many calls of each kind."""

    objects: int = 100
    upserts: int = 150


@contextmanager
def virtual_clock() -> Iterator[list[float]]:
    """libcloud's retry loop on a virtual clock: its sleeps add to an offset (yielded) instead of waiting.

    The retry window (``retry_timeout``) and the delays stay as configured, so the number of
    attempts a call gets is the real one; only the waiting is skipped.
    """
    from libcloud.utils import retry

    slept = [0.0]

    class Clock(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> Clock:
            real = datetime.now(tz) + timedelta(seconds=slept[0])
            return cls.fromtimestamp(real.timestamp(), tz)

    def sleep(seconds: float) -> None:
        slept[0] += float(seconds)

    with mock.patch.multiple(retry, time=SimpleNamespace(sleep=sleep), datetime=Clock):
        yield slept


def moto_server(port: int) -> servers.Server:
    """A handle on a moto server already running on 127.0.0.1:``port`` (``libcloud:s3`` settings)."""
    return servers.Server("moto", port, {"key": "testing-key-id", "secret": "testing-secret-key", "host": "127.0.0.1",
                                         "port": port, "secure": False, "region": "us-east-1"})


def settings(server: servers.Server, proxy_url: str | None = None, **more: Any) -> dict[str, Any]:
    """``server``'s connection settings, pointed at the proxy when ``proxy_url`` is given."""
    out = dict(server.settings)
    if proxy_url is not None:
        out["port"] = int(proxy_url.rsplit(":", 1)[1])
    out.update(more)
    return out


def connect(provider: str, server: servers.Server, proxy_url: str | None = None, **more: Any) -> Any:
    """``cloudkit.connect`` on ``provider`` served by ``server`` (through the proxy when given)."""
    return cloudkit.connect(provider, **settings(server, proxy_url, **more))


@dataclass
class Retried:
    """Calls whose every injected fault is one libcloud retries: how many succeeded, how many failed anyway."""

    absorbed: int = 0
    missed: int = 0


#: Faults libcloud's retry loop retries, by backend: dropped connections everywhere; HTTP 429 where the
#: driver raises ``RateLimitReachedError`` (JSON drivers such as PowerDNS; Azure and S3 report 429 as text).
RETRYABLE = {"azure": frozenset({"reset-before", "reset-after"}), "s3": frozenset({"reset-before", "reset-after"}),
             "powerdns": frozenset({"reset-before", "reset-after", "429-before"})}


@dataclass
class Result:
    """Outcome counts per operation, and what the retries did for the calls only retryable faults hit."""

    stats: dict[str, OpStats] = field(default_factory=dict)
    retried: dict[str, Retried] = field(default_factory=dict)


def _tracked(result: Result, op: str, proxy: FaultProxy, retryable: frozenset[str], fn: Callable[..., Any],
             *args: Any) -> tuple[bool, Any, CloudkitError | None]:
    """:func:`scenario._call`, noting whether only retryable faults hit the call and whether it succeeded."""
    before = len(proxy.stats.injected)
    outcome = sc._call(result.stats[op], fn, *args)
    kinds = {f.kind for f in proxy.stats.injected[before:]}
    if kinds and kinds <= retryable:
        tally = result.retried.setdefault(op, Retried())
        if outcome[0]:
            tally.absorbed += 1
        else:
            tally.missed += 1
    return outcome


def storage_round(result: Result, prefix: str, proxy: FaultProxy, through: Any, direct: Any, count: int) -> None:
    """``count`` puts through the proxy, each checked directly, then a get through the proxy of what is stored.

    Object uploads send a stream, which is not retried: only gets count in ``result.retried``.
    """
    put, get = f"{prefix} put", f"{prefix} get"
    stats_put, stats_get = result.stats.setdefault(put, OpStats()), result.stats.setdefault(get, OpStats())
    bucket = f"lcfaults-{prefix}"
    direct.storage.create_bucket(bucket)
    for i in range(count):
        key, data = f"obj/{i:04d}", payload(i)
        ok, _, err = _tracked(result, put, proxy, frozenset(), through.storage.put_object, bucket, key, data)
        try:
            stored: bytes | None = direct.storage.get_object(bucket, key).read()
        except NotFound:
            stored = None
        if ok:
            if stored is None:
                stats_put.lost += 1
            elif stored != data:
                stats_put.corrupt += 1
        else:
            if stored is not None and stored != data:
                stats_put.corrupt += 1  # a failed put must not leave other bytes behind
            sc._judge_failure(stats_put, err, stored == data)
        if stored is None:
            continue
        ok, got, _ = _tracked(result, get, proxy, RETRYABLE[prefix],
                              lambda k: through.storage.get_object(bucket, k).read(), key)
        if ok and got != stored:
            stats_get.corrupt += 1


def value(i: int) -> str:
    """The A record value of upsert ``i``."""
    return f"10.1.{i // 250}.{i % 250 + 1}"


def dns_round(result: Result, proxy: FaultProxy, through: Any, direct: Any, count: int) -> None:
    """``count`` upserts of one record set each through the proxy, then every record checked directly."""
    op = "powerdns upsert"
    stats = result.stats.setdefault(op, OpStats())
    zone = direct.dns.create_zone(ZONE)
    results = []
    for i in range(count):
        record = RecordSet(name=f"n{i}", type="A", ttl=60, values=(value(i),))
        results.append(_tracked(result, op, proxy, RETRYABLE["powerdns"], through.dns.upsert_records, zone.id, [record]))
    stored = {r.name: r.values for r in direct.dns.list_records(zone.id) if r.type == "A"}
    for i, (ok, _, err) in enumerate(results):
        applied = stored.get(f"n{i}") == (value(i),)
        if ok and not applied:
            stats.lost += 1
        elif not ok:
            sc._judge_failure(stats, err, applied)


#: The scenario's parts: backend name, provider, what each does (objects or upserts).
PLAN = (("azure", "libcloud:azure_blobs"), ("s3", "libcloud:s3"), ("powerdns", "libcloud:powerdns"))


def run(backends: dict[str, servers.Server], make_proxy: Callable[[servers.Server], FaultProxy], sizes: Sizes,
        **retry: Any) -> Result:
    """Run the scenario on the ``azure``/``s3``/``powerdns`` servers given (missing ones are left out).

    ``make_proxy(server)`` returns a started proxy in front of ``server``; ``retry`` holds the
    libcloud retry settings (``retry_timeout``, ``retry_delay``, ``retry_backoff``) of the clouds
    behind the proxy.
    """
    result = Result()
    for prefix, provider in PLAN:
        server = backends.get(prefix)
        if server is None:
            continue
        proxy = make_proxy(server)
        through, direct = connect(provider, server, proxy.url, **retry), connect(provider, server)
        try:
            if prefix == "powerdns":
                dns_round(result, proxy, through, direct, sizes.upserts)
            else:
                storage_round(result, prefix, proxy, through, direct, sizes.objects)
        finally:
            through.close()
            direct.close()
    return result
