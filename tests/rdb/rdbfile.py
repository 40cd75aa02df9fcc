"""Hand-built RDB bytes, from the format as redis/src/rdb.c and valkey/src/rdb.c write it (spec-derived).

For what the sandbox's servers cannot write: Redis 7.4/8 hash field TTLs (types 22-25), module values
and module aux data, PLAIN quicklist nodes, Redis 6.2's ziplists, old-style types, cluster SLOT_INFO,
Valkey's SLOT_IMPORT, EXPIRETIME in seconds, saturated container headers, and deliberately bad input.
"""

from __future__ import annotations

import struct

from redis_audit.rdb.crc64 import crc64, crc64_reference


def length(n: int) -> bytes:
    if n < 64:
        return bytes([n])
    if n < 16384:
        return bytes([0x40 | (n >> 8), n & 0xFF])
    if n <= 0xFFFFFFFF:
        return b"\x80" + struct.pack(">I", n)
    return b"\x81" + struct.pack(">Q", n)


def string(data: bytes) -> bytes:
    return length(len(data)) + data


def listpack(entries: list[bytes], count: int | None = None) -> bytes:
    """Short string entries only (6-bit length encoding); count overrides the header's element count."""
    body = b""
    for entry in entries:
        assert len(entry) < 64
        encoded = bytes([0x80 | len(entry)]) + entry
        body += encoded + bytes([len(encoded)])
    total = 6 + len(body) + 1
    return struct.pack("<IH", total, len(entries) if count is None else count) + body + b"\xff"


def ziplist(entries: list[bytes]) -> bytes:
    body = b""
    previous = 0
    for entry in entries:
        assert len(entry) < 64
        encoded = bytes([previous]) + bytes([len(entry)]) + entry
        body += encoded
        previous = len(encoded)
    total = 10 + len(body) + 1
    return struct.pack("<IIH", total, 10, len(entries)) + body + b"\xff"


def intset(values: list[int]) -> bytes:
    return struct.pack("<II", 2, len(values)) + b"".join(struct.pack("<h", v) for v in values)


def module_id(name: str, encver: int) -> int:
    charset = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    value = 0
    for ch in name:
        value = (value << 6) | charset.index(ch)
    return (value << 10) | encver


def aux(key: bytes, value: bytes) -> bytes:
    return b"\xfa" + string(key) + string(value)


def rdb(body: bytes, *, magic: bytes = b"REDIS0012", auxes: bytes | None = None, checksum: bool = True) -> bytes:
    head = magic + (auxes if auxes is not None else aux(b"redis-ver", b"8.0.2") + aux(b"ctime", b"1760000000"))
    data = head + body + b"\xff"
    # The reference CRC (independent of the reader's) except for big test files, where it is too slow.
    value = crc64_reference(data) if len(data) < 1 << 20 else crc64(data)
    return data + struct.pack("<Q", value if checksum else 0)


def key(rdb_type: int, name: bytes, value: bytes, *, expire_ms: int | None = None) -> bytes:
    prefix = b"\xfc" + struct.pack("<q", expire_ms) if expire_ms is not None else b""
    return prefix + bytes([rdb_type]) + string(name) + value
