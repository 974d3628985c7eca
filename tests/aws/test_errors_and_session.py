"""The aws provider's shared layer: the error table, settings, retries, credentials, lazy boto3."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import botocore.exceptions as bx
import pytest
from cloudkit_aws import errors as aws_errors
from cloudkit_aws._session import AwsSession

import cloudkit
from cloudkit import errors


def _client_error(code: str, message: str = "boom", status: int = 400, headers: dict[str, str] | None = None) -> bx.ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers or {}},
    }
    return bx.ClientError(response, "SomeOperation")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("NoSuchBucket", 404, errors.NotFound),
        ("InvalidInstanceID.NotFound", 400, errors.NotFound),
        ("NoSuchHostedZone", 404, errors.NotFound),
        ("DBInstanceNotFound", 404, errors.NotFound),
        ("BucketAlreadyOwnedByYou", 409, errors.AlreadyExists),
        ("InvalidKeyPair.Duplicate", 400, errors.AlreadyExists),
        ("HostedZoneAlreadyExists", 409, errors.AlreadyExists),
        ("BucketNotEmpty", 409, errors.Conflict),
        ("IncorrectInstanceState", 400, errors.Conflict),
        ("HostedZoneNotEmpty", 400, errors.Conflict),
        ("VolumeInUse", 400, errors.Conflict),
        ("InvalidParameterValue", 400, errors.InvalidInput),
        ("InvalidAccessKeyId", 403, errors.AuthenticationError),
        ("SignatureDoesNotMatch", 403, errors.AuthenticationError),
        ("ExpiredToken", 400, errors.AuthenticationError),
        ("AccessDenied", 403, errors.PermissionDenied),
        ("UnauthorizedOperation", 403, errors.PermissionDenied),
        ("Throttling", 400, errors.Throttled),
        ("RequestLimitExceeded", 503, errors.Throttled),
        ("SlowDown", 503, errors.Throttled),
        ("PriorRequestNotComplete", 400, errors.Throttled),
        ("InstanceLimitExceeded", 400, errors.QuotaExceeded),
        ("TooManyBuckets", 400, errors.QuotaExceeded),
        ("RequestTimeout", 400, errors.Timeout),
        ("NotImplemented", 501, errors.NotSupported),
        ("InternalError", 500, errors.ProviderError),
        ("SomethingNew.NotFound", 400, errors.NotFound),  # suffix rules for codes not in the table
        ("BrandNewQuotaExceeded", 400, errors.QuotaExceeded),
        ("NeverHeardOfIt", 404, errors.NotFound),  # then the HTTP status
        ("NeverHeardOfIt", 502, errors.ProviderError),
        ("503", 503, errors.Throttled),  # S3's bodiless answer to a HEAD it throttles
    ],
)
def test_client_error_codes_map_once(code: str, status: int, expected: type[errors.CloudkitError]) -> None:
    native = _client_error(code, status=status)
    with pytest.raises(expected) as caught, aws_errors.mapped("do the thing"):
        raise native
    assert type(caught.value) is expected
    assert caught.value.__cause__ is native
    assert caught.value.provider == "aws"
    if expected is not errors.InvalidInput and expected is not errors.NotSupported:
        assert caught.value.code == code


def test_every_code_is_listed_once() -> None:
    listed = [c for group in (aws_errors._NOT_FOUND, aws_errors._ALREADY_EXISTS, aws_errors._CONFLICT, aws_errors._INVALID,
                              aws_errors._AUTH, aws_errors._DENIED, aws_errors._THROTTLED, aws_errors._QUOTA,
                              aws_errors._TIMEOUT, aws_errors._UNSUPPORTED, aws_errors._PROVIDER) for c in group]
    assert len(listed) == len(set(listed)) == len(aws_errors.ERROR_CODES)


def test_route53_messages_decide_invalid_change_batch() -> None:
    missing = _client_error("InvalidChangeBatch", "Tried to delete resource record set [name='a.example.com.', type='A'] "
                                                  "but it was not found")
    exists = _client_error("InvalidChangeBatch", "Tried to create resource record set but it already exists")
    cname = _client_error("InvalidChangeBatch", "RRSet of type CNAME with DNS name www.example.com. is not permitted as "
                                                "it conflicts with other records with the same DNS name in zone example.com.")
    assert isinstance(aws_errors.translate(missing, "x"), errors.NotFound)
    assert isinstance(aws_errors.translate(exists, "x"), errors.AlreadyExists)
    assert isinstance(aws_errors.translate(cname, "x"), errors.Conflict)
    assert isinstance(aws_errors.translate(_client_error("InvalidChangeBatch", "bad TTL"), "x"), errors.InvalidInput)


def test_throttling_keeps_retry_after() -> None:
    err = aws_errors.translate(_client_error("Throttling", "Rate exceeded", 400, {"retry-after": "7"}), "list")
    assert isinstance(err, errors.Throttled) and err.retry_after == 7.0


def test_botocore_client_side_errors_map() -> None:
    cases: list[tuple[Exception, type[errors.CloudkitError]]] = [
        (bx.NoCredentialsError(), errors.AuthenticationError),
        (bx.PartialCredentialsError(provider="env", cred_var="AWS_SECRET_ACCESS_KEY"), errors.AuthenticationError),
        (bx.EndpointConnectionError(endpoint_url="http://127.0.0.1:9"), errors.ProviderError),
        (bx.ConnectTimeoutError(endpoint_url="http://127.0.0.1:9"), errors.Timeout),
        (bx.ReadTimeoutError(endpoint_url="http://127.0.0.1:9"), errors.Timeout),
        (bx.ParamValidationError(report="Invalid length for parameter Key"), errors.InvalidInput),
        (bx.NoRegionError(), errors.InvalidInput),
        (bx.ProfileNotFound(profile="nope"), errors.InvalidInput),
        (bx.WaiterError("InstanceRunning", "Max attempts exceeded", {}), errors.Timeout),
        (bx.WaiterError("InstanceRunning", "Waiter encountered a terminal failure state", {"Reservations": []}), errors.Conflict),
        (bx.WaiterError("BucketExists", "Waiter encountered an error", {"Error": {"Code": "AccessDenied", "Message": "no"}}),
         errors.PermissionDenied),
    ]
    for native, expected in cases:
        with pytest.raises(expected) as caught, aws_errors.mapped("op"):
            raise native
        assert caught.value.__cause__ is native, native


def test_errors_never_show_keys_or_signatures() -> None:
    key_id = "AKIA" + "IOSFODNN7EXAMPLE"  # AWS's documented example, assembled at run time
    text = ("The request signature we calculated does not match. AWSAccessKeyId=" + key_id + " "
            "<StringToSign>AWS4-HMAC-SHA256\n20261126T000000Z</StringToSign> "
            "url?X-Amz-Signature=0123456789abcdef&X-Amz-Credential=" + key_id + "%2F2026 "
            "secret wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    err = aws_errors.translate(_client_error("SignatureDoesNotMatch", text, 403), "put")
    for leak in (key_id, "0123456789abcdef", "wJalrXUtnFEMI", "20261126T000000Z"):
        assert leak not in str(err)


def test_other_exceptions_pass_through_untouched() -> None:
    with pytest.raises(KeyError), aws_errors.mapped("op"):
        raise KeyError("a bug, not a cloud failure")


def test_settings_are_checked_before_any_network_access() -> None:
    with pytest.raises(errors.InvalidInput, match="max_attempts"):
        AwsSession({"max_attempts": 0})
    with pytest.raises(errors.InvalidInput, match="endpoint_url"):
        AwsSession({"endpoint_url": "ftp://example.com"})
    with pytest.raises(errors.InvalidInput, match="read_timeout"):
        AwsSession({"read_timeout": "soon"})
    with pytest.raises(errors.InvalidInput, match="s3_addressing_style"):
        AwsSession({"s3_addressing_style": "sideways"})
    for secret in ("aws_secret_access_key", "aws_access_key_id", "secret_key", "session_token"):
        with pytest.raises(errors.InvalidInput, match="credentials are never taken"):
            AwsSession({secret: "x"})


def test_clients_use_standard_retries_timeouts_and_endpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    session = AwsSession({"region": "eu-west-1", "max_attempts": 7, "connect_timeout": 3, "read_timeout": 30,
                          "endpoint_url": "http://127.0.0.1:4566", "route53_endpoint_url": "http://127.0.0.1:5353"})
    s3 = session.client("s3")
    config = s3.meta.config
    assert config.retries == {"mode": "standard", "total_max_attempts": 7}
    assert (config.connect_timeout, config.read_timeout) == (3, 30)
    assert config.s3["addressing_style"] == "path"
    assert s3.meta.endpoint_url == "http://127.0.0.1:4566" and s3.meta.region_name == "eu-west-1"
    assert session.client("route53").meta.endpoint_url == "http://127.0.0.1:5353"
    assert session.client("s3") is s3  # cached
    assert "eu-west-1" in repr(session) and "testing" not in repr(session)
    session.close()


def test_missing_credentials_become_authentication_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    with cloudkit.connect("aws", region="us-east-1", endpoint_url="http://127.0.0.1:9") as cloud, \
            pytest.raises(errors.AuthenticationError, match="credentials"):
        list(cloud.storage.list_buckets())
    with pytest.raises(errors.InvalidInput, match="profile"), cloudkit.connect("aws", profile="no-such-profile") as cloud:
        list(cloud.storage.list_buckets())


def test_boto3_is_imported_only_when_aws_is_used() -> None:
    code = (
        "import sys, cloudkit\n"
        "cloud = cloudkit.connect('aws', region='us-east-1')\n"
        "assert cloud.provider == 'aws' and cloud.storage.capabilities()\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules, 'imported too early'\n"
        "cloud.storage.aws.client('s3')\n"
        "assert 'boto3' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_throttling_is_retried_then_raised_as_throttled(monkeypatch: pytest.MonkeyPatch) -> None:
    """botocore's standard mode retries SlowDown with backoff; once the attempts are spent: Throttled."""
    import botocore.endpoint
    from botocore.awsrequest import AWSResponse

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    slept: list[float] = []
    monkeypatch.setattr(botocore.endpoint.time, "sleep", slept.append)
    sent: list[str] = []

    class Raw:
        def stream(self, **_: Any) -> Any:
            yield b""

    def slow_down(request: Any, **_: Any) -> AWSResponse:
        sent.append(request.url)
        body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
        response = AWSResponse(request.url, 503, {"Retry-After": "2"}, Raw())
        response._content = body
        return response

    with cloudkit.connect("aws", region="us-east-1", endpoint_url="http://127.0.0.1:9", max_attempts=4) as cloud:
        cloud.storage.native.meta.events.register("before-send.s3.HeadObject", slow_down)
        with pytest.raises(errors.Throttled) as caught:
            cloud.storage.head_object("ck-bucket", "key")
    assert len(sent) == 4 and len(slept) == 3  # four attempts, three backoffs between them
    assert caught.value.code == "SlowDown" and caught.value.retry_after == 2.0
    assert isinstance(caught.value.__cause__, bx.ClientError)


