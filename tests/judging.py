"""Judge one check over a hand-built snapshot: the checks are pure, so no server is needed."""

from __future__ import annotations

from typing import Any

from redis_audit.judge import judge
from redis_audit.model import Finding
from redis_audit.profile import profile_from_mapping
from redis_audit.registry import all_checks, discover_packs
from redis_audit.snapshot import Fact, FactError, NodeSnapshot, Snapshot, TargetInfo
from redis_audit.topology import Address, DeploymentKind, Role, Topology

_CHECKS = {c.id: c for c in all_checks(discover_packs())}


def fact(value: Any) -> Fact:
    """A collected fact, or an unavailable one when the value is a FactError (denied, timed out...)."""
    return Fact(error=value) if isinstance(value, FactError) else Fact(value=value)


def snapshot(deployment_facts: dict[str, Any] | None = None, nodes: dict[str, dict[str, Any]] | None = None,
             kind: DeploymentKind = DeploymentKind.STANDALONE, roles: dict[str, Role] | None = None) -> Snapshot:
    """A snapshot with the given facts (a FactError value: unavailable); node keys are 'host:port', primaries
    unless `roles` says otherwise."""
    node_snaps = {
        address: NodeSnapshot(Address.parse(address), (roles or {}).get(address, Role.PRIMARY),
                              {k: fact(v) for k, v in facts.items()})
        for address, facts in (nodes or {}).items()
    }
    return Snapshot(
        target=TargetInfo(url="redis://127.0.0.1:1", kind="redis", seeds=("127.0.0.1:1",), tls=False,
                          tls_verify=True, user=None),
        topology=Topology(kind),
        nodes=node_snaps,
        started_at="2026-01-01T00:00:00Z",
        finished_at="2026-01-01T00:00:01Z",
        tool_version="test",
        deployment_facts={k: fact(v) for k, v in (deployment_facts or {}).items()},
    )


def run_check(check_id: str, snap: Snapshot, profile: dict[str, Any] | None = None) -> list[Finding]:
    results = judge(snap, profile_from_mapping(profile or {}), [_CHECKS[check_id]])
    return [r.finding for r in results]


def only(check_id: str, snap: Snapshot, profile: dict[str, Any] | None = None) -> Finding:
    """The one finding a check makes on a one-node (or deployment-scoped) snapshot."""
    findings = run_check(check_id, snap, profile)
    assert len(findings) == 1, findings
    return findings[0]


def statuses(findings: list[Finding]) -> dict[str, str]:
    return {f.resource: str(f.status) for f in findings}
