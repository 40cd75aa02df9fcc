"""Which replicas the failover mechanism can actually promote, judged from each node's own facts.

A replica counts as redundancy only when the mechanism that fails the primary over would pick it:

- Sentinel (sentinel.c, sentinelSelectSlave): not flagged s_down, o_down or disconnected; answered a PING
  within 5 ping periods (5 s); INFO refreshed within 3 INFO periods (30 s); master-link-down-time at most
  10 x down-after-milliseconds; slave-priority not 0. Otherwise the failover aborts with
  -failover-abort-no-good-slave. replica-announced no only hides a replica from SENTINEL REPLICAS: Sentinel
  still promotes it.
- Cluster (cluster.c, clusterHandleSlaveFailover): not cluster-replica-no-failover yes; its data age (time
  since the last interaction with the primary, or since the link went down) at most
  repl-ping-replica-period + cluster-node-timeout x cluster-replica-validity-factor (0 disables the limit);
  not flagged fail/pfail by the cluster.
- Every mechanism, and a replicated set promoted by hand: the replica's own INFO says it follows this primary
  with the link up and no sync in progress, and the primary's own INFO lists it online. replica-priority 0
  declares a replica never to be promoted; a replicated set also excludes replicas lagging more than
  ha.lag_fail_s.

Membership comes from the two nodes themselves (the replica's master_host/master_port, the primary's slaveN
lines), never from a name others give: a node that Sentinels call primary but that lists no replica has none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from redis_audit.facts.parse import parse_info_fields
from redis_audit.facts.values import as_int
from redis_audit.jsonvalue import as_object, as_objects
from redis_audit.profile import Profile
from redis_audit.snapshot import NodeSnapshot, Snapshot
from redis_audit.topology import Address, DeploymentKind, Node

from ._facts import fact_or_none, optional

# Where the promotion rules come from: sentinelSelectSlave in sentinel.c, clusterHandleSlaveFailover in cluster.c.
SENTINEL_REFERENCE = "https://github.com/redis/redis/blob/7.0/src/sentinel.c"
CLUSTER_REFERENCE = "https://github.com/redis/redis/blob/7.0/src/cluster.c"

# sentinel.c: SENTINEL_PING_PERIOD (1 s) x 5, SENTINEL_INFO_PERIOD (10 s) x 3.
SENTINEL_MAX_PING_AGE_MS = 5 * 1000
SENTINEL_MAX_INFO_AGE_MS = 3 * 10_000
SENTINEL_DOWN_FLAGS = ("s_down", "o_down", "disconnected")
CLUSTER_BAD_FLAGS = ("fail", "pfail", "fail?", "noaddr", "handshake")


@dataclass
class Candidate:
    """One replica of a primary and the verdict on it."""

    address: str
    excluded: list[str] = field(default_factory=list)  # why the mechanism would not promote it
    unverified: str | None = None  # why it could not be judged (not audited, INFO unavailable)
    notes: list[str] = field(default_factory=list)

    @property
    def promotable(self) -> bool:
        return not self.excluded and self.unverified is None

    def to_json(self) -> dict[str, Any]:
        state = "promotable" if self.promotable else "excluded" if self.excluded else "unverified"
        return {"address": self.address, "state": state, "excluded": list(self.excluded),
                "unverified": self.unverified, "notes": list(self.notes)}


@dataclass
class Redundancy:
    """A primary's replicas as the failover mechanism sees them."""

    primary: str
    mechanism: str  # sentinel, cluster, replicated, managed
    primary_role: str | None  # the primary's own INFO role (None: unavailable)
    primary_follows: str | None  # when its own INFO says role:slave
    candidates: list[Candidate]

    @property
    def promotable(self) -> list[Candidate]:
        return [c for c in self.candidates if c.promotable]

    @property
    def unverified(self) -> list[Candidate]:
        return [c for c in self.candidates if not c.excluded and c.unverified is not None]

    @property
    def excluded(self) -> list[Candidate]:
        return [c for c in self.candidates if c.excluded]

    def to_json(self) -> dict[str, Any]:
        return {"mechanism": self.mechanism, "primaryRole": self.primary_role,
                "promotable": [c.address for c in self.promotable],
                "replicas": [c.to_json() for c in self.candidates]}

    def summary(self) -> str:
        """'replica a:1 excluded: replica-priority 0; ...' for a finding's message."""
        parts = [f"{c.address}: {'; '.join(c.excluded)}" for c in self.excluded]
        parts += [f"{c.address} unverified: {c.unverified}" for c in self.unverified]
        return "; ".join(parts)


def _replication(node: NodeSnapshot | None) -> dict[str, str] | None:
    if node is None or not node.has("info"):
        return None
    values = node.fact("info")
    section = values.get("replication") if isinstance(values, dict) else None
    return {str(k): str(v) for k, v in section.items()} if isinstance(section, dict) else None


