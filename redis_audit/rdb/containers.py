"""Element counts of the serialized containers Redis stores as one blob: listpack, ziplist, intset, zipmap.

The count is in the header (a few bytes), except when it saturated (listpack: 65535, ziplist: 65535,
zipmap: 254), when the entries are walked. A walk never trusts a length past the blob: corrupt input
raises ``ContainerError`` instead of reading beyond it or looping.
"""

from __future__ import annotations

import struct

LISTPACK_HEADER = 6  # total bytes (u32) + number of elements (u16)
ZIPLIST_HEADER = 10  # total bytes (u32) + tail offset (u32) + number of entries (u16)
INTSET_HEADER = 8  # encoding (u32) + length (u32)
ZIPMAP_HEADER = 1
HEADER_BYTES = max(LISTPACK_HEADER, ZIPLIST_HEADER, INTSET_HEADER)
SATURATED = 0xFFFF
ZIPMAP_SATURATED = 254


class ContainerError(ValueError):
    """The blob is not a well-formed container of its kind."""


def listpack_count(header: bytes) -> int:
    """The element count from a listpack header, or -1 when it saturated (walk the entries)."""
    if len(header) < LISTPACK_HEADER:
        raise ContainerError("listpack shorter than its header")
    count: int = struct.unpack_from("<H", header, 4)[0]
    return -1 if count == SATURATED else count


def ziplist_count(header: bytes) -> int:
    if len(header) < ZIPLIST_HEADER:
        raise ContainerError("ziplist shorter than its header")
    count: int = struct.unpack_from("<H", header, 8)[0]
    return -1 if count == SATURATED else count


def intset_count(header: bytes) -> int:
    if len(header) < INTSET_HEADER:
        raise ContainerError("intset shorter than its header")
    encoding, length = struct.unpack_from("<II", header, 0)
    if encoding not in (2, 4, 8):
        raise ContainerError(f"intset with element width {encoding}")
    return int(length)


def zipmap_count(header: bytes) -> int:
    if len(header) < ZIPMAP_HEADER:
        raise ContainerError("zipmap shorter than its header")
    return -1 if header[0] >= ZIPMAP_SATURATED else header[0]


def walk_listpack(blob: bytes) -> int:
    """Count a listpack's entries by walking them (its header count saturated)."""
    end = len(blob)
    pos = LISTPACK_HEADER
    count = 0
    while True:
        if pos >= end:
            raise ContainerError("listpack without its end marker")
        b = blob[pos]
        if b == 0xFF:
            return count
        if b < 0x80:
            size = 1
        elif b < 0xC0:
            size = 1 + (b & 0x3F)
        elif b < 0xE0:
            size = 2
        elif b < 0xF0:
            if pos + 1 >= end:
                raise ContainerError("listpack entry cut short")
            size = 2 + (((b & 0x0F) << 8) | blob[pos + 1])
        elif b == 0xF0:
            if pos + 5 > end:
                raise ContainerError("listpack entry cut short")
            size = 5 + struct.unpack_from("<I", blob, pos + 1)[0]
        elif 0xF1 <= b <= 0xF4:
            size = (3, 4, 5, 9)[b - 0xF1]
        else:
            raise ContainerError(f"listpack entry with encoding byte {b:#x}")
        pos += size + _backlen_bytes(size)
        count += 1


def _backlen_bytes(size: int) -> int:
    if size < 128:
        return 1
    if size < 16384:
        return 2
    if size < 2097152:
        return 3
    if size < 268435456:
        return 4
    return 5


_ZIPLIST_INT_SIZES = {0xC0: 2, 0xD0: 4, 0xE0: 8, 0xF0: 3, 0xFE: 1}


def walk_ziplist(blob: bytes) -> int:
    end = len(blob)
    pos = ZIPLIST_HEADER
    count = 0
    while True:
        if pos >= end:
            raise ContainerError("ziplist without its end marker")
        if blob[pos] == 0xFF:
            return count
        pos += 1 if blob[pos] < 254 else 5  # prevlen
        if pos >= end:
            raise ContainerError("ziplist entry cut short")
        b = blob[pos]
        kind = b >> 6
        if kind == 0:
            pos += 1 + (b & 0x3F)
        elif kind == 1:
            if pos + 1 >= end:
                raise ContainerError("ziplist entry cut short")
            pos += 2 + (((b & 0x3F) << 8) | blob[pos + 1])
        elif b == 0x80:
            if pos + 5 > end:
                raise ContainerError("ziplist entry cut short")
            pos += 5 + struct.unpack_from(">I", blob, pos + 1)[0]
        elif b in _ZIPLIST_INT_SIZES:
            pos += 1 + _ZIPLIST_INT_SIZES[b]
        elif 0xF1 <= b <= 0xFD:
            pos += 1  # 4-bit immediate integer
        else:
            raise ContainerError(f"ziplist entry with encoding byte {b:#x}")
        count += 1


def walk_zipmap(blob: bytes) -> int:
    """Count a zipmap's key/value pairs (Redis < 2.6 hashes)."""
    end = len(blob)
    pos = ZIPMAP_HEADER
    count = 0
    while True:
        if pos >= end:
            raise ContainerError("zipmap without its end marker")
        if blob[pos] == 0xFF:
            return count
        pos, _ = _zipmap_len(blob, pos)
        pos += _
        pos, value_len = _zipmap_len(blob, pos)
        if pos >= end:
            raise ContainerError("zipmap entry cut short")
        free = blob[pos]
        pos += 1 + value_len + free
        count += 1


def _zipmap_len(blob: bytes, pos: int) -> tuple[int, int]:
    if pos >= len(blob):
        raise ContainerError("zipmap entry cut short")
    b = blob[pos]
    if b < 254:
        return pos + 1, b
    if b == 254 and pos + 5 <= len(blob):
        return pos + 5, struct.unpack_from("<I", blob, pos + 1)[0]
    raise ContainerError("zipmap entry with a bad length")
