"""The keyspace census: which nodes to scan, each scanned once, and the merged result.

    result = run_census(target, topology, CensusOptions(mode="sampled", budget=200_000))

Every primary is scanned once (a replica of it instead, when read_from_replicas is set and one
exists). All connections come from ``open_client`` with decode=False, so the read-only guard
applies to every command and key names stay bytes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace

import redis

from redis_audit.client import Timeouts, open_client
from redis_audit.collect.parse import parse_info
from redis_audit.jsonvalue import JsonObject
from redis_audit.keyspace import overhead as oh
from redis_audit.keyspace.patterns import Grouper
from redis_audit.keyspace.result import NodeCensus, merge
from redis_audit.keyspace.scanner import NodeScanner, ScanSettings
from redis_audit.keyspace.stats import DEFAULT_TTL_EDGES_S, Aggregator
from redis_audit.keyspace.wire import Link
from redis_audit.target import Target
from redis_audit.topology import DeploymentKind, Node, Topology

MAX_PARALLEL_NODES = 8


@dataclass(frozen=True)
class CensusOptions:
    mode: str = "sampled"  # "exact" or "sampled"
    budget: int = 200_000  # sampled: commands in all, shared by the nodes in proportion to their keys
    prefixes: tuple[str, ...] = ()
    ttl_edges_s: tuple[int, ...] = DEFAULT_TTL_EDGES_S
    read_from_replicas: bool = False
    time_budget_s: float = 0.0  # 0: no limit
    max_groups: int = 1000
    # Limiter windows by key prefix ([[limiters]]): their groups also count the keys whose TTL is in
    # the top window_top_bp of the window (RL-001: TTL refreshed on every hit) or above the window.
    windows: tuple[tuple[str, int], ...] = ()
    window_top_bp: int = 500
    scan: ScanSettings = field(default_factory=ScanSettings)
    timeouts: Timeouts = field(default_factory=Timeouts)


class CensusError(Exception):
    """No node could be scanned."""


def windows_by_group(windows: tuple[tuple[str, int], ...]) -> dict[str, int]:
    """Group name (a profile prefix + '*', as Grouper names it) -> the longest window of that prefix, in ms."""
    out: dict[str, int] = {}
    for prefix, window_s in windows:
        if window_s > 0:
            name = prefix + "*"
            out[name] = max(out.get(name, 0), window_s * 1000)
    return out


def nodes_to_scan(topology: Topology, read_from_replicas: bool) -> list[Node]:
    """One node per primary: the primary, or its first replica when reads from replicas are allowed."""
    chosen = []
    for primary in topology.primaries():
        replicas = topology.replicas_of(primary) if read_from_replicas else []
        chosen.append(replicas[0] if replicas else primary)
    return chosen


@dataclass
class _Prepared:
    node: Node
    client: redis.Redis
    dbsize: int
    expires: int
    used_memory: int
    overhead: oh.Overhead


def _prepare(node: Node, target: Target, options: CensusOptions) -> _Prepared:
    client = open_client(node.address, tls=target.tls, credentials=target.credentials,
                         timeouts=options.timeouts, decode=False)
    info = parse_info(client.execute_command("INFO", "everything").decode("utf-8", "replace"))
    db0 = info.get("keyspace", {}).get("db0", "")
    fields = dict(p.split("=", 1) for p in db0.split(",") if "=" in p)
    keys, expires = int(fields.get("keys", 0)), int(fields.get("expires", 0))
    server = info.get("server", {})
    engine = "valkey" if "valkey_version" in server else "redis"
    parts = (server.get("valkey_version") or server.get("redis_version") or "0.0.0").split(".")
    major, minor, patch = ([int(x) if x.isdigit() else 0 for x in parts] + [0, 0, 0])[:3]
    version = (major, minor, patch)
    overhead = oh.from_counts(keys, expires)
    try:
        stats = oh.parse_flat(client.execute_command("MEMORY", "STATS"))
        overhead = oh.from_memory_stats(stats, keys, expires, oh.counted_per_key(engine, version)) or overhead
    except redis.RedisError:
        pass  # denied or unknown: keep the estimate from the key counts
    memory = info.get("memory", {})
    used = int(memory.get("used_memory", "0") or 0)
    shared = oh.shares_integers(engine, version, int(memory.get("maxmemory", "0") or 0),
                                memory.get("maxmemory_policy", ""))
    return _Prepared(node, client, keys, expires, used, replace(overhead, shared_integers=shared))


def run_census(target: Target, topology: Topology, options: CensusOptions,
               progress: Callable[[int, int], None] | None = None) -> JsonObject:
    """Scan every shard once and return the census as JSON (ints and strings only)."""
    started = time.monotonic()
    chosen = nodes_to_scan(topology, options.read_from_replicas)
    if not chosen:
        raise CensusError("no primary to scan")
    prepared = [_prepare(node, target, options) for node in chosen]
    total = sum(p.dbsize for p in prepared)
    mode = options.mode
    if mode == "sampled" and _exact_cost(total, options.scan) <= options.budget:
        mode = "exact"  # the budget covers every key: an exact answer costs less than an estimate
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    deadline = started + options.time_budget_s if options.time_budget_s > 0 else 0.0
    cluster_replica = topology.kind is DeploymentKind.CLUSTER and options.read_from_replicas

    def scan(p: _Prepared) -> NodeCensus:
        share = p.dbsize / total if total else 1.0 / len(prepared)
        settings = replace(options.scan, mode=mode, deadline=deadline,
                           budget=max(int(options.budget * share), 1000))
        link = Link(p.client)
        if cluster_replica and str(p.node.role) == "replica":
            link.send(link.pack(b"READONLY"), 1)
            link.read(1)
        agg = Aggregator(options.ttl_edges_s, now_ms=int(time.time() * 1000), big_bytes=settings.big_key_bytes,
                         windows_ms=windows_by_group(options.windows), top_bp=options.window_top_bp)
        scanner = NodeScanner(link, Grouper(options.prefixes, options.max_groups), agg, p.overhead, settings,
                              p.dbsize, advance)
        try:
            state = scanner.run()
        finally:
            link.close()
        return NodeCensus(str(p.node.address), str(p.node.role), p.dbsize, p.expires, p.used_memory,
                          mode == "sampled", agg, state, p.overhead, link.commands_sent)

    if len(prepared) == 1:
        nodes = [scan(prepared[0])]
    else:
        with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_NODES, len(prepared)),
                                thread_name_prefix="census") as pool:
            nodes = list(pool.map(scan, prepared))
    labels = nodes[0].agg.labels
    result = merge(nodes, mode, labels, int((time.monotonic() - started) * 1000), options.scan.type_sample_every)
    if mode != options.mode:
        result["modeRequested"] = options.mode
    return result


def _exact_cost(keys: int, scan: ScanSettings) -> int:
    """Commands an exact census of this many keys sends: the per-key ones, and a SCAN per slice of ~100."""
    return keys * (3 if scan.types == "per-key" else 2) + keys // 100 + 10
