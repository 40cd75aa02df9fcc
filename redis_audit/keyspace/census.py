"""The keyspace census: which nodes to scan, each scanned once, and the merged result.

    result = run_census(target, topology, CensusOptions(mode="sampled", budget=200_000))

Every primary is scanned once (a replica of it instead, when read_from_replicas is set and one
exists). All connections come from ``open_client`` with decode=False, so the read-only guard
applies to every command and key names stay bytes. With a `Deadline`, the census is a wall's
tenant like everything else: no new slice starts near it, and what is still under way at it is
cut (DeadlineExceeded, saying which nodes were still being scanned).
"""

from __future__ import annotations

import queue
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import redis

from redis_audit.client import Timeouts, open_client
from redis_audit.daemons import run_on_daemons
from redis_audit.deadline import Deadline, DeadlineExceeded
from redis_audit.facts.parse import parse_info
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
# Under a deadline, no new slice starts in its last second: what is on the wire still has time to come back.
DEADLINE_MARGIN_S = 1.0


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


def _prepare(node: Node, target: Target, options: CensusOptions, deadline: Deadline | None) -> _Prepared:
    client = open_client(node.address, tls=target.tls, credentials=target.credentials,
                         timeouts=options.timeouts, decode=False, deadline=deadline)
    try:
        return _prepared(node, client)
    except redis.ResponseError:
        client.close()
        raise  # refused (NOPERM...): the caller says what the auditor lacks
    except Exception as exc:  # unreachable, too slow, or a reply that makes no sense
        client.close()
        raise CensusError(f"{node.address}: {type(exc).__name__}: {exc}") from None


def _prepared(node: Node, client: redis.Redis) -> _Prepared:
    reply = client.execute_command("INFO", "everything")
    if not isinstance(reply, bytes):
        raise CensusError(f"{node.address}: INFO answered with a {type(reply).__name__}, not text")
    info = parse_info(reply.decode("utf-8", "replace"))
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
               progress: Callable[[int, int], None] | None = None, deadline: Deadline | None = None) -> JsonObject:
    """Scan every shard once and return the census as JSON (ints and strings only)."""
    started = time.monotonic()
    chosen = nodes_to_scan(topology, options.read_from_replicas)
    if not chosen:
        raise CensusError("no primary to scan")
    prepared = [_prepare(node, target, options, deadline) for node in chosen]
    total = sum(p.dbsize for p in prepared)
    mode = options.mode
    if mode == "sampled" and _exact_cost(total, options.scan) <= options.budget:
        mode = "exact"  # the budget covers every key: an exact answer costs less than an estimate
    done = [0]

    def advance(n: int) -> None:
        done[0] += n
        if progress is not None:
            progress(done[0], total)

    stop_at = _stop_at(started, options.time_budget_s, deadline)
    cluster_replica = topology.kind is DeploymentKind.CLUSTER and options.read_from_replicas

    def scan(p: _Prepared) -> NodeCensus:
        share = p.dbsize / total if total else 1.0 / len(prepared)
        settings = replace(options.scan, mode=mode, deadline=stop_at,
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

    nodes = _scan_all(prepared, scan, deadline)
    labels = nodes[0].agg.labels
    result = merge(nodes, mode, labels, int((time.monotonic() - started) * 1000), options.scan.type_sample_every)
    if mode != options.mode:
        result["modeRequested"] = options.mode
    return result


def _stop_at(started: float, time_budget_s: float, deadline: Deadline | None) -> float:
    """When no new slice may start (monotonic; 0: never): the time budget's end, or near the deadline."""
    stops = [started + time_budget_s] if time_budget_s > 0 else []
    if deadline is not None and deadline.at != float("inf"):
        stops.append(deadline.at - DEADLINE_MARGIN_S)
    return min(stops, default=0.0)


def _scan_all(prepared: list[_Prepared], scan: Callable[[_Prepared], NodeCensus],
              deadline: Deadline | None) -> list[NodeCensus]:
    """Each node on a daemon thread (at most MAX_PARALLEL_NODES at once), in the order given.

    Daemon threads, and a wait bounded by the deadline: a node stuck on a hostile server can
    neither hold the census past its deadline nor keep the process alive after it.
    """
    done = run_on_daemons(len(prepared), lambda i: scan(prepared[i]), MAX_PARALLEL_NODES, "census")
    results: dict[int, NodeCensus] = {}
    while len(results) < len(prepared):
        left = None if deadline is None or deadline.at == float("inf") else max(0.0, deadline.remaining())
        try:
            index, outcome = done.get(timeout=left)
        except queue.Empty:
            under_way = ", ".join(str(p.node.address) for i, p in enumerate(prepared) if i not in results)
            assert deadline is not None
            raise DeadlineExceeded(deadline.message(f"the census of {under_way}")) from None
        if isinstance(outcome, Exception):
            raise outcome
        results[index] = outcome
    return [results[i] for i in range(len(prepared))]


def _exact_cost(keys: int, scan: ScanSettings) -> int:
    """Commands an exact census of this many keys sends: the per-key ones, and a SCAN per slice of ~100."""
    return keys * (3 if scan.types == "per-key" else 2) + keys // 100 + 10
