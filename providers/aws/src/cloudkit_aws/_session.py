"""boto3 sessions and clients built from cloudkit settings (the only module that imports boto3).

Settings the aws provider understands (all optional):

``region``
    AWS region; when absent, boto3's chain decides (``AWS_DEFAULT_REGION``, the profile's config).
``profile``
    A named profile of ``~/.aws/config`` / ``~/.aws/credentials``.
``endpoint_url``
    Send every request to this URL (moto, LocalStack, an S3-compatible store).
``<service>_endpoint_url``
    The same for one service only, for example ``s3_endpoint_url`` or ``route53_endpoint_url``.
``max_attempts``
    Attempts per call, the first one included (default 5, throttling included).
``retry_mode``
    botocore's retry mode: ``standard`` (default), ``legacy`` or ``adaptive``. In ``standard`` and
    ``adaptive`` mode each client also keeps botocore's *retry quota* (500 tokens; a retry costs 5
    after throttling and 14 after any other failure, a success gives 1 back): under sustained
    failures it runs dry and calls get a single attempt until successes refill it. ``legacy`` has
    no quota, so every call gets ``max_attempts`` attempts however many calls fail. See
    ``docs/aws/README.md``, "Retries and faults", for measured figures.
``connect_timeout`` / ``read_timeout``
    Socket timeouts in seconds (defaults 10 and 60).
``max_pool_connections``
    HTTP connections kept per client (default 20; the S3 transfer manager uses up to ``max_concurrency``).
``s3_addressing_style``
    ``auto``, ``path`` or ``virtual`` (default ``path`` when an endpoint URL is set, else ``auto``).
``page_size``
    Items asked for per page by every paginated listing (default: each API's own maximum). All
    listings page through :meth:`AwsSession.pages`, which brings the value within the bounds of
    each API (RDS takes 20-100) and leaves it out for APIs that take no page size (SNS).
``waiter_delay``
    Seconds between polls of a waiter (default: each waiter's own AWS-defined delay).

Credentials come only from boto3's own chain (environment, shared files, SSO, instance roles); a
setting that looks like a credential is refused so that it never ends up in a config file or a log.
Importing this module redacts secrets in the records of botocore's own loggers (``_logredact``).
boto3 is imported the first time a client is needed, never when cloudkit starts.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any

from cloudkit import validation as v
from cloudkit.errors import InvalidInput
from cloudkit.settings import Settings, is_secret_name
from cloudkit_aws import _logredact

PROVIDER = "aws"

# botocore's DEBUG lines carry passwords, session tokens and signatures: redact them in every
# record its loggers create (see cloudkit_aws._logredact), before any client exists.
_logredact.install()

DEFAULT_MAX_ATTEMPTS = 5
DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 60.0
DEFAULT_POOL = 20
DEFAULT_RETRY_MODE = "standard"
RETRY_MODES = ("standard", "legacy", "adaptive")

_ADDRESSING = ("auto", "path", "virtual")


#: Bounds of the page size parameter per service where they are narrower than 1-1000.
_PAGE_BOUNDS = {"rds": (20, 100), "ec2": (5, 1000), "route53": (1, 300)}


class AwsSession:
    """A boto3 session plus one cached client per AWS service, configured from cloudkit settings.

    Settings are checked when the object is built (before any network access). ``repr`` shows
    the region and profile only.
    """

    def __init__(self, settings: Mapping[str, Any] | None = None) -> None:
        self.settings = settings if isinstance(settings, Settings) else Settings(settings or {})
        s = self.settings
        for name in s:
            if is_secret_name(name) or name.startswith("aws_"):
                raise InvalidInput(
                    name,
                    "credentials are never taken from cloudkit settings; use boto3's chain "
                    "(environment, ~/.aws files, SSO, instance role) and the 'profile' setting",
                    provider=PROVIDER,
                )
        self.region: str | None = None if s.get("region") is None else v.require_str("region", s.get("region"))
        self.profile: str | None = None if s.get("profile") is None else v.require_str("profile", s.get("profile"))
        self.endpoint_url: str | None = None
        if s.get("endpoint_url") is not None:
            self.endpoint_url = v.url(s["endpoint_url"], "endpoint_url")
        self.max_attempts = v.int_range("max_attempts", s.get("max_attempts", DEFAULT_MAX_ATTEMPTS), 1, 20)
        self.retry_mode = v.one_of("retry_mode", s.get("retry_mode", DEFAULT_RETRY_MODE), RETRY_MODES)
        self.connect_timeout = v.number_range("connect_timeout", s.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT), 0.1, 3600)
        self.read_timeout = v.number_range("read_timeout", s.get("read_timeout", DEFAULT_READ_TIMEOUT), 0.1, 3600)
        self.max_pool_connections = v.int_range("max_pool_connections", s.get("max_pool_connections", DEFAULT_POOL), 1, 1000)
        style = s.get("s3_addressing_style")
        if style is None:
            style = "path" if self.endpoint_url or s.get("s3_endpoint_url") else "auto"
        self.s3_addressing_style = v.one_of("s3_addressing_style", style, _ADDRESSING)
        self.waiter_delay: float | None = None
        if s.get("waiter_delay") is not None:
            self.waiter_delay = v.number_range("waiter_delay", s["waiter_delay"], 0, 600)
        self.page_size: int | None = None
        if s.get("page_size") is not None:
            self.page_size = v.int_range("page_size", s["page_size"], 1, 1000)
        self._endpoints: dict[str, str] = {}
        for name, value in s.items():
            if name.endswith("_endpoint_url") and value is not None:
                self._endpoints[name[: -len("_endpoint_url")]] = v.url(value, name)
        self._lock = threading.Lock()
        self._session: Any = None
        self._clients: dict[tuple[str, str | None], Any] = {}

    def __repr__(self) -> str:
        return f"<AwsSession region={self.region!r} profile={self.profile!r}>"

    # ------------------------------------------------------------------ boto3
    @property
    def boto3_session(self) -> Any:
        """The underlying ``boto3.Session`` (created on first use)."""
        with self._lock:
            return self._boto3_session_locked()

    def _boto3_session_locked(self) -> Any:
        if self._session is None:
            from cloudkit_aws.errors import mapped

            with mapped("connect"):
                import boto3

                self._session = boto3.Session(profile_name=self.profile, region_name=self.region)
        return self._session

    def client_config(self, service: str) -> Any:
        """The ``botocore.config.Config`` used for ``service``'s client."""
        from botocore.config import Config

        extra: dict[str, Any] = {}
        if service == "s3":
            extra["s3"] = {"addressing_style": self.s3_addressing_style}
            extra["signature_version"] = "s3v4"  # presigned URLs too
        retries: Any = {"mode": self.retry_mode, "total_max_attempts": self.max_attempts}
        return Config(
            retries=retries,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_pool_connections=self.max_pool_connections,
            user_agent_extra="cloudkit",
            **extra,
        )

    def client(self, service: str, region: str | None = None) -> Any:
        """A cached boto3 client for ``service`` (``ec2``, ``s3``, ``route53``, ...), optionally in ``region``."""
        with self._lock:
            found = self._clients.get((service, region))
            if found is not None:
                return found
            session = self._boto3_session_locked()
            from cloudkit_aws.errors import mapped, note_attempt

            with mapped(f"connect to {service}"):
                kwargs: dict[str, Any] = {"config": self.client_config(service)}
                endpoint = self._endpoints.get(service, self.endpoint_url)
                if endpoint:
                    kwargs["endpoint_url"] = endpoint
                where = region or self.region or session.region_name
                if where is None and service in ("route53", "s3", "iam", "sts"):
                    where = "us-east-1"  # global services: any region signs for them
                if where is not None:
                    kwargs["region_name"] = where
                made = session.client(service, **kwargs)
                # every attempt is noted, so that an error says when its call may have been applied; first,
                # because legacy mode's handler raises the last attempt's exception out of the event
                event = f"needs-retry.{made.meta.service_model.service_id.hyphenize()}"
                made.meta.events.register_first(event, note_attempt, unique_id="cloudkit-may-have-been-applied")
            self._clients[(service, region)] = made
            return made

    @property
    def region_name(self) -> str:
        """The region requests go to (settings, else boto3's chain, else ``us-east-1``)."""
        return self.region or self.boto3_session.region_name or "us-east-1"

    def waiter_config(self, waiter: Any, timeout: float) -> dict[str, float | int]:
        """``WaiterConfig`` for ``waiter`` that gives up after about ``timeout`` seconds."""
        delay = self.waiter_delay if self.waiter_delay is not None else float(waiter.config.delay)
        attempts = max(1, math.ceil(timeout / delay)) if delay > 0 else max(1, int(waiter.config.max_attempts))
        return {"Delay": delay, "MaxAttempts": attempts}

    def call(self, service: str, method: str, operation: str, **params: Any) -> Any:
        """``client(service).<method>(**params)`` with errors mapped for ``operation``."""
        from cloudkit_aws.errors import mapped

        client = self.client(service)
        with mapped(operation):
            return getattr(client, method)(**params)

    def pages(self, service: str, method: str, operation: str, **params: Any) -> Iterator[dict[str, Any]]:
        """The pages of a boto3 paginator, fetched lazily, with errors mapped for ``operation``."""
        from cloudkit_aws.errors import mapped

        client = self.client(service)
        with mapped(operation):
            paginator = client.get_paginator(method)
            size = self.page_size_for(service, paginator)
            if size is not None:
                params = {**params, "PaginationConfig": {"PageSize": size}}
            pages = iter(paginator.paginate(**params))
        while True:
            with mapped(operation):
                page = next(pages, None)
            if page is None:
                return
            yield page

    def page_size_for(self, service: str, paginator: Any) -> int | None:
        """The ``page_size`` setting as ``paginator``'s API takes it (``None``: the API's default)."""
        if self.page_size is None or not getattr(paginator, "_limit_key", None):
            return None  # not set, or the API has no page size parameter (SNS listings)
        low, high = _PAGE_BOUNDS.get(service, (1, 1000))
        return min(max(self.page_size, low), high)

    def wait(self, service: str, waiter_name: str, operation: str, timeout: float, **params: Any) -> None:
        """Run a boto3 waiter until it succeeds; ``Timeout`` after about ``timeout`` seconds."""
        from cloudkit_aws.errors import mapped

        client = self.client(service)
        with mapped(operation):
            waiter = client.get_waiter(waiter_name)
            waiter.wait(WaiterConfig=self.waiter_config(waiter, timeout), **params)

    def wait_until(self, service: str, model: Mapping[str, Any], operation: str, timeout: float, **params: Any) -> None:
        """Run a waiter described by a botocore waiter ``model`` (one waiter, version 2 format)."""
        from botocore.waiter import WaiterModel, create_waiter_with_client

        from cloudkit_aws.errors import mapped

        name = "Custom"
        client = self.client(service)
        with mapped(operation):
            waiter = create_waiter_with_client(name, WaiterModel({"version": 2, "waiters": {name: dict(model)}}), client)
            waiter.wait(WaiterConfig=self.waiter_config(waiter, timeout), **params)

    def transfer_config(self, **overrides: Any) -> Any:
        """A ``boto3.s3.transfer.TransferConfig`` from the ``s3_*`` transfer settings."""
        from boto3.s3.transfer import TransferConfig

        mib = 1024 * 1024
        s = self.settings
        threshold = v.int_range("s3_multipart_threshold", s.get("s3_multipart_threshold", 8 * mib), 5 * mib)
        chunk = v.int_range("s3_multipart_chunksize", s.get("s3_multipart_chunksize", 8 * mib), 5 * mib, 5 * 1024 * mib)
        conc = v.int_range("s3_max_concurrency", s.get("s3_max_concurrency", 10), 1, 100)
        options: dict[str, Any] = {
            "multipart_threshold": threshold,
            "multipart_chunksize": chunk,
            "max_concurrency": conc,
            "use_threads": conc > 1,
        }
        options.update(overrides)
        return TransferConfig(**options)

    def transfer_manager(self, config: Any = None) -> Any:
        """An s3transfer ``TransferManager`` on the S3 client (close it after use)."""
        from boto3.s3.transfer import create_transfer_manager

        return create_transfer_manager(self.client("s3"), config or self.transfer_config())

    def close(self) -> None:
        """Close every client's connection pool. Safe to call twice."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            close = getattr(c, "close", None)
            if close is not None:
                close()
