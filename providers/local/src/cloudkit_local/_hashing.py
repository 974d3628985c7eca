"""Hashing for the local provider's storage: MD5 ETags as S3 computes them.

A single-part object's ETag is the hex MD5 of its bytes; a multipart object's is the hex MD5 of
the concatenated binary MD5s of its parts, ``-`` and the number of parts.
"""

from __future__ import annotations

import contextlib
import hashlib
from typing import TYPE_CHECKING

# concurrent.futures is imported when a big write needs the thread (it is slow to import).
if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor


class _Hasher:
    """MD5 of a stream, computed on a second thread so hashing overlaps the disk writes."""

    def __init__(self) -> None:
        self.md5 = hashlib.md5()
        self._pool: ThreadPoolExecutor | None = None
        self._job: Future[None] | None = None

    def feed(self, data: bytes | memoryview) -> None:
        self.wait()
        if len(data) < 256 * 1024:
            self.md5.update(data)
            return
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="cloudkit-md5")
        self._job = self._pool.submit(self.md5.update, data)

    def wait(self) -> None:
        if self._job is not None:
            job, self._job = self._job, None
            job.result()

    def hexdigest(self) -> str:
        self.wait()
        return self.md5.hexdigest()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.wait()
        if self._pool is not None:
            self._pool.shutdown(wait=True)


def multipart_etag(digests: list[bytes]) -> str:
    """The S3 ETag of an object stored in parts whose binary MD5s are ``digests``, in order."""
    return f"{hashlib.md5(b''.join(digests)).hexdigest()}-{len(digests)}"
