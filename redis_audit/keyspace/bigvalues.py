"""Values over the big-value threshold: measured exactly, in requests queued behind the batch's own.

MEMORY USAGE without SAMPLES samples 5 elements: exact for listpacks, intsets and strings, an
estimate for anything bigger. A big value gets its element count (and, for a collection, its
encoding), then MEMORY USAGE with SAMPLES bounded by that count, at most max_samples per request.
Each step is a follow-up request the batch waits for before it is folded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis_audit.guard import joined
from redis_audit.keyspace.batch import TYPE_ONLY, UNKNOWN_TYPE, Batch, sizes_into
from redis_audit.keyspace.overhead import DICT_ENTRY, ENTRY_ALLOCATION
from redis_audit.keyspace.pipeline import Pipeline
from redis_audit.keyspace.wire import Link, as_int

# Element count per type, for keys big enough to need an exact measure (MEM-009 thresholds too).
LENGTH_COMMAND = {b"string": b"STRLEN", b"hash": b"HLEN", b"set": b"SCARD", b"zset": b"ZCARD", b"list": b"LLEN",
                  b"stream": b"XLEN"}
DICT_ENCODINGS = (b"hashtable", b"skiplist")  # collections whose elements sit in dict entries
FollowUp = Callable[[Pipeline, Batch, bytes, int, Callable[[list[Any]], None]], None]


class BigValues:
    def __init__(self, link: Link, max_samples: int, follow_up: FollowUp) -> None:
        self.link = link
        self.max_samples = max_samples
        self._follow_up = follow_up

    def remeasure(self, pipe: Pipeline, batch: Batch, big: list[int]) -> None:
        """Type (when it was not asked), element count and encoding, then a bounded exact size."""
        for i in big:
            batch.elements[i] = -1
        missing = [i for i in big if batch.types[i] == UNKNOWN_TYPE]
        if not missing:
            self._count_elements(pipe, batch, big)
            return

        def typed(replies: list[Any]) -> None:
            for i, kind in zip(missing, replies, strict=True):
                if type(kind) is bytes:
                    batch.types[i] = kind
            self._count_elements(pipe, batch, big)

        self._follow_up(pipe, batch, self.link.per_key_template(*TYPE_ONLY).fill([batch.keys[i] for i in missing]),
                        len(missing), typed)

    def _count_elements(self, pipe: Pipeline, batch: Batch, big: list[int]) -> None:
        """Element counts, and for collections their encoding: a hash table's entries cost more than it says."""
        wanted = [i for i in big if batch.types[i] in LENGTH_COMMAND]
        if not wanted:
            return
        collections = [i for i in wanted if batch.types[i] != b"string"]

        def counted(replies: list[Any]) -> None:
            again = []
            for i, reply in zip(wanted, replies[:len(wanted)], strict=True):
                found = as_int(reply)
                if found is not None:
                    batch.elements[i] = found
                    if batch.types[i] != b"string":
                        again.append(i)
            for i, encoding in zip(collections, replies[len(wanted):], strict=True):
                if encoding in DICT_ENCODINGS and batch.elements.get(i, -1) > 0:
                    # MEMORY USAGE counts sizeof(dictEntry) per element; the allocator hands out more.
                    batch.adjust[i] = batch.elements[i] * (ENTRY_ALLOCATION - DICT_ENTRY)
            self._size_exactly(pipe, batch, again)

        payload = joined([*(self.link.pack(LENGTH_COMMAND[batch.types[i]], batch.keys[i]) for i in wanted),
                          *(self.link.pack(b"OBJECT", b"ENCODING", batch.keys[i]) for i in collections)])
        self._follow_up(pipe, batch, payload, len(wanted) + len(collections), counted)

    def _size_exactly(self, pipe: Pipeline, batch: Batch, indices: list[int]) -> None:
        """MEMORY USAGE with SAMPLES bounded by each value's element count, max_samples per request."""
        cap = self.max_samples
        groups: list[list[tuple[int, int]]] = [[]]
        total = 0
        for i in indices:
            samples = min(batch.elements[i], cap)
            if groups[-1] and total + samples > cap:
                groups.append([])
                total = 0
            groups[-1].append((i, samples))
            total += samples
        for group in filter(None, groups):
            self._follow_up(pipe, batch, joined(self.link.pack(b"MEMORY", b"USAGE", batch.keys[i], b"SAMPLES", n)
                                                for i, n in group), len(group), sizes_into(batch, group))