# ------------------------------------------------------------------ one translation point, one paging path

def _stubbed(family: str, service: str, **settings: Any) -> tuple[Any, Any]:
    """An aws service of ``family`` whose ``service`` client answers from a botocore Stubber (no network)."""
    import importlib

    from botocore.stub import Stubber

    svc = importlib.import_module(f"cloudkit_aws.{family}").make_service(
        {"region": "us-east-1", "endpoint_url": "http://127.0.0.1:9", **settings})
    stub = Stubber(svc._aws.client(service))
    stub.activate()
    return svc, stub


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.mark.usefixtures("fake_credentials")
def test_database_listing_pages_with_the_page_size_setting_within_rds_bounds() -> None:
    svc, stub = _stubbed("database", "rds", page_size=5)  # RDS takes 20-100: 5 is raised to 20
    base = {"DBInstanceStatus": "available", "Engine": "postgres", "DBInstanceClass": "db.t3.micro"}
    stub.add_response("describe_db_instances", {"DBInstances": [{**base, "DBInstanceIdentifier": "a"}], "Marker": "m1"},
                      {"MaxRecords": 20})
    stub.add_response("describe_db_instances", {"DBInstances": [{**base, "DBInstanceIdentifier": "b"}]},
                      {"MaxRecords": 20, "Marker": "m1"})
    assert [d.id for d in svc.list_instances()] == ["a", "b"]
    stub.assert_no_pending_responses()


