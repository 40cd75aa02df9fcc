"""MEM: the memory cap, headroom, utilisation, the eviction policy and memory health."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext, Limit, Scope
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import basis_points
from redis_audit.model import Finding, Severity
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import Role
from redis_audit.wording import plural

from ._census import census, census_or_none, info_float, limiter_groups, num, sampled_note
from .pack import PACK

MB = 1 << 20


@PACK.check(
    id="MEM-001",
    title="An explicit memory cap (maxmemory) is set",
    severity=Severity.HIGH,
    category="memory",
    verifies="maxmemory is greater than 0 (CONFIG GET, or INFO memory where CONFIG is denied).",
    risk="Without maxmemory the eviction policy never applies: the server grows until the host or the "
    "container kills it.",
    remediation="Set maxmemory below the host's RAM, leaving headroom for forks, buffers and fragmentation "
    "(e.g. CONFIG SET maxmemory 4gb, and persist it in redis.conf).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/admin/",),
    needs=("config", "info"),
)
def maxmemory_set(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    maxmemory = as_int(node.setting("maxmemory"))
    if maxmemory > 0:
        yield ctx.passed(node, f"maxmemory is {maxmemory} bytes", observed=maxmemory, expected="> 0")
    else:
        yield ctx.failed(node, "maxmemory is 0 (no memory cap)", observed=maxmemory, expected="> 0")


@PACK.check(
    id="MEM-004",
    title="The eviction policy is the one the profile requires",
    severity=Severity.HIGH,
    category="memory",
    verifies="maxmemory-policy equals the profile's memory.eviction_policy (default allkeys-lru), or one "
    "of its accepted alternatives.",
    risk="Under memory pressure, noeviction rejects limiter writes (OOM errors) and volatile-* policies "
    "behave like noeviction when keys lack TTLs; either way the limiter fails at peak.",
    remediation="CONFIG SET maxmemory-policy allkeys-lru (or the policy your decision record names), and "
    "persist it in redis.conf or the parameter group.",
    references=("https://redis.io/docs/latest/develop/reference/eviction/",),
    needs=("config", "info"),
)
def eviction_policy(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    policy = node.setting("maxmemory-policy")
    wanted = ctx.profile.memory.eviction_policy
    accepted = {wanted, *ctx.profile.memory.accepted_eviction_policies}
    data = census_or_none(ctx) if str(policy).startswith("volatile-") else None
    immortal = [g for g in limiter_groups(data, ctx.profile) if num(g.get("noTtl"))] if data else []
    if immortal:
        examples = [e for g in immortal for e in g.get("noTtlExamples", [])][:5]
        count = sum(num(g.get("noTtl")) for g in immortal)
        yield ctx.failed(node, f"maxmemory-policy is {policy} but {plural(count, 'limiter key')} have no "
                               "TTL: it can never "
                         f"evict them and behaves like noeviction for them{sampled_note(data or {})}",
                         observed={"policy": policy, "limiterKeysWithoutTtl": count, "examples": examples},
                         expected="allkeys-lru, or TTLs on every limiter key")
    elif policy in accepted:
        yield ctx.passed(node, f"maxmemory-policy is {policy}", observed=policy, expected=sorted(accepted))
    else:
        yield ctx.failed(node, f"maxmemory-policy is {policy}, the profile requires {wanted}",
                         observed=policy, expected=sorted(accepted))


@PACK.check(
    id="MEM-002",
    title="maxmemory leaves headroom on the host for forks, buffers and fragmentation",
    severity=Severity.HIGH,
    category="memory",
    verifies="maxmemory <= memory.max_ram_pct of the host's RAM (INFO total_system_memory), and <= "
    "memory.max_ram_pct_with_fork when the node forks (replicas attached, RDB snapshots or AOF). "
    "ElastiCache/MemoryDB: the parameter group's reserved-memory-percent >= aws.min_reserved_memory_pct.",
    risk="A fork for a snapshot, an AOF rewrite or a full resync copies written pages; with the cap near the "
    "host's RAM the kernel OOM-kills the server at the worst moment.",
    remediation="Lower maxmemory (e.g. to 60-65% of RAM on a persisted or replicated primary), or move to a "
    "bigger host.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/admin/",
                "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/redis-memory-management.html"),
    needs=("config", "info"),
)
def memory_headroom(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    ram = node.info_int("memory", "total_system_memory")
    maxmemory = as_int(node.setting("maxmemory"))
    if ram <= 0:
        yield ctx.skipped(node, "the server does not report total_system_memory (managed service or container)")
        return
    if maxmemory <= 0:
        yield ctx.failed(node, "maxmemory is 0: the server may take all of the host's RAM", observed=0,
                         expected=f"<= {ctx.profile.memory.max_ram_pct}% of {ram} bytes")
        return
    save = node.config("save") if node.has("config") else None
    forks = {"replicas": node.info_int("replication", "connected_slaves") > 0,
             "aof": node.info_int("persistence", "aof_enabled") == 1, "rdb": bool(save and save.strip())}
    forking = any(forks.values())
    limit = ctx.profile.memory.max_ram_pct_with_fork if forking else ctx.profile.memory.max_ram_pct
    ratio = basis_points(maxmemory, ram)
    observed: dict[str, Any] = {"maxmemory": maxmemory, "totalSystemMemory": ram, "ratioBp": ratio, "forks": forks}
    why = " (the node forks: " + ", ".join(k for k, v in forks.items() if v) + ")" if forking else ""
    message = f"maxmemory is {ratio / 100:.1f}% of the host's RAM, limit {limit}%{why}"
    yield ctx.graded(node, ratio, fail=Limit("<=", limit, "%", scale=100), message=message, observed=observed)


@PACK.check(
    id="MEM-003",
    title="Steady-state memory utilisation stays under the cap with margin",
    severity=Severity.MEDIUM,
    category="memory",
    verifies="used_memory / maxmemory < memory.utilisation_warn_pct (WARN up to memory.utilisation_fail_pct, "
    "FAIL above).",
    risk="Near the cap every write evicts (or fails under noeviction); a traffic peak then resets limiter state.",
    remediation="Raise maxmemory (within MEM-002's headroom), shorten TTLs, or shard.",
    needs=("config", "info"),
)
def memory_utilisation(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    used = node.info_int("memory", "used_memory")
    maxmemory = as_int(node.setting("maxmemory"))
    if maxmemory <= 0:
        yield ctx.skipped(node, "maxmemory is 0: utilisation has no cap to compare with (see MEM-001)")
        return
    ratio = basis_points(used, maxmemory)
    memory = ctx.profile.memory
    yield ctx.graded(node, ratio, warn=Limit("<", memory.utilisation_warn_pct, "%", scale=100),
                     fail=Limit("<=", memory.utilisation_fail_pct, "%", scale=100),
                     message=f"used_memory is {ratio / 100:.1f}% of maxmemory",
                     observed={"usedMemory": used, "maxmemory": maxmemory, "ratioBp": ratio})


@PACK.check(
    id="MEM-005",
    title="No keys are being evicted",
    severity=Severity.MEDIUM,
    category="memory",
    verifies="INFO stats evicted_keys is 0 (WARN when > 0) and the server is not over its cap now "
    "(current_eviction_exceeded_time, 7.0+).",
    risk="Each eviction of a limiter key silently resets someone's rate limit.",
    remediation="Give the data more memory or shorter TTLs; separate cache data from limiter keys (RL-005).",
    needs=("info",),
    roles=frozenset({Role.PRIMARY}),
)
def no_evictions(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    evicted = node.info_int("stats", "evicted_keys")
    exceeded = node.info_int("stats", "current_eviction_exceeded_time")
    observed = {"evictedKeys": evicted, "currentEvictionExceededTimeMs": exceeded}
    if exceeded > 0:
        yield ctx.failed(node, f"the server is over maxmemory and evicting now ({plural(evicted, 'key')} "
                               "evicted since start)",
                         observed=observed, expected=0)
    elif evicted > 0:
        yield ctx.warned(node, f"{plural(evicted, 'key')} were evicted since the server "
                               "started", observed=observed, expected=0)
    else:
        yield ctx.passed(node, "no key was evicted since the server started", observed=observed, expected=0)


@PACK.check(
    id="MEM-006",
    title="Memory fragmentation and peak overhang are moderate",
    severity=Severity.LOW,
    category="memory",
    verifies="mem_fragmentation_ratio in 1.0-1.4 (or < 10 MB of excess), allocator_frag_ratio <= 1.1 (or < 10 MB), "
    "used_memory_peak / used_memory <= 1.5; below 1.0 means pages are swapped (FAIL).",
    risk="Fragmented memory counts against the host but not against maxmemory: the OOM killer sees what "
    "maxmemory does not.",
    remediation="Enable activedefrag (jemalloc builds), or restart a replica and fail over during a quiet hour.",
    needs=("info",),
)
def fragmentation(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    ratio = info_float(node, "memory", "mem_fragmentation_ratio")
    if ratio is None:
        yield ctx.skipped(node, "INFO memory has no mem_fragmentation_ratio")
        return
    excess = node.info_int("memory", "mem_fragmentation_bytes")
    allocator = info_float(node, "memory", "allocator_frag_ratio") or 1.0
    allocator_bytes = node.info_int("memory", "allocator_frag_bytes")
    used = node.info_int("memory", "used_memory")
    peak = node.info_int("memory", "used_memory_peak")
    observed = {"fragmentationRatioBp": round(ratio * 10_000), "fragmentationBytes": excess,
                "allocatorFragRatioBp": round(allocator * 10_000), "peakOverUsedBp": basis_points(peak, used)}
    if used < 5 * MB:  # MEMORY DOCTOR's "empty instance": the ratios only reflect the baseline RSS
        yield ctx.passed(node, f"only {used // 1024} KB of data: fragmentation is not meaningful yet",
                         observed=observed, expected="1.0-1.4")
        return
    if ratio < 1.0 and used > 64 * MB:
        yield ctx.failed(node, f"fragmentation ratio {ratio:.2f} < 1.0: part of the dataset is swapped out",
                         observed=observed, expected="1.0-1.4")
        return
    problems = []
    if ratio > 1.4 and excess > 10 * MB:
        problems.append(f"fragmentation ratio {ratio:.2f} with {excess // MB} MB excess")
    if allocator > 1.1 and allocator_bytes > 10 * MB:
        problems.append(f"allocator fragmentation {allocator:.2f}")
    if used and peak > 1.5 * used and peak - used > 10 * MB:
        problems.append(f"peak {peak // MB} MB is {peak / used:.1f}x the current use (ratios unreliable)")
    if problems:
        yield ctx.warned(node, "; ".join(problems), observed=observed, expected="1.0-1.4")
    else:
        yield ctx.passed(node, f"fragmentation ratio {ratio:.2f}", observed=observed, expected="1.0-1.4")


@PACK.check(
    id="MEM-007",
    title="No Redis pages are swapped out",
    severity=Severity.HIGH,
    category="memory",
    verifies="The sum of Swap: in /proc/<process_id>/smaps is 0 (read when the node runs on the auditing host).",
    risk="A swapped page turns a sub-millisecond command into a disk read: limiter latency explodes.",
    remediation="Lower maxmemory or add RAM; set vm.swappiness low; keep swap only as a safety net (OS-004).",
    needs=("host.swap",),
)
def no_swap(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    fact = node.fact("host.swap")  # unavailable (remote node) -> SKIP with the reason
    swap = num(fact.get("swapKb")) if isinstance(fact, dict) else 0
    if swap > 0:
        yield ctx.failed(node, f"{swap} kB of the server's memory is swapped out", observed=swap, expected=0)
    else:
        yield ctx.passed(node, "no page of the server is swapped out", observed=0, expected=0)


@PACK.check(
    id="MEM-008",
    title="Client buffer memory is bounded",
    severity=Severity.LOW,
    category="memory",
    verifies="maxmemory-clients is set (7.0+; WARN at 0) and the average client buffer (mem_clients_normal / "
    "connected_clients) is under 200 KB.",
    risk="Client query and output buffers are outside the dataset: a burst of slow readers or big pipelines "
    "can take the host's memory.",
    remediation="CONFIG SET maxmemory-clients 5% (7.0+), and keep client-output-buffer-limit bounded.",
    needs=("config", "info"),
)
def client_buffers(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    limit = node.config("maxmemory-clients")
    clients = max(node.info_int("clients", "connected_clients"), 1)
    average = node.info_int("memory", "mem_clients_normal") // clients
    observed = {"maxmemoryClients": limit, "averageClientBufferBytes": average}
    if average > 200 * 1024:
        yield ctx.warned(node, f"clients hold {average // 1024} KB of buffers on average", observed=observed,
                         expected="< 200 KB")
    elif limit is None:
        yield ctx.info(node, "maxmemory-clients is not supported before 7.0; client buffers are small now",
                       observed=observed, expected="maxmemory-clients set")
    elif limit.strip() in ("0", "0%"):
        yield ctx.warned(node, "maxmemory-clients is 0: client buffers are unbounded", observed=observed,
                         expected="e.g. 5%")
    else:
        yield ctx.passed(node, f"maxmemory-clients is {limit}", observed=observed, expected="set")


# MEM-009 thresholds (RedisInsight): elements per type, bytes for strings.
BIG_KEY_LIMITS = {"string": 100 * 1024, "hash": 5000, "set": 1000, "list": 1000, "zset": 1000, "stream": 1000}


@PACK.check(
    id="MEM-009",
    title="No big keys on the limiter path",
    severity=Severity.LOW,
    category="memory",
    verifies="No key found by the census exceeds: string 100 KB, hash 5000 fields, set/list/zset/stream 1000 "
    "elements (RedisInsight thresholds).",
    risk="A big key blocks the server while it is read, deleted or expired, and concentrates load on one shard; "
    "an unbounded sliding-window ZSET grows with abuse.",
    remediation="Bound sliding-window logs (ZREMRANGEBYSCORE + a size cap), split big hashes, UNLINK big keys.",
    needs=("keyspace.census",),
    scope=Scope.DEPLOYMENT,
)
def big_keys(ctx: CheckContext) -> Iterator[Finding]:
    data = census(ctx)
    big = data.get("bigKeys", {}) if isinstance(data.get("bigKeys"), dict) else {}
    over = []
    for key in big.get("examples", []):
        limit = BIG_KEY_LIMITS.get(str(key.get("type")))
        size = key.get("bytes") if key.get("type") == "string" else key.get("elements")
        if limit is not None and isinstance(size, int) and size > limit:
            over.append({"key": key.get("key"), "type": key.get("type"), "size": size, "limit": limit})
    if over:
        yield ctx.warned(ctx.deployment, f"{plural(len(over), 'key')} exceed the big-key "
                                         f"thresholds{sampled_note(data)}",
                         observed=over[:10], expected=BIG_KEY_LIMITS)
    else:
        yield ctx.passed(ctx.deployment, f"no key over the big-key thresholds{sampled_note(data)}",
                         observed={"bigKeyCandidates": big.get("count", 0)}, expected=BIG_KEY_LIMITS)
