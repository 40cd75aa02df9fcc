"""CLU: the cluster serves every slot, has the shape to survive a node, agrees with itself, and the
limiter's keys fit its sharding."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext, Limit, Scope
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import JsonObject, JsonValue, as_object, as_objects
from redis_audit.model import Finding, Severity, Status
from redis_audit.snapshot import NodeSnapshot
from redis_audit.topology import DeploymentKind, Role
from redis_audit.wording import plural

from ._facts import count_field, fact_or_none
from ._replicas import redundancy
from .pack import PACK

CLUSTER_ONLY = frozenset({DeploymentKind.CLUSTER})
SLOTS = 16384
_BAD_FLAGS = ("fail", "pfail", "fail?", "noaddr", "handshake")


@PACK.check(
    id="CLU-001",
    title="Cluster state is ok and all 16384 slots are served",
    severity=Severity.CRITICAL,
    category="cluster",
    verifies="CLUSTER INFO on every node: cluster_state:ok, cluster_slots_assigned and cluster_slots_ok 16384, "
    "cluster_slots_pfail and cluster_slots_fail 0.",
    risk="A slot that is unassigned or on a failed node makes every key in it unavailable; with "
    "cluster-require-full-coverage yes the whole cluster stops.",
    remediation="Assign missing slots (redis-cli --cluster fix) and recover or replace failed nodes.",
    references=("https://redis.io/docs/latest/commands/cluster-info/",),
    topologies=CLUSTER_ONLY,
    needs=("cluster.info",),
)
def cluster_state_ok(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    info = as_object(node.fact("cluster.info"))
    keys = ("cluster_state", "cluster_slots_assigned", "cluster_slots_ok", "cluster_slots_pfail", "cluster_slots_fail")
    observed: JsonObject = {k: info.get(k) for k in keys}
    expected: JsonObject = {"cluster_state": "ok", "cluster_slots_assigned": SLOTS, "cluster_slots_ok": SLOTS,
                            "cluster_slots_pfail": 0, "cluster_slots_fail": 0}
    healthy = (info.get("cluster_state") == "ok" and as_int(info.get("cluster_slots_assigned")) == SLOTS
               and as_int(info.get("cluster_slots_ok")) == SLOTS and as_int(info.get("cluster_slots_pfail")) == 0
               and as_int(info.get("cluster_slots_fail")) == 0)
    if healthy:
        yield ctx.passed(node, "cluster_state ok, 16384/16384 slots ok", observed=observed, expected=expected)
    else:
        yield ctx.failed(node, f"cluster_state {info.get('cluster_state')}, "
                         f"{info.get('cluster_slots_ok')}/{SLOTS} slots ok", observed=observed, expected=expected)


def _health_view(ctx: CheckContext) -> dict[str, str]:
    """address -> health ('online', 'fail', ...) as the first node answering CLUSTER SHARDS/NODES sees it."""
    for node in sorted(ctx.snapshot.data_nodes(), key=lambda n: n.address):
        shards = fact_or_none(node, "cluster.shards")
        if isinstance(shards, list):
            view: dict[str, str] = {}
            for shard in as_objects(shards):
                for member in as_objects(shard.get("nodes")):
                    port = member.get("tls-port") if ctx.snapshot.target.tls and member.get("tls-port") else \
                        member.get("port")
                    view[f"{member.get('ip') or member.get('endpoint')}:{port}"] = str(member.get("health"))
            return view
        nodes = fact_or_none(node, "cluster.nodes")
        if isinstance(nodes, list):
            return {str(n.get("address")): "fail" if set(n.get("flags") or []) & set(_BAD_FLAGS) else "online"
                    for n in as_objects(nodes)}
    return {}


@PACK.check(
    id="CLU-002",
    title="At least three primaries, each with a healthy replica",
    severity=Severity.CRITICAL,
    category="cluster",
    verifies="The cluster has at least cluster.min_primaries (3) primaries, and every primary has at least one "
    "replica that the audit reached, that the cluster reports online (CLUSTER SHARDS health, or CLUSTER NODES "
    "flags; 'loading' counts as healthy when the replica's own INFO shows its link up: Redis 7.0 reports "
    "'loading' until the first write) and that could start an automatic failover (clusterHandleSlaveFailover: "
    "not cluster-replica-no-failover, data age within repl-ping-replica-period + cluster-node-timeout x "
    "cluster-replica-validity-factor, see HA-001).",
    version=2,
    risk="A shard without a healthy replica cannot fail over: losing its primary loses its slots (and, with "
    "full coverage required, the whole cluster). Fewer than three primaries cannot form a failover majority.",
    remediation="Add a replica to each shard (redis-cli --cluster add-node --cluster-slave) and run at least "
    "three primaries.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/",),
    topologies=CLUSTER_ONLY,
    needs=("cluster.shards", "cluster.nodes"),
    scope=Scope.DEPLOYMENT,
)
def cluster_shape(ctx: CheckContext) -> Iterator[Finding]:
    topology = ctx.snapshot.topology
    primaries = topology.primaries()
    wanted = ctx.profile.cluster.min_primaries
    if len(primaries) < wanted:
        yield ctx.failed(ctx.deployment, f"{plural(len(primaries), 'primary', 'primaries')}; at least {wanted} "
                         "are needed", observed=len(primaries), expected=f">= {wanted}")
    health = _health_view(ctx)
    unreached = {str(u.address) for u in topology.unreachable}
    for primary in sorted(primaries, key=lambda n: n.address):
        found = redundancy(ctx.snapshot, ctx.profile, primary)
        named = {str(r.address) for r in topology.replicas_of(primary)} | {c.address for c in found.candidates}
        replicas = {a: health.get(a, "unknown") for a in sorted(named)}
        promotable = {c.address for c in found.promotable}
        healthy = [a for a, h in replicas.items()
                   if a not in unreached and a in promotable and _replica_healthy(ctx, a, h)]
        observed: JsonObject = {"replicas": dict(replicas), "unreachable": sorted(set(replicas) & unreached),
                                **found.to_json()}
        expected: JsonObject = {"healthyPromotableReplicas": ">= 1"}
        detail = f" ({found.summary()})" if found.summary() else ""
        if healthy:
            yield ctx.passed(str(primary.address), f"{plural(len(healthy), 'healthy promotable replica')}{detail}",
                             observed=observed, expected=expected)
        else:
            yield ctx.failed(str(primary.address), f"this shard has no healthy replica that can fail over{detail}",
                             observed=observed, expected=expected)


def _replica_healthy(ctx: CheckContext, address: str, health: str) -> bool:
    """Online in the cluster's view, or (Redis 7.0 says 'loading' before the first write) link up per INFO."""
    if health == "online":
        return True
    node = ctx.snapshot.node(address)
    linked = node is not None and node.has("info") and node.info("replication", "master_link_status") == "up"
    return health in ("loading", "unknown") and linked


