"""Benchmark: a 200-resource stack (buckets, DNS records, topics, queues) on the local provider.

Reports the time to plan the stack (every check, no call), the time to create it through
``cloudkit_contrib.stacks`` (state written durably before and after every resource step, events),
and the time of the same family calls made directly by a script, one after the other, as the
baseline; the ratio is stack create time / direct time. The create runs with the default bound of
4 concurrent steps and with 1 (no concurrency), with state in a local folder and in a bucket.

    .venv/bin/python bench/bench_stacks.py [--per-kind 50] [--quick]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from cloudkit_contrib.stacks import Stacks

import cloudkit
from cloudkit.models.dns import RecordSet


def template(n: int) -> dict[str, Any]:
    """``n`` each of buckets, records (in one zone), topics and queues: 4n + 1 resources."""
    res: dict[str, Any] = {"Zone": {"Type": "AWS::Route53::HostedZone", "Properties": {"Name": "bench.example.com"}}}
    for i in range(n):
        res[f"Bucket{i}"] = {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": f"bench-bucket-{i}"}}
        res[f"Record{i}"] = {"Type": "AWS::Route53::RecordSet", "Properties": {
            "HostedZoneId": {"Ref": "Zone"}, "Name": f"host{i}.bench.example.com.", "Type": "A", "TTL": "300",
            "ResourceRecords": [f"10.0.{i // 256}.{i % 256}"]}}
        res[f"Topic{i}"] = {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": f"bench-topic-{i}"}}
        res[f"Queue{i}"] = {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": f"bench-queue-{i}"}}
    return {"Resources": res}


def direct(cloud: cloudkit.Cloud, n: int) -> float:
    """The same creations as family calls, one at a time; returns seconds."""
    t0 = time.perf_counter()
    zone = cloud.dns.create_zone("bench.example.com")
    for i in range(n):
        cloud.storage.create_bucket(f"bench-bucket-{i}")
        cloud.dns.upsert_records(zone, [RecordSet(f"host{i}.bench.example.com.", "A", 300, (f"10.0.{i // 256}.{i % 256}",))])
        cloud.notification.create_topic(f"bench-topic-{i}")
        cloud.notification.create_queue(f"bench-queue-{i}")
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--per-kind", type=int, default=None, help="resources of each kind (default 50: 201 in all)")
    parser.add_argument("--quick", action="store_true", help="10 of each kind")
    args = parser.parse_args()
    n = args.per_kind or (10 if args.quick else 50)
    tpl = template(n)
    results: dict[str, Any] = {"resources": len(tpl["Resources"])}
    base = Path(tempfile.mkdtemp(prefix="bench-stacks-"))
    try:
        with cloudkit.connect("local", root=str(base / "direct")) as cloud:
            results["direct_s"] = round(direct(cloud, n), 3)
        runs = [("create_c4_file_s", 4, True), ("create_c1_file_s", 1, True), ("create_c4_bucket_s", 4, False)]
        for key, concurrency, in_file in runs:
            root = base / key
            with cloudkit.connect("local", root=str(root)) as cloud:
                stacks = Stacks(cloud, concurrency=concurrency, state_dir=str(root / "state") if in_file else None)
                if key == runs[0][0]:
                    t0 = time.perf_counter()
                    stacks.plan("bench", tpl)
                    results["plan_s"] = round(time.perf_counter() - t0, 3)
                t0 = time.perf_counter()
                summary = stacks.create("bench", tpl)
                results[key] = round(time.perf_counter() - t0, 3)
                assert summary.status == "CREATE_COMPLETE", summary
                results[key.replace("_s", "_ratio")] = round(results[key] / results["direct_s"], 2)
                if key == runs[0][0]:
                    t0 = time.perf_counter()
                    stacks.delete("bench")
                    results["delete_c4_file_s"] = round(time.perf_counter() - t0, 3)
    finally:
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
