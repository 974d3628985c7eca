"""The fault scenario: aws provider -> :class:`~proxy.FaultProxy` -> moto, and what came of each call.

:func:`run` makes object puts and gets, DNS upserts, publishes and instance creates (with client
tokens) through a cloud whose endpoint is the proxy, then checks every effect directly on moto
(no proxy) and sorts each call into:

* ``failed``: the call raised a cloudkit error; ``untyped``: it raised anything else;
* ``lost``: it succeeded but its effect is not there; ``corrupt``: a get returned other bytes;
* ``applied``: it failed but its effect is there; ``unflagged``: of those, the ones whose error did
  not say ``may_have_been_applied``;
* ``duplicates``: extra copies of an effect (a message delivered twice, a second instance).

Used by ``tests/faults/test_aws_faults.py`` (20% faults) and ``tests/faults/measure.py`` (50%).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cloudkit
from cloudkit.errors import CloudkitError
from cloudkit.models import RecordSet

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "aws"))
import _harness as h

REGION = "us-east-1"
ZONE = "faults.example.com"
BUCKET = "fault-bucket"


@dataclass
class OpStats:
    """Outcome counts of one kind of call."""

    calls: int = 0
    failed: int = 0
    untyped: int = 0
    lost: int = 0
    corrupt: int = 0
    applied: int = 0
    unflagged: int = 0
    flagged: int = 0
    duplicates: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    @property
    def failure_rate(self) -> float:
        """Failed calls (typed or not) per call."""
        return (self.failed + self.untyped) / self.calls if self.calls else 0.0


@dataclass
class Sizes:
    """How many calls of each kind."""

    objects: int = 200
    upserts: int = 300
    publishes: int = 20
    instances: int = 10


def environment() -> dict[str, str]:
    """The environment boto3 needs to talk to moto (fake credentials, no metadata service)."""
    return {
        "AWS_ACCESS_KEY_ID": h.FAKE_KEY_ID,
        "AWS_SECRET_ACCESS_KEY": h.FAKE_SECRET,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def start_moto() -> h.MotoServer:
    """A moto server on 127.0.0.1 (small AMI catalogue, RunInstances honouring ClientToken)."""
    h._small_ami_catalogue()
    return h.MotoServer().start()


@contextmanager
def fast_backoff(factor: float) -> Iterator[None]:
    """Scale botocore's backoff delays by ``factor`` (standard and legacy mode; attempts and quota unchanged)."""
    from botocore import retryhandler
    from botocore.retries import standard

    original = standard.ExponentialBackoff.delay_amount
    legacy = retryhandler.delay_exponential

    def delay_amount(self: Any, context: Any) -> float:
        return float(original(self, context)) * factor

    def delay_exponential(base: Any, growth_factor: float, attempts: int) -> float:
        return float(legacy(base, growth_factor, attempts)) * factor

    standard.ExponentialBackoff.delay_amount = delay_amount  # type: ignore[method-assign]
    retryhandler.delay_exponential = delay_exponential  # clients made inside the block (legacy mode)
    try:
        yield
    finally:
        standard.ExponentialBackoff.delay_amount = original  # type: ignore[method-assign]
        retryhandler.delay_exponential = legacy


def payload(i: int) -> bytes:
    """The bytes of object ``i`` (a few KiB, different for every object)."""
    seed = hashlib.sha256(str(i).encode()).digest()
    return seed * (32 + i % 64)


