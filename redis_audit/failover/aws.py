"""ElastiCache TestFailover and MemoryDB FailoverShard: trigger once through the API, then follow
describe_events until recovery has finished. These count against AWS quotas; the CLI asks twice.
The control-plane timeline is what is measured here (no Redis command is sent)."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from typing import Any

from redis_audit.failover.model import AwsTarget, ProbeOptions
from redis_audit.jsonvalue import JsonObject
from redis_audit.secret import scrub
from redis_audit.target import Target

RESULT_SCHEMA = "redis-audit/failover-result/v1"
DONE = {"elasticache": "Finished recovery for cache nodes", "memorydb": "completed"}


def aws_client(aws: AwsTarget) -> Any:
    import boto3

    return boto3.client(aws.service, region_name=aws.region, endpoint_url=aws.endpoint_url)


def run_aws_probe(target: Target, options: ProbeOptions, client: Any = None,
                  sleep: Callable[[float], None] = time.sleep, poll_s: float = 10.0) -> JsonObject:
    aws = options.aws
    assert aws is not None
    client = client or aws_client(aws)
    base: JsonObject = {"schema": RESULT_SCHEMA, "mode": str(options.mode), "budgetS": int(options.budget_s),
                        "method": f"aws-{aws.service}", "oldPrimary": None, "newPrimary": None}
    reasons = _preflight(client, aws)
    if reasons:
        return {**base, "status": "refused", "reasons": reasons}
    start = time.monotonic()
    since = dt.datetime.now(dt.UTC)
    try:
        if aws.service == "elasticache":
            client.test_failover(ReplicationGroupId=aws.resource_id, NodeGroupId=aws.shard)
        else:
            client.failover_shard(ClusterName=aws.resource_id, ShardName=aws.shard)
    except Exception as exc:  # a fault aborts, and is never retried
        return {**base, "status": "aborted", "reasons": [f"the trigger was refused: {scrub(exc)}"]}
    timeline: list[JsonObject] = []
    seen: set[str] = set()
    done_ms = None
    while time.monotonic() - start < options.budget_s:
        for event in _events(client, aws, since):
            message = str(event.get("Message", ""))
            if message in seen:
                continue
            seen.add(message)
            at = event.get("Date")
            t_ms = int((at - since).total_seconds() * 1000) if isinstance(at, dt.datetime) else None
            timeline.append({"tMs": t_ms, "source": f"aws {event.get('SourceName')}", "event": message})
            if DONE[aws.service] in message and done_ms is None:
                done_ms = t_ms
        if done_ms is not None and _available(client, aws):
            break
        sleep(poll_s)
    healthy = done_ms is not None and _available(client, aws)
    status = "completed" if done_ms is not None else "aborted"
    return {
        **base,
        "status": status,
        "reasons": [] if done_ms is not None else [f"recovery did not finish within {int(options.budget_s)}s"],
        "metrics": {"recoveryFinishedMs": done_ms, "events": len(timeline)},
        "healthy": healthy,
        "unhealthy": [] if healthy else [f"{aws.resource_id} is not available with its shard recovered"],
        "cleanup": [],
        "timeline": timeline,
    }


def _preflight(client: Any, aws: AwsTarget) -> list[str]:
    try:
        if aws.service == "elasticache":
            group = client.describe_replication_groups(ReplicationGroupId=aws.resource_id)["ReplicationGroups"][0]
            reasons = [] if group.get("Status") == "available" else [f"status is {group.get('Status')}"]
            if group.get("AutomaticFailover") != "enabled":
                reasons.append("automatic failover is not enabled")
            shard = next((g for g in group.get("NodeGroups", []) if g.get("NodeGroupId") == aws.shard), None)
            members = shard.get("NodeGroupMembers", []) if shard else []
            if not any(m.get("CurrentRole") == "replica" for m in members):
                reasons.append(f"node group {aws.shard} has no replica")
            return reasons
        cluster = client.describe_clusters(ClusterName=aws.resource_id, ShowShardDetails=True)["Clusters"][0]
        reasons = [] if cluster.get("Status") == "available" else [f"status is {cluster.get('Status')}"]
        shard = next((s for s in cluster.get("Shards", []) if s.get("Name") == aws.shard), None)
        if shard is None or len(shard.get("Nodes", [])) < 2:
            reasons.append(f"shard {aws.shard} has no replica")
        return reasons
    except Exception as exc:
        return [f"describe {aws.resource_id}: {scrub(exc)}"]


def _events(client: Any, aws: AwsTarget, since: dt.datetime) -> list[dict[str, Any]]:
    if aws.service == "elasticache":
        events: list[dict[str, Any]] = []
        for source in ("replication-group", "cache-cluster"):
            events += client.describe_events(SourceType=source, StartTime=since)["Events"]
    else:
        events = client.describe_events(SourceType="cluster", StartTime=since)["Events"]
    return sorted(events, key=lambda e: e.get("Date") or since)


def _available(client: Any, aws: AwsTarget) -> bool:
    if aws.service == "elasticache":
        group = client.describe_replication_groups(ReplicationGroupId=aws.resource_id)["ReplicationGroups"][0]
        return bool(group.get("Status") == "available")
    cluster = client.describe_clusters(ClusterName=aws.resource_id)["Clusters"][0]
    return bool(cluster.get("Status") == "available")
