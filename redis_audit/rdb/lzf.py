"""LZF decompression (the format of liblzf, which Redis uses for strings saved with rdbcompression).

Only what the reader must look inside is decompressed: a key name, the first bytes of a compressed
listpack/ziplist/intset (their element count is in the header), or, rarely, a whole small container
whose header count is saturated. ``limit`` stops early, so a header costs a few bytes of work.
"""

from __future__ import annotations


class LzfError(ValueError):
    """The compressed bytes are not valid LZF (or do not decompress to the announced length)."""


def decompress(data: bytes | memoryview, expected: int, limit: int | None = None) -> bytes:
    """Decompress data, which must yield exactly ``expected`` bytes; with limit, stop after that many."""
    want = expected if limit is None else min(expected, limit)
    out = bytearray()
    ip, end = 0, len(data)
    while ip < end and len(out) < want:
        ctrl = data[ip]
        ip += 1
        if ctrl < 32:  # a literal run of ctrl + 1 bytes
            run = ctrl + 1
            if ip + run > end:
                raise LzfError("LZF literal run past the end of the compressed data")
            out += data[ip:ip + run]
            ip += run
            continue
        length = ctrl >> 5
        if length == 7:
            if ip >= end:
                raise LzfError("LZF back reference cut short")
            length += data[ip]
            ip += 1
        if ip >= end:
            raise LzfError("LZF back reference cut short")
        ref = len(out) - ((ctrl & 0x1F) << 8) - data[ip] - 1
        ip += 1
        length += 2
        if ref < 0:
            raise LzfError("LZF back reference before the start of the output")
        if ref + length <= len(out):
            out += out[ref:ref + length]
        else:  # overlapping copy: byte by byte, as liblzf does
            for i in range(length):
                out.append(out[ref + i])
    if limit is None and len(out) != expected:
        raise LzfError(f"LZF data decompressed to {len(out)} bytes, not the {expected} announced")
    if len(out) > want:
        del out[want:]
    if len(out) < want:
        raise LzfError(f"LZF data decompressed to {len(out)} bytes, fewer than the {want} needed")
    return bytes(out)
