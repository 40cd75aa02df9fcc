"""End to end on real servers: every topology is discovered, audited and judged."""

from __future__ import annotations

import pytest

from redis_audit.model import Status
from redis_audit.sandbox import SandboxSpec
from redis_audit.topology import DeploymentKind, Role
from redis_audit.verdict import Decision
from tests.helpers import audit, findings, statuses


@pytest.mark.parametrize(
    ("spec", "kind", "data_nodes", "sentinels"),
    [
        (SandboxSpec(topology="standalone"), DeploymentKind.STANDALONE, 1, 0),
        (SandboxSpec(topology="replicated", tls=True), DeploymentKind.REPLICATED, 3, 0),
        (SandboxSpec(topology="sentinel", tls=True), DeploymentKind.SENTINEL, 3, 3),
        (SandboxSpec(topology="cluster", tls=True), DeploymentKind.CLUSTER, 6, 0),
        (SandboxSpec(topology="cluster"), DeploymentKind.CLUSTER, 6, 0),
        (SandboxSpec(topology="sentinel", engine="valkey"), DeploymentKind.SENTINEL, 3, 3),
        (SandboxSpec(topology="cluster", engine="valkey"), DeploymentKind.CLUSTER, 6, 0),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_discovery_finds_every_node(sandboxes, spec, kind, data_nodes, sentinels):
    report = audit(sandboxes.get(spec))
    topology = report.snapshot.topology
    assert topology.kind is kind
    assert len(topology.nodes) == data_nodes and len(topology.sentinels) == sentinels
    assert not topology.unreachable
    assert len(report.snapshot.nodes) == data_nodes + sentinels
    if kind is DeploymentKind.CLUSTER:
        assert len(topology.primaries()) == 3
        assert all(len(topology.replicas_of(p)) == 1 for p in topology.primaries())
    assert statuses(report, "AUDIT-001") == {"PASS"}


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_good_sentinel_passes_the_first_checks(sandboxes, engine):
    spec = SandboxSpec(topology="sentinel", tls=engine == "redis", engine=engine)
    report = audit(sandboxes.get(spec))
    for check_id in ("AUDIT-001", "AUTH-001", "NET-002", "MEM-001", "MEM-004", "HA-001"):
        assert statuses(report, check_id) == {"PASS"}, (check_id, findings(report, check_id))
    # Valkey's wheel has no TLS: the same audit must say so.
    assert statuses(report, "TLS-001") == ({"PASS"} if engine == "redis" else {"FAIL"})


def test_good_preset_with_tls_is_ready(sandboxes):
    report = audit(sandboxes.get(SandboxSpec(topology="sentinel", tls=True)))
    assert report.verdict.decision is Decision.READY, report.verdict.blockers


@pytest.mark.parametrize("engine", ["redis", "valkey"])
def test_bad_preset_fails_what_a_default_install_should(sandboxes, engine):
    report = audit(sandboxes.get(SandboxSpec(topology="standalone", preset="bad", engine=engine)), user=None)
    assert report.verdict.decision is Decision.NOT_READY
    for check_id in ("AUTH-001", "NET-002", "TLS-001", "MEM-001", "MEM-004", "HA-001"):
        assert "FAIL" in statuses(report, check_id), check_id
    blocking = {b.check_id for b in report.verdict.blockers}
    assert {"AUTH-001", "NET-002", "TLS-001", "MEM-001", "MEM-004", "HA-001"} <= blocking


def test_tls_server_that_also_listens_in_plaintext_fails_tls_001(sandboxes):
    report = audit(sandboxes.get(SandboxSpec(topology="standalone", tls=True, preset="bad")), user=None)
    tls = findings(report, "TLS-001")
    assert {f.status for f in tls} == {Status.FAIL}
    assert "plaintext client was answered" in tls[0].message


def test_insecure_tls_is_reported(sandboxes):
    from dataclasses import replace

    from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
    from redis_audit.profile import default_profile
    from redis_audit.sandbox import sandbox_target

    target = sandbox_target(sandboxes.get(SandboxSpec(topology="standalone", tls=True)))
    insecure = replace(target, tls=replace(target.tls, verify=False, ca_file=None))
    report = judge_snapshot(collect_snapshot(insecure, AuditOptions(default_profile())), default_profile())
    messages = [f.message for f in findings(report, "TLS-003")]
    assert statuses(report, "TLS-003") == {"FAIL"} and "--tls-insecure" in messages[0]


@pytest.mark.parametrize("topology", ["sentinel", "cluster"])
def test_unreachable_replica_is_an_error_and_the_audit_goes_on(fresh_sandbox, topology):
    # Sentinel and Cluster remember a replica that went away (a bare primary forgets it).
    sandbox = fresh_sandbox(SandboxSpec(topology=topology))
    replica = sandbox.info.nodes_with_role("replica")[0]
    sandbox.stop_node(replica)
    report = audit(sandbox)
    errors = [f for f in findings(report, "AUDIT-001") if f.status is Status.ERROR]
    assert [f.resource for f in errors] == [replica.address]
    # The other nodes were still judged.
    data_nodes = [n for n in sandbox.info.nodes if not n.is_sentinel]
    assert len([f for f in findings(report, "MEM-001") if f.status is Status.PASS]) == len(data_nodes) - 1
    assert report.verdict.incomplete


def test_frozen_node_cannot_hang_the_run(fresh_sandbox):
    import signal

    sandbox = fresh_sandbox(SandboxSpec(topology="replicated", replicas=1))
    replica = sandbox.info.nodes_with_role("replica")[0]
    sandbox.signal_node(replica, signal.SIGSTOP)
    try:
        report = audit(sandbox, deadline_s=8)
    finally:
        sandbox.signal_node(replica, signal.SIGCONT)
    errors = [f for f in findings(report, "AUDIT-001") if f.status is Status.ERROR]
    assert [f.resource for f in errors] == [replica.address]
    assert any(r.role is Role.PRIMARY for r in report.snapshot.topology.nodes)