@pytest.mark.usefixtures("fake_credentials")
def test_notification_and_platform_listings_use_the_page_size_setting() -> None:
    svc, stub = _stubbed("notification", "sqs", page_size=2)
    stub.add_response("list_queues", {"NextToken": "t"}, {"MaxResults": 2})
    stub.add_response("list_queues", {}, {"MaxResults": 2, "NextToken": "t"})
    assert list(svc.list_queues()) == []
    stub.assert_no_pending_responses()

    plat, eb = _stubbed("platform", "elasticbeanstalk", page_size=3)
    eb.add_response("describe_environments", {"Environments": []}, {"IncludeDeleted": False, "MaxRecords": 3})
    assert list(plat.list_environments()) == []
    eb.assert_no_pending_responses()


@pytest.mark.usefixtures("fake_credentials")
def test_sns_listings_leave_out_a_page_size_sns_does_not_take() -> None:
    svc, stub = _stubbed("notification", "sns", page_size=2)
    stub.add_response("list_topics", {"Topics": [{"TopicArn": "arn:aws:sns:us-east-1:123456789012:t1"}]}, {})
    stub.add_response("get_topic_attributes", {"Attributes": {}},
                      {"TopicArn": "arn:aws:sns:us-east-1:123456789012:t1"})
    assert [t.name for t in svc.list_topics()] == ["t1"]


