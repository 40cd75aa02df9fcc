"""ElastiCache TestFailover and MemoryDB FailoverShard: trigger once through the API, then follow
describe_events until recovery has finished. These count against AWS quotas; the CLI asks twice.

The control plane's timeline is measured from the events (their times are AWS's, to the second).
When the endpoint the group describes (primary endpoint, or configuration / cluster endpoint) is
reachable from the audit host, the canary (aws_canary.py) writes through it from before the trigger
until recovery has finished, so acknowledged-write loss and client discovery are measured as on the
Redis-command path; when it is not, the result says why and the FO checks SKIP what needs a canary.
ElastiCache's events, in order (reference failover.md §4): RG "Test Failover API called for node group
<id>", CC and RG "Failover from primary node <p> to replica node <r> completed", CC "Recovering cache
nodes <id>", CC "Finished recovery for cache nodes <id>". Healthy only after the last one *and* the
replication group is available with <r> in the primary role.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable
from typing import Any

from redis_audit.deadline import Deadline
from redis_audit.failover.aws_canary import Endpoint, EndpointCanary, elasticache_endpoint, memorydb_endpoint
from redis_audit.failover.model import AwsTarget, Clock, ProbeOptions
from redis_audit.jsonvalue import JsonObject
from redis_audit.secret import scrub
from redis_audit.target import Target

RESULT_SCHEMA = "redis-audit/failover-result/v1"
FAILED_OVER = re.compile(r"Failover from primary node (?P<old>\S+) to replica node (?P<new>\S+) completed")
# ElastiCache's last event (failover.md §4). MemoryDB's wording is not in the reference: the probe assumes
# the same "Failover from primary node ... completed" event and then waits for the cluster to be available.
DONE = {"elasticache": "Finished recovery for cache nodes"}
NO_CANARY = "no canary ran: acknowledged-write loss and the client write gap are not measured"


def aws_client(aws: AwsTarget) -> Any:
    import boto3

    return boto3.client(aws.service, region_name=aws.region, endpoint_url=aws.endpoint_url)


def run_aws_probe(target: Target, options: ProbeOptions, client: Any = None,
                  sleep: Callable[[float], None] | None = None, poll_s: float = 10.0,
                  now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
                  deadline: Deadline | None = None) -> JsonObject:
    aws = options.aws
    assert aws is not None
    client = client or aws_client(aws)
    sleep = sleep or time.sleep
    base: JsonObject = {"schema": RESULT_SCHEMA, "mode": str(options.mode), "budgetS": int(options.budget_s),
                        "method": f"aws-{aws.service}", "oldPrimary": None, "newPrimary": None,
                        "canary": None}
    reasons, members, endpoint = _preflight(client, aws)
    if aws.service == "elasticache" and not reasons:
        used, quota_reasons = _quota(client, aws, now())
        base["testFailoverLast24h"] = used
        reasons = quota_reasons
    if reasons:
        return {**base, "status": "refused", "reasons": reasons}
    clock = Clock()
    canary = EndpointCanary(target, endpoint, options, clock, deadline) if endpoint is not None else None
    no_canary = "the control plane describes no endpoint" if canary is None else canary.start()
    if no_canary is not None:
        canary = None
    finished = False
    try:
        if canary is not None:
            time.sleep(options.warmup_s)  # canary writes before the trigger (the real clock, not `sleep`)
        result = _trigger_and_follow(client, aws, options, base, members, clock, sleep, poll_s, now)
        if canary is not None:
            if result["status"] == "completed":
                time.sleep(options.settle_s)  # writes on the recovered deployment
            promoted = result.get("metrics", {}).get("promotionMs")  # type: ignore[union-attr]
            described, metrics = canary.finish(promoted if isinstance(promoted, int) else None)
            finished = True
            result["canary"] = described
            result["metrics"] = {**result.get("metrics", {}), **metrics}  # type: ignore[dict-item]
            result["cleanup"] = list(canary.cleanup)
            result["canaryKeyRemains"] = any("still on" in c for c in canary.cleanup)
            result["healthy"] = bool(result.get("healthy")) and not canary.cleanup
        else:
            result["canaryUnavailable"] = no_canary
            if result["status"] == "completed":
                result["reasons"] = [f"{NO_CANARY}: {no_canary}"]
        return result
    finally:
        if canary is not None and not finished:
            canary.abandon()  # interrupted or failed: stop writing, delete the key


def _trigger_and_follow(client: Any, aws: AwsTarget, options: ProbeOptions, base: JsonObject, members: list[str],
                        clock: Clock, sleep: Callable[[float], None], poll_s: float,
                        now: Callable[[], dt.datetime]) -> JsonObject:
    start = time.monotonic()
    since = now()
    clock.trigger_us = clock.now_us()
    try:
        if aws.service == "elasticache":
            client.test_failover(ReplicationGroupId=aws.resource_id, NodeGroupId=aws.shard)
        else:
            client.failover_shard(ClusterName=aws.resource_id, ShardName=aws.shard)
    except Exception as exc:  # a fault aborts, and is never retried
        return {**base, "status": "aborted", "reasons": [f"the trigger was refused: {scrub(exc)}"]}
    timeline: list[JsonObject] = [{"tMs": 0, "source": "probe", "event": "trigger", "detail": base["method"]}]
    seen: set[tuple[str, str, str]] = set()
    old = new = None
    promoted_ms = done_ms = None
    available = False
    while time.monotonic() - start < options.budget_s:
        for event in _events(client, aws, members, since, start + options.budget_s):
            source = str(event.get("SourceIdentifier") or event.get("SourceName") or "")
            message = str(event.get("Message", ""))
            at = event.get("Date")
            key = (source, message, str(at))
            if key in seen:  # every poll asks for everything since the trigger
                continue
            seen.add(key)
            t_ms = int((at - since).total_seconds() * 1000) if isinstance(at, dt.datetime) else None
            timeline.append({"tMs": t_ms, "source": f"aws {event.get('SourceType')} {source}", "event": message})
            match = FAILED_OVER.search(message)
            if match and promoted_ms is None:
                old, new, promoted_ms = match["old"], match["new"], t_ms
            done = DONE[aws.service] in message if aws.service in DONE else match is not None
            if done and done_ms is None:
                done_ms = t_ms
        if done_ms is not None:
            available = _available(client, aws, new)
            if available:
                break
        sleep(poll_s)
    healthy = done_ms is not None and available
    timeline.sort(key=_event_time)
    unhealthy = [] if healthy else [
        f"{aws.resource_id}: recovery " + ("finished" if done_ms is not None else "did not finish")
        + f" within {int(options.budget_s)}s" + ("" if available else ", and it is not available with "
                                                 f"{new or 'a promoted replica'} as the shard's primary")]
    return {
        **base,
        "status": "completed" if promoted_ms is not None else "aborted",
        "reasons": [] if promoted_ms is not None else [
            f"no 'Failover from primary node ... completed' event within {int(options.budget_s)}s"],
        "oldPrimary": old,
        "newPrimary": new,
        "metrics": {"promotionMs": promoted_ms, "recoveryFinishedMs": done_ms,
                    "convergedMs": done_ms if healthy else None, "events": len(timeline) - 1,
                    "readBack": False},
        "healthy": healthy,
        "unhealthy": unhealthy,
        "cleanup": [],
        "timeline": list(timeline),
    }


def _event_time(event: JsonObject) -> tuple[bool, int]:
    t_ms = event.get("tMs")
    return (not isinstance(t_ms, int), t_ms if isinstance(t_ms, int) else 0)


def _preflight(client: Any, aws: AwsTarget) -> tuple[list[str], list[str], Endpoint | None]:
    """Reasons to refuse, the cache clusters whose events to follow (ElastiCache), and the endpoint
    an application connects to (for the canary)."""
    try:
        if aws.service == "elasticache":
            group = client.describe_replication_groups(ReplicationGroupId=aws.resource_id)["ReplicationGroups"][0]
            reasons = [] if group.get("Status") == "available" else [f"status is {group.get('Status')}"]
            if group.get("AutomaticFailover") != "enabled":
                reasons.append("automatic failover is not enabled")
            if group.get("PendingModifiedValues"):
                reasons.append(f"modifications are pending: {sorted(group['PendingModifiedValues'])}")
            shard = next((g for g in group.get("NodeGroups", []) if g.get("NodeGroupId") == aws.shard), None)
            members = shard.get("NodeGroupMembers", []) if shard else []
            if not any(m.get("CurrentRole") == "replica" for m in members):
                reasons.append(f"node group {aws.shard} has no replica")
            return reasons, [str(m.get("CacheClusterId")) for m in members], elasticache_endpoint(group, shard)
        cluster = client.describe_clusters(ClusterName=aws.resource_id, ShowShardDetails=True)["Clusters"][0]
        reasons = [] if cluster.get("Status") == "available" else [f"status is {cluster.get('Status')}"]
        shard = next((s for s in cluster.get("Shards", []) if s.get("Name") == aws.shard), None)
        if shard is None or len(shard.get("Nodes", [])) < 2:
            reasons.append(f"shard {aws.shard} has no replica")
        return reasons, [], memorydb_endpoint(cluster, shard)
    except Exception as exc:
        return [f"describe {aws.resource_id}: {scrub(exc)}"], [], None


TEST_FAILOVER_CALLED = "Test Failover API called for node group"


def _quota(client: Any, aws: AwsTarget, now: dt.datetime) -> tuple[int | None, list[str]]:
    """TestFailover calls on node groups of this region in the last 24 h (every replication group's
    events: the quota is the account's), and a reason to refuse when the next call would exceed it."""
    try:
        events = _pages(client, None, "Marker", SourceType="replication-group",
                        StartTime=now - dt.timedelta(hours=24))
    except Exception as exc:
        return None, [f"cannot count this region's TestFailover calls of the last 24 h: {scrub(exc)}"]
    used = sum(1 for e in events if str(e.get("Message", "")).startswith(TEST_FAILOVER_CALLED))
    if used >= aws.daily_quota:
        return used, [f"TestFailover was called on {used} node groups in this region in the last 24 h: AWS allows "
                      f"{aws.daily_quota} per rolling 24 h ([failover] aws_test_failover_quota)"]
    return used, []


def _events(client: Any, aws: AwsTarget, members: list[str], since: dt.datetime,
            budget_end: float | None = None) -> list[dict[str, Any]]:
    """This deployment's events since the trigger (never the account's other groups), every page."""
    if aws.service == "memorydb":
        return _pages(client, budget_end, "NextToken", SourceName=aws.resource_id, SourceType="cluster",
                      StartTime=since)
    events = _pages(client, budget_end, "Marker", SourceIdentifier=aws.resource_id, SourceType="replication-group",
                    StartTime=since)
    for member in members:
        events += _pages(client, budget_end, "Marker", SourceIdentifier=member, SourceType="cache-cluster",
                         StartTime=since)
    return sorted(events, key=lambda e: e.get("Date") or since)  # the group's and the nodes' in one order


MAX_EVENT_PAGES = 50  # 100 events a page by default: far more than one failover produces


def _pages(client: Any, budget_end: float | None, token: str, **request: Any) -> list[dict[str, Any]]:
    """describe_events, following the page token (ElastiCache Marker, MemoryDB NextToken) until the last
    page, the budget's end or MAX_EVENT_PAGES."""
    events: list[dict[str, Any]] = []
    marker: str | None = None
    for _ in range(MAX_EVENT_PAGES):
        reply = client.describe_events(**request, **({token: marker} if marker else {}))
        events += reply.get("Events", [])
        marker = reply.get(token)
        if not marker or (budget_end is not None and time.monotonic() >= budget_end):
            break
    return events


def _available(client: Any, aws: AwsTarget, new_primary: str | None) -> bool:
    if aws.service == "memorydb":
        cluster = client.describe_clusters(ClusterName=aws.resource_id)["Clusters"][0]
        return bool(cluster.get("Status") == "available")
    group = client.describe_replication_groups(ReplicationGroupId=aws.resource_id)["ReplicationGroups"][0]
    shard: dict[str, Any] = next((g for g in group.get("NodeGroups", []) if g.get("NodeGroupId") == aws.shard), {})
    roles = {m.get("CacheClusterId"): m.get("CurrentRole") for m in shard.get("NodeGroupMembers", [])}
    return bool(group.get("Status") == "available" and (new_primary is None or roles.get(new_primary) == "primary"))