def _normalised_view(nodes: list[dict[str, Any]]) -> list[JsonValue]:
    """One node's CLUSTER NODES, comparable with another node's: no 'myself', no migration markers."""
    rows: list[JsonValue] = []
    for n in sorted(nodes, key=lambda n: str(n.get("id"))):
        flags = sorted(f for f in (n.get("flags") or []) if f not in ("myself", "nofailover"))
        slots = sorted(str(s) for s in (n.get("slots") or []) if not str(s).startswith("["))
        rows.append([str(n.get("id")), ",".join(flags), str(n.get("primaryId")), " ".join(slots)])
    return rows


@PACK.check(
    id="CLU-003",
    title="Every node holds the same, clean view of the cluster",
    severity=Severity.HIGH,
    category="cluster",
    verifies="CLUSTER NODES from every node lists the same nodes, roles, primaries and slot ranges, with no "
    "fail/pfail/noaddr/handshake flag; cluster_current_epoch agrees (a difference alone WARNs).",
    risk="Nodes that disagree route keys differently (MOVED loops, writes to a stale owner) and vote on "
    "failovers with different information.",
    remediation="Find the odd node out (redis-cli --cluster check), fix its links, CLUSTER FORGET ghosts on "
    "every node, and recover failed nodes.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/",),
    topologies=CLUSTER_ONLY,
    needs=("cluster.nodes", "cluster.info"),
    scope=Scope.DEPLOYMENT,
)
def same_view(ctx: CheckContext) -> Iterator[Finding]:
    views: dict[str, list[JsonValue]] = {}
    epochs: dict[str, str] = {}
    bad: set[str] = set()
    for node in sorted(ctx.snapshot.data_nodes(), key=lambda n: n.address):
        nodes = fact_or_none(node, "cluster.nodes")
        if isinstance(nodes, list):
            views[str(node.address)] = _normalised_view(as_objects(nodes))
            bad |= {f"{n.get('address')} {f}" for n in as_objects(nodes) for f in (n.get("flags") or [])
                    if f in _BAD_FLAGS}
        info = as_object(fact_or_none(node, "cluster.info"))
        if info:
            epochs[str(node.address)] = str(info.get("cluster_current_epoch"))
    if not views:
        yield ctx.skipped(ctx.deployment, "no node answered CLUSTER NODES")
        return
    groups: dict[str, list[str]] = {}
    for address, view in views.items():
        groups.setdefault(repr(view), []).append(address)
    observed: JsonObject = {"distinctViews": len(groups), "viewsBy": sorted(sorted(g) for g in groups.values()),
                            "badFlags": sorted(bad), "currentEpochs": dict(epochs)}
    if len(groups) > 1 or bad:
        why = [f"{len(groups)} different views"] if len(groups) > 1 else []
        why += [f"flags {', '.join(sorted(bad))}"] if bad else []
        yield ctx.failed(ctx.deployment, "; ".join(why), observed=observed,
                         expected={"distinctViews": 1, "badFlags": []})
    elif len(set(epochs.values())) > 1:
        yield ctx.warned(ctx.deployment, "same view, but the nodes report different current epochs",
                         observed=observed)
    else:
        yield ctx.passed(ctx.deployment, f"{plural(len(views), 'node')} share one clean view", observed=observed)


