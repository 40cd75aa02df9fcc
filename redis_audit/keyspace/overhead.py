"""What MEMORY USAGE leaves out, per key: the expires-dict entry and the hash tables' bucket arrays.

``MEMORY USAGE`` counts the value, the key's sds, the robj and the main dict entry. It does not
count the key's entry in the expires dict (24 B on Redis 6/7) nor the bucket arrays of the main
and expires dicts (8 B per slot, a power of two per table, both tables while rehashing). For small
limiter counters that is a third of their real cost (see docs/benchmarks.md).

Both it and ``MEMORY STATS`` count a dict entry as ``sizeof(dictEntry)``, 24 B, while the
allocator hands out 32 (jemalloc's and glibc's 64-bit size classes): 8 B more per key in each
dict, measured (a load of small counters under allkeys-lru cost 130 B/key, 113 without the slack);
the scanner adds the same slack per element to big hashes, sets and sorted sets kept in hash
tables. MEMORY USAGE also counts a 16 B value object that small integers shared by the server do
not cost (see ``SHARED_VALUE``); the scanner finds those with OBJECT REFCOUNT on a uniform sample.

``MEMORY STATS`` reports both dicts' overhead (entries + robjs + buckets for main, entries + buckets
for expires), so the missing bytes are read from the server rather than guessed; when it is denied
the power-of-two sizes are estimated from the key counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

DICT_ENTRY = 24  # sizeof(dictEntry) on 64-bit Redis 6/7 and Valkey < 8.1
ENTRY_ALLOCATION = 32  # what the allocator hands out for it
ROBJ = 16  # sizeof(robj)
POINTER = 8
# A value the server shares (integers 0-9999 unless maxmemory is set with an LRU/LFU policy) has this
# refcount; MEMORY USAGE still counts its robj for every key that points to it.
SHARED_REFCOUNT = 2**31 - 1
SHARED_VALUE = ROBJ
NO_SHARED_INTEGERS = frozenset({"allkeys-lru", "allkeys-lfu", "volatile-lru", "volatile-lfu"})


@dataclass(frozen=True)
class Overhead:
    """Bytes to add per key (every key) and per key with a TTL, and where the numbers came from."""

    main_share: float
    expires_share: float
    source: str  # "memory-stats" or "estimated"
    main_buckets: int  # bytes
    expires_bytes: int
    shared_integers: bool = False  # small integer values point to shared objects (see SHARED_VALUE)


def next_power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length() if n > 0 else 0


def from_counts(keys: int, expires: int) -> Overhead:
    slack = ENTRY_ALLOCATION - DICT_ENTRY
    main = next_power_of_two(keys) * POINTER + keys * slack
    exp = expires * ENTRY_ALLOCATION + next_power_of_two(expires) * POINTER
    return _shares(keys, expires, main, exp, "estimated")


def from_memory_stats(stats: dict[str, Any], keys: int, expires: int, counted_per_key: int) -> Overhead | None:
    """From MEMORY STATS db.0: main overhead minus what MEMORY USAGE already counts per key."""
    db = stats.get("db.0")
    if not isinstance(db, dict):
        return None
    main = db.get("overhead.hashtable.main")
    exp = db.get("overhead.hashtable.expires")
    if not isinstance(main, int) or not isinstance(exp, int):
        return None
    slack = ENTRY_ALLOCATION - DICT_ENTRY if counted_per_key else 0  # classic dict entries only
    return _shares(keys, expires, max(main - keys * counted_per_key, 0) + keys * slack, exp + expires * slack,
                   "memory-stats")


def counted_per_key(engine: str, version: tuple[int, int, int]) -> int:
    """What MEMORY USAGE counts of the main dict per key (entry + robj); Valkey 8.1+ embeds keys."""
    if engine == "valkey" and version >= (8, 1, 0):
        return 0
    return DICT_ENTRY + ROBJ


def shares_integers(engine: str, version: tuple[int, int, int], maxmemory: int, policy: str) -> bool:
    """Whether small integer values point to the server's shared objects (classic layouts only)."""
    classic = counted_per_key(engine, version) > 0
    return classic and (maxmemory == 0 or policy not in NO_SHARED_INTEGERS)


def _shares(keys: int, expires: int, main: int, exp: int, source: str) -> Overhead:
    return Overhead(
        main_share=main / keys if keys else 0.0,
        expires_share=exp / expires if expires else 0.0,
        source=source,
        main_buckets=main,
        expires_bytes=exp,
    )


def parse_flat(reply: Any) -> dict[str, Any]:
    """A RESP2 flat map (MEMORY STATS) as a dict, nested maps included; keys decoded."""
    out: dict[str, Any] = {}
    items = list(reply) if isinstance(reply, list) else []
    for i in range(0, len(items) - 1, 2):
        key = items[i].decode() if isinstance(items[i], bytes) else str(items[i])
        value = items[i + 1]
        out[key] = parse_flat(value) if isinstance(value, list) else value
    return out
