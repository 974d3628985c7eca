"""The one place the aws provider turns botocore/boto3 errors into cloudkit errors.

:data:`ERROR_CODES` is the table: every AWS error code a user of EC2, S3, Route 53, SNS, SQS, RDS,
Elastic Beanstalk, IAM and STS can meet, mapped once to a cloudkit error class. Codes not in the
table fall back on the HTTP status, then on :class:`~cloudkit.errors.ProviderError`. Transport
and client-side botocore errors (no credentials, no endpoint, bad parameters, waiters giving up)
are mapped in :func:`translate` as well. The native error is always kept as ``__cause__``; messages
are scrubbed of anything that looks like an access key or a signature.

Every aws service class inherits :class:`AwsErrors`, so the core applies :func:`translate` around
each driver call and each listing's iteration (see :mod:`cloudkit.provider`). :func:`mapped` is
kept for the few places where the message needs local context or an error must be caught and
acted upon inside the driver (a rollback, a background thread).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from cloudkit.errors import (
    AlreadyExists,
    AuthenticationError,
    CloudkitError,
    Conflict,
    InvalidInput,
    NotFound,
    NotSupported,
    PermissionDenied,
    ProviderError,
    QuotaExceeded,
    Throttled,
    Timeout,
)
from cloudkit.provider import TranslatedService

PROVIDER = "aws"

_NOT_FOUND = (
    # S3
    "NoSuchBucket", "NoSuchKey", "NoSuchUpload", "NoSuchVersion", "NoSuchLifecycleConfiguration",
    "NoSuchBucketPolicy", "NoSuchCORSConfiguration", "NoSuchTagSet", "NoSuchWebsiteConfiguration",
    "ReplicationConfigurationNotFoundError", "NotFound", "404",
    # EC2
    "InvalidAMIID.NotFound", "InvalidAMIID.Malformed", "InvalidAMIID.Unavailable",
    "InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed", "InvalidKeyPair.NotFound",
    "InvalidGroup.NotFound", "InvalidGroupId.Malformed", "InvalidVolume.NotFound",
    "InvalidVolumeID.Malformed", "InvalidSnapshot.NotFound", "InvalidSnapshotID.Malformed",
    "InvalidSubnetID.NotFound", "InvalidSubnetID.Malformed", "InvalidVpcID.NotFound",
    "InvalidVpcID.Malformed", "InvalidPermission.NotFound", "InvalidAttachment.NotFound",
    "InvalidZone.NotFound", "InvalidInstanceType", "InvalidAllocationID.NotFound",
    "InvalidAddress.NotFound", "InvalidNetworkInterfaceID.NotFound", "InvalidRouteTableID.NotFound",
    "InvalidInternetGatewayID.NotFound", "InvalidLaunchTemplateId.NotFound", "InvalidPlacementGroup.Unknown",
    # Route 53
    "NoSuchHostedZone", "NoSuchChange", "NoSuchHealthCheck", "NoSuchDelegationSet",
    "NoSuchTrafficPolicy", "NoSuchQueryLoggingConfig",
    # SNS / SQS
    "NotFoundException", "ResourceNotFound", "ResourceNotFoundException",
    "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",
    # RDS
    "DBInstanceNotFound", "DBInstanceNotFoundFault", "DBSnapshotNotFound", "DBSnapshotNotFoundFault",
    "DBClusterNotFoundFault", "DBClusterSnapshotNotFoundFault", "DBSubnetGroupNotFoundFault",
    "DBParameterGroupNotFound", "DBParameterGroupNotFoundFault", "DBSecurityGroupNotFound",
    "OptionGroupNotFoundFault", "PointInTimeRestoreNotEnabled", "DBInstanceAutomatedBackupNotFound",
    # IAM (instance profiles) and STS
    "NoSuchEntity", "NoSuchEntityException",
    # Elastic Beanstalk
    "SourceBundleDeletion", "S3LocationNotInServiceRegionException",
    # Elastic Load Balancing v2
    "LoadBalancerNotFound", "TargetGroupNotFound", "ListenerNotFound", "RuleNotFound", "SubnetNotFound",
    "CertificateNotFound", "InvalidTarget",
)

_ALREADY_EXISTS = (
    "BucketAlreadyExists", "BucketAlreadyOwnedByYou",
    "InvalidKeyPair.Duplicate", "InvalidGroup.Duplicate", "InvalidPermission.Duplicate",
    "InvalidAMIName.Duplicate", "InvalidSnapshot.InUse",
    "HostedZoneAlreadyExists", "ConflictingDomainExists", "DelegationSetAlreadyCreated",
    "HealthCheckAlreadyExists",
    "QueueAlreadyExists", "QueueNameExists",
    "DBInstanceAlreadyExists", "DBInstanceAlreadyExistsFault", "DBSnapshotAlreadyExists",
    "DBSnapshotAlreadyExistsFault", "DBClusterAlreadyExistsFault", "DBSubnetGroupAlreadyExists",
    "DBParameterGroupAlreadyExists",
    "EntityAlreadyExists", "EntityAlreadyExistsException", "ResourceAlreadyExistsException",
    "AlreadyExistsException",
    "DuplicateLoadBalancerName", "DuplicateTargetGroupName", "DuplicateListener", "DuplicateTagKeys",
)

_CONFLICT = (
    "BucketNotEmpty", "OperationAborted", "InvalidObjectState", "PreconditionFailed",
    "InvalidBucketState", "RestoreAlreadyInProgress", "412",
    "DependencyViolation", "IncorrectState", "IncorrectInstanceState", "VolumeInUse",
    "InvalidVolume.ZoneMismatch", "InvalidState", "IdempotentParameterMismatch",
    "InvalidInstanceID", "UnsupportedOperation.InstanceState", "InvalidAMIID.NotReady",
    "HostedZoneNotEmpty", "HostedZoneNotPrivate", "HostedZonePartiallyDelegated",
    "ConcurrentModification", "ConflictingTypes", "LastVPCAssociation", "HealthCheckInUse",
    "InvalidDBInstanceState", "InvalidDBInstanceStateFault", "InvalidDBSnapshotState",
    "InvalidDBSnapshotStateFault", "InvalidDBClusterStateFault", "InvalidDBSubnetGroupStateFault",
    "InvalidRestoreFault", "DBUpgradeDependencyFailure", "DeleteConflict",
    "OperationInProgressFailure", "OperationInProgress", "ConcurrentAccess", "ConflictException",
    "InvalidParameterValueException.Conflict", "409",
    "ResourceInUse", "TargetGroupAssociationLimit", "IncompatibleProtocols",
)

_INVALID = (
    "InvalidParameterValue", "InvalidParameterCombination", "InvalidParameter", "MissingParameter",
    "InvalidParameterException", "InvalidParameterValueException", "ValidationError",
    "ValidationException", "InvalidArgument", "InvalidRequest", "MalformedXML", "MalformedPolicy",
    "InvalidBucketName", "KeyTooLongError", "MetadataTooLarge", "InvalidRange", "InvalidDigest",
    "BadDigest", "InvalidPart", "InvalidPartOrder", "EntityTooSmall", "IncompleteBody",
    "InvalidStorageClass", "InvalidLocationConstraint", "IllegalLocationConstraintException",
    "InvalidTag", "InvalidUserData.Malformed", "InvalidBlockDeviceMapping", "InvalidKeyPair.Format",
    "InvalidKey.Format", "InvalidDevice.InUse", "InvalidIPAddress.InUse", "InvalidInput",
    "InvalidDomainName", "InvalidChangeBatch", "InvalidVPCId", "InvalidArgumentException",
    "InvalidParameterGroupStateFault", "InvalidDBParameterGroupState", "StorageTypeNotSupported",
    "InvalidVPCNetworkStateFault", "InvalidSubnet", "KMSKeyNotAccessibleFault",
    "InvalidQueryParameter", "MalformedQueryString", "InvalidAction.Format", "InvalidFilter",
    "InvalidPaginationToken", "InvalidNextToken", "TooManyTagsException", "400", "416",
    "InvalidConfigurationRequest", "InvalidScheme", "InvalidSecurityGroup", "UnsupportedProtocol",
)

_AUTH = (
    "InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidClientTokenId", "ExpiredToken",
    "ExpiredTokenException", "AuthFailure", "UnrecognizedClientException", "InvalidToken",
    "IncompleteSignature", "MissingAuthenticationToken", "RequestExpired", "InvalidSecurity",
    "TokenRefreshRequired", "InvalidSignatureException", "NotAuthorizedException", "401",
)

_DENIED = (
    "AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "Forbidden", "AllAccessDisabled",
    "OptInRequired", "AuthorizationError", "NotAuthorized", "AccountProblem", "Blocked",
    "InvalidObjectState.AccessDenied", "UnauthorizedAccess", "InsufficientPrivileges", "403",
)

_THROTTLED = (
    "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottledException",
    "TooManyRequestsException", "ProvisionedThroughputExceededException", "RequestLimitExceeded",
    "Request Limit Exceeded", "SlowDown", "PriorRequestNotComplete", "BandwidthLimitExceeded",
    "RequestThrottled", "EC2ThrottledException", "TransactionInProgressException", "429",
    "503",  # a bodiless 503 (S3 answers HEAD requests so when it means SlowDown)
)

_QUOTA = (
    "TooManyBuckets", "EntityTooLarge", "InstanceLimitExceeded", "VcpuLimitExceeded",
    "InsufficientInstanceCapacity", "MaxSpotInstanceCountExceeded", "VolumeLimitExceeded",
    "SnapshotLimitExceeded", "AddressLimitExceeded", "RulesPerSecurityGroupLimitExceeded",
    "SecurityGroupLimitExceeded", "ResourceLimitExceeded", "KeyPairLimitExceeded", "LimitExceeded",
    "LimitExceededException", "TooManyHostedZones", "TooManyHealthChecks", "TooManyTrafficPolicies",
    "TooManyVPCAssociationAuthorizations", "InstanceQuotaExceeded", "InstanceQuotaExceededFault",
    "StorageQuotaExceeded", "StorageQuotaExceededFault", "SnapshotQuotaExceeded",
    "SnapshotQuotaExceededFault", "DBSubnetGroupQuotaExceeded", "InsufficientDBInstanceCapacity",
    "InsufficientDBInstanceCapacityFault", "TopicLimitExceeded", "SubscriptionLimitExceeded",
    "FilterPolicyLimitExceeded", "OverLimit", "TooManyApplications", "TooManyApplicationsException",
    "TooManyApplicationVersions", "TooManyApplicationVersionsException", "TooManyEnvironments",
    "TooManyEnvironmentsException", "TooManyConfigurationTemplates",
    "TooManyConfigurationTemplatesException", "TooManyBucketsException",
    "ServiceQuotaExceededException",
    "TooManyLoadBalancers", "TooManyTargetGroups", "TooManyListeners", "TooManyTargets", "TooManyRegistrationsForTargetId",
    "TooManyCertificates", "TooManyRules", "TooManyActions",
)

_TIMEOUT = ("RequestTimeout", "RequestTimeoutException", "RequestTimeTooSkewed", "408", "504")

_UNSUPPORTED = (
    "NotImplemented", "UnsupportedOperation", "InvalidAction", "UnknownOperationException",
    "UnsupportedOperationException", "501",
)

_PROVIDER = (
    "InternalError", "InternalFailure", "ServiceUnavailable", "ServiceUnavailableException",
    "Unavailable", "InternalServerError", "500", "502",
)

#: The table: AWS error code -> cloudkit error class (one entry per code).
ERROR_CODES: dict[str, type[CloudkitError]] = {}
for _codes, _cls in (
    (_NOT_FOUND, NotFound),
    (_ALREADY_EXISTS, AlreadyExists),
    (_CONFLICT, Conflict),
    (_INVALID, InvalidInput),
    (_AUTH, AuthenticationError),
    (_DENIED, PermissionDenied),
    (_THROTTLED, Throttled),
    (_QUOTA, QuotaExceeded),
    (_TIMEOUT, Timeout),
    (_UNSUPPORTED, NotSupported),
    (_PROVIDER, ProviderError),
):
    for _code in _codes:
        if _code in ERROR_CODES:  # pragma: no cover - guards the table itself
            raise RuntimeError(f"AWS error code {_code} listed twice")
        ERROR_CODES[_code] = _cls

#: Codes whose meaning depends on the message (Route 53 reports both kinds as InvalidChangeBatch).
_BY_MESSAGE: tuple[tuple[str, str, type[CloudkitError]], ...] = (
    ("InvalidChangeBatch", "not found", NotFound),
    ("InvalidChangeBatch", "conflicts with other records", Conflict),  # a CNAME beside other data
    ("InvalidChangeBatch", "a conflicting rrset", Conflict),
    ("InvalidChangeBatch", "already exists", AlreadyExists),
    ("InvalidInput", "found none in change with [action=delete", NotFound),  # moto's word for the same
    ("InvalidParameterValue", "already exists", AlreadyExists),
    ("InvalidParameterValue", "does not exist", NotFound),
    ("InvalidParameterValue", "no application", NotFound),
    ("InvalidParameterValue", "no environment", NotFound),
    ("InvalidParameterValue", "no application version", NotFound),
    ("InvalidParameterValue", "no configuration template", NotFound),
    # Elastic Beanstalk: an environment busy with another operation, a version still deployed
    ("InvalidParameterValue", "invalid state for this operation", Conflict),
    ("InvalidParameterValue", "is being used by", Conflict),
    ("ValidationError", "does not exist", NotFound),
    ("InvalidParameter", "does not exist", NotFound),
)

_KEY_ID = re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA|AGPA)[A-Z0-9]{12,}\b")
_SIGNED_PARAM = re.compile(r"(?i)\b(x-amz-signature|signature|x-amz-credential|x-amz-security-token|awsaccesskeyid)=[^&\s]+")
_SIGNING_XML = re.compile(r"(?is)<(StringToSign|CanonicalRequest|SignatureProvided|StringToSignBytes)>.*?</\1>")
_SECRET_40 = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def scrub(text: str) -> str:
    """``text`` with access key ids, signatures and 40-character secrets replaced by ``***``."""
    text = _SIGNING_XML.sub(lambda m: f"<{m.group(1)}>***</{m.group(1)}>", text)
    text = _SIGNED_PARAM.sub(lambda m: f"{m.group(1)}=***", text)
    text = _KEY_ID.sub("***", text)
    return _SECRET_40.sub("***", text)


def error_class(code: str, message: str = "", status: int | None = None) -> type[CloudkitError]:
    """The cloudkit error class for an AWS error ``code`` (with its ``message`` and HTTP ``status``)."""
    lowered = message.lower()
    for c, needle, cls in _BY_MESSAGE:
        if c == code and needle in lowered:
            return cls
    found = ERROR_CODES.get(code)
    if found is None and "." in code:
        base, _, suffix = code.partition(".")
        found = {"NotFound": NotFound, "Malformed": NotFound, "Duplicate": AlreadyExists, "InUse": Conflict}.get(suffix)
        found = found or ERROR_CODES.get(base)
    if found is None and code.endswith(("NotFound", "NotFoundFault", "NotFoundException")):
        found = NotFound
    if found is None and code.endswith(("AlreadyExists", "AlreadyExistsFault", "AlreadyExistsException")):
        found = AlreadyExists
    if found is None and code.endswith(("QuotaExceeded", "QuotaExceededFault", "LimitExceeded")):
        found = QuotaExceeded
    if found is None and status is not None:
        found = ERROR_CODES.get(str(status))
        if found is None and 400 <= status < 500:
            found = InvalidInput
    return found or ProviderError


def _make(cls: type[CloudkitError], operation: str, message: str, code: str | None, retry_after: float | None = None) -> CloudkitError:
    text = scrub(message)
    if cls is InvalidInput:
        return InvalidInput(operation, text, provider=PROVIDER)
    if cls is NotSupported:
        return NotSupported(PROVIDER, operation, text)
    if cls is Throttled:
        return Throttled(f"{operation}: {text}", provider=PROVIDER, code=code, retry_after=retry_after)
    return cls(f"{operation}: {text}", provider=PROVIDER, code=code)


def _from_client_error(exc: Any, operation: str) -> CloudkitError:
    return _from_response(getattr(exc, "response", None) or {}, operation)


def _from_response(response: Any, operation: str) -> CloudkitError:
    err = response.get("Error") or {}
    meta = response.get("ResponseMetadata") or {}
    status = meta.get("HTTPStatusCode")
    code = str(err.get("Code") or status or "Unknown")
    message = str(err.get("Message") or "") or _DEFAULT_TEXT.get(code, f"failed with {code}")
    cls = error_class(code, message, status)
    retry_after: float | None = None
    if cls is Throttled:
        header = (meta.get("HTTPHeaders") or {}).get("retry-after")
        try:
            retry_after = None if header is None else float(header)
        except ValueError:
            retry_after = None
    return _make(cls, operation, f"{message} ({code})", code, retry_after)


_DEFAULT_TEXT = {
    "404": "not found",
    "NotFound": "not found",
    "403": "access denied",
    "400": "bad request",
    "412": "precondition failed",
    "416": "the requested range is not satisfiable",
}


_STATE_KEYS = ("DBInstanceStatus", "Status", "State", "VolumeState")


def last_state(response: Any) -> str | None:
    """The first resource state in a describe answer (``State.Name``, ``Status``, ``DBInstanceStatus``...)."""
    queue = [response]
    while queue:
        item = queue.pop(0)
        if isinstance(item, dict):
            for key in _STATE_KEYS:
                value = item.get(key)
                if isinstance(value, dict) and isinstance(value.get("Name"), str):
                    return str(value["Name"])
                if isinstance(value, str) and value:
                    return value
            queue.extend(v for k, v in item.items() if k != "ResponseMetadata")
        elif isinstance(item, list):
            queue.extend(item)
    return None


#: Set in a call's request context once one of its attempts failed after AWS received the request,
#: then on every later attempt's parsed answer (``ResponseMetadata``) or exception, so that the
#: error of the call's last attempt carries it (see :func:`note_attempt`).
MAYBE_APPLIED = "cloudkit_may_have_been_applied"

#: Appended to the message of an error whose call may have taken effect.
MAYBE_APPLIED_TEXT = (
    "The call failed after its request was sent, so its effect may have been applied: "
    "check the resource before repeating a call that is not idempotent."
)


def _answer_reached(status: int, parsed: Any) -> bool:
    """Whether an error answer means AWS may have acted on the request (a 5xx that is not throttling)."""
    if status < 500:
        return False
    code = str(((parsed if isinstance(parsed, dict) else {}).get("Error") or {}).get("Code") or status)
    return error_class(code, "", status) is not Throttled  # a service that throttles has not processed it


def _exception_reached(exc: BaseException) -> bool:
    """Whether a transport failure came after the request was sent (connection closed, read timeout)."""
    import botocore.exceptions as bx

    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectTimeoutError, bx.ProxyConnectionError, bx.SSLError)):
        return False  # never connected: nothing was sent
    return isinstance(exc, (bx.HTTPClientError, OSError))


def _reached_server(response: Any, caught_exception: BaseException | None) -> bool:
    """Whether one attempt (its ``(http, parsed)`` answer or its exception) failed after AWS may have acted."""
    if caught_exception is not None:
        return _exception_reached(caught_exception)
    if not response:
        return False
    http, parsed = response
    return _answer_reached(getattr(http, "status_code", 0) or 0, parsed)


def note_attempt(request_dict: Any = None, response: Any = None, caught_exception: BaseException | None = None,
                 **_: Any) -> None:
    """botocore ``needs-retry`` handler: remember that a call may have been applied (never decides a retry).

    Registered on every client by :class:`~cloudkit_aws._session.AwsSession`; the flag goes to the
    request context, shared by all attempts of one call, and from there onto the current attempt's
    parsed answer or exception, which become the call's error if this attempt is its last.
    """
    context = (request_dict or {}).get("context")
    if context is None:
        return
    if _reached_server(response, caught_exception):
        context[MAYBE_APPLIED] = True
    if not context.get(MAYBE_APPLIED):
        return
    if caught_exception is not None:
        try:
            setattr(caught_exception, MAYBE_APPLIED, True)
        except AttributeError:  # pragma: no cover - exceptions with slots
            pass
    elif response and isinstance(response[1], dict):
        response[1].setdefault("ResponseMetadata", {})[MAYBE_APPLIED] = True


def _maybe_applied(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:  # s3transfer wraps botocore's error
        seen.add(id(current))
        if getattr(current, MAYBE_APPLIED, False):
            return True
        response = getattr(current, "response", None)
        if isinstance(response, dict):
            meta = response.get("ResponseMetadata") or {}
            if meta.get(MAYBE_APPLIED):
                return True
            if _answer_reached(int(meta.get("HTTPStatusCode") or 0), response):  # the last attempt's own answer
                return True
        elif _native(current) and _exception_reached(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def translate(exc: BaseException, operation: str) -> CloudkitError:
    """The cloudkit error for a native ``exc`` raised while doing ``operation``.

    When the call may have been applied before it failed (see :func:`note_attempt`) the error's
    ``may_have_been_applied`` is ``True`` and its message says so.
    """
    error = _translate(exc, operation)
    if not isinstance(exc, CloudkitError) and _maybe_applied(exc):
        error.may_have_been_applied = True
        if MAYBE_APPLIED_TEXT not in error.message:
            error.message = f"{error.message.rstrip('.')}. {MAYBE_APPLIED_TEXT}"
            error.args = (error.message,)
    return error


def _translate(exc: BaseException, operation: str) -> CloudkitError:
    if isinstance(exc, CloudkitError):
        return exc
    import botocore.exceptions as bx

    if isinstance(exc, bx.ClientError):
        return _from_client_error(exc, operation)
    if isinstance(exc, bx.WaiterError):
        last = getattr(exc, "last_response", None) or {}
        if "Error" in last and "Max attempts exceeded" not in str(exc):
            return _from_response(last, operation)
        if "terminal failure state" in str(exc):
            return Conflict(f"{operation}: the resource reached a state it cannot leave for the one awaited",
                            provider=PROVIDER, code="WaiterFailure")
        state = last_state(last)
        seen = f"it was last seen {state}" if state else "its state is unknown"
        return Timeout(f"{operation}: gave up waiting ({scrub(str(exc))}); {seen} and is "
                       "left as it is (a timeout deletes nothing)", provider=PROVIDER)
    if isinstance(exc, (bx.NoCredentialsError, bx.PartialCredentialsError, bx.CredentialRetrievalError,
                        bx.NoAuthTokenError, bx.TokenRetrievalError, bx.SSOError, bx.UnauthorizedSSOTokenError)):
        return AuthenticationError(
            f"{operation}: no usable AWS credentials ({type(exc).__name__}); configure boto3's chain "
            "(environment, ~/.aws files, SSO or an instance role)", provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, bx.ProfileNotFound):
        return InvalidInput("profile", f"AWS profile not found ({scrub(str(exc))})", provider=PROVIDER)
    if isinstance(exc, bx.NoRegionError):
        return InvalidInput("region", "no region in settings nor in the AWS configuration chain", provider=PROVIDER)
    if isinstance(exc, (bx.ParamValidationError, bx.InvalidS3AddressingStyleError, bx.InvalidRegionError,
                        bx.InvalidEndpointConfigurationError)):
        return InvalidInput(operation, scrub(str(exc)), provider=PROVIDER)
    if isinstance(exc, (bx.ConnectTimeoutError, bx.ReadTimeoutError)):
        return Timeout(f"{operation}: the AWS endpoint did not answer in time", provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, (bx.EndpointConnectionError, bx.ConnectionClosedError, bx.ProxyConnectionError,
                        bx.SSLError, bx.HTTPClientError)):
        return ProviderError(f"{operation}: could not reach the AWS endpoint ({type(exc).__name__}: {scrub(str(exc))})",
                             provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, bx.UnknownServiceError):
        return NotSupported(PROVIDER, operation, "this botocore does not know the service")
    try:
        import boto3.exceptions as b3x
        from s3transfer.exceptions import RetriesExceededError as TransferRetries
    except ImportError:  # pragma: no cover
        pass
    else:
        if isinstance(exc, (b3x.S3UploadFailedError, b3x.S3TransferFailedError, b3x.RetriesExceededError, TransferRetries)):
            inner = exc.__cause__ or exc.__context__ or getattr(exc, "last_exception", None)
            if isinstance(inner, Exception) and not isinstance(inner, type(exc)):
                return translate(inner, operation)
            code_match = re.search(r"An error occurred \(([^)]+)\)", str(exc))
            if code_match:
                cls = error_class(code_match.group(1))
                return _make(cls, operation, str(exc), code_match.group(1))
            return ProviderError(f"{operation}: {scrub(str(exc))}", provider=PROVIDER)
    if isinstance(exc, bx.BotoCoreError):
        return ProviderError(f"{operation}: {scrub(str(exc))}", provider=PROVIDER, code=type(exc).__name__)
    if isinstance(exc, OSError):
        return ProviderError(f"{operation}: {exc.strerror or exc}", provider=PROVIDER, code=type(exc).__name__)
    return ProviderError(f"{operation}: {type(exc).__name__}: {scrub(str(exc))}", provider=PROVIDER)


def _native(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.split(".")[0] in ("botocore", "boto3", "s3transfer", "urllib3")


class AwsErrors(TranslatedService):
    """Mixin of every aws service: botocore/boto3/s3transfer/urllib3 errors and ``OSError`` translated by the core."""

    def translate_error(self, exc: BaseException, operation: str) -> CloudkitError | None:
        """:func:`translate` for the AWS stack's errors; ``None`` for anything else (a driver bug)."""
        if _native(exc) or isinstance(exc, OSError):
            return translate(exc, operation)
        return None


@contextmanager
def mapped(operation: str) -> Iterator[None]:
    """Run a block (or decorate a function), re-raising native AWS errors as cloudkit errors.

    botocore, boto3, s3transfer and urllib3 errors and ``OSError`` become cloudkit errors with the
    native error as ``__cause__``; cloudkit errors pass through untouched.
    """
    try:
        yield
    except CloudkitError:
        raise
    except Exception as exc:
        if _native(exc) or isinstance(exc, OSError):
            raise translate(exc, operation) from exc
        raise