def _call(stats: OpStats, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[bool, Any, CloudkitError | None]:
    stats.calls += 1
    try:
        return True, fn(*args, **kwargs), None
    except CloudkitError as exc:
        stats.failed += 1
        stats.errors[type(exc).__name__] += 1
        return False, None, exc
    except Exception as exc:
        stats.untyped += 1
        stats.errors[f"untyped {type(exc).__module__}.{type(exc).__name__}"] += 1
        return False, None, None


def _judge_failure(stats: OpStats, error: CloudkitError | None, applied: bool) -> None:
    if error is not None and error.may_have_been_applied:
        stats.flagged += 1
    if applied:
        stats.applied += 1
        if error is None or not error.may_have_been_applied:
            stats.unflagged += 1


def run(through: Any, direct: Any, sizes: Sizes, boto: Callable[[str], Any]) -> dict[str, OpStats]:
    """Run the scenario: calls through ``through`` (a cloud behind the proxy), checks with ``boto``
    (``boto(service)`` is a boto3 client straight to moto); ``direct`` (a cloud straight to moto) sets up."""
    out = {name: OpStats() for name in ("put", "get", "upsert", "publish", "create_instance")}

    # ---------------------------------------------------------------- objects
    direct.storage.create_bucket(BUCKET)
    s3 = boto("s3")
    for i in range(sizes.objects):
        key, data = f"obj/{i:04d}", payload(i)
        ok, _, err = _call(out["put"], through.storage.put_object, BUCKET, key, data)
        try:
            stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        except s3.exceptions.NoSuchKey:
            stored = None
        if ok:
            if stored != data:
                out["put"].lost += 1
        else:
            _judge_failure(out["put"], err, stored == data)
        if stored is None:
            continue
        ok, got, _ = _call(out["get"], lambda k: through.storage.get_object(BUCKET, k).read(), key)
        if ok and got != stored:
            out["get"].corrupt += 1

    # ---------------------------------------------------------------- dns
    zone = direct.dns.create_zone(ZONE)
    r53 = boto("route53")
    results: list[tuple[bool, CloudkitError | None]] = []
    for i in range(sizes.upserts):
        record = RecordSet(name=f"n{i}", type="A", ttl=60, values=(f"10.0.{i // 250}.{i % 250 + 1}",))
        ok, _, err = _call(out["upsert"], through.dns.upsert_records, zone.id, [record])
        results.append((ok, err))
    stored_records: dict[str, str] = {}
    for page in r53.get_paginator("list_resource_record_sets").paginate(HostedZoneId=zone.id):
        for rr in page["ResourceRecordSets"]:
            if rr["Type"] == "A":
                stored_records[rr["Name"].rstrip(".").split(".")[0]] = rr["ResourceRecords"][0]["Value"]
    for i, (ok, err) in enumerate(results):
        applied = stored_records.get(f"n{i}") == f"10.0.{i // 250}.{i % 250 + 1}"
        if ok and not applied:
            out["upsert"].lost += 1
        elif not ok:
            _judge_failure(out["upsert"], err, applied)

    # ---------------------------------------------------------------- notification
    topic = direct.notification.create_topic("faulttopic")
    queue = direct.notification.create_queue("faultqueue")
    direct.notification.subscribe(topic, protocol="queue", endpoint=queue)
    sent: list[tuple[bool, CloudkitError | None]] = []
    for i in range(sizes.publishes):
        ok, _, err = _call(out["publish"], through.notification.publish, topic, f"message {i}")
        sent.append((ok, err))
    sqs = boto("sqs")
    url = sqs.get_queue_url(QueueName="faultqueue")["QueueUrl"]
    delivered: Counter[str] = Counter()
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
        if not got:
            break
        for m in got:
            body = json.loads(m["Body"])
            delivered[body.get("Message", m["Body"])] += 1
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    for i, (ok, err) in enumerate(sent):
        copies = delivered[f"message {i}"]
        out["publish"].duplicates += max(0, copies - 1)
        if ok and not copies:
            out["publish"].lost += 1
        elif not ok:
            _judge_failure(out["publish"], err, copies > 0)

    # ---------------------------------------------------------------- compute
    launched: list[tuple[bool, CloudkitError | None]] = []
    for i in range(sizes.instances):
        ok, _, err = _call(out["create_instance"], through.compute.create_instance, f"fault-{i}",
                           image=h.MOTO_AMI_IDS[0], instance_type="t3.micro", client_token=f"fault-token-{i}")
        launched.append((ok, err))
    names: Counter[str] = Counter()
    for page in boto("ec2").get_paginator("describe_instances").paginate():
        for reservation in page["Reservations"]:
            for inst in reservation["Instances"]:
                tags = {t["Key"]: t["Value"] for t in inst.get("Tags", [])}
                names[tags.get("Name", inst.get("ClientToken", ""))] += 1
    for i, (ok, err) in enumerate(launched):
        copies = names[f"fault-{i}"]
        out["create_instance"].duplicates += max(0, copies - 1)
        if ok and not copies:
            out["create_instance"].lost += 1
        elif not ok:
            _judge_failure(out["create_instance"], err, copies > 0)
    return out


def connect(endpoint: str, **settings: Any) -> Any:
    """``cloudkit.connect("aws")`` on ``endpoint`` (retry settings left at the provider's defaults)."""
    return cloudkit.connect("aws", region=REGION, endpoint_url=endpoint, connect_timeout=5, read_timeout=30, **settings)


def boto_factory(endpoint: str) -> Callable[[str], Any]:
    """``boto(service)``: a plain boto3 client straight to ``endpoint`` (for checking effects)."""
    import boto3

    cache: dict[str, Any] = {}

    def boto(service: str) -> Any:
        if service not in cache:
            make: Any = boto3.client  # any service name, not only the literal ones of the stubs
            cache[service] = make(service, region_name=REGION, endpoint_url=endpoint)
        return cache[service]

    return boto