def _shard_load(node: NodeSnapshot) -> dict[str, int]:
    keys = sum(count_field(v, "keys") for v in node.info_section("keyspace").values())
    return {"keys": keys, "opsPerSecond": node.info_int("stats", "instantaneous_ops_per_sec"),
            "datasetBytes": node.info_int("memory", "used_memory_dataset")}


@PACK.check(
    id="CLU-004",
    title="No hot shard",
    severity=Severity.MEDIUM,
    category="cluster",
    verifies="Across primaries, max/mean of keys (INFO keyspace), instantaneous_ops_per_sec and "
    "used_memory_dataset stays below cluster.hot_shard_warn_bp (1.5x); WARN up to hot_shard_fail_bp (2x), FAIL "
    "above (catalogue proposals). A metric is judged only when its mean reaches the profile's floor "
    "(hot_shard_min_keys/ops/dataset_bytes): idle shards give meaningless ratios.",
    risk="One shard carrying most keys or traffic (a limiter hash tag such as {global}) saturates first: its "
    "latency and memory decide the whole limiter's.",
    remediation="Spread limiter keys over hash tags with many values (per user/tenant, not one global tag) and "
    "rebalance slots (redis-cli --cluster rebalance).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/",),
    topologies=CLUSTER_ONLY,
    needs=("info",),
    scope=Scope.DEPLOYMENT,
)
def no_hot_shard(ctx: CheckContext) -> Iterator[Finding]:
    loads = {str(n.address): _shard_load(n) for n in ctx.snapshot.data_nodes(Role.PRIMARY) if n.has("info")}
    if len(loads) < 2:
        yield ctx.skipped(ctx.deployment, "fewer than two primaries answered INFO")
        return
    profile = ctx.profile.cluster
    floors = {"keys": profile.hot_shard_min_keys, "opsPerSecond": profile.hot_shard_min_ops,
              "datasetBytes": profile.hot_shard_min_dataset_bytes}
    ratios: dict[str, int | None] = {}
    for metric, floor in floors.items():
        values = [load[metric] for load in loads.values()]
        mean = sum(values) // len(values)
        ratios[metric] = max(values) * 10000 // mean if mean >= max(floor, 1) else None
    judged = {m: r for m, r in ratios.items() if r is not None}
    worst = max(judged.values(), default=0)
    observed: JsonObject = {"byPrimary": {a: dict(v) for a, v in loads.items()}, "maxOverMeanBp": dict(ratios)}
    warn, fail = Limit("<", profile.hot_shard_warn_bp), Limit("<=", profile.hot_shard_fail_bp)
    hot = ", ".join(f"{m} {r / 10000:.2f}x" for m, r in judged.items() if not warn.holds(r))
    if not judged:
        yield ctx.passed(ctx.deployment, "shards too idle to compare (below every floor)", observed=observed)
        return
    yield ctx.graded(ctx.deployment, worst, warn=warn, fail=fail, observed=observed,
                     expected={"maxOverMeanBp": str(warn)},
                     message={Status.FAIL: f"hot shard: {hot}", Status.WARN: f"uneven shards: {hot}",
                              Status.PASS: f"balanced: worst max/mean {worst / 10000:.2f}x"})


