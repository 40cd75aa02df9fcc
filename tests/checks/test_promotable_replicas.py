"""Only replicas the failover mechanism can promote are redundancy; facts about a node come from that node.

Real Sentinels, Cluster and replicated sets: a replica Sentinel would refuse (replica-priority 0), a cluster
replica that never fails over (cluster-replica-no-failover), Sentinels that disagree on the primary, and a
healthy control that still passes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import redis

from redis_audit.cli.main import main
from redis_audit.model import Status
from redis_audit.sandbox import SandboxSpec, sandbox_cli_args
from tests.checks.support import audit, findings, profile

SAMPLE_PROFILE = Path(__file__).resolve().parents[2] / "sample_reports" / "sandbox-profile.toml"
QUIET = {"latency": {"local_probe": False}, "keyspace": {"enabled": False}}


def _run_json(sb, tmp_path: Path, name: str) -> tuple[int, dict]:
    """`redis-audit run` as a user types it, with the profile the READY sample report uses."""
    out = tmp_path / f"{name}.json"
    code = main(["run", *sandbox_cli_args(sb, tmp_path), "--profile", str(SAMPLE_PROFILE), "--format", "json",
                 "--output", str(out)])
    return code, json.loads(out.read_text())


def _by_check(report: dict, check_id: str) -> list[dict]:
    return [f for f in report["findings"] if f["checkId"] == check_id]


def _wait_for(what: str, ready, timeout_s: float = 40.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_sentinel_replica_with_priority_zero_is_not_redundancy(fresh_sandbox, tmp_path):
    sb = fresh_sandbox(SandboxSpec(topology="sentinel", tls=True, replicas=1))
    code, control = _run_json(sb, tmp_path, "control")
    assert code == 0 and control["verdict"]["decision"] == "READY", control["verdict"]
    assert [f["status"] for f in _by_check(control, "HA-001")] == ["PASS"]
    assert "1 promotable replica" in _by_check(control, "HA-001")[0]["message"]

    replica = sb.info.nodes_with_role("replica")[0]
    sb.admin_client(replica).config_set("replica-priority", "0")
    sentinels = [sb.admin_client(s) for s in sb.info.nodes_with_role("sentinel")]
    _wait_for("every Sentinel to see slave-priority 0", lambda: all(
        r["slave-priority"] == "0" for s in sentinels for r in s.execute_command("SENTINEL", "REPLICAS", "mymaster")))

    code, report = _run_json(sb, tmp_path, "priority0")
    assert code == 1 and report["verdict"]["decision"] == "NOT_READY"
    ha = _by_check(report, "HA-001")
    assert [f["status"] for f in ha] == ["FAIL"], ha
    assert "replica-priority 0" in ha[0]["message"] and replica.address in ha[0]["message"]
    assert any(b["checkId"] == "HA-001" for b in report["verdict"]["blockers"])
    sen4 = _by_check(report, "SEN-004")
    assert len(sen4) == 3 and all(f["status"] == "FAIL" and "slave-priority 0" in f["message"] for f in sen4)
    # What the audit predicts is what Sentinel does: it refuses to promote the replica.
    with pytest.raises(redis.ResponseError, match="NOGOODSLAVE"):
        sentinels[0].execute_command("SENTINEL", "FAILOVER", "mymaster")


def test_cluster_replica_without_failover_is_not_redundancy(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="cluster"))
    prof = profile(**QUIET)
    control = audit(sb, prof)
    assert {f.status for f in findings(control, "HA-001")} == {Status.PASS}
    assert {f.status for f in findings(control, "CLU-002")} == {Status.PASS}

    replica = sb.info.nodes_with_role("replica")[0]
    primary = next(n for n in sb.info.nodes_with_role("primary") if n.shard == replica.shard)
    sb.admin_client(replica).config_set("cluster-replica-no-failover", "yes")
    report = audit(sb, prof)
    ha = {f.resource: f for f in findings(report, "HA-001")}
    assert ha[primary.address].status is Status.FAIL
    assert "cluster-replica-no-failover yes" in ha[primary.address].message
    assert all(f.status is Status.PASS for a, f in ha.items() if a != primary.address)
    clu = {f.resource: f.status for f in findings(report, "CLU-002")}
    assert clu[primary.address] is Status.FAIL
    assert [s for a, s in clu.items() if a != primary.address] == [Status.PASS, Status.PASS]


def test_replicated_set_counts_only_promotable_replicas(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="replicated", replicas=2))
    prof = profile(**QUIET)
    primary = sb.info.nodes_with_role("primary")[0]
    first, second = sb.info.nodes_with_role("replica")
    sb.admin_client(first).config_set("replica-priority", "0")
    report = audit(sb, prof)
    ha = next(f for f in findings(report, "HA-001") if f.resource == primary.address)
    assert ha.status is Status.PASS and "1 promotable replica" in ha.message and first.address in ha.message
    sb.admin_client(second).config_set("replica-priority", "0")
    report = audit(sb, prof)
    ha = next(f for f in findings(report, "HA-001") if f.resource == primary.address)
    assert ha.status is Status.FAIL and "0 promotable replicas, needs 1" in ha.message
    assert first.address in ha.message and second.address in ha.message
    # Failure domains only count replicas a failover could use.
    assert {f.status for f in findings(report, "HA-003")} == {Status.SKIP}


def test_disagreeing_sentinels_do_not_lend_replicas_to_a_lone_node(fresh_sandbox):
    sb = fresh_sandbox(SandboxSpec(topology="sentinel", replicas=2))
    lone = fresh_sandbox(SandboxSpec(topology="standalone", preset="bad")).info.nodes[0]
    primary = sb.info.nodes_with_role("primary")[0]
    odd = sb.info.nodes_with_role("sentinel")[0]  # the first seed: discovery hears its view first
    admin = sb.admin_client(odd)
    admin.execute_command("SENTINEL", "REMOVE", "mymaster")
    admin.execute_command("SENTINEL", "MONITOR", "mymaster", lone.host, lone.port, 2)
    prof = profile(**QUIET)
    report = audit(sb, prof)
    ha = {f.resource: f for f in findings(report, "HA-001")}
    assert ha[lone.address].status is Status.FAIL, ha[lone.address].message
    assert "0 promotable replicas" in ha[lone.address].message
    assert ha[primary.address].status is Status.PASS and "2 promotable replicas" in ha[primary.address].message
    sen3 = findings(report, "SEN-003")
    assert [f.status for f in sen3] == [Status.FAIL] and "2 different primaries" in sen3[0].message

    # The odd Sentinel now names a replica: its own INFO says role:slave, so it is no primary at all.
    replica = sb.info.nodes_with_role("replica")[0]
    admin.execute_command("SENTINEL", "REMOVE", "mymaster")
    admin.execute_command("SENTINEL", "MONITOR", "mymaster", replica.host, replica.port, 2)
    admin.execute_command("SENTINEL", "SET", "mymaster", "auth-user", "sentinel", "auth-pass",
                          sb.password("sentinel"))
    report = audit(sb, prof)
    ha = {f.resource: f for f in findings(report, "HA-001")}
    assert ha[replica.address].status is Status.FAIL
    assert "its own INFO replication says role:slave" in ha[replica.address].message
    assert [f.status for f in findings(report, "SEN-003")] == [Status.FAIL]
