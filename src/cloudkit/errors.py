"""The one error hierarchy of cloudkit.

Every failure a user can meet is a :class:`CloudkitError`. Providers map their native errors
(botocore, libcloud, sqlite3, OSError, ...) into these classes in one place each, keeping the
native error as ``__cause__``. Messages never contain secrets.
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "AuthenticationError",
    "CloudkitError",
    "ConfigError",
    "Conflict",
    "InvalidInput",
    "NotFound",
    "NotSupported",
    "PermissionDenied",
    "ProviderError",
    "QuotaExceeded",
    "Throttled",
    "Timeout",
]


class CloudkitError(Exception):
    """Base class of every error cloudkit raises.

    ``provider`` names the provider that failed (when known); ``code`` keeps the provider's own
    error code (for example ``NoSuchBucket``) for callers that need it.
    """

    #: ``True`` when the call failed after the provider received it, so its effect may have been
    #: applied (a connection lost after sending, a server error); the message says so too.
    may_have_been_applied: bool = False

    def __init__(self, message: str, *, provider: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.code = code

    def __str__(self) -> str:
        return self.message


class NotFound(CloudkitError):
    """The resource does not exist (or is not visible to these credentials)."""


class AlreadyExists(CloudkitError):
    """A resource with that name or id already exists."""


class Conflict(CloudkitError):
    """The resource is in a state that does not allow the operation (not empty, busy, ...)."""


class InvalidInput(CloudkitError, ValueError):
    """Input was rejected before any network or disk access.

    ``field`` names the offending argument and ``rule`` the rule it broke.
    """

    def __init__(self, field: str, rule: str, *, provider: str | None = None) -> None:
        super().__init__(f"{field}: {rule}", provider=provider)
        self.field = field
        self.rule = rule


class ConfigError(InvalidInput):
    """The configuration file is malformed or names something that does not exist."""

    def __init__(self, path: str, rule: str, *, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line else path
        super().__init__(where, rule)
        self.path = path
        self.line = line


class AuthenticationError(CloudkitError):
    """Credentials are missing, invalid or expired."""


class PermissionDenied(CloudkitError):
    """Credentials are valid but not allowed to do this."""


class Throttled(CloudkitError):
    """The provider is rate limiting; ``retry_after`` (seconds) is set when the provider said."""

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        code: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, provider=provider, code=code)
        self.retry_after = retry_after


class QuotaExceeded(CloudkitError):
    """An account or service limit was reached."""


class Timeout(CloudkitError):
    """A wait or a call did not finish in the time allowed."""


class NotSupported(CloudkitError):
    """The provider does not offer this operation (or this family)."""

    def __init__(self, provider: str, operation: str, reason: str | None = None) -> None:
        text = f"{provider} does not support {operation}"
        if reason:
            text += f": {reason}"
        super().__init__(text, provider=provider)
        self.operation = operation
        self.reason = reason


class ProviderError(CloudkitError):
    """Any other provider failure; the native error is kept as ``__cause__``."""
