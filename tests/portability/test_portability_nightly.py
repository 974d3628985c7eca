"""The nightly job runs unchanged on local and on aws (moto, replayed) with equal neutral results."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from nightly import REPORT, nightly_job  # type: ignore[import-not-found]
from portability_helpers import Subscriber  # type: ignore[import-not-found]

import cloudkit
from cloudkit.testing.portability import assert_portable

HAS_BWRAP = shutil.which("bwrap") is not None

#: Fields a provider decides by itself, each with the reason.
PROVIDER_DECIDES = {
    "storage.bucket.region": "the bucket's region is the provider's (local has none)",
    "storage.backup.archive_sha256": "the gzip stream's header holds the time the archive was written",
    "storage.*.*.etag": "the MD5 of the archive (and of the manifest naming its SHA-256): time-dependent, see above",
    "storage.objects.*.content_type": "provider-dependent in listings (docs/guide.md); compared in storage.heads",
    "storage.objects.*.metadata": "provider-dependent in listings (S3 lists none); compared in storage.heads",
    "notification.queue.url": "local queues have no URL",
    "notification.queue_subscription.endpoint": "a queue subscription's endpoint is the queue's id (an ARN on aws)",
    "notification.http_subscription.endpoint": "the subscriber's port is chosen per run; checked by the test",
    "notification.subscriptions.*.endpoint": "as the two above",
    "dns.zone.name_servers": "each provider's own name servers",
    "database.instance.endpoint": "the server's address",
    "database.instance.engine_version": "each provider's default version of the engine",
    "database.instance.maintenance_window": "chosen by the provider when not given",
    "database.instance.backup_window": "chosen by the provider when not given",
    "database.*.secondary_zone": "the provider's placement of the standby",
    "database.failover.endpoint": "the server's address (the test checks it is the instance's, on each provider)",
    "database.failover.engine_version": "as database.instance.engine_version",
    "database.failover.maintenance_window": "as database.instance.maintenance_window",
    "database.failover.backup_window": "as database.instance.backup_window",
    "compute.image": "each provider's own catalogue (the job takes the first image)",
    "compute.size": "each provider's own catalogue (the job takes the smallest size)",
    "compute.*.instance_type": "as compute.size",
    "compute.*.zone": "the provider's placement",
    "compute.*.private_ip": "the provider's addressing",
    "compute.*.public_ip": "the provider's addressing",
    "compute.*.tags.Name": "EC2 stores the name as the Name tag (documented in docs/guide.md)",
}


def test_nightly_job_gives_equal_neutral_results_on_local_and_aws(
    local_cloud: cloudkit.Cloud, run_on_aws: Callable[[Callable[[cloudkit.Cloud], Any]], Any],
    subscriber: Subscriber, home: Path,
) -> None:
    local = nightly_job(local_cloud, home, subscriber.url, launch=HAS_BWRAP, http_received=lambda: subscriber.wait_for(1))
    assert [n.get("Message") for n in subscriber.notifications] == [REPORT]  # the http subscriber got the report
    aws = run_on_aws(lambda cloud: nightly_job(cloud, home, subscriber.url, launch=HAS_BWRAP))
    for results in (local, aws):
        subscription = results["notification"]["http_subscription"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/nightly-hook", subscription.endpoint), subscription
        assert [m.body for m in results["notification"]["messages"]] == [REPORT]
        failover = results["database"]["failover"]  # the standby took over behind the same endpoint
        assert failover.multi_az and failover.endpoint == results["database"]["instance"].endpoint, failover
    assert_portable(local, aws, PROVIDER_DECIDES, names=("local", "aws"))
    if not HAS_BWRAP:
        pytest.skip("every step compared but the instance launch: bubblewrap (Debian package 'bubblewrap') is missing")