@PACK.check(
    id="CLU-005",
    title="Cluster failure-handling settings are the profile's decision",
    severity=Severity.MEDIUM,
    category="cluster",
    verifies="CONFIG GET on every data node: cluster-node-timeout <= cluster.max_node_timeout_ms (5000, the "
    "tutorial's value: failure detected within seconds, not the 15 s default); cluster-require-full-coverage, "
    "cluster-allow-reads-when-down, cluster-replica-validity-factor and cluster-migration-barrier equal the "
    "profile's values (the engine defaults unless the team decided otherwise).",
    risk="A long node timeout leaves a shard without a primary for that long; settings nobody chose decide "
    "whether a lost shard stops the whole cluster (full coverage) or serves stale reads.",
    remediation="Decide the values against the limiter's SLO, record them in the profile's [cluster] section "
    "and set them on every node (CONFIG SET ...; CONFIG REWRITE).",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/scaling/",),
    topologies=CLUSTER_ONLY,
    needs=("config",),
)
def failure_settings(ctx: CheckContext, node: NodeSnapshot) -> Iterator[Finding]:
    profile = ctx.profile.cluster
    timeout = as_int(node.config("cluster-node-timeout"))
    wanted = {
        "cluster-require-full-coverage": profile.require_full_coverage,
        "cluster-allow-reads-when-down": profile.allow_reads_when_down,
        "cluster-replica-validity-factor": str(profile.replica_validity_factor),
        "cluster-migration-barrier": str(profile.migration_barrier),
    }
    actual = {k: node.config(k) for k in wanted}
    problems = [f"{k} {v}" for k, v in actual.items() if v is not None and v != wanted[k]]
    if timeout > profile.max_node_timeout_ms:
        problems.insert(0, f"cluster-node-timeout {timeout} ms")
    observed: JsonObject = {"cluster-node-timeout": timeout, **actual}
    expected: JsonObject = {"cluster-node-timeout": f"<= {profile.max_node_timeout_ms}", **wanted}
    if problems:
        yield ctx.warned(node, f"differs from the profile's decision: {', '.join(problems)}", observed=observed,
                         expected=expected)
    else:
        yield ctx.passed(node, f"node timeout {timeout} ms; settings as decided", observed=observed,
                         expected=expected)


def identity_of(key: str, prefixes: tuple[str, ...]) -> str | None:
    """The limiter identity a key belongs to: 'rl:user42' for 'rl:user42:minute'; None for a lone key.

    Keys of one identity that differ only in their last ':' part are assumed to be touched together by the
    limiter's script (minute and hour windows of one user, say): they must share a slot.
    """
    prefix = next((p for p in prefixes if key.startswith(p)), "")
    rest = key[len(prefix):]
    if "{" in rest and "}" in rest.split("{", 1)[1]:
        return None  # a hash tag decides the slot: keys sharing it share the slot by construction
    head, sep, _ = rest.rpartition(":")
    return f"{prefix}{head}" if sep and head else None


