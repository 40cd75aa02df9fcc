"""The byte stream under the reader: read in bounded chunks, checksummed as it is consumed.

Memory is bounded by the chunk size plus the largest thing the reader asks to hold at once (a key
name, a container header, a container capped by the reader). Skipping a value reads through it in
chunks (each one checksummed and dropped), or seeks when the checksum is not verified and the stream
can seek: a 500 MB value never sits in memory.
"""

from __future__ import annotations

import io
import struct
from typing import Protocol

from redis_audit.rdb.crc64 import crc64
from redis_audit.rdb.errors import CorruptRdb, TruncatedRdb

CHUNK = 1 << 20


class Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes | None: ...


class Source:
    """``buf[pos:]`` is what has been read but not consumed; ``base`` is the file offset of ``buf[0]``.

    Everything before ``pos`` is consumed: it is folded into the CRC (from ``crc_from``) before it is dropped.
    """

    def __init__(self, stream: Readable, *, verify: bool = True, chunk: int = CHUNK) -> None:
        self.stream = stream
        self.verify = verify
        self.chunk = chunk
        self.buf = b""
        self.pos = 0
        self.base = 0
        self.crc = 0
        self.crc_from = 0
        self.exhausted = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def available(self) -> int:
        return len(self.buf) - self.pos

    def fill(self, want: int) -> None:
        """Have at least ``want`` unconsumed bytes in buf, unless the stream ends first (no error here)."""
        if len(self.buf) - self.pos >= want or self.exhausted:
            return
        self._checksum_consumed()
        parts = [self.buf[self.pos:]]
        have = len(parts[0])
        self.base += self.pos
        self.pos = 0
        self.crc_from = 0
        target = max(want, self.chunk)
        while have < target:
            data = self.stream.read(max(target - have, self.chunk))
            if not data:
                self.exhausted = True
                break
            parts.append(data)
            have += len(data)
        self.buf = b"".join(parts)

    def need(self, n: int) -> None:
        """Have n unconsumed bytes, or raise TruncatedRdb."""
        if len(self.buf) - self.pos < n:
            self.fill(n)
            if len(self.buf) - self.pos < n:
                raise TruncatedRdb(f"file ends {n - self.available()} bytes into a {n}-byte read",
                                   self.base + len(self.buf))

    def take(self, n: int) -> bytes:
        self.need(n)
        data = self.buf[self.pos:self.pos + n]
        self.pos += n
        return data

    def u8(self) -> int:
        self.need(1)
        value = self.buf[self.pos]
        self.pos += 1
        return value

    def unpack(self, fmt: struct.Struct) -> tuple[int, ...]:
        self.need(fmt.size)
        values = fmt.unpack_from(self.buf, self.pos)
        self.pos += fmt.size
        return values

    def skip(self, n: int) -> None:
        """Consume n bytes without keeping them: through the buffer, then the stream in chunks (or a seek)."""
        if n <= len(self.buf) - self.pos:
            self.pos += n
            return
        if n < 0:
            raise CorruptRdb(f"negative length {n}", self.offset)
        remaining = n - (len(self.buf) - self.pos)
        self.pos = len(self.buf)
        self._checksum_consumed()
        self.base += len(self.buf)
        self.buf, self.pos, self.crc_from = b"", 0, 0
        if not self.verify and self._seek_past(remaining):
            return
        while remaining > 0:
            data = self.stream.read(min(remaining, self.chunk)) if not self.exhausted else b""
            if not data:
                self.exhausted = True
                raise TruncatedRdb(f"file ends {remaining} bytes before the end of a {n}-byte value",
                                   self.base)
            if len(data) > remaining:  # a stream may return more than asked: keep the rest
                self.buf = data
                self.pos = remaining
                return
            if self.verify:
                self.crc = crc64(data, self.crc)
            self.base += len(data)
            remaining -= len(data)

    def _seek_past(self, remaining: int) -> bool:
        seekable = getattr(self.stream, "seekable", None)
        if not (callable(seekable) and seekable()):
            return False
        stream = self.stream
        assert isinstance(stream, io.IOBase)
        here = stream.tell()
        end = stream.seek(0, io.SEEK_END)
        if here + remaining > end:
            stream.seek(end)
            self.exhausted = True
            self.base = end
            raise TruncatedRdb(f"file ends {here + remaining - end} bytes before the end of a value", end)
        stream.seek(here + remaining)
        self.base += remaining
        return True

    def _checksum_consumed(self) -> None:
        if self.verify and self.pos > self.crc_from:
            self.crc = crc64(memoryview(self.buf)[self.crc_from:self.pos], self.crc)
        self.crc_from = self.pos

    def checksum_through(self) -> int:
        """The CRC of every byte consumed so far."""
        self._checksum_consumed()
        return self.crc
