"""The libcloud plugin without any server: dispatch, families from libcloud, settings, errors, retries."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from cloudkit_libcloud import _driver
from cloudkit_libcloud.errors import translate
from cloudkit_libcloud.plugin import available, plugin
from libcloud.compute.providers import DRIVERS as COMPUTE_DRIVERS
from libcloud.dns.providers import DRIVERS as DNS_DRIVERS
from libcloud.storage.providers import DRIVERS as STORAGE_DRIVERS

import cloudkit
from cloudkit.errors import (
    AlreadyExists,
    AuthenticationError,
    Conflict,
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    ProviderError,
    Throttled,
)
from cloudkit.plugins import resolve_provider


def _names(drivers: Any) -> set[str]:
    return {str(getattr(k, "value", k)) for k in drivers}


def test_families_come_from_libcloud_driver_maps() -> None:
    for name in _names(STORAGE_DRIVERS) | _names(DNS_DRIVERS) | _names(COMPUTE_DRIVERS):
        expected = {f for f, names in (("storage", _names(STORAGE_DRIVERS)), ("dns", _names(DNS_DRIVERS)),
                                      ("compute", _names(COMPUTE_DRIVERS))) if name in names}
        assert _driver.families_of(name) == expected
        assert _driver.families_of("libcloud:" + name) == expected
    listed = {info.name: info.families for info in available()}
    assert listed["libcloud:azure_blobs"] == {"storage"}
    assert listed["libcloud:powerdns"] == {"dns"}
    assert listed["libcloud:ec2"] == {"compute"}
    assert listed["libcloud:digitalocean"] >= {"compute", "dns"}


def test_libcloud_names_resolve_on_demand() -> None:
    info = resolve_provider("libcloud:azure_blobs")
    assert info.name == "libcloud:azure_blobs" and info.families == {"storage"}
    assert info.distribution == "cloudkit-libcloud"
    assert resolve_provider("gce").families == {"compute"}  # a bare name libcloud knows: the fallback
    with pytest.raises(InvalidInput, match="unknown provider"):
        resolve_provider("libcloud:no-such-driver")
    assert not [p for p in cloudkit.providers() if p.startswith("libcloud:")]  # nothing announced up front


def test_families_libcloud_lacks_raise_not_supported_naming_provider_and_family() -> None:
    cloud = cloudkit.connect("libcloud:s3", key="k", secret="s")
    for family in ("notification", "database", "platform", "dns", "compute"):
        service = cloud.service(family)
        assert service.capabilities() == frozenset()
    with pytest.raises(NotSupported, match=r"libcloud:s3 does not support notification\.create_topic.*notification family"):
        cloud.notification.create_topic("topic")
    with pytest.raises(NotSupported, match=r"libcloud:s3 does not support database"):
        cloud.database.list_instances()
    assert "put_object" in cloud.storage.capabilities()
    assert "set_lifecycle" not in cloud.storage.capabilities()
    with pytest.raises(NotSupported, match=r"storage\.set_lifecycle"):
        cloud.storage.set_lifecycle("bucket-x", [])


def test_a_bare_name_libcloud_knows_falls_back_to_libcloud() -> None:
    cloud = cloudkit.connect("digitalocean", key="token")
    assert type(cloud.compute).__module__ == "cloudkit_libcloud.compute"
    assert type(cloud.dns).__module__ == "cloudkit_libcloud.dns"
    assert "create_instance" in cloud.compute.capabilities()
    assert cloud.storage.capabilities() == frozenset()
    with pytest.raises(NotSupported, match="digitalocean does not support storage"):
        cloud.storage.list_buckets()


def test_fallback_never_shadows_an_announced_provider() -> None:
    # libcloud has a "local" storage driver; the local provider's name must stay the local provider's.
    assert plugin.cloudkit_make_service("local", "storage", {}) is None
    assert plugin.cloudkit_make_service("libcloud:local", "notification", {}) is None
    assert plugin.cloudkit_make_service("not-a-driver", "storage", {}) is None


def test_capabilities_follow_what_the_driver_implements() -> None:
    cloud = cloudkit.connect("libcloud:s3", key="k", secret="s")
    caps = cloud.storage.capabilities()
    assert {"create_bucket", "put_object", "get_object", "list_objects", "presign_url", "copy_object"} <= caps
    ec2 = cloudkit.connect("libcloud:ec2", key="k", secret="s", region="us-east-1").compute.capabilities()
    assert {"create_instance", "start_instance", "stop_instance", "create_volume_snapshot"} <= ec2
    assert "create_security_group" not in ec2 and "get_console_output" not in ec2


def test_settings_become_driver_arguments() -> None:
    kwargs = _driver.driver_kwargs({"key": "k", "secret": "s", "host": "h.example", "port": 8080, "secure": "no",
                                    "region": "eu-west-1", "api_version": "v1", "ex_force": 1, "unrelated": 2})
    assert kwargs == {"key": "k", "secret": "s", "host": "h.example", "port": 8080, "secure": False,
                      "region": "eu-west-1", "api_version": "v1", "timeout": 60.0, "ex_force": 1}
    with pytest.raises(InvalidInput, match="port"):
        _driver.driver_kwargs({"port": 70000})
    with pytest.raises(InvalidInput, match="secure"):
        _driver.driver_kwargs({"secure": "maybe"})
    with pytest.raises(InvalidInput, match="timeout"):
        _driver.driver_kwargs({"timeout": -1})
    ec2 = cloudkit.connect("libcloud:ec2", key="k", secret="s", region="us-east-1").compute.native
    assert ec2.signature_version == "4"
    assert ec2.connection.retryCls.__name__ == "BoundedRetry"


def test_capabilities_need_no_credentials_and_a_missing_key_fails_on_first_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLOUDKIT_LIBCLOUD_KEY", raising=False)
    cloud = cloudkit.connect("libcloud:azure_blobs")
    assert {"put_object", "get_object", "list_objects"} <= cloud.storage.capabilities()
    with pytest.raises(AuthenticationError, match="needs credentials") as err:
        cloud.storage.create_bucket("some-bucket")
    assert "CLOUDKIT_LIBCLOUD_KEY" in str(err.value)
    with pytest.raises(InvalidInput, match="port"):
        cloudkit.connect("libcloud:powerdns", port="eighty").dns  # noqa: B018 - building the service validates


def test_credentials_may_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLOUDKIT_LIBCLOUD_KEY", "env-key")
    monkeypatch.setenv("CLOUDKIT_LIBCLOUD_SECRET", "env-secret")
    assert _driver.driver_kwargs({})["key"] == "env-key"
    assert _driver.driver_kwargs({"secret": "given"})["secret"] == "given"
    driver = cloudkit.connect("libcloud:s3").storage.native
    assert driver.key == "env-key" and driver.secret == "env-secret"


def test_a_profile_routes_one_family_to_libcloud(tmp_path: Any) -> None:
    config = tmp_path / "cloudkit.toml"
    config.write_text(
        '[profiles.mixed]\nprovider = "local"\n\n'
        '[profiles.mixed.dns]\nprovider = "libcloud:powerdns"\nkey = "k"\nhost = "127.0.0.1"\nport = 8081\n'
    )
    cloud = cloudkit.connect(profile="mixed", config_file=config)
    assert cloud.provider_of("dns") == "libcloud:powerdns" and cloud.provider_of("storage") == "local"
    assert type(cloud.dns).__module__ == "cloudkit_libcloud.dns"
    assert cloud.dns.native.connection.port == 8081
    assert type(cloud.storage).__module__.startswith("cloudkit_local")


def test_secrets_stay_out_of_reprs_and_errors() -> None:
    cloud = cloudkit.connect("libcloud:s3", key="AKIDEXAMPLE", secret="very-secret-value")
    assert "very-secret-value" not in repr(cloud.storage) + repr(cloud) + repr(cloud.storage.settings)
    exc = Exception("GET /x?Signature=abc123&AWSAccessKeyId=AKIDEXAMPLE failed")
    err = translate(exc, "libcloud:s3", "storage.get_object")
    assert "abc123" not in str(err) and "AKIDEXAMPLE" not in str(err)


def test_error_mapping() -> None:
    from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
    from libcloud.common.types import InvalidCredsError, LibcloudError
    from libcloud.dns.types import ZoneAlreadyExistsError, ZoneDoesNotExistError
    from libcloud.storage.types import ContainerDoesNotExistError, ContainerIsNotEmptyError, ObjectDoesNotExistError

    cases: list[tuple[BaseException, type]] = [
        (ContainerDoesNotExistError(value=None, driver=None, container_name="b"), NotFound),
        (ObjectDoesNotExistError(value=None, driver=None, object_name="k"), NotFound),
        (ContainerIsNotEmptyError(value=None, driver=None, container_name="b"), Conflict),
        (ZoneDoesNotExistError(value=None, driver=None, zone_id="z"), NotFound),
        (ZoneAlreadyExistsError(value=None, driver=None, zone_id="z"), AlreadyExists),
        (InvalidCredsError("bad key"), AuthenticationError),
        (BaseHTTPError(403, "AccessDenied"), PermissionDenied),
        (BaseHTTPError(404, "gone"), NotFound),
        (BaseHTTPError(409, "Domain already exists"), AlreadyExists),
        (BaseHTTPError(422, "RRset x: Conflicts with pre-existing RRset"), Conflict),
        (BaseHTTPError(500, "boom"), ProviderError),
        (LibcloudError("Unexpected status code, status_code=404"), NotFound),
        (NotImplementedError("no"), NotSupported),
        (ConnectionRefusedError(111, "refused"), ProviderError),
    ]
    for native, expected in cases:
        err = translate(native, "libcloud:x", "op")
        assert type(err) is expected, (native, err)
        assert err.provider == "libcloud:x"
    missing = translate(ObjectDoesNotExistError(value=None, driver=None, object_name="k"), "libcloud:x", "op")
    assert "object 'k' does not exist" in str(missing) and "0x" not in str(missing)
    throttled = translate(RateLimitReachedError(headers={"retry-after": "7"}), "libcloud:x", "op")
    assert isinstance(throttled, Throttled) and throttled.retry_after == 7.0


class _Flaky(http.server.BaseHTTPRequestHandler):
    """Answers 429 (Retry-After: 0.05) the first ``limit`` times, then a PowerDNS zone list."""

    limit = 0
    calls = 0

    def do_GET(self) -> None:
        type(self).calls += 1
        if type(self).calls <= type(self).limit:
            self.send_response(429)
            self.send_header("Retry-After", "0.05")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def flaky_server() -> Iterator[tuple[int, type[_Flaky]]]:
    handler = type("Flaky", (_Flaky,), {"calls": 0, "limit": 0})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def test_rate_limits_are_retried_then_mapped_to_throttled(flaky_server: tuple[int, type[_Flaky]]) -> None:
    port, handler = flaky_server
    settings = {"key": "k", "host": "127.0.0.1", "port": port, "secure": False, "retry_delay": 0.01}
    handler.limit = 2
    dns = cloudkit.connect("libcloud:powerdns", retry_timeout=5, **settings).dns
    assert list(dns.list_zones()) == []
    assert handler.calls == 3  # two 429s retried by libcloud's Retry, then the answer

    handler.calls, handler.limit = 0, 10_000
    dns = cloudkit.connect("libcloud:powerdns", retry_timeout=0.3, **settings).dns
    with pytest.raises(Throttled) as err:
        list(dns.list_zones())
    assert err.value.retry_after == 0.05
    assert handler.calls >= 2

    handler.calls = 0
    dns = cloudkit.connect("libcloud:powerdns", retry_timeout=0, **settings).dns
    with pytest.raises(Throttled):
        list(dns.list_zones())
    assert handler.calls == 1  # retry_timeout=0 switches retries off


def test_download_stream_reads_exact_sizes_without_copying_whole_chunks() -> None:
    from cloudkit_libcloud.storage import _ChunkStream

    chunks = [b"abcd", b"", b"efgh", b"ij"]
    stream = _ChunkStream(iter(chunks))
    assert stream.read(4) is chunks[0]  # a whole chunk is handed on as it is
    assert stream.read(3) == b"efg"
    assert stream.read(5) == b"hij"  # across the end
    assert stream.read(5) == b""
    closed = []

    def gen() -> Iterator[bytes]:
        try:
            yield b"x" * 10
            yield b"y" * 10
        finally:
            closed.append(True)

    stream = _ChunkStream(gen())
    assert stream.read(15) == b"x" * 10 + b"y" * 5
    assert stream.read() == b"y" * 5
    stream = _ChunkStream(gen())
    stream.read(1)
    stream.close()
    assert closed == [True, True]


class _Boom:
    """A stand-in libcloud driver whose calls raise what libcloud raises."""

    def __init__(self, exc: BaseException) -> None:
        self.exc = exc

    def __getattr__(self, name: str) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            raise self.exc

        return call


def test_the_core_applies_the_libcloud_translator_to_driver_calls_and_listings() -> None:
    from libcloud.common.types import InvalidCredsError
    from libcloud.storage.types import ContainerDoesNotExistError

    storage = cloudkit.connect("libcloud:s3", key="k", secret="s").storage
    storage._driver_obj = _Boom(ContainerDoesNotExistError(value=None, driver=None, container_name="bk1"))  # type: ignore[attr-defined]
    with pytest.raises(NotFound) as caught:
        storage.get_bucket("bk1")
    assert str(caught.value).startswith("storage.get_bucket: bucket 'bk1' does not exist")
    assert caught.value.provider == "libcloud:s3" and isinstance(caught.value.__cause__, ContainerDoesNotExistError)

    storage._driver_obj = _Boom(InvalidCredsError("bad key"))  # type: ignore[attr-defined]
    with pytest.raises(AuthenticationError, match=r"storage\.list_buckets"):
        list(storage.list_buckets())


def test_the_libcloud_translator_declines_driver_bugs() -> None:
    storage = cloudkit.connect("libcloud:s3", key="k", secret="s").storage
    assert storage.translate_error(KeyError("x"), "storage.get_bucket") is None  # type: ignore[attr-defined]
    storage._driver_obj = _Boom(KeyError("secret-key-index"))  # type: ignore[attr-defined]
    with pytest.raises(ProviderError) as caught:
        storage.get_bucket("bk1")
    assert "LibcloudStorage._get_bucket" in str(caught.value) and "secret-key-index" not in str(caught.value)


def test_a_compute_wait_that_times_out_names_the_resource_and_its_state_and_deletes_nothing() -> None:
    from cloudkit.errors import Timeout
    from cloudkit.models.compute import Volume

    compute = cloudkit.connect("libcloud:ec2", key="k", secret="s", region="us-east-1", poll_interval=0.01).compute
    compute._driver_obj = _Boom(AssertionError("nothing may be deleted or called on a timeout"))  # type: ignore[attr-defined]
    looks: list[int] = []

    def fetch() -> Volume:
        looks.append(1)
        return Volume(id="vol-1", size_gb=1, state="creating")

    with pytest.raises(Timeout) as caught:
        compute._wait("volume vol-1", "available", fetch, lambda v: v.state == "available", 0.05)  # type: ignore[attr-defined]
    assert "volume vol-1 did not become available" in str(caught.value)
    assert "last seen creating" in str(caught.value) and "deletes nothing" in str(caught.value)
    assert len(looks) >= 2
