"""Encodings the sandbox's servers cannot write (Redis 7.4/8 hash field TTLs, modules, Redis 6.2's
ziplists, PLAIN nodes, cluster records...), from spec-derived bytes (rdbfile.py)."""

from __future__ import annotations

import io
import struct

import pytest

from redis_audit.rdb import RdbReader, RdbSummary, module_name
from tests.rdb import rdbfile as f


def parse(data: bytes) -> tuple[dict[bytes, tuple[bytes, bytes, int, int]], RdbSummary]:
    reader = RdbReader(io.BytesIO(data))
    out: dict[bytes, tuple[bytes, bytes, int, int]] = {}
    for batch in reader:
        for i, key in enumerate(batch.keys):
            out[key] = (batch.types[i], batch.encodings[i], batch.elements[i], batch.expires_ms[i])
    assert reader.summary.complete
    return out, reader.summary


def test_redis_8_hash_field_ttls_in_all_four_layouts() -> None:
    triplets = f.listpack([b"f1", b"v1", b"1760000000000", b"f2", b"v2", b"0"])
    table = f.length(2) + f.length(5) + f.string(b"a") + f.string(b"1") + f.length(0) + f.string(b"b") + f.string(b"2")
    pre_ga = f.length(1) + f.length(1_760_000_000_000) + f.string(b"a") + f.string(b"1")
    body = (f.key(24, b"meta", struct.pack("<q", 1_760_000_000_000) + table)
            + f.key(25, b"lpex", struct.pack("<q", 1_760_000_000_000) + f.string(triplets))
            + f.key(22, b"meta-rc", pre_ga)
            + f.key(23, b"lpex-rc", f.string(triplets)))
    keys, _ = parse(f.rdb(body))
    assert keys[b"meta"][:3] == (b"hash", b"hashtable", 2)
    assert keys[b"lpex"][:3] == (b"hash", b"listpackex", 2)
    assert keys[b"meta-rc"][:3] == (b"hash", b"hashtable", 1)
    assert keys[b"lpex-rc"][:3] == (b"hash", b"listpackex", 2)


def test_module_values_are_skipped_and_named() -> None:
    mid = f.module_id("ReJSON-RL", 3)
    assert module_name(mid) == "ReJSON-RL"
    value = (f.length(mid) + f.length(1) + f.length(42) + f.length(5) + f.string(b"{\"a\":1}")
             + f.length(4) + struct.pack("<d", 1.5) + f.length(3) + struct.pack("<f", 2.5) + f.length(0))
    module_aux = b"\xf7" + f.length(f.module_id("graphdata", 1)) + f.length(2) + f.length(1) + f.length(0)
    keys, summary = parse(f.rdb(module_aux + f.key(7, b"doc", value) + f.key(0, b"s", f.string(b"after"))))
    assert keys[b"doc"][:2] == (b"ReJSON-RL", b"raw")
    assert keys[b"s"][0] == b"string"
    assert summary.modules == {"ReJSON-RL": 1} and summary.module_aux == ["graphdata"]


def test_quicklist_with_plain_and_packed_nodes() -> None:
    nodes = f.length(2) + f.length(1) + f.string(b"x" * 5000) + f.length(2) + f.string(f.listpack([b"a", b"b", b"c"]))
    keys, _ = parse(f.rdb(f.key(18, b"list", nodes)))
    assert keys[b"list"][:3] == (b"list", b"quicklist", 4)


