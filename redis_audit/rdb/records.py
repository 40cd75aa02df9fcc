"""What the reader hands out: the file's facts (RdbInfo), keys in columnar batches (KeyBatch), and the
summary of a complete read (RdbSummary).

KeyBatch columns are the census's own vocabulary: ``types`` are the bytes TYPE replies with (b"string",
b"zset", ...), ``encodings`` those OBJECT ENCODING replies with, ``memory`` what MEMORY USAGE would
say, so that ``keyspace.stats.Aggregator.add`` can fold a batch as it folds a live SCAN slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NO_EXPIRY = -1
UNKNOWN = -1  # an element count, idle time or frequency that the file does not give


@dataclass
class RdbInfo:
    """The file's header and aux fields (known before the first key), and what it says about its writer."""

    magic: str  # "REDIS" or "VALKEY"
    version: int  # RDB format version: 9 (6.2), 10 (7.0), 11 (7.2, Valkey 7.2/8.x), 12 (7.4/8.x), 80 (Valkey 9)
    aux: dict[str, str] = field(default_factory=dict)

    @property
    def engine(self) -> str:
        return "valkey" if self.magic == "VALKEY" or "valkey-ver" in self.aux else "redis"

    @property
    def server_version(self) -> str:
        """``valkey-ver`` (Valkey writes it, and a frozen redis-ver of 7.2.4 or none), else ``redis-ver``."""
        return self.aux.get("valkey-ver") or self.aux.get("redis-ver", "")

    @property
    def version_tuple(self) -> tuple[int, int, int]:
        parts = [*(int(p) if p.isdigit() else 0 for p in self.server_version.split(".")[:3]), 0, 0, 0]
        return parts[0], parts[1], parts[2]

    @property
    def ctime(self) -> int | None:
        """When the snapshot was taken (unix seconds), from the ``ctime`` aux field."""
        value = self.aux.get("ctime", "")
        return int(value) if value.lstrip("-").isdigit() else None

    @property
    def used_memory(self) -> int | None:
        value = self.aux.get("used-mem", "")
        return int(value) if value.isdigit() else None


@dataclass
class KeyBatch:
    """Keys in file order, one list per fact (columns: cheap to build, and what the census folds)."""

    db: list[int] = field(default_factory=list)
    keys: list[bytes] = field(default_factory=list)
    types: list[bytes] = field(default_factory=list)
    encodings: list[bytes] = field(default_factory=list)
    elements: list[int] = field(default_factory=list)  # STRLEN, LLEN, SCARD, ZCARD, HLEN, XLEN; -1 unknown
    expires_ms: list[int] = field(default_factory=list)  # absolute unix ms, or -1 (no expiry)
    memory: list[int] = field(default_factory=list)  # estimated MEMORY USAGE bytes (memory.py)
    serialized: list[int] = field(default_factory=list)  # bytes of the key's record in the file
    idle_s: list[int] = field(default_factory=list)  # LRU idle seconds when saved under an LRU policy, else -1
    freq: list[int] = field(default_factory=list)  # LFU counter when saved under an LFU policy, else -1

    def __len__(self) -> int:
        return len(self.keys)

    def pttls(self, now_ms: int) -> list[int]:
        """PTTL as the server would answer at now_ms: -1 without expiry, -2 already expired, else ms left."""
        return [-1 if e < 0 else (e - now_ms if e > now_ms else -2) for e in self.expires_ms]


@dataclass
class DbStats:
    keys: int = 0
    expires: int = 0
    resize_keys: int = -1  # RESIZEDB's hint: the db's size when saved (-1: no hint)
    resize_expires: int = -1


@dataclass
class RdbSummary:
    """Everything a complete read learned besides the keys. ``complete`` is True only after the checksum."""

    info: RdbInfo
    bytes_read: int = 0
    keys: int = 0
    dbs: dict[int, DbStats] = field(default_factory=dict)
    checksum: str = "unverified"  # "verified", "absent" (saved with rdbchecksum no), "unverified" (not checked)
    functions: list[str] = field(default_factory=list)  # library names (FUNCTION LOAD), in file order
    modules: dict[str, int] = field(default_factory=dict)  # module type name -> keys of that type
    module_aux: list[str] = field(default_factory=list)  # modules with aux data
    slots: int = 0  # SLOT_INFO records (cluster snapshots)
    slot_imports: int = 0  # Valkey 9 in-flight slot import records
    complete: bool = False
