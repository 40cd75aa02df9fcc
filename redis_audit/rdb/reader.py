"""A streaming RDB reader: keys out in columnar batches, values skipped without being materialised.

    with open("dump.rdb", "rb") as f:
        reader = RdbReader(f)            # reads the header and the aux fields before the first key
        reader.info.server_version       # "7.0.15"; reader.info.ctime: when the snapshot was taken
        for batch in reader:             # KeyBatch: keys, types, encodings, elements, expiry, memory...
            ...
        reader.summary                   # complete only once the EOF opcode and the CRC-64 checked out

Formats: RDB 5-12 (Redis 2.6-8.x, 9-12 tested) with the REDIS magic, RDB 80 (Valkey 9) with the
VALKEY magic. Every opcode and value type those servers write is understood; a value is walked only
as far as its element count and size need (a string is skipped, a listpack's count read from its
header). Anything else raises an RdbError subclass naming the byte offset; a read that raised is partial.

Hot path: keys whose value is a string (the vast majority of most keyspaces) are parsed inline from
the buffer, with the buffer kept at least ``MARGIN`` bytes ahead so fixed-size reads need no checks
(an IndexError/struct.error there can only mean the file ended). Every variable length is checked.
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Iterator
from typing import Any

from redis_audit.rdb import containers as ct
from redis_audit.rdb import lzf
from redis_audit.rdb.errors import (
    ChecksumMismatch,
    CorruptRdb,
    NotAnRdb,
    RdbError,
    TruncatedRdb,
    UnsupportedRdb,
)
from redis_audit.rdb.memory import MemoryModel, model_for
from redis_audit.rdb.records import DbStats, KeyBatch, RdbInfo, RdbSummary
from redis_audit.rdb.source import CHUNK, Readable, Source

MARGIN = 1 << 16  # bytes kept ahead of the parse position (more than any fixed-size read)
KEY_LIMIT = 1 << 20  # a key name longer than this is kept as its first KEY_LIMIT bytes
AUX_LIMIT = 1 << 16
MAX_AUX_FIELDS = 1000
FUNCTION_LIMIT = 1 << 20
MAX_CONTAINER = 32 << 20  # a container is materialised only to count a saturated header, and only this big
DEFAULT_BATCH = 4096
REDIS_VERSIONS = range(5, 13)  # RDB 5 (Redis 2.6) .. 12 (Redis 7.4/8.x); older files have no checksum
VALKEY_VERSIONS = range(80, 81)  # Valkey 9.0/9.1

# Opcodes (rdb.h)
OP_SLOT_IMPORT = 243  # Valkey 9
OP_SLOT_INFO = 244
OP_FUNCTION2 = 245
OP_FUNCTION_PRE_GA = 246
OP_MODULE_AUX = 247
OP_IDLE = 248
OP_FREQ = 249
OP_AUX = 250
OP_RESIZEDB = 251
OP_EXPIRETIME_MS = 252
OP_EXPIRETIME = 253
OP_SELECTDB = 254
OP_EOF = 255

# Value types (rdb.h); 22-25 mean different things under the REDIS and the VALKEY magic.
T_STRING, T_LIST, T_SET, T_ZSET, T_HASH, T_ZSET_2, T_MODULE_PRE_GA, T_MODULE_2 = range(8)
T_HASH_ZIPMAP, T_LIST_ZIPLIST, T_SET_INTSET, T_ZSET_ZIPLIST, T_HASH_ZIPLIST = range(9, 14)
T_LIST_QUICKLIST, T_STREAM, T_HASH_LISTPACK, T_ZSET_LISTPACK, T_LIST_QUICKLIST_2 = range(14, 19)
T_STREAM_2, T_SET_LISTPACK, T_STREAM_3 = range(19, 22)
T_HASH_METADATA_PRE_GA, T_HASH_LISTPACK_EX_PRE_GA, T_HASH_METADATA, T_HASH_LISTPACK_EX = range(22, 26)
T_VALKEY_HASH_2 = 22
REDIS_TYPES = frozenset((*range(0, 8), *range(9, 26)))
VALKEY_TYPES = frozenset((*range(0, 8), *range(9, 23)))

STRING, LIST, SET, ZSET, HASH, STREAM = b"string", b"list", b"set", b"zset", b"hash", b"stream"

# Single-blob containers: (type, encoding, header reader, walker, entries per element)
_BLOBS: dict[int, tuple[bytes, bytes, Any, Any, int]] = {
    T_HASH_ZIPMAP: (HASH, b"zipmap", ct.zipmap_count, ct.walk_zipmap, 1),
    T_LIST_ZIPLIST: (LIST, b"ziplist", ct.ziplist_count, ct.walk_ziplist, 1),
    T_SET_INTSET: (SET, b"intset", ct.intset_count, None, 1),
    T_ZSET_ZIPLIST: (ZSET, b"ziplist", ct.ziplist_count, ct.walk_ziplist, 2),
    T_HASH_ZIPLIST: (HASH, b"ziplist", ct.ziplist_count, ct.walk_ziplist, 2),
    T_HASH_LISTPACK: (HASH, b"listpack", ct.listpack_count, ct.walk_listpack, 2),
    T_ZSET_LISTPACK: (ZSET, b"listpack", ct.listpack_count, ct.walk_listpack, 2),
    T_SET_LISTPACK: (SET, b"listpack", ct.listpack_count, ct.walk_listpack, 1),
}
_HEADER_BYTES = {T_HASH_ZIPMAP: ct.ZIPMAP_HEADER, T_SET_INTSET: ct.INTSET_HEADER,
                 T_LIST_ZIPLIST: ct.ZIPLIST_HEADER, T_ZSET_ZIPLIST: ct.ZIPLIST_HEADER,
                 T_HASH_ZIPLIST: ct.ZIPLIST_HEADER}
LIST_MAX_LISTPACK_BYTES = 8192  # list-max-listpack-size -2 (the default): a single node this small is a listpack

_U32BE = struct.Struct(">I")
_U64BE = struct.Struct(">Q")
_I64 = struct.Struct("<q")
_U64 = struct.Struct("<Q")
_I32 = struct.Struct("<i")
_I16 = struct.Struct("<h")
_INT8_DIGITS = [len(str(v if v < 128 else v - 256)) for v in range(256)]
_CANONICAL_INT = re.compile(rb"-?[1-9][0-9]{0,19}|0")
_MODULE_CHARSET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_LIBRARY_NAME = re.compile(rb"#!\s*\w+\s+name=(\S+)")


def module_name(module_id: int) -> str:
    """The 9-character module type name encoded in the top 54 bits of a module id (the low 10: encver)."""
    return "".join(_MODULE_CHARSET[(module_id >> (10 + 6 * (8 - i))) & 63] for i in range(9))


def _is_int_string(data: bytes) -> bool:
    """What the server stores int-encoded: a canonical decimal of at most 20 characters in int64 range."""
    return (len(data) <= 20 and _CANONICAL_INT.fullmatch(data) is not None
            and -(1 << 63) <= int(data) < (1 << 63))


class RdbReader:
    """Reads one RDB stream once. The header and aux fields are read on construction."""

    def __init__(self, stream: Readable, *, verify_checksum: bool = True, batch_size: int = DEFAULT_BATCH,
                 memory: MemoryModel | None = None, allocator: str = "jemalloc", chunk: int = CHUNK) -> None:
        self._src = Source(stream, verify=verify_checksum, chunk=chunk)
        self._verify = verify_checksum
        self._batch_size = max(1, batch_size)
        self._iterator: Iterator[KeyBatch] | None = None
        self._db = 0
        self.info = self._read_header()
        self.summary = RdbSummary(self.info)
        try:
            self._read_preamble()
        except (IndexError, struct.error) as exc:
            raise self._truncated() from exc
        self.memory = memory or model_for(self.info.engine, self.info.version_tuple, allocator)
        self._string_costs: dict[tuple[int, bool, int, bool], tuple[int, bytes]] = {}

    @property
    def offset(self) -> int:
        """Bytes consumed so far (for progress: compare with the file's size)."""
        return self._src.offset

    def __iter__(self) -> Iterator[KeyBatch]:
        return self.batches()

    def batches(self) -> Iterator[KeyBatch]:
        """The keys, a batch at a time; the same iterator however often it is asked for (one pass)."""
        if self._iterator is None:
            self._iterator = self._batches()
        return self._iterator

    # -- header -----------------------------------------------------------------------------------
    def _read_header(self) -> RdbInfo:
        src = self._src
        src.fill(9)
        head = src.buf[:9]
        if head.startswith(b"REDIS") and head[5:9].isdigit():
            magic, version = "REDIS", int(head[5:9])
            supported = version in REDIS_VERSIONS
        elif head.startswith(b"VALKEY") and head[6:9].isdigit():
            magic, version = "VALKEY", int(head[6:9])
            supported = version in VALKEY_VERSIONS
        else:
            raise NotAnRdb(f"not an RDB file: it starts with {head[:9]!r}, not REDIS0nnn or VALKEYnnn", 0)
        if not supported:
            raise UnsupportedRdb(f"{magic} RDB version {version} is not one this reader knows "
                                 "(REDIS 5-12, VALKEY 80)", 5 if magic == "REDIS" else 6)
        src.pos = 9
        return RdbInfo(magic, version)

    def _read_preamble(self) -> None:
        """The aux fields (and module aux data) before the first key or SELECTDB: the writer's facts."""
        src = self._src
        while True:
            src.need(1)
            op = src.buf[src.pos]
            if op == OP_AUX:
                src.pos += 1
                self._aux()
            elif op == OP_MODULE_AUX:
                src.pos += 1
                self._module_aux()
            else:
                return

    # -- the key loop -----------------------------------------------------------------------------
    def _batches(self) -> Iterator[KeyBatch]:
        try:
            yield from self._read_keys()
        except RdbError as err:
            err.keys_read = self.summary.keys
            raise
        except (IndexError, struct.error) as exc:
            raise self._truncated() from exc
        except (lzf.LzfError, ct.ContainerError) as exc:
            raise CorruptRdb(str(exc), self._src.offset, self.summary.keys) from exc

    def _truncated(self) -> TruncatedRdb:
        src = self._src
        src.fill(MARGIN)
        end = src.base + len(src.buf)
        return TruncatedRdb("file ends before the RDB does (truncated)", end, self.summary.keys)

    def _read_keys(self) -> Iterator[KeyBatch]:  # the hot loop, kept in one frame on purpose
        src = self._src
        memory = self.memory
        costs = self._string_costs
        batch = self._new_batch()
        batch_size = self._batch_size
        buf, pos, base = src.buf, src.pos, src.base
        end = len(buf)
        expire, idle, freq, key_start = -1, -1, -1, -1
        unpack_i64 = _I64.unpack_from
        known_types = VALKEY_TYPES if self.info.magic == "VALKEY" else REDIS_TYPES
        while True:
            if end - pos < MARGIN and not src.exhausted:
                src.pos = pos
                src.fill(MARGIN)
                buf, pos, base = src.buf, src.pos, src.base
                end = len(buf)
            if key_start < 0:
                key_start = base + pos
            op = buf[pos]
            pos += 1
            if op >= 242:
                if op == OP_EXPIRETIME_MS:
                    expire = unpack_i64(buf, pos)[0]
                    pos += 8
                    continue
                if op == OP_EOF:
                    src.pos = pos
                    if len(batch):
                        self._account(batch)
                        yield batch
                    self._finish()
                    return
                src.pos = pos
                if op == OP_EXPIRETIME:
                    expire = src.unpack(_I32)[0] * 1000
                elif op == OP_IDLE:
                    idle = self._len()
                elif op == OP_FREQ:
                    freq = src.u8()
                else:
                    self._opcode(op, base + pos - 1)
                    if expire >= 0 or idle >= 0 or freq >= 0:
                        raise CorruptRdb(f"opcode {op} between a key's expiry/LRU/LFU and the key", base + pos - 1)
                    key_start = -1
                buf, pos, base = src.buf, src.pos, src.base
                end = len(buf)
                continue
            # A key: its name, then its value of type `op`.
            if op not in known_types:
                raise UnsupportedRdb(f"unknown opcode or value type {op}", base + pos - 1)
            b = buf[pos]
            if b < 64 and pos + 1 + b <= end:
                key = buf[pos + 1:pos + 1 + b]
                pos += 1 + b
                key_length = b
            else:
                src.pos = pos
                key, key_length = self._string_head(KEY_LIMIT)
                buf, pos, base = src.buf, src.pos, src.base
                end = len(buf)
            has_expire = expire >= 0
            if op == T_STRING:
                b = buf[pos]
                if b < 64:
                    pos += 1 + b
                    if pos > end:
                        raise self._truncated()
                    length, is_int = b, b <= 20 and _is_int_string(buf[pos - b:pos])
                elif b == 0xC0:
                    length, is_int = _INT8_DIGITS[buf[pos + 1]], True
                    pos += 2
                elif b == 0xC1:
                    length, is_int = len(str(_I16.unpack_from(buf, pos + 1)[0])), True
                    pos += 3
                elif b == 0xC2:
                    length, is_int = len(str(_I32.unpack_from(buf, pos + 1)[0])), True
                    pos += 5
                else:
                    src.pos = pos
                    length, kind = self._skip_string()
                    is_int = kind == 1
                    buf, pos, base = src.buf, src.pos, src.base
                    end = len(buf)
                cost = costs.get((key_length, has_expire, length, is_int))
                if cost is None:
                    cost = costs[(key_length, has_expire, length, is_int)] = memory.string(
                        key_length, has_expire, length, is_int)
                kind_name, encoding, elements, size = STRING, cost[1], length, cost[0]
            else:
                src.pos = pos
                kind_name, encoding, elements, size = self._value(op, key_length, has_expire, base + pos)
                buf, pos, base = src.buf, src.pos, src.base
                end = len(buf)
            batch.db.append(self._db)
            batch.keys.append(key)
            batch.types.append(kind_name)
            batch.encodings.append(encoding)
            batch.elements.append(elements)
            batch.expires_ms.append(expire)
            batch.memory.append(size)
            batch.serialized.append(base + pos - key_start)
            batch.idle_s.append(idle)
            batch.freq.append(freq)
            expire, idle, freq, key_start = -1, -1, -1, -1
            if len(batch.keys) >= batch_size:
                src.pos = pos
                self._account(batch)
                yield batch
                batch = self._new_batch()
                buf, pos, base = src.buf, src.pos, src.base
                end = len(buf)

    @staticmethod
    def _new_batch() -> KeyBatch:
        return KeyBatch()

    def _account(self, batch: KeyBatch) -> None:
        summary = self.summary
        summary.keys += len(batch)
        for db, count in Counter(batch.db).items():
            stats = summary.dbs.get(db) or summary.dbs.setdefault(db, DbStats())
            stats.keys += count
        for db, expire in zip(batch.db, batch.expires_ms, strict=True):
            if expire >= 0:
                summary.dbs[db].expires += 1
        for kind in batch.types:
            if kind not in (STRING, LIST, SET, ZSET, HASH, STREAM):
                name = kind.decode("ascii", "replace")
                summary.modules[name] = summary.modules.get(name, 0) + 1

    def _finish(self) -> None:
        src = self._src
        summary = self.summary
        summary.bytes_read = src.offset
        if self.info.version < 5:
            summary.complete = True
            return
        computed = src.checksum_through()
        at = src.offset
        (stored,) = src.unpack(_U64)
        summary.bytes_read = src.offset
        if stored == 0:
            summary.checksum = "absent"  # saved with rdbchecksum no
        elif self._verify:
            if stored != computed:
                raise ChecksumMismatch(f"CRC-64 mismatch: the file says {stored:016x}, its contents give "
                                       f"{computed:016x}", at, summary.keys)
            summary.checksum = "verified"
        summary.complete = True

    # -- opcodes ----------------------------------------------------------------------------------
    def _opcode(self, op: int, at: int) -> None:
        if op == OP_SELECTDB:
            self._db = self._len()
            self.summary.dbs.setdefault(self._db, DbStats())
        elif op == OP_RESIZEDB:
            stats = self.summary.dbs.setdefault(self._db, DbStats())
            stats.resize_keys, stats.resize_expires = self._len(), self._len()
        elif op == OP_AUX:
            self._aux()
        elif op == OP_MODULE_AUX:
            self._module_aux()
        elif op == OP_FUNCTION2:
            code = self._string_bytes(FUNCTION_LIMIT)
            found = _LIBRARY_NAME.match(code)
            self.summary.functions.append(found.group(1).decode("utf-8", "replace") if found else "?")
        elif op == OP_SLOT_INFO:
            self._len(), self._len(), self._len()  # slot id, keys, expires: sizing hints
            self.summary.slots += 1
        elif op == OP_SLOT_IMPORT and self.info.magic == "VALKEY":
            self._skip_string()  # job name
            for _ in range(self._len()):
                self._len(), self._len()  # slot range
            self.summary.slot_imports += 1
        elif op == OP_FUNCTION_PRE_GA:
            raise UnsupportedRdb("function data in the Redis 7.0 release-candidate format", at)
        else:
            raise UnsupportedRdb(f"unknown opcode or value type {op}", at)

    def _aux(self) -> None:
        key = self._string_bytes(AUX_LIMIT).decode("utf-8", "replace")
        value = self._string_bytes(AUX_LIMIT).decode("utf-8", "replace")
        if len(self.info.aux) < MAX_AUX_FIELDS or key in self.info.aux:
            self.info.aux[key] = value

    def _module_aux(self) -> None:
        at = self._src.offset
        module_id = self._len()
        when_opcode = self._len()
        self._len()  # when
        if when_opcode != 2:  # RDB_MODULE_OPCODE_UINT
            raise CorruptRdb("module aux data without its 'when' marker", at)
        self._skip_module_value(module_name(module_id))
        self.summary.module_aux.append(module_name(module_id))

    # -- primitives (on the Source; the hot loop inlines the common cases) ------------------------
    def _length(self) -> tuple[int, bool]:
        src = self._src
        b = src.u8()
        kind = b >> 6
        if kind == 0:
            return b & 0x3F, False
        if kind == 1:
            return ((b & 0x3F) << 8) | src.u8(), False
        if kind == 3:
            return b & 0x3F, True
        if b == 0x80:
            return src.unpack(_U32BE)[0], False
        if b == 0x81:
            return src.unpack(_U64BE)[0], False
        raise CorruptRdb(f"unknown length encoding {b:#04x}", src.offset - 1)

    def _len(self) -> int:
        value, encoded = self._length()
        if encoded:
            raise CorruptRdb("a special string encoding where a length belongs", self._src.offset - 1)
        return value

    def _skip_string(self) -> tuple[int, int]:
        """Skip one string: (its length once loaded, kind: 0 plain, 1 integer, 2 LZF)."""
        src = self._src
        n, encoded = self._length()
        if not encoded:
            src.skip(n)
            return n, 0
        if n == 0:
            return _INT8_DIGITS[src.u8()], 1
        if n == 1:
            return len(str(src.unpack(_I16)[0])), 1
        if n == 2:
            return len(str(src.unpack(_I32)[0])), 1
        if n == 3:
            compressed, length = self._len(), self._len()
            src.skip(compressed)
            return length, 2
        raise CorruptRdb(f"unknown string encoding {n}", src.offset - 1)

    def _string_bytes(self, limit: int) -> bytes:
        return self._string_head(limit)[0]

    def _string_head(self, limit: int) -> tuple[bytes, int]:
        """One string, materialised: (at most its first ``limit`` bytes, its full length); the rest is skipped."""
        src = self._src
        at = src.offset
        n, encoded = self._length()
        if not encoded:
            if n <= limit:
                return src.take(n), n
            head = src.take(limit)
            src.skip(n - limit)
            return head, n
        if n in (0, 1, 2):
            value = src.u8() if n == 0 else src.unpack(_I16 if n == 1 else _I32)[0]
            text = str(value - 256 if n == 0 and value > 127 else value).encode()
            return text, len(text)
        if n == 3:
            compressed, length = self._len(), self._len()
            if compressed > MAX_CONTAINER:
                raise UnsupportedRdb(f"a compressed name of {compressed} bytes, more than this reader keeps", at)
            data = src.take(compressed)
            try:
                return lzf.decompress(data, length, limit=limit if length > limit else None), length
            except lzf.LzfError as exc:
                raise CorruptRdb(str(exc), at) from exc
        raise CorruptRdb(f"unknown string encoding {n}", at)

    def _blob(self, header_bytes: int, count: Any, walk: Any) -> tuple[int, int]:
        """A single-blob container: (element entries, its length once loaded), skipping its bytes."""
        src = self._src
        at = src.offset
        n, encoded = self._length()
        if not encoded:
            if n < header_bytes:
                raise CorruptRdb(f"a {n}-byte container, shorter than its {header_bytes}-byte header", at)
            src.need(header_bytes)
            entries = count(src.buf[src.pos:src.pos + header_bytes])
            if entries < 0 and walk is not None:
                if n > MAX_CONTAINER:
                    src.skip(n)
                    return -1, n
                return walk(src.take(n)), n
            src.skip(n)
            return entries, n
        if n != 3:
            raise CorruptRdb("an integer where a container belongs", at)
        compressed, length = self._len(), self._len()
        if length < header_bytes:
            raise CorruptRdb(f"a {length}-byte container, shorter than its {header_bytes}-byte header", at)
        src.need(min(compressed, 64))
        head = lzf.decompress(src.buf[src.pos:src.pos + min(compressed, 64)], length, limit=header_bytes)
        entries = count(head)
        if entries < 0 and walk is not None:
            if compressed > MAX_CONTAINER or length > MAX_CONTAINER:
                src.skip(compressed)
                return -1, length
            return walk(lzf.decompress(src.take(compressed), length)), length
        src.skip(compressed)
        return entries, length

    # -- values -----------------------------------------------------------------------------------
    def _value(self, rdb_type: int, key_length: int, has_expire: bool, at: int) -> tuple[bytes, bytes, int, int]:
        """(type, encoding, elements, estimated memory) of a non-string value, its bytes consumed."""
        memory = self.memory
        header = memory.header(key_length, has_expire)
        valkey = self.info.magic == "VALKEY"
        blob = _BLOBS.get(rdb_type)
        if blob is not None:
            kind, encoding, count, walk, per_element = blob
            entries, length = self._blob(_HEADER_BYTES.get(rdb_type, ct.LISTPACK_HEADER), count, walk)
            elements = entries // per_element if entries >= 0 else -1
            if rdb_type == T_SET_INTSET:
                return kind, encoding, elements, header + memory.blob(length)
            return kind, encoding, elements, header + memory.blob(length)
        if rdb_type in (T_LIST_QUICKLIST, T_LIST_QUICKLIST_2):
            return self._quicklist(rdb_type, header)
        if rdb_type == T_LIST:
            n = self._len()
            node_bytes = sum(self._skip_string()[0] for _ in range(n))
            return LIST, b"quicklist", n, header + memory.quicklist(1, memory.blob(node_bytes + 7 + 2 * n))
        if rdb_type == T_SET:
            n = self._len()
            sizes = sum(memory.set_element(self._skip_string()[0]) for _ in range(n))
            return SET, b"hashtable", n, header + memory.hashtable(n, sizes)
        if rdb_type in (T_ZSET, T_ZSET_2):
            return self._zset(rdb_type, header)
        if rdb_type == T_HASH:
            n = self._len()
            sizes = sum(memory.hash_element(self._skip_string()[0], self._skip_string()[0]) for _ in range(n))
            return HASH, b"hashtable", n, header + memory.hashtable(n, sizes)
        if rdb_type in (T_STREAM, T_STREAM_2, T_STREAM_3):
            return self._stream(rdb_type, header)
        if rdb_type == T_MODULE_2:
            name = module_name(self._len())
            payload = self._skip_module_value(name)
            return name.encode(), b"raw", -1, header + payload
        if valkey and rdb_type == T_VALKEY_HASH_2:
            n = self._len()
            sizes = 0
            for _ in range(n):
                sizes += memory.hash_element(self._skip_string()[0], self._skip_string()[0]) + 8
                self._src.skip(8)  # the field's expiry (ms, -1 for none)
            return HASH, b"hashtable", n, header + memory.hashtable(n, sizes)
        if not valkey and rdb_type in (T_HASH_METADATA, T_HASH_METADATA_PRE_GA):
            if rdb_type == T_HASH_METADATA:
                self._src.skip(8)  # the smallest field expiry
            n = self._len()
            sizes = 0
            for _ in range(n):
                self._len()  # the field's TTL (relative to that minimum, +1; 0 for none)
                sizes += memory.hash_element(self._skip_string()[0], self._skip_string()[0]) + 8
            return HASH, b"hashtable", n, header + memory.hashtable(n, sizes)
        if not valkey and rdb_type in (T_HASH_LISTPACK_EX, T_HASH_LISTPACK_EX_PRE_GA):
            if rdb_type == T_HASH_LISTPACK_EX:
                self._src.skip(8)
            entries, length = self._blob(ct.LISTPACK_HEADER, ct.listpack_count, ct.walk_listpack)
            elements = entries // 3 if entries >= 0 else -1  # field, value, expiry
            return HASH, b"listpackex", elements, header + memory.alloc(32) + memory.blob(length)
        if rdb_type == T_MODULE_PRE_GA:
            raise UnsupportedRdb("a module value in the Redis 4.0 release-candidate format (cannot be skipped)", at)
        raise UnsupportedRdb(f"unknown opcode or value type {rdb_type}", at)

    def _quicklist(self, rdb_type: int, header: int) -> tuple[bytes, bytes, int, int]:
        memory = self.memory
        nodes = self._len()
        elements, node_bytes, single_packed = 0, 0, 0
        for _ in range(nodes):
            container = 2
            if rdb_type == T_LIST_QUICKLIST_2:
                container = self._len()
            if container == 1:  # PLAIN: one large element
                length = self._skip_string()[0]
                elements += 1
            elif container == 2:  # PACKED: a listpack (quicklist 2) or a ziplist (quicklist 1)
                if rdb_type == T_LIST_QUICKLIST_2:
                    entries, length = self._blob(ct.LISTPACK_HEADER, ct.listpack_count, ct.walk_listpack)
                else:
                    entries, length = self._blob(ct.ZIPLIST_HEADER, ct.ziplist_count, ct.walk_ziplist)
                elements = elements + entries if entries >= 0 and elements >= 0 else -1
                single_packed = length
            else:
                raise CorruptRdb(f"quicklist node with container type {container}", self._src.offset)
            node_bytes += memory.blob(length)
        listpack_lists = self.info.magic == "VALKEY" or self.info.version >= 11 or self.info.version_tuple >= (7, 2, 0)
        if (rdb_type == T_LIST_QUICKLIST_2 and nodes == 1 and listpack_lists and single_packed
                and single_packed <= LIST_MAX_LISTPACK_BYTES):
            return LIST, b"listpack", elements, header + node_bytes
        return LIST, b"quicklist", elements, header + memory.quicklist(nodes, node_bytes)

    def _zset(self, rdb_type: int, header: int) -> tuple[bytes, bytes, int, int]:
        src = self._src
        n = self._len()
        members = 0.0
        for _ in range(n):
            members += self.memory.zset_element(self._skip_string()[0])
            if rdb_type == T_ZSET_2:
                src.skip(8)
            else:
                length = src.u8()
                if length < 253:
                    src.skip(length)
        return ZSET, b"skiplist", n, header + self.memory.skiplist(n, members)

    def _stream(self, rdb_type: int, header: int) -> tuple[bytes, bytes, int, int]:
        src = self._src
        listpacks: list[int] = []
        for _ in range(self._len()):
            at = src.offset
            if self._skip_string()[0] != 16:
                raise CorruptRdb("stream node key that is not a 16-byte entry ID", at)
            listpacks.append(self._skip_string()[0])
        length = self._len()
        self._len(), self._len()  # last ID
        if rdb_type >= T_STREAM_2:
            for _ in range(5):  # first ID, max deleted ID, entries added
                self._len()
        groups: list[tuple[int, list[tuple[int, int]]]] = []
        for _ in range(self._len()):  # consumer groups
            self._skip_string()
            self._len(), self._len()  # last delivered ID
            if rdb_type >= T_STREAM_2:
                self._len()  # entries read
            pending = self._len()
            for _ in range(pending):
                src.skip(16 + 8)  # entry ID, delivery time
                self._len()  # delivery count
            consumers = []
            for _ in range(self._len()):
                name = self._skip_string()[0]
                src.skip(16 if rdb_type >= T_STREAM_3 else 8)  # seen time (and active time)
                owned = self._len()
                src.skip(16 * owned)  # the consumer's pending IDs
                consumers.append((name, owned))
            groups.append((pending, consumers))
        return STREAM, b"stream", length, header + self.memory.stream(listpacks, groups)

    def _skip_module_value(self, name: str) -> int:
        """Skip a module value's annotated parts up to its EOF marker; return its payload bytes."""
        src = self._src
        start = src.offset
        while True:
            at = src.offset
            opcode = self._len()
            if opcode == 0:
                return src.offset - start
            if opcode in (1, 2):
                self._len()
            elif opcode == 3:
                src.skip(4)
            elif opcode == 4:
                src.skip(8)
            elif opcode == 5:
                self._skip_string()
            else:
                raise CorruptRdb(f"module {name} value with unknown part type {opcode}", at)
