"""AWS control plane: replicas per shard, Multi-AZ, automatic failover, automated backups."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from redis_audit.check import CheckContext, Limit
from redis_audit.model import Finding, Severity, Status
from redis_audit.wording import plural

from ._aws import aws_check, extend, managed

AUTOFO = "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/AutoFailover.html"


@extend("HA-001")
def replicas_per_shard(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    wanted = ctx.profile.ha.min_replicas_per_primary
    if m.serverless:
        yield ctx.passed(m.arn, "serverless caches replicate across zones by design", observed={"serverless": True})
        return
    shards = m.shards()
    if not shards:
        yield ctx.skipped(m.arn, "the control plane reports no shard")
    for shard, members in shards:
        replicas = len(members) - 1
        observed: dict[str, Any] = {"shard": shard, "members": [x.id for x in members], "replicas": replicas}
        if replicas < wanted:
            yield ctx.failed(f"{m.arn}/{shard}", f"shard {shard} has {plural(replicas, 'replica')}, needs {wanted}",
                             observed=observed, expected={"replicas": f">= {wanted}"})
        else:
            yield ctx.passed(f"{m.arn}/{shard}", f"shard {shard} has {plural(replicas, 'replica')}", observed=observed,
                             expected={"replicas": f">= {wanted}"})


@extend("HA-003")  # the wire check lives in checks/ha.py or hardening.py; this is its control-plane half
def multi_az(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    if m.serverless:
        yield ctx.passed(m.arn, "serverless caches are Multi-AZ by design", observed={"serverless": True})
        return
    flag = m.raw.get("AvailabilityMode") if m.memorydb else m.raw.get("MultiAZ")
    on = flag in ("multiaz", "enabled")
    zones = {shard: sorted({str(x.zone) for x in members if x.zone}) for shard, members in m.shards()}
    single = sorted(shard for shard, z in zones.items() if len(z) < 2)
    observed = {"multiAz": flag, "zonesPerShard": zones}
    if not on:
        yield ctx.failed(m.arn, f"Multi-AZ is {flag}", observed=observed, expected="enabled, two zones per shard")
    elif single:
        yield ctx.failed(m.arn, f"shards in a single zone: {', '.join(single)}", observed=observed,
                         expected="two zones per shard")
    else:
        yield ctx.passed(m.arn, "Multi-AZ on; every shard spans two or more zones", observed=observed)


@aws_check(
    id="HA-004",
    title="Automatic failover is enabled",
    severity=Severity.HIGH,
    category="availability",
    verifies="ElastiCache: AutomaticFailover is enabled; MemoryDB fails over automatically when each shard "
    "has a replica; serverless is managed by the service.",
    risk="Without automatic failover a primary failure is an outage until someone promotes a replica.",
    remediation="modify-replication-group --automatic-failover-enabled (needs a replica per shard).",
    references=(AUTOFO,),
    needs=("aws.replication_group",),
)
def automatic_failover(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    if m.serverless:
        yield ctx.passed(m.arn, "serverless caches fail over automatically", observed={"serverless": True})
    elif m.memorydb:
        lonely = sorted(shard for shard, members in m.shards() if len(members) < 2)
        observed = {"shardsWithoutReplica": lonely}
        if lonely:
            yield ctx.failed(m.arn, f"shards without a replica cannot fail over: {', '.join(lonely)}",
                             observed=observed, expected={"shardsWithoutReplica": []})
        else:
            yield ctx.passed(m.arn, "every shard has a replica to fail over to", observed=observed)
    elif m.raw.get("AutomaticFailover") == "enabled":
        yield ctx.passed(m.arn, "automatic failover is enabled", observed={"AutomaticFailover": "enabled"})
    else:
        yield ctx.failed(m.arn, f"automatic failover is {m.raw.get('AutomaticFailover')}",
                         observed={"AutomaticFailover": m.raw.get("AutomaticFailover")},
                         expected={"AutomaticFailover": "enabled"})


@aws_check(
    id="PERS-004",
    title="Automated backups are kept for the profile's minimum",
    severity=Severity.MEDIUM,
    category="persistence",
    verifies="SnapshotRetentionLimit is at least the profile's aws.min_snapshot_retention_days.",
    risk="Without automated snapshots a bad deploy or a FLUSHALL cannot be undone.",
    remediation="modify-replication-group --snapshot-retention-limit N (MemoryDB: update-cluster); a pure "
    "limiter may document a waiver and lower the profile's minimum.",
    references=("https://docs.aws.amazon.com/config/latest/developerguide/"
                "elasticache-redis-cluster-automatic-backup-check.html",),
    needs=("aws.replication_group",),
)
def snapshot_retention(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    wanted = ctx.profile.aws.min_snapshot_retention_days
    days = m.raw.get("SnapshotRetentionLimit") or 0
    window = m.raw.get("SnapshotWindow") or m.raw.get("DailySnapshotTime")
    failed = f"snapshots kept {plural(days, 'day')}, the profile requires {wanted}" if days else \
        "automated backups are off"
    yield ctx.graded(m.arn, days, fail=Limit(">=", wanted), observed={"SnapshotRetentionLimit": days,
                     "SnapshotWindow": window},
                     message={Status.PASS: f"snapshots kept {plural(days, 'day')}", Status.FAIL: failed})