def _listed_replicas(replication: dict[str, str]) -> dict[str, dict[str, str]]:
    """The primary's own slaveN lines, by 'ip:port'."""
    listed: dict[str, dict[str, str]] = {}
    for key, text in replication.items():
        if key.startswith("slave") and key[5:].isdigit():
            fields = parse_info_fields(text)
            if fields.get("ip") and fields.get("port"):
                listed[str(Address(fields["ip"], as_int(fields["port"])))] = fields
    return listed


def _follows(replication: dict[str, str]) -> str | None:
    if replication.get("role") != "slave":
        return None
    return str(Address(replication.get("master_host", ""), as_int(replication.get("master_port"))))


def _mechanism(snapshot: Snapshot, managed: bool) -> str:
    kind = snapshot.topology.kind
    if kind is DeploymentKind.SENTINEL:
        return "sentinel"
    if kind is DeploymentKind.CLUSTER:
        return "cluster"
    return "managed" if managed else "replicated"


def redundancy(snapshot: Snapshot, profile: Profile, primary: Node, managed: bool = False) -> Redundancy:
    """The replicas of `primary`, each judged by the rules of the mechanism that would promote it."""
    mechanism = _mechanism(snapshot, managed)
    own = _replication(snapshot.node(primary.address))
    address = str(primary.address)
    if own is None:
        return Redundancy(address, mechanism, None, None, [])
    listed = _listed_replicas(own)
    by_member: dict[str, dict[str, str] | None] = {}
    for node in snapshot.data_nodes():
        replication = _replication(node)
        entry = _listed_entry(listed, node)
        if entry is not None or (replication is not None and _follows_primary(replication, address, own)):
            by_member[str(node.address)] = entry
            listed = {k: v for k, v in listed.items() if v is not entry}
    by_member.update(listed)  # listed by the primary, but not audited
    candidates = [_judge(snapshot, profile, mechanism, address, member, entry)
                  for member, entry in sorted(by_member.items())]
    return Redundancy(address, mechanism, own.get("role"), _follows(own), candidates)


def _follows_primary(replication: dict[str, str], primary: str, own: dict[str, str]) -> bool:
    """The replica's own INFO names this primary: by address, or by replication id (NAT, TLS ports)."""
    if replication.get("role") != "slave":
        return False
    replid = replication.get("master_replid")
    return _follows(replication) == primary or (bool(replid) and replid == own.get("master_replid"))


def _config_int(node: NodeSnapshot, name: str) -> int:
    return as_int(optional(lambda: node.config(name)), -1)


def _listed_entry(listed: dict[str, dict[str, str]], node: NodeSnapshot) -> dict[str, str] | None:
    """The primary's slaveN line for this node: by address, else by one of its ports (it may announce the
    plaintext port while clients use the TLS one)."""
    if str(node.address) in listed:
        return listed[str(node.address)]
    ports = {node.address.port, _config_int(node, "port"), _config_int(node, "tls-port")}
    matches = [e for e in listed.values() if as_int(e.get("port")) in ports and e.get("ip") == node.address.host]
    return matches[0] if len(matches) == 1 else None


def _judge(snapshot: Snapshot, profile: Profile, mechanism: str, primary: str, address: str,
           listed: dict[str, str] | None) -> Candidate:
    candidate = Candidate(address)
    node = snapshot.node(address)
    replication = _replication(node)
    if node is None or replication is None:
        unreached = next((u.reason for u in snapshot.topology.unreachable if str(u.address) == address), None)
        candidate.unverified = (f"not audited ({unreached})" if unreached else
                                "listed by the primary but not audited (not announced by Sentinel, or not "
                                "discovered)" if node is None else "its INFO is unavailable")
    else:
        _own_facts(candidate, replication, primary, listed, node)
        if mechanism == "replicated" and listed is not None:
            lag = as_int(listed.get("lag"), -1)
            if lag > profile.ha.lag_fail_s:
                candidate.excluded.append(f"lags {lag} s (more than ha.lag_fail_s {profile.ha.lag_fail_s} s)")
        if mechanism == "cluster":
            _cluster_rules(candidate, snapshot, replication, node)
    if listed is None and not candidate.excluded:
        candidate.excluded.append("the primary's own INFO replication does not list it as connected")
    elif listed is not None and listed.get("state") not in (None, "online"):
        candidate.excluded.append(f"the primary sees it in state {listed.get('state')}, not online")
    if mechanism == "sentinel":
        _sentinel_rules(candidate, snapshot, primary, replication)
    return candidate


def _own_facts(candidate: Candidate, replication: dict[str, str], primary: str, listed: dict[str, str] | None,
               node: NodeSnapshot) -> None:
    if replication.get("role") != "slave":
        candidate.excluded.append(f"its own INFO says role:{replication.get('role')}")
        return
    link = replication.get("master_link_status")
    if link != "up":
        down = replication.get("master_link_down_since_seconds")
        candidate.excluded.append(f"its master link is {link}" + (f" (for {down} s)" if down else ""))
    elif replication.get("master_sync_in_progress") == "1":
        candidate.excluded.append("a full synchronisation is still in progress")
    priority = replication.get("slave_priority") or optional(lambda: node.config("replica-priority"))
    if priority is not None and as_int(priority, 100) == 0:
        candidate.excluded.append("replica-priority 0 (declared never to be promoted; Sentinel aborts with "
                                  "-failover-abort-no-good-slave)")
    if replication.get("replica_announced") == "0":
        candidate.notes.append("replica-announced no: hidden from SENTINEL REPLICAS, still promotable")


