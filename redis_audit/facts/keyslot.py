"""The Redis Cluster key slot: CRC16-XMODEM of the key, or of its hash tag, modulo 16384."""

from __future__ import annotations

import binascii

SLOTS = 16384


def key_slot(key: str | bytes) -> int:
    """The slot of `key`: only the part between the first '{' and the next '}' is hashed, when that
    part is not empty (the cluster specification's hash tags)."""
    raw = key.encode() if isinstance(key, str) else key
    start = raw.find(b"{")
    if start >= 0:
        end = raw.find(b"}", start + 1)
        if end > start + 1:
            raw = raw[start + 1:end]
    return binascii.crc_hqx(raw, 0) % SLOTS
