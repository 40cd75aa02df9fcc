"""A password sent to a server that has none must not hide the open server: it is audited unauthenticated
and AUTH-001/NET-002 FAIL saying why, on standalone, Sentinel (data nodes and Sentinels) and Cluster."""

from __future__ import annotations

import pytest

from redis_audit.audit import AuditOptions, collect_snapshot, judge_snapshot
from redis_audit.model import Status
from redis_audit.sandbox import SandboxSpec
from redis_audit.secret import Secret
from redis_audit.snapshot import NO_PASSWORD
from redis_audit.target import Credentials, Target, TlsOptions, parse_url
from redis_audit.topology import Role
from tests.checks.support import findings, profile

QUIET = profile(latency={"local_probe": False}, keyspace={"enabled": False})
PASSWORD = "a-password-for-a-server-that-has-none"


def _audit(sb, credentials: Credentials, sentinel: Credentials | None = None):
    parsed = parse_url(sb.info.target_url)
    target = Target(parsed.kind, parsed.seeds, TlsOptions(enabled=parsed.tls), credentials,
                    sentinel or Credentials(), parsed.master_name)
    snap = collect_snapshot(target, AuditOptions(QUIET, deadline_s=60))
    return snap, judge_snapshot(snap, QUIET)


def _assert_open_and_failed(snap, report, roles: set[Role]) -> None:
    assert not snap.topology.unreachable, snap.topology.unreachable
    assert {n.role for n in snap.nodes.values()} == roles
    assert all(n.has(NO_PASSWORD) for n in snap.nodes.values())
    for check_id in ("AUTH-001", "NET-002"):
        found = [f for f in findings(report, check_id) if f.resource != "deployment"]
        assert found and all(f.status is Status.FAIL for f in found), (check_id, [f.message for f in found])
        assert all("the server needs no password" in f.message for f in found), [f.message for f in found]
    assert str(report.verdict.decision) == "NOT_READY"
    assert PASSWORD not in str(report.to_json()) and PASSWORD not in str(snap.to_json())


@pytest.mark.parametrize("credentials", [
    Credentials("auditor", Secret(PASSWORD)),  # WRONGPASS: no such user, the default user needs no password
    Credentials(None, Secret(PASSWORD)),  # -ERR AUTH <password> called without any password configured
], ids=["acl-user", "password-only"])
def test_standalone_open_server_is_audited_and_fails(sandboxes, credentials):
    sb = sandboxes.get(SandboxSpec(topology="standalone", preset="bad"))
    snap, report = _audit(sb, credentials)
    _assert_open_and_failed(snap, report, {Role.PRIMARY})
    refused = snap.nodes[next(iter(snap.nodes))].fact(NO_PASSWORD)
    assert isinstance(refused, dict) and refused["unauthenticatedPing"] == "PONG"


def test_sentinel_data_nodes_and_sentinels_open(sandboxes):
    sb = sandboxes.get(SandboxSpec(topology="sentinel", preset="bad"))
    snap, report = _audit(sb, Credentials("auditor", Secret(PASSWORD)), Credentials("auditor", Secret(PASSWORD)))
    _assert_open_and_failed(snap, report, {Role.PRIMARY, Role.REPLICA, Role.SENTINEL})


def test_cluster_nodes_open(sandboxes):
    sb = sandboxes.get(SandboxSpec(topology="cluster", preset="bad"))
    snap, report = _audit(sb, Credentials(None, Secret(PASSWORD)))
    _assert_open_and_failed(snap, report, {Role.PRIMARY, Role.REPLICA})


def test_a_wrong_password_on_a_protected_server_stays_an_authentication_failure(sandboxes):
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    snap, report = _audit(sb, Credentials("auditor", Secret(PASSWORD)))
    assert not snap.nodes and "authentication failed" in str(snap.topology.unreachable)
    assert str(report.verdict.decision) == "INCONCLUSIVE"
