"""Add-ons built only on cloudkit's provider-neutral API, so each works on every provider.

* :mod:`cloudkit_contrib.backup`: full, incremental and differential folder backups into a bucket,
  point-in-time restore, chain-aware retention, bucket lifecycle rules, and DNS zone backups.
* :mod:`cloudkit_contrib.bootstrap`: cloud-init user data that fetches a bootstrap script and its
  files from a bucket through presigned URLs, checks their SHA-256 and runs the script.

Both raise only :class:`cloudkit.CloudkitError` subclasses: the provider's errors as cloudkit maps
them, plus the two below for what happens on this machine's disk and in stored bytes.
"""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Iterator

from cloudkit.errors import CloudkitError

__version__ = "0.1.0"
__all__ = ["IntegrityError", "LocalFileError"]


class LocalFileError(CloudkitError):
    """A local file or folder could not be read or written; the native error is kept as ``__cause__``."""


class IntegrityError(CloudkitError):
    """Stored bytes do not match their manifest or hash (a corrupt, truncated or tampered copy)."""


@contextlib.contextmanager
def _local(action: str) -> Iterator[None]:
    """The one place this package turns local file-system errors into cloudkit errors."""
    try:
        yield
    except CloudkitError:
        raise
    except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        where = f"{exc.filename}: " if isinstance(exc, OSError) and exc.filename else ""
        raise LocalFileError(f"{action}: {where}{reason}") from exc
