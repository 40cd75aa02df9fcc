"""Convergence and clean-up: wait until the topology is whole again, read the canary back, delete it.

"Healthy" has two parts, which differ by seconds in practice: the data plane (the new primary has
every other node as an online replica, each with its link up) and the control plane (every Sentinel
names the new primary and sees its replicas, or every cluster node has the same view).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from redis_audit.facts.parse import pairs_to_dict, parse_cluster_nodes, parse_info, parse_info_fields
from redis_audit.facts.values import as_text
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.model import Clock, Timeline
from redis_audit.failover.preflight import Plan
from redis_audit.secret import scrub
from redis_audit.topology import Address, DeploymentKind


@dataclass
class Convergence:
    healthy: bool = False
    data_us: int | None = None
    control_us: int | None = None
    problems: list[str] = field(default_factory=list)
    sync_after: dict[str, int] = field(default_factory=dict)


def wait_converged(access: ProbeAccess, plan: Plan, new_primary: Address, deadline: float, clock: Clock,
                   timeline: Timeline) -> Convergence:
    result = Convergence()
    while True:
        data = data_plane_problems(access, plan, new_primary)
        if not data and result.data_us is None:
            result.data_us = clock.now_us()
            timeline.add(result.data_us, "probe", "data-plane-healthy")
        control = control_plane_problems(access, plan, new_primary)
        if not control and not data and result.control_us is None:
            result.control_us = clock.now_us()
            timeline.add(result.control_us, "probe", "control-plane-healthy")
        result.problems = data + control
        if not result.problems:
            result.healthy = True
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    try:
        stats = parse_info(as_text(access.call(new_primary, "INFO", "stats"))).get("stats", {})
        result.sync_after = {k: int(stats.get(k, "0") or 0) for k in ("sync_full", "sync_partial_ok")}
    except Exception as exc:
        result.problems.append(f"INFO stats on {new_primary}: {scrub(exc)}")
    return result


def data_plane_problems(access: ProbeAccess, plan: Plan, new_primary: Address) -> list[str]:
    problems = []
    followers = [a for a in plan.shard_nodes if a != new_primary]
    try:
        replication = parse_info(as_text(access.call(new_primary, "INFO", "replication"))).get("replication", {})
    except Exception as exc:
        return [f"new primary {new_primary}: {scrub(exc)}"]
    if replication.get("role") != "master":
        return [f"new primary {new_primary} reports role {replication.get('role')}"]
    online = {
        f"{f.get('ip')}:{f.get('port')}": f.get("state")
        for k, v in replication.items() if k.startswith("slave") and k[5:].isdigit()
        for f in [parse_info_fields(v)]
    }
    for address in followers:
        if online.get(str(address)) != "online":
            problems.append(f"{address} is not an online replica of {new_primary} ({online.get(str(address))})")
            continue
        try:
            info = parse_info(as_text(access.call(address, "INFO", "replication"))).get("replication", {})
        except Exception as exc:
            problems.append(f"{address}: {scrub(exc)}")
            continue
        if info.get("master_link_status") != "up" or info.get("master_sync_in_progress", "0") != "0":
            problems.append(f"{address}: link {info.get('master_link_status')}, "
                            f"sync in progress {info.get('master_sync_in_progress')}")
    return problems


def control_plane_problems(access: ProbeAccess, plan: Plan, new_primary: Address) -> list[str]:
    if plan.kind is DeploymentKind.SENTINEL:
        return _sentinel_view(access, plan, new_primary)
    if plan.kind is DeploymentKind.CLUSTER:
        return _cluster_view(access, plan, new_primary)
    return []


def _sentinel_view(access: ProbeAccess, plan: Plan, new_primary: Address) -> list[str]:
    problems = []
    followers = {str(a) for a in plan.shard_nodes if a != new_primary}
    for sentinel in plan.sentinels:
        try:
            master = pairs_to_dict(access.call(sentinel, "SENTINEL", "MASTER", plan.master_name, sentinel=True))
            replicas = [pairs_to_dict(r) for r in access.call(sentinel, "SENTINEL", "REPLICAS", plan.master_name,
                                                              sentinel=True)]
        except Exception as exc:
            problems.append(f"Sentinel {sentinel}: {scrub(exc)}")
            continue
        named = f"{master.get('ip')}:{master.get('port')}"
        if named != str(new_primary) or master.get("flags") != "master":
            problems.append(f"Sentinel {sentinel} names {named} ({master.get('flags')})")
            continue
        seen = {f"{r.get('ip')}:{r.get('port')}": r for r in replicas}
        for follower in followers:
            r = seen.get(follower)
            if r is None or r.get("flags") != "slave" or r.get("master-link-status") != "ok":
                problems.append(f"Sentinel {sentinel} does not yet see {follower} as a healthy replica")
    return problems


def _cluster_view(access: ProbeAccess, plan: Plan, new_primary: Address) -> list[str]:
    """Every node: cluster_state ok, the new primary owning the shard's slots, the old one its replica,
    and one and the same view of who is primary of what (the other shards too)."""
    problems = []
    new_id = plan.target_replica_id if new_primary == plan.target_replica else None
    views: dict[Address, frozenset[tuple[str, ...]]] = {}
    for address in plan.cluster_nodes or [*plan.shard_nodes, *plan.other_primaries]:
        try:
            info = as_text(access.call(address, "CLUSTER", "INFO"))
            nodes = parse_cluster_nodes(as_text(access.call(address, "CLUSTER", "NODES")))
        except Exception as exc:
            problems.append(f"{address}: {scrub(exc)}")
            continue
        if "cluster_state:ok" not in info:
            problems.append(f"{address}: cluster_state is not ok")
        views[address] = frozenset(_view_entry(n) for n in nodes)
        by_id = {str(n["id"]): n for n in nodes}
        new = by_id.get(new_id or "")
        old = by_id.get(plan.primary_id or "")
        if new is None or "master" not in _list(new.get("flags")) or not new.get("slots"):
            problems.append(f"{address} does not yet see {new_primary} as the shard's primary")
        if old is None or "slave" not in _list(old.get("flags")) or old.get("primaryId") != new_id:
            problems.append(f"{address} does not yet see {plan.primary} as a replica of {new_primary}")
    if len(set(views.values())) > 1:
        problems.append(f"the {len(views)} cluster nodes do not all have the same view of the primaries")
    return problems


def _view_entry(node: Any) -> tuple[str, ...]:
    """What must be the same on every node: id, address, role, its primary, its slots (not link states)."""
    role = "master" if "master" in _list(node.get("flags")) else "slave"
    return (str(node["id"]), str(node["address"]), role, str(node.get("primaryId")), *_list(node.get("slots")))


def _list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def read_back(access: ProbeAccess, plan: Plan, key: str, primary: Address) -> tuple[list[int] | None, dict[str, int]]:
    """The canary sequence on the final primary, and the list length on every other node (consistency)."""
    try:
        values = [int(as_text(v)) for v in access.canary_range(primary, key)]
    except Exception:
        values = None
    lengths = {}
    cluster = plan.kind is DeploymentKind.CLUSTER
    for address in plan.shard_nodes:
        if address == primary:
            continue
        try:
            lengths[str(address)] = len(access.canary_range(address, key, cluster=cluster))
        except Exception:
            lengths[str(address)] = -1
    return values, lengths


def delete_canary(access: ProbeAccess, plan: Plan, key: str) -> list[str]:
    """DEL the canary key on every node that is a master now, then confirm no node still has it."""
    problems = []
    for address in plan.shard_nodes:
        try:
            if as_text(access.call(address, "ROLE")[0]) == "master":
                access.call(address, "DEL", key)
        except Exception as exc:
            problems.append(f"DEL canary on {address}: {scrub(exc)}")
    deadline = time.monotonic() + 3
    remaining: list[str] = []
    unchecked: list[str] = []
    cluster = plan.kind is DeploymentKind.CLUSTER
    while True:
        remaining, unchecked = [], []
        for address in plan.shard_nodes:
            try:  # a cluster replica redirects the read (MOVED) unless READONLY: that is not "gone"
                if int(access.call(address, "EXISTS", key, cluster_replica=cluster)):
                    remaining.append(str(address))
            except Exception as exc:
                unchecked.append(f"{address} ({type(exc).__name__}: {scrub(exc)})")
        if not (remaining or unchecked) or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    if remaining:
        problems.append(f"the canary key {key} is still on {', '.join(remaining)} (it expires within an hour)")
    if unchecked:
        problems.append(f"could not confirm the canary key {key} is gone from {', '.join(unchecked)} "
                        "(it expires within an hour)")
    return problems
