"""Streaming for the local provider's storage: copying bytes into object files and reading them back.

:func:`_copy_stream` copies any readable stream into a file descriptor while hashing it;
:func:`_parallel_copy` copies a file in parts on several threads (kernel copies where the file
system allows) and returns the S3 multipart ETag; :class:`_Slice` reads a byte range of an object
file with ``pread``.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import os
import threading
from typing import IO, TYPE_CHECKING, Any

from cloudkit.errors import InvalidInput
from cloudkit.streams import Progress
from cloudkit_local._hashing import _Hasher, multipart_etag

if TYPE_CHECKING:  # imported by _parallel_copy when it runs: slow to import, needed only for big files
    from concurrent.futures import Future

#: Bytes moved per read/write while streaming.
CHUNK = 8 * 1024 * 1024
#: Part size of parallel uploads (boto3's default multipart chunk size).
PART_SIZE = 8 * 1024 * 1024


class _Slice(io.RawIOBase):
    """A read-only stream over ``length`` bytes of an open file from ``start`` (uses ``pread``)."""

    def __init__(self, fh: IO[bytes], start: int, length: int) -> None:
        self._fh = fh
        self._pos = start
        self._left = length

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        n = min(len(b), self._left)
        if n <= 0:
            return 0
        data = os.pread(self._fh.fileno(), n, self._pos)
        b[: len(data)] = data
        self._pos += len(data)
        self._left -= len(data)
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._fh.close()
        super().close()


def _copy_stream(reader: IO[bytes], fd: int, size_hint: int | None = None) -> tuple[int, str]:
    """Copy ``reader`` into file descriptor ``fd``; return (bytes, hex MD5).

    Memory stays at two buffers of at most :data:`CHUNK`: they start small (or at the known
    size) and double while reads keep filling them, so small objects stay cheap.
    """
    hasher = _Hasher()
    first = CHUNK if size_hint is None else max(1, min(CHUNK, size_hint + 1))
    cap = min(first, 64 * 1024) if size_hint is None else first
    bufs: list[bytearray] = [bytearray(cap), bytearray(0)]
    readinto = getattr(reader, "readinto", None)
    size = 0
    turn = 0
    try:
        while True:
            view: memoryview | bytes
            if readinto is not None:
                hasher.wait()  # the buffer we are about to reuse may still be hashing
                if len(bufs[turn]) < cap:
                    bufs[turn] = bytearray(cap)
                buf = bufs[turn]
                n = readinto(buf)
                if not n:
                    break
                view = memoryview(buf)[:n]
                turn ^= 1
                if n == len(buf) and cap < CHUNK:
                    cap = min(CHUNK, cap * 2)
            else:
                data = reader.read(CHUNK)
                if not data:
                    break
                if not isinstance(data, (bytes, bytearray, memoryview)):
                    raise InvalidInput("data", f"read() must return bytes, not {type(data).__name__}")
                view = bytes(data)
            hasher.feed(view)
            done = 0
            while done < len(view):
                done += os.write(fd, view[done:])
            size += len(view)
        return size, hasher.hexdigest()
    finally:
        hasher.close()


def _start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing a hashed part to disk now, so the fsync at the end of the upload waits less.

    On Linux ``POSIX_FADV_DONTNEED`` starts asynchronous write-back of the range's dirty pages
    (and drops the clean ones, which are no longer needed once hashed). It is only a hint: the
    upload's durability still comes from the ``fsync`` before the object is committed.
    """
    advise = getattr(os, "posix_fadvise", None)
    if advise is not None:
        with contextlib.suppress(OSError):
            advise(fd, offset, length, os.POSIX_FADV_DONTNEED)


def _parallel_copy(src: int, dst: int, size: int, progress: Progress | None) -> tuple[int, str]:
    """Copy ``size`` bytes of file ``src`` to file ``dst`` in parts on a few threads; S3 multipart ETag.

    Each worker copies its part in the kernel (``copy_file_range``, no user-space copy) and then
    hashes the part it *wrote*, read back from the page cache into a buffer it reuses, so the ETag
    describes exactly the stored bytes; then it starts that part's write-back to disk, which
    overlaps the hashing of the next parts instead of all waiting for the final ``fsync``. All of
    it releases the GIL; memory stays at one part per worker.
    """
    parts = (size + PART_SIZE - 1) // PART_SIZE
    workers = max(1, min(4, os.cpu_count() or 1))
    local = threading.local()

    def part(i: int) -> tuple[bytes, int]:
        buf = getattr(local, "buf", None)
        if buf is None:
            buf = local.buf = bytearray(PART_SIZE)
        offset = i * PART_SIZE
        length = min(PART_SIZE, size - offset)
        done = 0
        try:
            while done < length:
                n = os.copy_file_range(src, dst, length - done, offset + done, offset + done)
                if n == 0:
                    break
                done += n
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            n = os.preadv(src, [memoryview(buf)[done:length]], offset + done)
            view = memoryview(buf)[done : done + n]
            wrote = 0
            while wrote < n:
                wrote += os.pwrite(dst, view[wrote:], offset + done + wrote)
            done += n
        if done != length:
            raise OSError(errno.EIO, "the file shrank while it was being uploaded")
        got = os.preadv(dst, [memoryview(buf)[:length]], offset)
        if got != length:
            raise OSError(errno.EIO, "short read of the part just written")
        digest = hashlib.md5(memoryview(buf)[:length]).digest()
        _start_writeback(dst, offset, length)
        return digest, length

    digests: list[bytes] = []
    copied = 0
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(workers, thread_name_prefix="cloudkit-upload") as pool:
        inflight: list[Future[tuple[bytes, int]]] = []
        next_part = 0
        while len(digests) < parts:
            while next_part < parts and len(inflight) < 2 * workers:
                inflight.append(pool.submit(part, next_part))
                next_part += 1
            digest, n = inflight.pop(0).result()
            digests.append(digest)
            copied += n
            if progress is not None:
                progress(copied, size)
    return copied, multipart_etag(digests)