def test_redis_6_2_and_older_encodings() -> None:
    zipmap = bytes([2]) + bytes([1]) + b"a" + bytes([1, 0]) + b"1" + bytes([1]) + b"b" + bytes([1, 0]) + b"2" + b"\xff"
    body = (f.key(10, b"zl-list", f.string(f.ziplist([b"a", b"b", b"c"])))
            + f.key(12, b"zl-zset", f.string(f.ziplist([b"m", b"1", b"n", b"2"])))
            + f.key(13, b"zl-hash", f.string(f.ziplist([b"f", b"v"])))
            + f.key(14, b"ql1", f.length(2) + f.string(f.ziplist([b"a", b"b"])) + f.string(f.ziplist([b"c"])))
            + f.key(9, b"zipmap", f.string(zipmap))
            + f.key(11, b"intset", f.string(f.intset([1, 2, 3])))
            + f.key(1, b"linked", f.length(2) + f.string(b"a") + f.string(b"b"))
            + f.key(2, b"set", f.length(2) + f.string(b"a") + f.string(b"b"))
            + f.key(3, b"zset1", f.length(3) + f.string(b"a") + bytes([3]) + b"1.5" + f.string(b"b") + bytes([253])
                    + f.string(b"c") + bytes([254]))
            + f.key(4, b"hash", f.length(1) + f.string(b"f") + f.string(b"v")))
    keys, _ = parse(f.rdb(body, magic=b"REDIS0009", auxes=f.aux(b"redis-ver", b"6.2.14")))
    assert {k: v[:3] for k, v in keys.items()} == {
        b"zl-list": (b"list", b"ziplist", 3), b"zl-zset": (b"zset", b"ziplist", 2),
        b"zl-hash": (b"hash", b"ziplist", 1), b"ql1": (b"list", b"quicklist", 3),
        b"zipmap": (b"hash", b"zipmap", 2), b"intset": (b"set", b"intset", 3),
        b"linked": (b"list", b"quicklist", 2), b"set": (b"set", b"hashtable", 2),
        b"zset1": (b"zset", b"skiplist", 3), b"hash": (b"hash", b"hashtable", 1)}


def test_saturated_container_counts_are_walked() -> None:
    entries = [b"e"] * 70_000
    keys, _ = parse(f.rdb(f.key(20, b"bigset", f.string(f.listpack(entries, count=0xFFFF)))))
    assert keys[b"bigset"][:3] == (b"set", b"listpack", 70_000)


def test_cluster_and_slot_records_expiry_in_seconds_and_lru_lfu() -> None:
    body = (b"\xfe" + f.length(0) + b"\xfb" + f.length(3) + f.length(1)
            + b"\xf4" + f.length(1234) + f.length(3) + f.length(1)
            + b"\xfd" + struct.pack("<i", 1_800_000_000) + f.key(0, b"{a}x", f.string(b"1"))
            + b"\xf8" + f.length(77) + f.key(0, b"{a}y", f.string(b"2"))
            + b"\xf9" + bytes([9]) + f.key(0, b"{a}z", f.string(b"3")))
    reader = RdbReader(io.BytesIO(f.rdb(body)))
    batch = next(iter(reader))
    assert batch.expires_ms == [1_800_000_000_000, -1, -1]
    assert batch.idle_s == [-1, 77, -1] and batch.freq == [-1, -1, 9]
    assert list(reader) == [] and reader.summary.slots == 1
    assert (reader.summary.dbs[0].resize_keys, reader.summary.dbs[0].resize_expires) == (3, 1)
    assert reader.info.version == 12 and reader.info.server_version == "8.0.2"


def test_valkey_slot_import_record() -> None:
    body = b"\xf3" + f.string(b"job-1") + f.length(1) + f.length(0) + f.length(100) + f.key(0, b"k", f.string(b"v"))
    keys, summary = parse(f.rdb(body, magic=b"VALKEY080", auxes=f.aux(b"valkey-ver", b"9.0.0")))
    assert list(keys) == [b"k"] and summary.slot_imports == 1


def test_a_file_saved_without_checksum_reads_as_such() -> None:
    keys, summary = parse(f.rdb(f.key(0, b"k", f.string(b"v")), checksum=False))
    assert list(keys) == [b"k"] and summary.checksum == "absent"


def test_empty_file_of_keys() -> None:
    keys, summary = parse(f.rdb(b""))
    assert keys == {} and summary.keys == 0 and summary.checksum == "verified"


@pytest.mark.parametrize("verify", [True, False])
def test_a_huge_value_costs_a_skip_not_its_size_in_memory(tmp_path: pytest.TempPathFactory, verify: bool) -> None:
    """64 MB value: read through in bounded chunks (or seeked past without checksum verification)."""
    import tracemalloc

    big = 64 << 20
    path = tmp_path / "big.rdb"  # type: ignore[operator]
    data = f.rdb(f.key(0, b"big", f.length(big) + b"\x00" * big) + f.key(0, b"after", f.string(b"1")))
    path.write_bytes(data)
    del data
    tracemalloc.start()
    try:
        with open(path, "rb") as stream:
            reader = RdbReader(stream, verify_checksum=verify)
            keys = [k for batch in reader for k in batch.keys]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert keys == [b"big", b"after"] and reader.summary.complete
    assert peak < 8 << 20
