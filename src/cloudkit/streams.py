"""Streaming helpers: turn what a user hands over into a reader, and wrap what a provider returns.

Providers never load a whole object into memory: uploads read through :func:`as_reader`, downloads
hand back an :class:`ObjectReader` that reads the provider's stream in chunks.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any, Union

from cloudkit.errors import CloudkitError, InvalidInput
from cloudkit.models.storage import ObjectInfo

#: What ``put_object`` accepts: bytes, a readable binary file object, or an iterable of bytes chunks.
Data = Union[bytes, bytearray, memoryview, IO[bytes], Iterable[bytes]]
#: Transfer progress: called with (bytes done so far, total bytes or None when unknown).
Progress = Callable[[int, Union[int, None]], None]

CHUNK = 1024 * 1024


class _IterReader(io.RawIOBase):
    """A read-only raw stream over an iterator of bytes chunks."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._it = iter(chunks)
        self._buf = b""

    def readable(self) -> bool:
        return True

    def readinto(self, b: Any) -> int:
        while not self._buf:
            try:
                chunk = next(self._it)
            except StopIteration:
                return 0
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise InvalidInput("data", f"iterables must yield bytes, not {type(chunk).__name__}")
            self._buf = bytes(chunk)
        n = min(len(b), len(self._buf))
        b[:n] = self._buf[:n]
        self._buf = self._buf[n:]
        return n


def as_reader(data: Any, field: str = "data") -> tuple[IO[bytes], int | None]:
    """Return ``(reader, size or None)`` for bytes, a binary file object or an iterable of bytes."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        raw = bytes(data)
        return io.BytesIO(raw), len(raw)
    if isinstance(data, str):
        raise InvalidInput(field, "must be bytes, a binary file object or an iterable of bytes, not str")
    if hasattr(data, "read"):
        if isinstance(data, io.TextIOBase):
            raise InvalidInput(field, "file objects must be opened in binary mode")
        size = None
        try:
            pos = data.tell()
            data.seek(0, io.SEEK_END)
            size = data.tell() - pos
            data.seek(pos)
        except (AttributeError, OSError, ValueError):
            size = None
        return data, size
    if isinstance(data, Iterable):
        return io.BufferedReader(_IterReader(data), CHUNK), None
    raise InvalidInput(field, f"must be bytes, a binary file object or an iterable of bytes, not {type(data).__name__}")


def iter_chunks(reader: IO[bytes], size: int = CHUNK) -> Iterator[bytes]:
    """Yield ``reader``'s bytes in chunks of at most ``size``."""
    while True:
        chunk = reader.read(size)
        if not chunk:
            return
        yield chunk


class ProgressReader(io.RawIOBase):
    """Wraps a reader and reports the bytes read through a :data:`Progress` callback."""

    def __init__(self, reader: IO[bytes], total: int | None, progress: Progress | None) -> None:
        self._reader = reader
        self._total = total
        self._progress = progress
        self.done = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        chunk = self._reader.read(size)
        if chunk:
            self.done += len(chunk)
            if self._progress:
                self._progress(self.done, self._total)
        return chunk

    def readinto(self, b: Any) -> int:
        chunk = self.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)


class ObjectReader(io.RawIOBase):
    """A downloaded object: a read-only binary stream plus its :class:`ObjectInfo`.

    Use it as a context manager, ``read()`` it, or iterate ``iter_chunks()``. Errors the
    provider's stream raises while reading are mapped through ``on_error`` to cloudkit errors.
    """

    def __init__(
        self,
        info: ObjectInfo,
        source: IO[bytes] | Iterable[bytes],
        *,
        on_error: Callable[[Exception], CloudkitError] | None = None,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.info = info
        self._src: Any = source if hasattr(source, "read") else io.BufferedReader(_IterReader(source), CHUNK)  # type: ignore[arg-type]
        self._on_error = on_error
        self._on_close = on_close

    def __repr__(self) -> str:
        return f"<ObjectReader {self.info.bucket}/{self.info.key} size={self.info.size}>"

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        try:
            data = self._src.read() if size is None or size < 0 else self._src.read(size)
        except CloudkitError:
            raise
        except Exception as exc:
            if self._on_error is None:
                raise
            raise self._on_error(exc) from exc
        return bytes(data)

    def readinto(self, b: Any) -> int:
        chunk = self.read(len(b))
        b[: len(chunk)] = chunk
        return len(chunk)

    def iter_chunks(self, size: int = CHUNK) -> Iterator[bytes]:
        """Yield the object's bytes in chunks of at most ``size``."""
        while True:
            chunk = self.read(size)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        if not self.closed:
            try:
                close = getattr(self._src, "close", None)
                if close:
                    close()
                if self._on_close:
                    self._on_close()
            finally:
                super().close()
