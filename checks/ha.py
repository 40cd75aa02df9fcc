"""HA: every primary has a replica, and failover is automated (Sentinel or Cluster)."""

from __future__ import annotations

from collections.abc import Iterator

from redis_audit.check import CheckContext, Scope
from redis_audit.model import Finding, Severity
from redis_audit.topology import DeploymentKind

from ._aws import is_aws
from .pack import PACK


@PACK.check(
    id="HA-001",
    title="Every primary has a replica, under Sentinel or Cluster",
    severity=Severity.CRITICAL,
    category="availability",
    verifies="Each primary has at least ha.min_replicas_per_primary replicas, and the deployment is Sentinel "
    "or Cluster (not a bare standalone or an unsupervised replica set).",
    risk="A primary without a replica, or without automated failover, makes one node failure an outage of "
    "the rate limiter.",
    remediation="Add replicas (REPLICAOF) and run three Sentinels, or run Redis Cluster with a replica per shard.",
    references=("https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/",),
    needs=("info",),
    scope=Scope.DEPLOYMENT,
)
def replicas_and_failover(ctx: CheckContext) -> Iterator[Finding]:
    topology = ctx.snapshot.topology
    wanted = ctx.profile.ha.min_replicas_per_primary
    primaries = topology.primaries()
    if not primaries:
        yield ctx.skipped(ctx.deployment, "no primary was discovered")
        return
    for primary in primaries:
        replicas = topology.replicas_of(primary)
        snap = ctx.snapshot.node(primary.address)
        connected = snap.info_int("replication", "connected_slaves") if snap and snap.has("info") else None
        observed = {"replicas": len(replicas), "connectedReplicas": connected}
        if len(replicas) < wanted:
            yield ctx.failed(str(primary.address), f"primary has {len(replicas)} replicas, needs {wanted}",
                             observed=observed, expected={"replicas": f">= {wanted}"})
        else:
            yield ctx.passed(str(primary.address), f"primary has {len(replicas)} replicas", observed=observed,
                             expected={"replicas": f">= {wanted}"})
    # A managed service (ElastiCache, MemoryDB) fails over itself: HA-004 judges it from the control plane.
    automated = topology.kind in (DeploymentKind.SENTINEL, DeploymentKind.CLUSTER) or is_aws(ctx.snapshot)
    if ctx.profile.ha.require_sentinel_or_cluster and not automated:
        yield ctx.failed(ctx.deployment, f"deployment is {topology.kind}: no automated failover",
                         observed=str(topology.kind), expected="sentinel or cluster")