@PACK.check(
    id="CLU-006",
    title="Limiter keys are single-slot per identity; no CROSSSLOT errors",
    severity=Severity.HIGH,
    category="cluster",
    verifies="INFO errorstats shows no errorstat_CROSSSLOT on any node; sampled limiter keys (bounded SCAN of "
    "application.key_prefixes on each primary, CLUSTER KEYSLOT on each) of one identity (same key up to the "
    "last ':' part) share a slot; MOVED replies stay under cluster.max_moved_bp (0.1%) of commands.",
    risk="A limiter script or MULTI over keys in different slots fails with CROSSSLOT on every call: the "
    "limiter fails open or closed for every request. Many MOVED replies mean a client that does not follow "
    "the cluster's slot map.",
    remediation="Put the identity in a hash tag (rl:{user42}:minute, rl:{user42}:hour) and use a cluster-aware "
    "client that refreshes its slot map.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/",),
    topologies=CLUSTER_ONLY,
    needs=("info", "cluster.keyslots"),
    scope=Scope.DEPLOYMENT,
)
def single_slot_keys(ctx: CheckContext) -> Iterator[Finding]:
    crossslot: dict[str, int] = {}
    moved = commands = 0
    for node in ctx.snapshot.data_nodes():
        if not node.has("info"):
            continue
        crossslot[str(node.address)] = count_field(node.info("errorstats", "errorstat_CROSSSLOT"))
        moved += count_field(node.info("errorstats", "errorstat_MOVED"))
        commands += node.info_int("stats", "total_commands_processed")
    if not crossslot:
        yield ctx.skipped(ctx.deployment, "no node answered INFO")
        return
    prefixes = ctx.profile.application.key_prefixes
    slots: dict[str, int] = {}
    for node in ctx.snapshot.data_nodes(Role.PRIMARY):
        sample = as_object(fact_or_none(node, "cluster.keyslots")).get("slots")
        slots.update({str(k): as_int(str(v)) for k, v in as_object(sample).items()})
    identities: dict[str, set[int]] = {}
    for key, slot in slots.items():
        identity = identity_of(key, prefixes)
        if identity is not None:
            identities.setdefault(identity, set()).add(slot)
    split = {i: sorted(s) for i, s in sorted(identities.items()) if len(s) > 1}
    moved_bp = moved * 10000 // commands if commands else 0
    observed: JsonObject = {
        "crossslotErrors": {a: c for a, c in sorted(crossslot.items()) if c}, "movedBp": moved_bp,
        "sampledKeys": len(slots), "identitiesSampled": len(identities),
        "splitIdentities": {i: list(s) for i, s in list(split.items())[:10]},
        "keyPrefixes": list(prefixes),
    }
    expected: JsonObject = {"crossslotErrors": {}, "splitIdentities": {},
                            "movedBp": f"<= {ctx.profile.cluster.max_moved_bp}"}
    total_cross = sum(crossslot.values())
    if total_cross:
        yield ctx.failed(ctx.deployment, f"{plural(total_cross, 'CROSSSLOT error')} since start", observed=observed,
                         expected=expected)
    elif split:
        yield ctx.failed(ctx.deployment, f"{plural(len(split), 'limiter identity', 'limiter identities')} span several "
                         f"slots, e.g. {next(iter(split))}", observed=observed, expected=expected)
    elif moved_bp > ctx.profile.cluster.max_moved_bp:
        yield ctx.warned(ctx.deployment, f"MOVED replies are {moved_bp / 100:.2f}% of commands", observed=observed,
                         expected=expected)
    else:
        note = (f"; {plural(len(slots), 'limiter key')} sampled" if prefixes
                else "; no application.key_prefixes to sample")
        yield ctx.passed(ctx.deployment, f"no CROSSSLOT error{note}", observed=observed, expected=expected)