@pytest.mark.usefixtures("fake_credentials")
def test_the_core_translates_errors_of_driver_calls_that_no_longer_map_them() -> None:
    svc, stub = _stubbed("database", "rds")
    stub.add_client_error("delete_db_snapshot", "DBSnapshotNotFound", "snapshot gone", 404)
    with pytest.raises(errors.NotFound) as caught:
        svc.delete_snapshot("snap-1")
    assert str(caught.value).startswith("database.delete_snapshot: snapshot gone")
    assert isinstance(caught.value.__cause__, bx.ClientError)


def test_the_aws_translator_declines_what_is_not_the_aws_stacks() -> None:
    mixin = aws_errors.AwsErrors()
    assert mixin.translate_error(KeyError("x"), "dns.get_zone") is None
    assert isinstance(mixin.translate_error(_client_error("NoSuchHostedZone", status=404), "dns.get_zone"), errors.NotFound)


def test_a_waiter_timeout_names_the_last_seen_state_and_deletes_nothing() -> None:
    from botocore.exceptions import WaiterError

    last = {"Reservations": [{"Instances": [{"InstanceId": "i-1", "State": {"Code": 0, "Name": "pending"}}]}],
            "ResponseMetadata": {"HTTPStatusCode": 200}}
    err = aws_errors.translate(WaiterError("InstanceRunning", "Max attempts exceeded", last), "compute.create_instance")
    assert isinstance(err, errors.Timeout)
    assert "last seen pending" in str(err) and "deletes nothing" in str(err)
    rds = {"DBInstances": [{"DBInstanceIdentifier": "db1", "DBInstanceStatus": "backing-up"}]}
    assert "last seen backing-up" in str(aws_errors.translate(WaiterError("DBInstanceAvailable", "Max attempts exceeded", rds), "x"))
    assert "state is unknown" in str(aws_errors.translate(WaiterError("W", "Max attempts exceeded", {}), "x"))
