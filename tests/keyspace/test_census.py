from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest
from redis import exceptions as rexc

from redis_audit.acl import suggest_rule
from redis_audit.client import open_client
from redis_audit.collect import declared_collectors
from redis_audit.guard import CommandNotAllowed
from redis_audit.keyspace import CensusOptions, ScanSettings, run_census
from redis_audit.keyspace.overhead import Overhead
from redis_audit.keyspace.patterns import Grouper
from redis_audit.keyspace.scanner import NodeScanner
from redis_audit.keyspace.stats import Aggregator
from redis_audit.keyspace.wire import Link
from redis_audit.registry import all_checks, discover_packs
from redis_audit.sandbox import Sandbox, SandboxSpec
from redis_audit.secret import Secret
from redis_audit.target import Credentials, Target
from tests.keyspace.data import admin_clients, dbsize, load, target_and_topology


def groups(result: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {g["pattern"]: g for g in result["groups"]}


def census(sb: Sandbox, options: CensusOptions) -> dict[str, Any]:
    """The census as the sandbox's least-privileged auditor user runs it."""
    return run_census(*target_and_topology(sb), options)


def link(target: Target) -> Link:
    address = target.seeds[0]
    return Link(open_client(address, tls=target.tls, credentials=target.credentials, decode=False))


def test_grouper_infers_patterns_and_honours_prefixes() -> None:
    g = Grouper(prefixes=("cache:",))
    assert g.group(b"rl:1234:28900000") == "rl:*:*"
    assert g.group(b"rlz:10.1.2.3") == "rlz:*"
    assert g.group(b"cache:user:10000042") == "cache:*"
    assert g.group(b"s:550e8400-e29b-41d4-a716-446655440000") == "s:*"
    assert g.group(b"user:{42}:cart") == "user:{*}:cart"
    keys = [b"rl:1:2", b"cache:user:7", b"cache:item:9", b"rl:3:4", b"x:55"]
    assert g.group_many(keys) == [g.group(k) for k in keys] == ["rl:*:*", "cache:*", "cache:*", "rl:*:*", "x:*"]
    digits = Grouper(prefixes=("t1:",))  # a prefix with a digit: keys t1:.. and t2:.. share a shape
    assert digits.group_many([b"t1:5", b"t2:5", b"t1:6"]) == ["t1:*", "t*:*", "t1:*"]
    # A word and a number: one group for all users, not one per user.
    assert g.group_many([b"user:u123:rl", b"user:u124:rl", b"shard7:x"]) == ["user:u*:rl", "user:u*:rl", "shard*:x"]
    capped = Grouper(max_groups=2)
    assert [capped.group(k) for k in (b"a:1", b"b:1", b"c:1")] == ["a:*", "b:*", "<other>"]


def test_keys_differing_in_a_kept_segment_keep_their_own_group() -> None:
    g = Grouper()
    keys = [b"auth:2fa:17", b"auth:3fa:18", b"auth:2fa:19", b"7d:rl:1", b"8d:rl:2"]
    expected = ["auth:2fa:*", "auth:3fa:*", "auth:2fa:*", "7d:rl:*", "8d:rl:*"]
    assert g.group_many(keys) == expected
    assert g.group_many(keys) == expected  # and again, from the cache


def test_exact_census_finds_every_ttl_less_key(standalone: Sandbox) -> None:
    immortal = load(standalone)
    result = census(standalone, CensusOptions(mode="exact"))
    found = groups(result)
    assert found["rlz:*"]["noTtl"] == len(immortal) == 6
    assert set(found["rlz:*"]["noTtlExamples"]) <= {k.decode() for k in immortal}
    assert found["rl:*:*"]["keys"] == 2000 and found["rl:*:*"]["noTtl"] == 0
    assert found["rl:*:*"]["types"] == {"string": 2000}
    assert found["cache:user:*"]["noTtl"] == found["cache:user:*"]["keys"] == 100
    assert sum(found["rl:*:*"]["ttlHistogram"].values()) == 2000
    assert result["totals"]["keys"] == dbsize(standalone)
    # Corrected bytes add the expires entry and the buckets: more than MEMORY USAGE alone.
    assert found["rl:*:*"]["correctedBytes"] > found["rl:*:*"]["bytes"] + 2000 * 24
    assert result["complete"] and result["nodes"][0]["overheadSource"] == "memory-stats"


def test_exact_census_with_types_by_sampling(standalone: Sandbox) -> None:
    immortal = load(standalone, rl=4000, rlz=600, cache=400)
    per_key = census(standalone, CensusOptions(mode="exact"))
    assert per_key["typesSampled"] is False and "typesSampled" not in per_key["groups"][0]
    result = census(standalone, CensusOptions(mode="exact", scan=ScanSettings(types="sampled", type_sample_every=8)))
    found, exact = groups(result), groups(per_key)
    # Counts, bytes and TTLs are those of every key: the same as the per-key census.
    for name, g in exact.items():
        for field in ("keys", "bytes", "noTtl"):
            assert found[name][field] == g[field], (name, field)
        # Remaining TTLs move on between the two runs: a key may cross a bucket edge meanwhile.
        assert sum(found[name]["ttlHistogram"].values()) == sum(g["ttlHistogram"].values())
        for label, count in g["ttlHistogram"].items():
            assert abs(found[name]["ttlHistogram"][label] - count) <= 2 + count // 100, (name, label)
    assert found["rlz:*"]["noTtl"] == len(immortal)
    # The type breakdown is a labelled estimate from 1 key in 8, scaled to the group's exact count.
    total = dbsize(standalone)
    assert result["typesSampled"] is True and result["typeSampleEvery"] == 8
    assert total // 8 <= result["typeSampleSize"] <= total // 8 + 1
    assert found["rl:*:*"]["typesSampled"] is True and found["rl:*:*"]["types"] == {"string": 4000}
    assert found["rlz:*"]["types"] == {"zset": 600}
    assert all(e["type"] in ("string", "zset") for g in found.values() for e in g["largest"])
    # Fewer commands: TYPE for one key in 8 only.
    assert result["commands"] < per_key["commands"] * 3 // 4


def test_sampled_census_with_types_by_sampling(standalone: Sandbox) -> None:
    load(standalone, rl=20_000, rlz=3000, cache=2000)
    scan = ScanSettings(seed=5, min_units=300, types="sampled", type_sample_every=4)
    result = census(standalone, CensusOptions(mode="sampled", budget=30_000, scan=scan))
    found = groups(result)
    assert result["typesSampled"] is True and result["typeSampleSize"] > 0
    assert set(found["rlz:*"]["types"]) == {"zset"} and found["rlz:*"]["types"]["zset"] == found["rlz:*"]["keys"]
    assert found["rl:*:*"]["ci95"]["bytes"] > 0


def test_sampled_agrees_with_exact_within_the_interval(standalone: Sandbox) -> None:
    load(standalone, rl=20_000, rlz=3000, cache=2000)
    exact = groups(census(standalone, CensusOptions(mode="exact")))
    options = CensusOptions(mode="sampled", budget=40_000, scan=ScanSettings(seed=7, min_units=300))
    sampled = census(standalone, options)
    assert sampled["mode"] == "sampled" and sampled["commands"] <= 40_000 + 400 * 4
    for name, g in groups(sampled).items():
        if exact[name]["keys"] < 2000:
            continue
        for field in ("keys", "bytes", "correctedBytes"):
            # 2x the 95% half-width: a genuine disagreement, not a 1-in-20 draw.
            assert abs(g[field] - exact[name][field]) <= 2 * g["ci95"][field] + 1, (name, field)
        assert g["ci95"]["bytes"] > 0


def test_sampled_keeps_to_its_budget_with_the_refcount_sample(standalone: Sandbox) -> None:
    admin_clients(standalone)[0].config_set("maxmemory", 0)  # small integers shared: OBJECT REFCOUNT 1 in 16
    load(standalone, rl=20_000, rlz=1000, cache=500)
    scan = ScanSettings(seed=11, min_units=100_000)  # never precise enough: only the budget stops it
    result = census(standalone, CensusOptions(mode="sampled", budget=20_000, scan=scan))
    assert result["mode"] == "sampled" and result["nodes"][0]["sharedIntegers"] is True
    # SCAN COUNT is a hint (a slice can return a few more keys than asked), so the batches already under way
    # when the budget is reached can overrun it a little; never by more than a few per cent.
    assert 18_000 <= result["commands"] <= 20_000 * 102 // 100


def test_sampled_stops_once_the_limiter_groups_are_precise(standalone: Sandbox) -> None:
    load(standalone, rl=20_000, rlz=3000, cache=2000)
    scan = ScanSettings(seed=3, min_units=200, target_ci_bp=1000, precise_prefixes=("rl:", "rlz:"))
    # Just under what an exact census would cost (25,000 keys x 3 commands), which it would run instead.
    result = census(standalone, CensusOptions(mode="sampled", budget=74_000, scan=scan))
    assert result["mode"] == "sampled" and result["complete"]
    assert result["commands"] < 25_000  # stopped long before the budget
    found = groups(result)
    for name in ("rl:*:*", "rlz:*"):
        assert found[name]["ci95"]["bytes"] * 10_000 <= 1000 * found[name]["bytes"], name
    # The cache groups are not judged: they get what the sample gives, with their own interval.
    assert found["cache:user:*"]["ci95"]["bytes"] > 0


def test_a_budget_that_covers_every_key_buys_the_exact_answer(standalone: Sandbox) -> None:
    load(standalone, rl=600, rlz=60, cache=40)
    result = census(standalone, CensusOptions(mode="sampled", budget=200_000))
    assert result["mode"] == "exact" and result["modeRequested"] == "sampled"
    found = groups(result)
    assert found["rl:*:*"]["keys"] == 600 and found["rl:*:*"]["ci95"]["bytes"] == 0
    assert result["commands"] < 3 * 700 + 100


def test_vanished_keys_and_binary_names(standalone: Sandbox) -> None:
    admin = admin_clients(standalone)[0]
    weird = b"bin:\xff\x00\r\n:42"
    admin.set(weird, b"v")
    admin.set(b"plain:1", b"v", ex=100)
    target, _ = target_and_topology(standalone)
    agg = Aggregator()
    scanner = NodeScanner(link(target), Grouper(), agg, Overhead(0.0, 0.0, "estimated", 0, 0), ScanSettings(), 2)
    scanner._measure([weird, b"gone:1", b"plain:1", b"gone:2"], None)
    assert agg.vanished == 2 and agg.keys == 4
    assert agg.groups["bin:\\xff\x00\r\n:*"].no_ttl == 1
    assert agg.groups["plain:*"].keys == 1
    result = census(standalone, CensusOptions(mode="exact"))
    assert result["totals"]["keys"] == 2


def test_a_dropped_connection_resumes_from_the_cursor(standalone: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    load(standalone, rl=5000, rlz=100, cache=0)
    real = Link.read
    calls = {"n": 0}

    def flaky(self: Link, count: int) -> list[Any]:
        calls["n"] += 1
        if calls["n"] in (3, 4):
            self._conn._sock.close()
            raise rexc.ConnectionError("dropped")
        return real(self, count)

    monkeypatch.setattr(Link, "read", flaky)
    options = CensusOptions(mode="exact", scan=ScanSettings(slice_budget_us=500))
    result = census(standalone, options)
    assert result["complete"]
    assert result["totals"]["keys"] == 5100  # nothing lost; SCAN may repeat a key only while rehashing


def load_big_values(sb: Sandbox) -> dict[str, tuple[str, int, int]]:
    """Values over the census's 2 KB threshold, among limiter keys: {name: (type, elements, exact bytes)}."""
    admin = admin_clients(sb)[0]
    pipe = admin.pipeline(transaction=False)
    shapes = {"big:hash:": 6, "big:zset:": 3, "big:set:": 2, "big:list:": 2, "big:str:": 3}
    for prefix, count in shapes.items():
        for i in range(count):
            key, n = f"{prefix}{i}", 800 + 300 * i
            if prefix == "big:hash:":
                pipe.hset(key, mapping={f"field-{j}": "v" * 24 for j in range(n)})
            elif prefix == "big:zset:":
                pipe.zadd(key, {f"member-{j}": j for j in range(n)})
            elif prefix == "big:set:":
                pipe.sadd(key, *(f"member-{j}" for j in range(n)))
            elif prefix == "big:list:":
                pipe.rpush(key, *(f"item-{j}" for j in range(n)))
            else:
                pipe.set(key, "s" * (3000 + n))
    pipe.execute()
    found = {}
    for key in admin.scan_iter("big:*"):
        kind = admin.type(key)
        length = {"hash": admin.hlen, "zset": admin.zcard, "set": admin.scard, "list": admin.llen,
                  "string": admin.strlen}[kind](key)
        found[key] = (kind, length, admin.memory_usage(key, samples=0))
    return found


@pytest.mark.parametrize(("mode", "types"), [("exact", "per-key"), ("exact", "sampled"), ("sampled", "per-key")])
def test_big_values_are_measured_exactly_among_pipelined_requests(standalone: Sandbox, mode: str, types: str) -> None:
    # Small requests: many are under way when a big value's re-measure is queued behind them.
    load(standalone, rl=4000, rlz=200, cache=100)
    big = load_big_values(standalone)
    scan = ScanSettings(slice_budget_us=300, types=types, seed=7)
    result = census(standalone, CensusOptions(mode=mode, budget=12_000, scan=scan))  # exact would cost ~13,000
    assert result["mode"] == mode
    assert result["complete"]
    reported = {e["key"]: e for e in result["bigKeys"]["examples"]}
    for key, entry in reported.items():
        assert (entry["type"], entry["elements"], entry["bytes"]) == big[key], key
    if mode == "exact":
        assert set(reported) == set(big) and result["bigKeys"]["count"] == len(big)
        assert result["totals"]["keys"] == dbsize(standalone)
        assert groups(result)["rl:*:*"]["keys"] == 4000
    else:
        assert reported  # a sample of 16 big values among 4,316 keys, drawn with a fixed seed


@pytest.mark.parametrize(("mode", "types"), [("exact", "per-key"), ("exact", "sampled"), ("sampled", "per-key")])
def test_the_server_never_holds_more_than_the_window(standalone: Sandbox, monkeypatch: pytest.MonkeyPatch,
                                                      mode: str, types: str) -> None:
    """What the census has sent and not yet read is all the server can be working on for it at once."""
    load(standalone, rl=6000, rlz=300, cache=200)
    load_big_values(standalone)
    unanswered = {"now": 0, "most": 0}
    real_send, real_read = Link.send, Link.read

    def send(self: Link, data: bytes, commands: int) -> None:
        unanswered["now"] += commands
        unanswered["most"] = max(unanswered["most"], unanswered["now"])
        real_send(self, data, commands)

    def read(self: Link, count: int) -> list[Any]:
        unanswered["now"] -= count
        return real_read(self, count)

    monkeypatch.setattr(Link, "send", send)
    monkeypatch.setattr(Link, "read", read)
    scan = ScanSettings(slice_budget_us=500, window=2, types=types)
    result = census(standalone, CensusOptions(mode=mode, budget=15_000, scan=scan))  # exact would cost ~19,500
    assert result["mode"] == mode and result["complete"] and result["commands"] > 5_000
    per_request = max(scan.chunk_keys(3 if types == "per-key" else 2) * 3, scan.slices_per_batch)
    assert 0 < unanswered["most"] <= 2 * per_request < result["commands"] / 4


@pytest.mark.parametrize(("spec", "maxmemory"), [
    (SandboxSpec(topology="standalone", engine="valkey"), None),
    (SandboxSpec(topology="standalone", tls=True), None),  # allkeys-lru under a maxmemory: nothing shared
    (SandboxSpec(topology="standalone"), 0),  # no maxmemory: counters 0-9999 point to shared integers
], ids=["valkey", "redis-tls-lru", "redis-shared-integers"])
def test_corrected_bytes_match_what_the_keys_cost(fresh_sandbox: Callable[[SandboxSpec], Sandbox],
                                                  spec: SandboxSpec, maxmemory: int | None) -> None:
    sb = fresh_sandbox(spec)
    admin = admin_clients(sb)[0]
    if maxmemory is not None:
        admin.config_set("maxmemory", maxmemory)
    if spec.engine == "redis":  # the first call of each command would add its latency histogram (~25 KB)
        admin.config_set("latency-tracking", "no")

    def used_by_data() -> int:  # not by client buffers: the load's query buffer shrinks only later
        memory = admin.info("memory")
        return int(memory["used_memory"]) - int(memory["mem_clients_normal"])

    empty = used_by_data()
    immortal = load(sb, rl=30_000, rlz=1500, cache=500)
    big = load_big_values(sb)
    result = census(sb, CensusOptions(mode="exact"))
    assert result["complete"] and result["totals"]["keys"] == dbsize(sb)
    assert groups(result)["rlz:*"]["noTtl"] == len(immortal)
    assert {e["key"] for e in result["bigKeys"]["examples"]} == set(big)
    assert result["nodes"][0]["sharedIntegers"] is (maxmemory == 0)
    # What the keys cost the server, measured: within 3%, where MEMORY USAGE alone is 20-30% short.
    data = used_by_data() - empty
    assert abs(result["totals"]["correctedBytes"] - data) <= data * 3 // 100, (result["totals"], data)
    assert result["totals"]["bytes"] < data * 85 // 100


def test_a_user_made_from_acl_suggest_can_take_the_census(standalone: Sandbox) -> None:
    load(standalone, rl=3000, rlz=100, cache=50)
    load_big_values(standalone)
    needs = {fact for check in all_checks(discover_packs()) for fact in check.meta.needs}
    rule = suggest_rule(needs, declared_collectors(), (7, 0))
    admin = admin_clients(standalone)[0]
    admin.execute_command("ACL", "SETUSER", "suggested", "on", ">suggested-pw", *rule.tokens)
    target, topology = target_and_topology(standalone)
    target = replace(target, credentials=Credentials("suggested", Secret("suggested-pw")))
    result = run_census(target, topology, CensusOptions(mode="exact"))
    assert result["complete"] and result["totals"]["keys"] == dbsize(standalone)
    assert result["nodes"][0]["vanished"] == 0 and result["nodes"][0]["overheadSource"] == "memory-stats"
    assert result["bigKeys"]["count"] == 16


def test_cluster_scans_each_primary_once(cluster: Sandbox) -> None:
    load(cluster, rl=3000, rlz=150, cache=90)
    result = census(cluster, CensusOptions(mode="exact"))
    nodes = result["nodes"]
    primaries = {n.address: n for n in cluster.info.nodes_with_role("primary")}
    assert sorted(n["address"] for n in nodes) == sorted(primaries)
    assert all(n["scannedKeys"] == cluster.admin_client(primaries[n["address"]]).dbsize() > 0 for n in nodes)
    assert result["totals"]["keys"] == 3240
    assert groups(result)["rlz:*"]["noTtl"] == 3


def test_the_census_reads_one_replica_per_shard_when_allowed(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SandboxSpec(topology="cluster", cluster_primaries=3, cluster_replicas=1))
    load(sb, rl=3000, rlz=150, cache=90)
    for primary in admin_clients(sb):
        assert primary.execute_command("WAIT", 1, 5000) == 1  # every write has reached the replica
    target, topology = target_and_topology(sb)
    result = run_census(target, topology, CensusOptions(mode="exact", read_from_replicas=True))
    nodes = result["nodes"]
    replicas = {str(n.address) for n in topology.nodes if str(n.role) == "replica"}
    assert len(nodes) == 3 and {n["address"] for n in nodes} <= replicas and all(n["role"] == "replica" for n in nodes)
    assert result["complete"] and result["totals"]["keys"] == 3240  # READONLY: each replica answers its shard


def test_the_ops_cap_paces_the_census(standalone: Sandbox) -> None:
    load(standalone, rl=2000, rlz=100, cache=50)
    started = time.monotonic()
    result = census(standalone, CensusOptions(mode="exact", scan=ScanSettings(max_ops_per_s=10_000)))
    elapsed = time.monotonic() - started
    # A lower bound only (sleeping guarantees it, a busy host cannot break it): 6,450+ commands at 10,000/s.
    assert result["complete"] and result["commands"] > 6000
    assert elapsed >= (result["commands"] - 2000) / 10_000  # the first requests go out before any pacing


def test_the_census_sends_nothing_the_guard_refuses(sandboxes: Any) -> None:
    # Nothing is written: the shared sandbox is enough.
    target, _ = target_and_topology(sandboxes.get(SandboxSpec(topology="standalone")))
    guarded = link(target)
    with pytest.raises(CommandNotAllowed):
        guarded.per_key_template(((b"TYPE",), ()), ((b"DEL",), ()))
    with pytest.raises(CommandNotAllowed):
        guarded.pack(b"KEYS", b"*")
    guarded.close()
