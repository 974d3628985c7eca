"""The AWS provider's plugin: ``cloudkit_aws.<family>.make_service(settings)`` builds each family.

Importing this module (cloudkit does it through the ``cloudkit`` entry point) stays light: boto3 is
imported only when a family service makes its first client.
"""

from __future__ import annotations

import cloudkit
from cloudkit.provider import FamilyPlugin

ALL_FAMILIES = ("compute", "storage", "dns", "notification", "database", "platform", "loadbalancer")

S = cloudkit.Setting
_CREDENTIALS = ("credentials are never taken from cloudkit settings; use boto3's chain "
                "(environment, ~/.aws files, SSO, instance role) and the 'profile' setting")
#: Every setting the aws provider reads. Credentials are not settings: boto3's chain provides them.
SETTINGS = (
    S("region", "str", "AWS region (else boto3's chain, else us-east-1)."),
    S("profile", "str", "Named profile of the AWS config files (credentials and region)."),
    S("endpoint_url", "str", "One endpoint for every AWS service (moto, LocalStack)."),
    S("*_endpoint_url", "str", "Endpoint of one service (s3_endpoint_url, ec2_endpoint_url, ...)."),
    S("max_attempts", "int", "Attempts per request, the first included (1-20).", 5),
    S("retry_mode", "str", "botocore retry mode: standard (with its retry quota), legacy (no quota) or adaptive.",
      "standard"),
    S("connect_timeout", "float", "Seconds to wait for a connection.", 10),
    S("read_timeout", "float", "Seconds to wait for a response.", 60),
    S("max_pool_connections", "int", "HTTP connections kept per client.", 20),
    S("s3_addressing_style", "str", "auto, path or virtual (path when an endpoint is set).", "auto"),
    S("s3_multipart_threshold", "int", "Bytes from which uploads go multipart (at least 5 MiB).", 8 * 1024 * 1024),
    S("s3_multipart_chunksize", "int", "Bytes per multipart part (at least 5 MiB).", 8 * 1024 * 1024),
    S("s3_max_concurrency", "int", "Concurrent part transfers (1-100).", 10),
    S("waiter_delay", "float", "Seconds between polls of boto3 waiters (default: the waiter's own)."),
    S("page_size", "int", "Items per page of listings (1-1000; default: the service's)."),
    S("platform_bucket", "str", "Platform: S3 bucket for application bundles (else one per account and region)."),
    S("platform_poll_seconds", "float", "Platform: seconds between event polls while waiting.", 5),
    S("aws_*", refused=_CREDENTIALS),
)


class AwsPlugin(FamilyPlugin):
    """Serves the ``aws`` provider: ``cloudkit_aws.<family>.make_service(settings)``, boto3 imported on first use."""

    def __init__(self) -> None:
        super().__init__("aws", "cloudkit_aws", families=ALL_FAMILIES, description="Amazon Web Services through boto3.",
                         distribution="cloudkit-aws", settings=SETTINGS)


plugin = AwsPlugin()
