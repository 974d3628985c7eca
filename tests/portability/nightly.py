"""The nightly job: one scenario written once against the neutral API, run on several providers.

:func:`nightly_job` backs up a folder (``cloudkit_contrib.backup``), publishes a report to a topic
with an http and a queue subscriber, upserts DNS records, snapshots a database (Multi-AZ where the
provider has a standby for the engine, then failed over to it) and launches an
instance with user data, then removes what it made. It returns what each step gave back; the
portability test compares those results between providers with
:func:`cloudkit.testing.portability.assert_portable`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cloudkit_contrib.backup import backup_folder

from cloudkit import Cloud
from cloudkit.errors import NotSupported
from cloudkit.models import ObjectInfo, RecordSet
from cloudkit.testing import unique_name

#: When the nightly job "runs" (fixed, so backup ids and archives are the same on every provider).
NIGHT = datetime(2026, 11, 26, 2, 30, tzinfo=UTC)
REPORT = "nightly backup done: 3 files"
USER_DATA = "#cloud-config\nruncmd:\n  - echo nightly > /tmp/nightly\n"
RECORDS = (
    RecordSet(name="www", type="A", ttl=300, values=("192.0.2.10", "192.0.2.11")),
    RecordSet(name="backup", type="CNAME", ttl=600, values=("www.{zone}.",)),
    RecordSet(name="nightly", type="TXT", ttl=60, values=('"last=2026-11-26"',)),
)


def _until(check: Callable[[], Any], what: str, timeout: float) -> Any:
    """Poll ``check`` until it returns something true (generous bound: the step must not hang)."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not done after {timeout} s")
        time.sleep(0.1)


def nightly_job(cloud: Cloud, folder: Path, http_endpoint: str, *, launch: bool = True,
                http_received: Callable[[], object] | None = None) -> dict[str, Any]:
    """Run the nightly job on ``cloud`` and return every step's results (models and lists of them).

    ``http_endpoint`` is an http subscriber that confirms its subscription (visits the
    ``SubscribeURL`` it is sent) where the provider asks for a confirmation. ``launch=False``
    leaves the compute step out (``results["compute"]`` is then ``None``). ``http_received``, when
    given, is called before the topic is deleted and returns once the http subscriber has the
    report (a provider may drop deliveries still pending when their topic goes).
    """
    results: dict[str, Any] = {}
    storage, notification, dns, database, compute = (cloud.storage, cloud.notification, cloud.dns, cloud.database,
                                                     cloud.compute)

    # 1. back up the folder into a fresh bucket
    bucket = storage.create_bucket(unique_name("nightly"))
    try:
        info = backup_folder(cloud, bucket.name, "home", folder, kind="full", now=NIGHT)
        objects = [o for o in storage.list_objects(bucket) if isinstance(o, ObjectInfo)]
        results["storage"] = {"bucket": bucket, "backup": info, "objects": objects,
                              "heads": [storage.head_object(bucket, o.key) for o in objects]}
    finally:
        storage.delete_bucket(bucket, force=True)

    # 2. publish the report to a topic with an http and a queue subscriber
    topic = notification.create_topic(unique_name("nightly"))
    queue = notification.create_queue(unique_name("nightly"))
    try:
        to_queue = notification.subscribe(topic, protocol="queue", endpoint=queue)
        to_http = notification.subscribe(topic, protocol="http", endpoint=http_endpoint)
        confirmed = _until(lambda: notification.get_subscription(to_http).status == "confirmed" and
                           notification.get_subscription(to_http), "http subscription confirmed", 30)
        published = notification.publish(topic, REPORT, subject="Nightly")
        got = _until(lambda: notification.receive_messages(queue, wait_seconds=1), "report in the queue", 30)
        for message in got:
            notification.ack_message(queue, message.receipt)
        if http_received is not None:
            http_received()
        subs = sorted(notification.list_subscriptions(topic), key=lambda s: s.protocol)
        results["notification"] = {"topic": topic, "queue": queue, "queue_subscription": to_queue,
                                   "http_subscription": confirmed, "subscriptions": subs, "published": published,
                                   "messages": got}
    finally:
        notification.delete_topic(topic)
        notification.delete_queue(queue)

    # 3. upsert the DNS records of a fresh zone
    zone = dns.create_zone(f"{unique_name('nightly')}.example.com")
    try:
        records = [RecordSet(name=r.name, type=r.type, ttl=r.ttl, values=tuple(v.format(zone=zone.name) for v in r.values))
                   for r in RECORDS]
        change = dns.upsert_records(zone, records, wait=True, timeout=60)
        ours = {(r.name, r.type) for r in records}
        listed = sorted((r for r in dns.list_records(zone) if (r.name, r.type) in ours), key=lambda r: (r.name, r.type))
        results["dns"] = {"zone": zone, "change": change, "records": listed}
        dns.delete_records(zone, records)
    finally:
        dns.delete_zone(zone, force=True)

    # 4. snapshot the database
    engines = database.list_engines()
    engine = "postgres" if "postgres" in engines else engines[0]
    ident = unique_name("nightly")
    settings: dict[str, Any] = {"engine": engine, "master_username": "master", "master_password": "Nightly-Pass-1",
                                "storage_gb": 20, "database_name": "app", "backup_retention_days": 0}
    try:
        db = database.create_instance(ident, multi_az=True, **settings)
    except NotSupported:  # no standby for this engine here: a single server
        db = database.create_instance(ident, **settings)
    try:
        snapshot = database.create_snapshot(db, f"{ident}-snap", wait=True)
        results["database"] = {"instance": db, "snapshot": snapshot,
                               "snapshots": [s for s in database.list_snapshots(instance=db) if s.kind == "manual"]}
        database.delete_snapshot(snapshot)
        if db.multi_az:  # the standby takes over; the instance keeps its endpoint
            results["database"]["failover"] = database.reboot_instance(db, force_failover=True)
    finally:
        database.delete_instance(db)

    # 5. launch an instance with user data
    results["compute"] = None
    if launch:
        image = next(iter(compute.list_images()))
        size = min(compute.list_instance_types(), key=lambda t: (t.memory_mb or 0, t.name))
        instance = compute.create_instance(unique_name("nightly"), image=image, instance_type=size.name,
                                           user_data=USER_DATA, tags={"job": "nightly"}, wait=True)
        terminated = compute.terminate_instance(instance)
        results["compute"] = {"instance": instance, "image": image, "size": size, "terminated": terminated}
    return results
