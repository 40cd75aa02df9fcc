"""Preflight: refuse, with every reason, unless the deployment can take a failover now.

Preflight only reads (its connections carry the READ_ONLY policy). It returns the Plan the
trigger follows: which nodes, which method, what the configuration was, the counters before.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis_audit.collect.base import Deadline
from redis_audit.discovery import DiscoveryFailed, discover
from redis_audit.facts.parse import pairs_to_dict, parse_cluster_nodes, parse_info, parse_info_fields
from redis_audit.facts.values import as_int, as_text
from redis_audit.facts.versions import UNKNOWN, parse_version
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.model import Mode, PreflightRefused, ProbeOptions
from redis_audit.jsonvalue import JsonObject
from redis_audit.secret import scrub
from redis_audit.topology import Address, DeploymentKind, Node, Role, Topology

CONVERGENCE_ALLOWANCE_S = 20  # Sentinel demotes a stale primary after 8 s or more; replicas then resync


@dataclass
class Plan:
    kind: DeploymentKind
    method: str
    primary: Address
    replicas: list[Address]
    sentinels: list[Address] = field(default_factory=list)
    master_name: str | None = None
    shard: str | None = None
    primary_id: str | None = None  # cluster node ids
    target_replica: Address | None = None
    target_replica_id: str | None = None
    other_primaries: list[Address] = field(default_factory=list)
    cluster_nodes: list[Address] = field(default_factory=list)  # every node: all must end with one view
    slots: tuple[int, int] | None = None
    engine: str = "redis"
    version: str = ""
    config: dict[str, str] = field(default_factory=dict)
    sync_before: dict[str, dict[str, int]] = field(default_factory=dict)  # per node: sync_full, sync_partial_ok
    run_ids: dict[str, str] = field(default_factory=dict)
    passed: list[str] = field(default_factory=list)  # what preflight verified, for the report
    fallback: str | None = None  # why the platform's preferred method was not used (e.g. COORDINATED)

    @property
    def shard_nodes(self) -> list[Address]:
        return [self.primary, *self.replicas]

    def to_json(self) -> JsonObject:
        return {
            "kind": str(self.kind),
            "method": self.method,
            "primary": str(self.primary),
            "replicas": [str(r) for r in self.replicas],
            "sentinels": [str(s) for s in self.sentinels],
            "masterName": self.master_name,
            "shard": self.shard,
            "targetReplica": str(self.target_replica) if self.target_replica else None,
            "engine": self.engine,
            "version": self.version,
            "config": dict(self.config),
            "preflight": list(self.passed),
            "fallback": self.fallback,
        }


class _Refusals:
    def __init__(self) -> None:
        self.reasons: list[str] = []

    def add(self, reason: str) -> None:
        self.reasons.append(reason)

    def guard(self, what: str, action: Any, *args: Any, **kwargs: Any) -> Any:
        """Run a read; a failure becomes a refusal reason (and None)."""
        try:
            return action(*args, **kwargs)
        except Exception as exc:
            self.add(f"{what}: {type(exc).__name__}: {scrub(exc)}")
            return None

    def raise_if_any(self) -> None:
        if self.reasons:
            raise PreflightRefused(self.reasons)


def preflight(access: ProbeAccess, options: ProbeOptions) -> Plan:
    """The plan, or PreflightRefused with every reason found. Changes nothing."""
    if options.aws is not None:
        raise PreflightRefused(["AWS targets are prepared by redis_audit.failover.aws"])
    try:
        topology = discover(access.target, access.timeouts, access.deadline or Deadline.after(30))
    except DiscoveryFailed as exc:
        raise PreflightRefused([f"discovery failed: {exc}"], unreachable=True) from None
    except (ValueError, TypeError, KeyError, IndexError) as exc:  # a reply that made no sense
        raise PreflightRefused([f"discovery failed on a reply it could not interpret: {type(exc).__name__}"],
                               unreachable=True) from None
    refusals = _Refusals()
    for lost in topology.unreachable:
        refusals.add(f"{lost.role or 'node'} {lost.address} is unreachable: {lost.reason}")
    if topology.kind is DeploymentKind.SENTINEL:
        plan = _sentinel(access, options, topology, refusals)
    elif topology.kind is DeploymentKind.CLUSTER:
        plan = _cluster(access, options, topology, refusals)
    elif topology.kind is DeploymentKind.REPLICATED:
        plan = _replicated(access, options, topology, refusals)
    else:
        raise PreflightRefused([f"a {topology.kind} deployment has no replica to fail over to"])
    if plan is not None:
        _data_plane(access, options, plan, refusals)
        _budget(options, plan, refusals)
        if options.mode is Mode.CRASH_SIM and options.crash_sim is None:
            refusals.add("crash-sim needs a sandbox redis-audit started (--sandbox-state DIR) or an AWS target")
    refusals.raise_if_any()
    assert plan is not None
    return plan


# -- Sentinel ---------------------------------------------------------------------------------------
def _sentinel(access: ProbeAccess, options: ProbeOptions, topology: Topology, refusals: _Refusals) -> Plan | None:
    name = str(topology.master_name)
    sentinels = [s.address for s in topology.sentinels]
    known = len(sentinels) + sum(1 for u in topology.unreachable if u.role is Role.SENTINEL)
    views: dict[Address, dict[str, Any]] = {}
    for address in sentinels:
        quorum = refusals.guard(f"SENTINEL CKQUORUM on {address}", access.read, address, "SENTINEL", "CKQUORUM",
                                name, sentinel=True)
        if quorum is not None and not as_text(quorum).startswith("OK"):
            refusals.add(f"SENTINEL CKQUORUM on {address}: {as_text(quorum)}")
        master = refusals.guard(f"SENTINEL MASTER on {address}", access.read, address, "SENTINEL", "MASTER",
                                name, sentinel=True)
        if master is None:
            continue
        view = pairs_to_dict(master)
        views[address] = view
        if str(view.get("flags")) != "master":
            refusals.add(f"Sentinel {address} flags the master {view.get('flags')} (failover or down in progress?)")
        others = int(str(view.get("num-other-sentinels", "0")))
        if others != known - 1:
            refusals.add(f"Sentinel {address} knows {others} other Sentinels, expected {known - 1}")
        recent = cooldown_refusal(address, view)
        if recent is not None:
            refusals.add(recent)
        tilt = refusals.guard(f"INFO sentinel on {address}", access.info, address, "sentinel", sentinel=True)
        if tilt is not None and tilt.get("sentinel_tilt", "0") != "0":
            refusals.add(f"Sentinel {address} is in TILT mode")
    addresses = {f"{v.get('ip')}:{v.get('port')}" for v in views.values()}
    epochs = {str(v.get("config-epoch")) for v in views.values()}
    if len(addresses) > 1 or len(epochs) > 1:
        refusals.add(f"Sentinels disagree on the primary: {sorted(addresses)} (config epochs {sorted(epochs)})")
    primary = topology.primaries()[0].address if topology.primaries() else None
    if primary is None:
        refusals.add("no primary is known to the Sentinels")
        return None
    first = next(iter(views.values()), {})
    config: dict[str, str] = {k: str(first.get(k)) for k in ("quorum", "down-after-milliseconds", "failover-timeout",
                                             "parallel-syncs") if k in first}
    plan = Plan(DeploymentKind.SENTINEL, "", primary, [n.address for n in topology.replicas_of(
        topology.primaries()[0])], sentinels, name, name, config=config)
    sentinel_server = refusals.guard("INFO server on a Sentinel", access.info, sentinels[0], "server",
                                     sentinel=True) if sentinels else None
    coordinated = _valkey_major(sentinel_server or {}) >= 9
    if coordinated and options.mode is Mode.SWITCHOVER:
        blocker = _coordinated_blocker(access, primary)
        if blocker is not None:
            coordinated = False
            plan.fallback = f"SENTINEL FAILOVER COORDINATED not used, pause-demote recipe instead: {blocker}"
    plan.method = {Mode.SWITCHOVER: "sentinel-coordinated" if coordinated else "sentinel-pause-demote",
                   Mode.PLAIN: "sentinel-failover", Mode.CRASH_SIM: "sandbox-crash"}[options.mode]
    plan.passed.append(f"CKQUORUM OK and agreement on {primary} at every one of {len(sentinels)} Sentinels, no TILT")
    plan.passed.append(f"cool-down: {_cooldown_passed(first)}")
    return plan


def cooldown_refusal(address: Address | str, view: dict[str, Any]) -> str | None:
    """Refuse when the last failover may be more recent than 2 × failover-timeout (failover.md §6 step 4).

    From SENTINEL MASTER: config-epoch 0 means this master has never been failed over. Otherwise
    role-reported-time (ms since the Sentinel (re)configured this master: the last failover, or the
    Sentinel's restart, whichever is later) must be at least 2 × failover-timeout. A Sentinel restart
    is indistinguishable from a failover here, so this errs on the side of refusing."""
    names = ("config-epoch", "failover-timeout", "role-reported-time")
    epoch, timeout, since = (as_int(view.get(name), None) for name in names)
    if epoch == 0:
        return None
    if epoch is None or timeout is None or since is None:
        return (f"Sentinel {address}: cannot tell when the last failover was (SENTINEL MASTER config-epoch "
                f"{view.get('config-epoch')}, failover-timeout {view.get('failover-timeout')}, role-reported-time "
                f"{view.get('role-reported-time')})")
    if since < 2 * timeout:
        return (f"Sentinel {address}: cool-down: the last failover (config-epoch {epoch}) may be only "
                f"{since // 1000}s ago (role-reported-time {since} ms), less than 2 × failover-timeout = "
                f"{2 * timeout // 1000}s; wait {(2 * timeout - since) // 1000 + 1}s")
    return None


def _cooldown_passed(view: dict[str, Any]) -> str:
    if as_int(view.get("config-epoch"), None) == 0:
        return "config-epoch 0, no failover of this master so far"
    return (f"last failover at least {as_int(view.get('role-reported-time')) // 1000}s ago (role-reported-time), "
            f">= 2 × failover-timeout ({2 * as_int(view.get('failover-timeout')) // 1000}s)")


# What a Valkey 9 Sentinel sends the primary, as its auth-user, in a coordinated failover (in a MULTI).
COORDINATED_COMMANDS = (("CLIENT", "PAUSE", "1000", "WRITE"), ("CLIENT", "UNPAUSE"), ("FAILOVER",))


def _coordinated_blocker(access: ProbeAccess, primary: Address) -> str | None:
    """Why the Sentinels could not run a coordinated failover on `primary`, or None.

    A Sentinel whose data-node user lacks these commands answers OK to COORDINATED and then stalls
    in wait-promotion until failover-timeout (found on the sandbox; the ACL LOG shows the denials).
    The user is the one on the Sentinels' command connections (CLIENT LIST); ACL DRYRUN asks."""
    try:
        clients = as_text(access.read(primary, "CLIENT", "LIST"))
    except Exception as exc:
        return f"cannot see the Sentinels' user on {primary} (CLIENT LIST: {scrub(exc)})"
    users = set()
    for line in clients.splitlines():
        fields = dict(part.split("=", 1) for part in line.split() if "=" in part)
        if fields.get("name", "").startswith("sentinel-") and fields.get("name", "").endswith("-cmd"):
            users.add(fields.get("user", "default"))
    if not users:
        return f"no Sentinel command connection found on {primary}"
    for user in sorted(users):
        for command in COORDINATED_COMMANDS:
            what = " ".join(command[:2]) if command[0] == "CLIENT" else command[0]
            try:
                reply = as_text(access.read(primary, "ACL", "DRYRUN", user, *command))
            except Exception as exc:
                return f"cannot check the Sentinels' user {user!r} for {what} (ACL DRYRUN: {scrub(exc)})"
            if reply != "OK":
                return f"the Sentinels' user {user!r} may not run {what} on {primary} ({reply})"
    return None


def _valkey_major(server: dict[str, str]) -> int:
    version = server.get("valkey_version") or ""
    head = version.split(".", 1)[0]
    return int(head) if head.isdigit() else 0


# -- Cluster ----------------------------------------------------------------------------------------
def _cluster(access: ProbeAccess, options: ProbeOptions, topology: Topology, refusals: _Refusals) -> Plan | None:
    views: dict[Address, list[JsonObject]] = {}
    for node in topology.nodes:
        info = refusals.guard(f"CLUSTER INFO on {node.address}", access.read, node.address, "CLUSTER", "INFO")
        if info is not None:
            fields = dict(line.split(":", 1) for line in as_text(info).splitlines() if ":" in line)
            bad = {k: fields.get(k) for k, want in (("cluster_state", "ok"), ("cluster_slots_assigned", "16384"),
                                                    ("cluster_slots_pfail", "0"), ("cluster_slots_fail", "0"))
                   if fields.get(k, "").strip() != want}
            if bad:
                refusals.add(f"{node.address}: CLUSTER INFO {bad}")
        nodes = refusals.guard(f"CLUSTER NODES on {node.address}", access.read, node.address, "CLUSTER", "NODES")
        if nodes is not None:
            views[node.address] = parse_cluster_nodes(as_text(nodes))
    primaries_by_view = {
        a: sorted(str(n["id"]) for n in v if "master" in _flags(n) and n["slots"]) for a, v in views.items()
    }
    if len({tuple(p) for p in primaries_by_view.values()}) > 1:
        refusals.add("cluster nodes disagree on the shard primaries")
    for address, view in views.items():
        for entry in view:
            flags = _flags(entry)
            if {"fail", "fail?", "handshake", "noaddr"} & set(flags):
                refusals.add(f"{address} flags node {entry['address']} as {','.join(flags)}")
            if any(str(s).startswith("[") for s in _slots(entry)):
                refusals.add(f"{address}: slot migration in progress on {entry['address']}")
    primaries = topology.primaries()
    chosen = _choose_shard(primaries, options.shard)
    if chosen is None:
        refusals.add(f"no shard matches {options.shard!r}" if options.shard else "no primary found")
        return None
    view = views.get(chosen.address, [])
    me = next((n for n in view if n["id"] == chosen.node_id), None)
    slots = _first_slot_range(_slots(me) if me else [])
    replicas = topology.replicas_of(chosen)
    healthy = [r for r in replicas if _replica_listed_by_majority(views, r, chosen, len(primaries))]
    plan = Plan(DeploymentKind.CLUSTER, "cluster-failover-force" if options.force else "cluster-failover",
                chosen.address, [r.address for r in replicas], shard=chosen.shard, primary_id=chosen.node_id,
                other_primaries=[p.address for p in primaries if p.address != chosen.address], slots=slots,
                cluster_nodes=sorted(n.address for n in topology.nodes))
    if options.mode is Mode.CRASH_SIM:
        plan.method = "sandbox-crash"
    if not healthy:
        refusals.add(f"shard {chosen.shard} has no replica that a majority of primaries agree on")
    else:
        plan.target_replica = healthy[0].address
        plan.target_replica_id = healthy[0].node_id
    if slots is None:
        refusals.add(f"primary {chosen.address} owns no slots")
    timeout = refusals.guard("CONFIG GET cluster-node-timeout", _config, access, chosen.address,
                             "cluster-node-timeout")
    if timeout:
        plan.config["cluster-node-timeout"] = timeout
    plan.passed.append(f"cluster_state ok on {len(views)} nodes, one view of the primaries, no migration")
    return plan


def _config(access: ProbeAccess, address: Address, name: str) -> str | None:
    reply = pairs_to_dict(access.read(address, "CONFIG", "GET", name))
    value = reply.get(name)
    return None if value is None else str(value)


def _flags(entry: JsonObject | None) -> list[str]:
    flags = (entry or {}).get("flags")
    return [str(f) for f in flags] if isinstance(flags, list) else []


def _slots(entry: JsonObject | None) -> list[str]:
    slots = (entry or {}).get("slots")
    return [str(s) for s in slots] if isinstance(slots, list) else []


def _first_slot_range(slots: list[str]) -> tuple[int, int] | None:
    for text in slots:
        low, _, high = text.partition("-")
        if low.isdigit():
            return int(low), int(high or low)
    return None


def _choose_shard(primaries: list[Node], wanted: str | None) -> Node | None:
    ordered = sorted(primaries, key=lambda n: n.address)
    if wanted is None:
        return ordered[0] if ordered else None
    for node in ordered:
        if wanted in (node.shard, str(node.address)) or (node.node_id or "").startswith(wanted):
            return node
    return None


def _replica_listed_by_majority(views: dict[Address, list[JsonObject]], replica: Node, primary: Node,
                                primaries: int) -> bool:
    votes = 0
    for view in views.values():
        mine = next((n for n in view if n["id"] == replica.node_id), None)
        if mine is not None and mine.get("primaryId") == primary.node_id and "slave" in _flags(mine) \
                and mine.get("linkState") == "connected":
            votes += 1
    return votes > len(views) // 2 if views else False


# -- Replicated (no Sentinel) -------------------------------------------------------------------------
def _replicated(access: ProbeAccess, options: ProbeOptions, topology: Topology,
                refusals: _Refusals) -> Plan | None:
    primary = topology.primaries()[0]
    clients = refusals.guard(f"CLIENT LIST on {primary.address}", access.read, primary.address, "CLIENT", "LIST")
    if clients is not None and "name=sentinel-" in as_text(clients):
        refusals.add(f"{primary.address} is watched by Sentinel: use the Sentinel target (redis+sentinel://); "
                     "the FAILOVER command on a Sentinel-managed primary causes a second failover")
    method = "sandbox-crash" if options.mode is Mode.CRASH_SIM else "replica-failover"
    return Plan(DeploymentKind.REPLICATED, method, primary.address,
                [n.address for n in topology.replicas_of(primary)])


# -- shared -----------------------------------------------------------------------------------------
def _data_plane(access: ProbeAccess, options: ProbeOptions, plan: Plan, refusals: _Refusals) -> None:
    """Primary: replicas online with small lag, no failover in progress. Replicas: link up, no sync."""
    info = refusals.guard(f"INFO on {plan.primary}", access.read, plan.primary, "INFO")
    if info is None:
        return
    sections = parse_info(as_text(info))
    replication = sections.get("replication", {})
    server = sections.get("server", {})
    plan.engine = "valkey" if server.get("valkey_version") or server.get("server_name") == "valkey" else "redis"
    plan.version = server.get("valkey_version") or server.get("redis_version", "")
    if replication.get("role") != "master":
        refusals.add(f"{plan.primary} is not a master (role {replication.get('role')})")
    if replication.get("master_failover_state", "no-failover") != "no-failover":
        refusals.add(f"{plan.primary}: a FAILOVER is in progress ({replication.get('master_failover_state')})")
    online = {}
    for key, value in replication.items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = parse_info_fields(value)
            online[f"{fields.get('ip')}:{fields.get('port')}"] = fields
    for replica in plan.replicas:
        seen = online.get(str(replica))
        if seen is None:
            refusals.add(f"replica {replica} is not connected to the primary {plan.primary}")
        elif seen.get("state") != "online" or int(seen.get("lag", "99") or 99) > options.max_replica_lag_s:
            refusals.add(f"replica {replica}: state={seen.get('state')} lag={seen.get('lag')}s")
    if not plan.replicas:
        refusals.add(f"{plan.primary} has no replica")
    if plan.kind is DeploymentKind.REPLICATED and plan.method == "replica-failover" \
            and (parse_version(plan.version, strict=False) or UNKNOWN) < (6, 2, 0):
        refusals.add(f"the FAILOVER command needs Redis 6.2 or later (found {plan.version})")
    plan.run_ids[str(plan.primary)] = server.get("run_id", "")
    plan.sync_before[str(plan.primary)] = _sync_counters(sections.get("stats", {}))
    eligible = 0
    for replica in plan.replicas:
        text = refusals.guard(f"INFO on {replica}", access.read, replica, "INFO")
        if text is None:
            continue
        r = parse_info(as_text(text))
        rep = r.get("replication", {})
        plan.run_ids[str(replica)] = r.get("server", {}).get("run_id", "")
        plan.sync_before[str(replica)] = _sync_counters(r.get("stats", {}))
        if rep.get("master_link_status") != "up":
            refusals.add(f"replica {replica}: master_link_status {rep.get('master_link_status')}")
        if rep.get("master_sync_in_progress", "0") != "0" or r.get("persistence", {}).get("loading", "0") != "0":
            refusals.add(f"replica {replica}: a full sync or load is in progress")
        if rep.get("slave_priority", "100") != "0":
            eligible += 1
    if plan.replicas and eligible == 0:
        refusals.add("every replica has replica-priority 0 (never promoted)")
    plan.passed.append(f"{len(plan.replicas)} replicas online, lag <= {options.max_replica_lag_s}s, links up, "
                       "no sync or failover in progress")


def _sync_counters(stats: dict[str, str]) -> dict[str, int]:
    return {k: as_int(stats.get(k)) for k in ("sync_full", "sync_partial_ok")}


def needed_budget_s(options: ProbeOptions, plan: Plan) -> int:
    """The worst case the budget must leave room for: the switch deadline, detection, convergence."""
    detection = 0
    if options.mode is Mode.CRASH_SIM:
        detection = int(plan.config.get("down-after-milliseconds", plan.config.get("cluster-node-timeout", "0")
                                        ) or 0) // 1000 * 2
    return int(options.switch_deadline_s) + detection + CONVERGENCE_ALLOWANCE_S


def _budget(options: ProbeOptions, plan: Plan, refusals: _Refusals) -> None:
    needed = needed_budget_s(options, plan)
    if options.budget_s < needed:
        refusals.add(f"budget {int(options.budget_s)}s leaves no room for the worst case ({needed}s: switch "
                     f"deadline {int(options.switch_deadline_s)}s + detection + convergence)")
