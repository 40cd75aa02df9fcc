"""The promotion rules of Sentinel (sentinelSelectSlave), Cluster (clusterHandleSlaveFailover) and replicated
sets, one by one, on hand-built snapshots (the checks are pure; the real-server cases are in
test_promotable_replicas.py)."""

from __future__ import annotations

from typing import Any

import pytest

from redis_audit.model import Status
from redis_audit.snapshot import Fact, NodeSnapshot, Snapshot, TargetInfo
from redis_audit.topology import Address, DeploymentKind, Node, Role, Topology, Unreachable
from tests.judging import run_check

P, R = "10.0.0.1:6379", "10.0.0.2:6379"
S1, S2 = "10.0.0.9:26379", "10.0.0.8:26379"


def _primary_info(state: str = "online", lag: int = 0, listed: bool = True) -> dict[str, Any]:
    replication = {"role": "master", "connected_slaves": "1" if listed else "0", "master_replid": "abc"}
    if listed:
        replication["slave0"] = f"ip=10.0.0.2,port=6379,state={state},offset=100,lag={lag}"
    return {"replication": replication}


def _replica_info(**overrides: str) -> dict[str, Any]:
    replication = {"role": "slave", "master_host": "10.0.0.1", "master_port": "6379", "master_link_status": "up",
                   "master_last_io_seconds_ago": "1", "master_sync_in_progress": "0", "slave_priority": "100",
                   "replica_announced": "1", "master_replid": "abc"}
    replication.update(overrides)
    return {"replication": replication}


def _sentinel_view(**overrides: str) -> dict[str, Any]:
    view = {"ip": "10.0.0.2", "port": "6379", "flags": "slave", "last-ok-ping-reply": "500", "info-refresh": "2000",
            "master-link-down-time": "0", "master-link-status": "ok", "slave-priority": "100"}
    view.update(overrides)
    return view


def _snapshot(kind: DeploymentKind, primary: dict[str, Any], replica: dict[str, Any] | None,
              sentinels: dict[str, dict[str, Any]] | None = None, config: dict[str, str] | None = None,
              unreachable: bool = False) -> Snapshot:
    nodes = {P: NodeSnapshot(Address.parse(P), Role.PRIMARY, {"info": Fact(value=primary)})}
    if replica is not None:
        nodes[R] = NodeSnapshot(Address.parse(R), Role.REPLICA,
                                {"info": Fact(value=replica), "config": Fact(value=config or {})})
    for address, facts in (sentinels or {}).items():
        nodes[address] = NodeSnapshot(Address.parse(address), Role.SENTINEL,
                                      {k: Fact(value=v) for k, v in facts.items()})
    topology = Topology(
        kind,
        nodes=(Node(Address.parse(P), Role.PRIMARY, shard="s"),
               Node(Address.parse(R), Role.REPLICA, shard="s", primary=Address.parse(P))),
        sentinels=tuple(Node(Address.parse(a), Role.SENTINEL) for a in (sentinels or {})),
        unreachable=(Unreachable(Address.parse(R), Role.REPLICA, "connection refused"),) if unreachable else (),
        master_name="m" if kind is DeploymentKind.SENTINEL else None,
    )
    target = TargetInfo(url="redis://x", kind="redis", seeds=(P,), tls=False, tls_verify=True, user=None)
    return Snapshot(target, topology, nodes, "2026-01-01T00:00:00Z", "2026-01-01T00:00:01Z", "test")


def _sentinel(view: dict[str, Any] | None, names: str = P, down_after: str = "5000") -> dict[str, Any]:
    host, port = names.split(":")
    return {"sentinel.master_addr": [host, port], "sentinel.master": {"down-after-milliseconds": down_after},
            "sentinel.replicas": [view] if view is not None else []}


def _ha001(snap: Snapshot, **profile: Any) -> tuple[Status, str]:
    found = [f for f in run_check("HA-001", snap, profile) if f.resource == P]
    assert len(found) == 1
    return found[0].status, found[0].message


@pytest.mark.parametrize(("view", "reason"), [
    (_sentinel_view(flags="slave,s_down"), "flagged s_down"),
    (_sentinel_view(flags="slave,disconnected"), "flagged disconnected"),
    (_sentinel_view(**{"last-ok-ping-reply": "5001"}), "last PING reply 5001 ms ago"),
    (_sentinel_view(**{"info-refresh": "30001"}), "INFO refreshed 30001 ms ago"),
    (_sentinel_view(**{"master-link-down-time": "50001"}), "master link down for 50001 ms"),
    (_sentinel_view(**{"slave-priority": "0"}), "slave-priority 0"),
    (None, "does not know it"),
])
def test_sentinel_selection_rules(view, reason):
    snap = _snapshot(DeploymentKind.SENTINEL, _primary_info(), _replica_info(), {S1: _sentinel(view)})
    status, message = _ha001(snap)
    assert status is Status.FAIL and reason in message and f"Sentinel {S1}" in message