def _sentinel_rules(candidate: Candidate, snapshot: Snapshot, primary: str,
                    replication: dict[str, str] | None) -> None:
    """sentinelSelectSlave, as each Sentinel that names this primary sees the replica."""
    hidden = replication is not None and replication.get("replica_announced") == "0"
    for sentinel in sorted(snapshot.sentinel_nodes(), key=lambda n: n.address):
        addr = fact_or_none(sentinel, "sentinel.master_addr")
        if not (isinstance(addr, list) and len(addr) == 2 and f"{addr[0]}:{addr[1]}" == primary):
            continue  # this Sentinel follows another primary: SEN-003 reports the split
        master = as_object(fact_or_none(sentinel, "sentinel.master"))
        known = fact_or_none(sentinel, "sentinel.replicas")
        if not isinstance(known, list):
            continue
        view = next((r for r in as_objects(known) if f"{r.get('ip')}:{r.get('port')}" == candidate.address), None)
        who = f"Sentinel {sentinel.address}"
        if view is None:
            if replication is not None and not hidden:
                candidate.excluded.append(f"{who} does not know it")
            continue
        down_after = as_int(master.get("down-after-milliseconds"), 30_000)
        candidate.excluded += [f"{who}: {why}" for why in sentinel_view_reasons(view, down_after)]


def sentinel_view_reasons(view: dict[str, Any], down_after_ms: int) -> list[str]:
    """Why a Sentinel would not select this replica (one SENTINEL REPLICAS entry), per sentinelSelectSlave."""
    reasons = [f"flagged {f}" for f in str(view.get("flags", "")).split(",") if f in SENTINEL_DOWN_FLAGS]
    ping_age = as_int(view.get("last-ok-ping-reply"))
    if ping_age > SENTINEL_MAX_PING_AGE_MS:
        reasons.append(f"last PING reply {ping_age} ms ago (limit {SENTINEL_MAX_PING_AGE_MS} ms)")
    info_age = as_int(view.get("info-refresh"))
    if info_age > SENTINEL_MAX_INFO_AGE_MS:
        reasons.append(f"INFO refreshed {info_age} ms ago (limit {SENTINEL_MAX_INFO_AGE_MS} ms)")
    link_down = as_int(view.get("master-link-down-time"))
    if link_down > down_after_ms * 10:
        reasons.append(f"master link down for {link_down} ms (limit 10 x down-after-milliseconds = "
                       f"{down_after_ms * 10} ms)")
    if "slave-priority" in view and as_int(view.get("slave-priority"), 100) == 0:
        reasons.append("slave-priority 0")
    return reasons


def _cluster_rules(candidate: Candidate, snapshot: Snapshot, replication: dict[str, str],
                   node: NodeSnapshot) -> None:
    """clusterHandleSlaveFailover: no-failover, the data-age limit, and the cluster's own flags."""
    if str(optional(lambda: node.config("cluster-replica-no-failover")) or "").lower() == "yes":
        candidate.excluded.append("cluster-replica-no-failover yes (it never starts an automatic failover)")
    factor = as_int(optional(lambda: node.config("cluster-replica-validity-factor")), 10)
    timeout_ms = as_int(optional(lambda: node.config("cluster-node-timeout")), 15_000)
    ping_period_s = as_int(optional(lambda: node.config("repl-ping-replica-period")), 10)
    if replication.get("master_link_status") == "up":
        age_ms = as_int(replication.get("master_last_io_seconds_ago")) * 1000
    else:
        age_ms = as_int(replication.get("master_link_down_since_seconds")) * 1000
    limit_ms = ping_period_s * 1000 + timeout_ms * factor
    if factor and age_ms > limit_ms:
        candidate.excluded.append(f"its data is {age_ms} ms old, beyond repl-ping-replica-period + "
                                  f"cluster-node-timeout x cluster-replica-validity-factor = {limit_ms} ms")
    myid = fact_or_none(node, "cluster.myid")
    flags: set[str] = set()
    for other in snapshot.data_nodes():  # every node's view of this one
        for entry in as_objects(fact_or_none(other, "cluster.nodes")):
            if myid is not None and entry.get("id") == myid:
                flags.update(str(f) for f in (entry.get("flags") or []))
    bad = sorted(flags & set(CLUSTER_BAD_FLAGS))
    if bad:
        candidate.excluded.append(f"the cluster flags it {','.join(bad)}")
    if "nofailover" in flags and not any("no-failover" in r for r in candidate.excluded):
        candidate.excluded.append("flagged nofailover in CLUSTER NODES")
