"""Why a file could not be read as a whole RDB: one line, with the byte offset, and how far the reading got.

A reader that raises one of these has not read the whole file: whatever it folded so far is partial
(``keys_read`` says how much), and must never be presented as a complete census.
"""

from __future__ import annotations


class RdbError(Exception):
    """The file is not a complete, valid RDB. ``str()`` is one line: what, and at which byte offset."""

    def __init__(self, reason: str, offset: int, keys_read: int = 0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.offset = offset
        self.keys_read = keys_read

    def __str__(self) -> str:
        return f"{self.reason} at byte offset {self.offset} ({self.keys_read} keys read before it)"


class NotAnRdb(RdbError):
    """The file does not start with an RDB signature (REDIS0nnn or VALKEYnnn)."""


class UnsupportedRdb(RdbError):
    """A valid-looking construct this reader does not know: an unknown version, opcode or value type."""


class CorruptRdb(RdbError):
    """Bytes that no server writes: a bad length encoding, a length past its container, a bad marker."""


class TruncatedRdb(RdbError):
    """The file ends before the RDB does (before the EOF opcode and its checksum)."""


class ChecksumMismatch(RdbError):
    """Every byte parsed, but the CRC-64 at the end does not match the file's contents."""
