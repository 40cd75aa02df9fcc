"""AWS control plane: CloudWatch alarms on this cluster, with thresholds no looser than the profile's."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from redis_audit.check import CheckContext
from redis_audit.jsonvalue import as_object
from redis_audit.model import Finding, Severity

from ._aws import aws_check, items, managed


@dataclass(frozen=True)
class AlarmKind:
    metrics: tuple[str, ...]  # any of these metrics counts
    comparable: tuple[str, ...]  # metrics whose threshold is in the profile's unit
    limit: str  # the AwsSection field with the loosest acceptable threshold


ALARM_KINDS = {
    "memory": AlarmKind(("DatabaseMemoryUsagePercentage", "DatabaseMemoryUsageCountedForEvictPercentage",
                         "BytesUsedForCache"),
                        ("DatabaseMemoryUsagePercentage", "DatabaseMemoryUsageCountedForEvictPercentage"),
                        "alarm_memory_pct"),
    "evictions": AlarmKind(("Evictions",), ("Evictions",), "alarm_evictions"),
    "replication_lag": AlarmKind(("ReplicationLag",), ("ReplicationLag",), "alarm_replication_lag_s"),
    "cpu": AlarmKind(("EngineCPUUtilization", "CPUUtilization", "ElastiCacheProcessingUnits"),
                     ("EngineCPUUtilization", "CPUUtilization"), "alarm_cpu_pct"),
    "connections": AlarmKind(("CurrConnections", "NewConnections"), ("CurrConnections",), "alarm_connections"),
    "auth_failures": AlarmKind(("AuthenticationFailures",), ("AuthenticationFailures",), "alarm_auth_failures"),
}
UPWARD = ("GreaterThanThreshold", "GreaterThanOrEqualToThreshold")


def _threshold(alarm: dict[str, Any]) -> Decimal | None:
    try:
        return Decimal(str(alarm.get("Threshold")))
    except (InvalidOperation, ValueError):
        return None


def _tight_enough(alarm: dict[str, Any], kind: AlarmKind, limit: int) -> bool | None:
    """True/False when the threshold can be compared with the profile's; None when it cannot."""
    if alarm.get("MetricName") not in kind.comparable or alarm.get("ComparisonOperator") not in UPWARD:
        return None
    threshold = _threshold(alarm)
    return None if threshold is None else threshold <= limit


@aws_check(
    id="MON-002",
    title="CloudWatch alarms watch this cluster, with thresholds no looser than the profile's",
    severity=Severity.HIGH,
    category="monitoring",
    verifies="For each kind in aws.required_alarms (memory, evictions, replication lag, CPU, connections, "
    "authentication failures) an alarm exists on this cluster's dimensions, has actions, and fires at or "
    "below the profile's aws.alarm_* threshold.",
    risk="Without alarms every other check is true only at audit time: evictions and memory pressure reset "
    "limiter counters silently.",
    remediation="Create CloudWatch alarms on the cluster's CacheClusterId (or ReplicationGroupId/ClusterName) "
    "dimensions, routed to the on-call SNS topic, at or below the profile's thresholds.",
    references=("https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/CacheMetrics.WhichShouldIMonitor.html",),
    needs=("aws.alarms",),
)
def alarms_exist(ctx: CheckContext) -> Iterator[Finding]:
    m = managed(ctx)
    found = as_object(ctx.snapshot.deployment_fact("aws.alarms"))
    alarms = [a for a in items(found.get("alarms")) if isinstance(a, dict)]
    profile = ctx.profile.aws
    required = [k for k in profile.required_alarms if not (k == "replication_lag" and m.serverless)]
    missing, loose, silent, covered = [], [], [], {}
    for name in required:
        kind = ALARM_KINDS[name]
        limit = int(getattr(profile, kind.limit))
        mine = [a for a in alarms if a.get("MetricName") in kind.metrics]
        if not mine:
            missing.append(name)
            continue
        verdicts = [_tight_enough(a, kind, limit) for a in mine]
        covered[name] = [{"AlarmName": a.get("AlarmName"), "MetricName": a.get("MetricName"),
                          "Threshold": a.get("Threshold"), "ComparisonOperator": a.get("ComparisonOperator"),
                          "actions": len(items(a.get("AlarmActions")))} for a in mine]
        if False in verdicts and True not in verdicts:
            loose.append(f"{name} (> {limit})")
        if not any(a.get("ActionsEnabled") and items(a.get("AlarmActions")) for a in mine):
            silent.append(name)
    observed = {"dimensionValues": found.get("dimensionValues"), "alarms": covered}
    expected = {k: f"<= {getattr(profile, ALARM_KINDS[k].limit)}" for k in required}
    if missing:
        yield ctx.failed(m.arn, f"no alarm for: {', '.join(missing)}", observed=observed, expected=expected)
    if loose:
        yield ctx.failed(m.arn, f"alarm thresholds looser than the profile: {', '.join(loose)}",
                         observed=observed, expected=expected)
    if silent:
        yield ctx.warned(m.arn, f"alarms without enabled actions (nobody is paged): {', '.join(silent)}",
                         observed=observed, expected="AlarmActions on every alarm")
    if not (missing or loose or silent):
        yield ctx.passed(m.arn, f"alarms cover {', '.join(required)}", observed=observed, expected=expected)
