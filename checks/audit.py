"""AUDIT: the audit itself reached every node it discovered."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext, Scope
from redis_audit.model import Finding, Severity
from redis_audit.topology import DeploymentKind
from redis_audit.wording import plural

from .pack import PACK


@PACK.check(
    id="AUDIT-001",
    title="Every node of the deployment was reached and audited",
    severity=Severity.HIGH,
    category="audit",
    verifies="Discovery and collection reached every primary, replica and Sentinel the deployment names.",
    risk="A node the audit could not reach was not verified: the verdict would rest on part of the deployment.",
    remediation="Make every node reachable from the audit host (network path, credentials, TLS CA), or "
    "remove the dead node from the topology.",
    scope=Scope.DEPLOYMENT,
)
def every_node_reached(ctx: CheckContext) -> Iterator[Finding]:
    topology = ctx.snapshot.topology
    if topology.kind is DeploymentKind.UNKNOWN:
        reasons = "; ".join(u.reason for u in topology.unreachable) or "no node answered"
        yield ctx.errored(ctx.deployment, f"the target could not be reached: {reasons}")
        return
    for node in topology.unreachable:
        role = f"{node.role} " if node.role else ""
        yield ctx.errored(str(node.address), f"{role}node could not be audited: {node.reason}",
                          role=str(node.role) if node.role else None)
    if not topology.unreachable:
        audited = len(ctx.snapshot.nodes)
        reached = "the only node was reached" if audited == 1 else f"all {plural(audited, 'node')} were reached"
        yield ctx.passed(ctx.deployment, reached, observed=audited,
                         expected=audited)