def test_sentinel_limits_are_inclusive_and_a_healthy_view_passes():
    edge = _sentinel_view(**{"last-ok-ping-reply": "5000", "info-refresh": "30000", "master-link-down-time": "50000"})
    snap = _snapshot(DeploymentKind.SENTINEL, _primary_info(), _replica_info(), {S1: _sentinel(edge)})
    assert _ha001(snap) == (Status.PASS, "primary has 1 promotable replica")


def test_a_sentinel_naming_another_primary_is_not_asked_about_this_one():
    snap = _snapshot(DeploymentKind.SENTINEL, _primary_info(), _replica_info(),
                     {S1: _sentinel(_sentinel_view()), S2: _sentinel(None, names="10.0.0.7:6379")})
    assert _ha001(snap)[0] is Status.PASS


def test_an_unannounced_replica_is_still_promotable():
    snap = _snapshot(DeploymentKind.SENTINEL, _primary_info(), _replica_info(replica_announced="0"),
                     {S1: _sentinel(None)})
    assert _ha001(snap)[0] is Status.PASS


@pytest.mark.parametrize(("replica", "primary", "reason"), [
    (_replica_info(master_link_status="down", master_link_down_since_seconds="12"), _primary_info(),
     "its master link is down (for 12 s)"),
    (_replica_info(master_sync_in_progress="1"), _primary_info(), "full synchronisation is still in progress"),
    (_replica_info(), _primary_info(state="wait_bgsave"), "state wait_bgsave"),
    (_replica_info(), _primary_info(lag=11), "lags 11 s"),
    (_replica_info(slave_priority="0"), _primary_info(), "replica-priority 0"),
    (_replica_info(role="master"), _primary_info(), "its own INFO says role:master"),
    (_replica_info(master_host="10.0.0.5", master_replid="zzz"), _primary_info(listed=False), None),
])
def test_replicated_set_rules(replica, primary, reason):
    snap = _snapshot(DeploymentKind.REPLICATED, primary, replica)
    status, message = _ha001(snap)
    assert status is Status.FAIL
    assert ("0 promotable replicas" if reason is None else reason) in message


def test_cluster_data_age_and_no_failover():
    base = {"cluster-node-timeout": "5000", "cluster-replica-validity-factor": "10", "repl-ping-replica-period": "10"}
    old = _replica_info(master_last_io_seconds_ago="61")  # 61 s > 10 s + 5 s x 10
    assert "its data is 61000 ms old" in _ha001(_snapshot(DeploymentKind.CLUSTER, _primary_info(), old,
                                                           config=base))[1]
    fresh = _replica_info(master_last_io_seconds_ago="60")
    assert _ha001(_snapshot(DeploymentKind.CLUSTER, _primary_info(), fresh, config=base))[0] is Status.PASS
    unlimited = {**base, "cluster-replica-validity-factor": "0"}
    assert _ha001(_snapshot(DeploymentKind.CLUSTER, _primary_info(), old, config=unlimited))[0] is Status.PASS
    no_failover = {**base, "cluster-replica-no-failover": "yes"}
    assert "cluster-replica-no-failover yes" in _ha001(
        _snapshot(DeploymentKind.CLUSTER, _primary_info(), fresh, config=no_failover))[1]


def test_a_replica_the_audit_could_not_verify_skips_instead_of_passing():
    snap = _snapshot(DeploymentKind.REPLICATED, _primary_info(), None, unreachable=True)
    status, message = _ha001(snap)
    assert status is Status.SKIP and "not audited (connection refused)" in message


def test_replicas_are_never_lent_by_a_shared_name():
    lone = {"replication": {"role": "master", "connected_slaves": "0", "master_replid": "other"}}
    snap = _snapshot(DeploymentKind.SENTINEL, lone, _replica_info(master_host="10.0.0.7", master_replid="zzz"),
                     {S1: _sentinel(_sentinel_view())})
    status, message = _ha001(snap)
    assert status is Status.FAIL and message.startswith("primary has 0 promotable replicas")
