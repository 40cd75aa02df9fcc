"""ElastiCache TestFailover and MemoryDB FailoverShard through botocore Stubber event sequences.

Stubber checks every request's parameters and every canned response against botocore's service
model; the fake credentials, the fixed region and the unroutable endpoint (tests/aws/conftest.py's
autouse fixture) make sure nothing could reach AWS even if a call escaped the stub.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber
from click.testing import CliRunner

from redis_audit.audit import failover_findings
from redis_audit.cli import probe_failover
from redis_audit.cli.main import _register_commands, cli
from redis_audit.exitcodes import UsageError
from redis_audit.failover import AwsTarget, ProbeOptions
from redis_audit.failover import aws as aws_module
from redis_audit.failover.aws import run_aws_probe
from redis_audit.guard import CANARY_KEY_PREFIX
from redis_audit.profile import load_profile
from redis_audit.sandbox import SandboxSpec, sandbox_target
from redis_audit.schemas import validate
from redis_audit.target import Target, parse_url
from tests.aws.conftest import UNROUTABLE, fake_aws  # noqa: F401  (autouse: no test here can reach AWS)
from tests.conftest import SandboxPool

from .conftest import assert_no_canary_key, verdicts

T0 = dt.datetime(2026, 5, 4, 10, 0, 0, tzinfo=dt.UTC)
GROUP, SHARD, OLD, NEW = "orders", "0001", "orders-0001-001", "orders-0001-002"
TARGET = Target(kind="redis", seeds=parse_url("redis://127.0.0.1:9").seeds)


@pytest.fixture(autouse=True)
def every_result_matches_the_published_schema(monkeypatch: pytest.MonkeyPatch) -> None:
    """schemas/failover-result.schema.json holds for every result these tests produce."""
    original = run_aws_probe

    def checked(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)
        validate("failover-result", result)
        return result

    monkeypatch.setitem(globals(), "run_aws_probe", checked)


def _at(seconds: int) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def _group(primary: str, status: str = "available") -> dict[str, Any]:
    members = [{"CacheClusterId": c, "CacheNodeId": "0001", "CurrentRole": "primary" if c == primary else "replica"}
               for c in (OLD, NEW)]
    return {"ReplicationGroupId": GROUP, "Status": status, "AutomaticFailover": "enabled", "MultiAZ": "enabled",
            "MemberClusters": [OLD, NEW], "NodeGroups": [{"NodeGroupId": SHARD, "Status": status,
                                                         "NodeGroupMembers": members}]}


def _event(source_type: str, source: str, seconds: int, message: str) -> dict[str, Any]:
    return {"SourceIdentifier": source, "SourceType": source_type, "Message": message, "Date": _at(seconds)}


CALLED = _event("replication-group", GROUP, 1, f"Test Failover API called for node group {SHARD}")
RG_DONE = _event("replication-group", GROUP, 21, f"Failover from primary node {OLD} to replica node {NEW} completed")
CC_DONE = _event("cache-cluster", OLD, 20, f"Failover from primary node {OLD} to replica node {NEW} completed")
RECOVERING = _event("cache-cluster", OLD, 40, f"Recovering cache nodes {SHARD}")
RECOVERED = _event("cache-cluster", OLD, 95, f"Finished recovery for cache nodes {SHARD}")


def _stubbed(service: str) -> tuple[Any, Stubber]:
    client = boto3.client(service, region_name="us-east-1", endpoint_url=UNROUTABLE)
    stubber = Stubber(client)
    stubber.activate()
    return client, stubber


def _quota_check(stubber: Stubber, events: list[dict[str, Any]] | None = None) -> None:
    """The preflight's count of this region's TestFailover calls in the last 24 h (every group's events)."""
    stubber.add_response("describe_events", {"Events": events or []},
                         {"SourceType": "replication-group", "StartTime": ANY})


def _events_poll(stubber: Stubber, rg: list[dict[str, Any]], old: list[dict[str, Any]], start: Any) -> None:
    """One poll: the group's events, then each member cluster's, all since the trigger."""
    for source_type, source, events in (("replication-group", GROUP, rg), ("cache-cluster", OLD, old),
                                        ("cache-cluster", NEW, [])):
        stubber.add_response("describe_events", {"Events": events},
                             {"SourceIdentifier": source, "SourceType": source_type, "StartTime": start})


def _elasticache_failover(stubber: Stubber, start: Any = T0, earlier: list[dict[str, Any]] | None = None,
                          described: dict[str, Any] | None = None) -> None:
    """TestFailover, then the events as the reference lists them (failover.md §4), over three polls.

    earlier: the region's events of the last 24 h, which the quota preflight counts; described: the
    group as the preflight sees it (default: _group(OLD))."""
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [described or _group(OLD)]},
                         {"ReplicationGroupId": GROUP})
    _quota_check(stubber, earlier)
    stubber.add_response("test_failover", {"ReplicationGroup": _group(OLD, "modifying")},
                         {"ReplicationGroupId": GROUP, "NodeGroupId": SHARD})
    _events_poll(stubber, [CALLED], [], start)
    _events_poll(stubber, [CALLED, RG_DONE], [CC_DONE], start)
    _events_poll(stubber, [CALLED, RG_DONE], [CC_DONE, RECOVERING, RECOVERED], start)
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [_group(NEW)]},
                         {"ReplicationGroupId": GROUP})


def _options(service: str, resource: str, shard: str, **kwargs: Any) -> ProbeOptions:
    return ProbeOptions(budget_s=1200, aws=AwsTarget(service, resource, shard, "us-east-1", UNROUTABLE), **kwargs)


def test_elasticache_test_failover_follows_events_until_recovered() -> None:
    client, stubber = _stubbed("elasticache")
    _elasticache_failover(stubber)
    sleeps: list[float] = []
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=sleeps.append,
                           now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed", result["reasons"]
    assert (result["oldPrimary"], result["newPrimary"]) == (OLD, NEW)
    assert len(sleeps) == 2  # three polls: the third saw recovery finished and the group available
    m = result["metrics"]
    assert m["promotionMs"] == 20_000 and m["recoveryFinishedMs"] == 95_000 and m["convergedMs"] == 95_000
    assert m["events"] == 5  # the repeated answers of later polls are not counted twice
    messages = [e["event"] for e in result["timeline"]]
    assert messages == ["trigger", CALLED["Message"], CC_DONE["Message"], RG_DONE["Message"],
                        RECOVERING["Message"], RECOVERED["Message"]]
    assert result["healthy"] and result["unhealthy"] == []
    assert "no canary" in result["reasons"][0]
    assert verdicts(result) == {"FO-001": "PASS", "FO-002": "SKIP", "FO-003": "PASS", "FO-004": "SKIP"}
    json.dumps(result)  # the result is plain JSON (dates became ms)


def test_elasticache_fault_aborts_and_is_never_retried() -> None:
    client, stubber = _stubbed("elasticache")
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [_group(OLD)]},
                         {"ReplicationGroupId": GROUP})
    _quota_check(stubber)
    stubber.add_client_error("test_failover", service_error_code="TestFailoverNotAvailableFault",
                             service_message="quota of 15 node groups per 24 h reached", http_status_code=400)
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=lambda s: None)
    stubber.assert_no_pending_responses()  # no second test_failover, no event polling
    assert result["status"] == "aborted"
    assert "TestFailoverNotAvailableFault" in result["reasons"][0]
    assert verdicts(result)["FO-001"] == "FAIL"


def test_elasticache_preflight_refuses_a_group_that_is_not_ready() -> None:
    client, stubber = _stubbed("elasticache")
    group = _group(OLD, "modifying")
    group["AutomaticFailover"] = "disabled"
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [group]}, {"ReplicationGroupId": GROUP})
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=lambda s: None)
    stubber.assert_no_pending_responses()  # refused before any failover call
    assert result["status"] == "refused"
    assert result["reasons"] == ["status is modifying", "automatic failover is not enabled"]


def test_elasticache_preflight_refuses_once_the_regions_daily_test_failover_quota_is_used() -> None:
    client, stubber = _stubbed("elasticache")
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [_group(OLD)]},
                         {"ReplicationGroupId": GROUP})
    calls = [_event("replication-group", f"group-{i}", -3600 * i, f"{CALLED['Message'][:-4]}000{i % 3 + 1}")
             for i in range(15)]
    other = _event("replication-group", "group-x", -60, "Snapshot succeeded for snapshot group-x-snap")
    stubber.add_response("describe_events", {"Events": calls[:8], "Marker": "p2"},
                         {"SourceType": "replication-group", "StartTime": T0 - dt.timedelta(hours=24)})
    stubber.add_response("describe_events", {"Events": [*calls[8:], other]},
                         {"SourceType": "replication-group", "StartTime": T0 - dt.timedelta(hours=24),
                          "Marker": "p2"})
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=lambda s: None,
                           now=lambda: T0)
    stubber.assert_no_pending_responses()  # no test_failover: the 16th call would exceed the quota
    assert result["status"] == "refused" and result["testFailoverLast24h"] == 15
    assert "15 node groups" in result["reasons"][0] and "AWS allows 15" in result["reasons"][0]


def test_elasticache_under_the_quota_records_the_calls_already_made() -> None:
    client, stubber = _stubbed("elasticache")
    _elasticache_failover(stubber, earlier=[CALLED])  # one call earlier today, on this group
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=lambda s: None,
                           now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed" and result["testFailoverLast24h"] == 1


def test_memorydb_failover_shard_follows_events_until_available() -> None:
    client, stubber = _stubbed("memorydb")
    cluster = {"Name": "sessions", "Status": "available",
               "Shards": [{"Name": SHARD, "Status": "available", "NumberOfNodes": 2,
                           "Nodes": [{"Name": "sessions-0001-001"}, {"Name": "sessions-0001-002"}]}]}
    stubber.add_response("describe_clusters", {"Clusters": [cluster]},
                         {"ClusterName": "sessions", "ShowShardDetails": True})
    stubber.add_response("failover_shard", {"Cluster": {**cluster, "Status": "updating"}},
                         {"ClusterName": "sessions", "ShardName": SHARD})
    message = "Failover from primary node sessions-0001-001 to replica node sessions-0001-002 completed"
    for events in ([], [{"SourceName": "sessions", "SourceType": "cluster", "Message": message, "Date": _at(12)}]):
        stubber.add_response("describe_events", {"Events": events},
                             {"SourceName": "sessions", "SourceType": "cluster", "StartTime": T0})
    stubber.add_response("describe_clusters", {"Clusters": [cluster]}, {"ClusterName": "sessions"})
    sleeps: list[float] = []
    result = run_aws_probe(TARGET, _options("memorydb", "sessions", SHARD), client, sleep=sleeps.append,
                           now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed" and result["healthy"]
    assert (result["oldPrimary"], result["newPrimary"]) == ("sessions-0001-001", "sessions-0001-002")
    assert result["metrics"]["promotionMs"] == 12_000 and len(sleeps) == 1
    assert verdicts(result) == {"FO-001": "PASS", "FO-002": "SKIP", "FO-003": "PASS", "FO-004": "SKIP"}


AWS_ARGS = ["probe", "failover", "redis://127.0.0.1:9", "--allow-failover", "--failover-aws-service", "elasticache",
            "--failover-aws-id", GROUP, "--shard", SHARD, "--failover-aws-region", "us-east-1", "--format", "json"]


def test_cli_needs_the_extra_confirmation_even_with_yes(monkeypatch: pytest.MonkeyPatch) -> None:
    client, stubber = _stubbed("elasticache")
    calls: list[AwsTarget] = []

    def fake_client(aws: AwsTarget) -> Any:
        calls.append(aws)
        return client

    monkeypatch.setattr("redis_audit.failover.aws.aws_client", fake_client)
    _register_commands()
    runner = CliRunner()
    refused = runner.invoke(cli, [*AWS_ARGS, "--yes"], standalone_mode=False)
    assert isinstance(refused.exception, UsageError) and "extra confirmation" in str(refused.exception)
    wrong = runner.invoke(cli, [*AWS_ARGS, "--yes", "--failover-aws-confirm", "other"], standalone_mode=False)
    assert isinstance(wrong.exception, UsageError)
    assert calls == []  # nothing was asked of AWS without the confirmation

    _elasticache_failover(stubber, start=ANY)  # the CLI's trigger time is the real clock's
    monkeypatch.setattr("redis_audit.failover.aws.time.sleep", lambda s: None)
    done = runner.invoke(cli, [*AWS_ARGS, "--yes", "--failover-aws-confirm", GROUP], standalone_mode=False)
    assert done.exception is None, done.output
    stubber.assert_no_pending_responses()
    findings = {f["checkId"]: f["status"] for f in json.loads(done.output)["findings"]}
    assert findings["FO-001"] == "PASS" and findings["FO-003"] == "PASS" and findings["FO-002"] == "SKIP"


def test_terminal_asks_for_the_resource_id(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(probe_failover, "sys", SimpleNamespace(stdin=SimpleNamespace(isatty=lambda: True)))
    options = _options("elasticache", GROUP, SHARD)
    runner = CliRunner()
    with runner.isolation(input="y\nwrong\n"), pytest.raises(UsageError, match="extra confirmation"):
        probe_failover.confirm(TARGET, options, assume_yes=False)
    with runner.isolation(input=f"y\n{GROUP}\n"):
        probe_failover.confirm(TARGET, options, assume_yes=False)  # both answers given: no exception


def test_describe_events_follows_marker_until_the_last_page() -> None:
    """The recovery event is on the second page of the cache cluster's events: without following
    Marker the probe would never see recovery finish."""
    client, stubber = _stubbed("elasticache")
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [_group(OLD)]},
                         {"ReplicationGroupId": GROUP})
    _quota_check(stubber)
    stubber.add_response("test_failover", {"ReplicationGroup": _group(OLD, "modifying")},
                         {"ReplicationGroupId": GROUP, "NodeGroupId": SHARD})
    old = {"SourceIdentifier": OLD, "SourceType": "cache-cluster", "StartTime": T0}
    stubber.add_response("describe_events", {"Events": [CALLED, RG_DONE]},
                         {"SourceIdentifier": GROUP, "SourceType": "replication-group", "StartTime": T0})
    stubber.add_response("describe_events", {"Events": [CC_DONE, RECOVERING], "Marker": "page-2"}, old)
    stubber.add_response("describe_events", {"Events": [RECOVERED]}, {**old, "Marker": "page-2"})
    stubber.add_response("describe_events", {"Events": []},
                         {"SourceIdentifier": NEW, "SourceType": "cache-cluster", "StartTime": T0})
    stubber.add_response("describe_replication_groups", {"ReplicationGroups": [_group(NEW)]},
                         {"ReplicationGroupId": GROUP})
    sleeps: list[float] = []
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=sleeps.append,
                           now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed" and result["healthy"], result["unhealthy"]
    assert sleeps == []  # one poll, two pages: recovery seen at once
    assert result["metrics"]["recoveryFinishedMs"] == 95_000 and result["metrics"]["events"] == 5


def test_memorydb_events_follow_next_token() -> None:
    client, stubber = _stubbed("memorydb")
    request = {"SourceName": "sessions", "SourceType": "cluster", "StartTime": T0}
    first = {"SourceName": "sessions", "SourceType": "cluster", "Message": "first", "Date": _at(1)}
    second = {**first, "Message": "second", "Date": _at(2)}
    stubber.add_response("describe_events", {"Events": [first], "NextToken": "t2"}, request)
    stubber.add_response("describe_events", {"Events": [second]}, {**request, "NextToken": "t2"})
    events = aws_module._events(client, AwsTarget("memorydb", "sessions", SHARD), [], T0)
    stubber.assert_no_pending_responses()
    assert [e["Message"] for e in events] == ["first", "second"]


def _with_endpoint(group: dict[str, Any], host: str, port: int) -> dict[str, Any]:
    group["NodeGroups"][0]["PrimaryEndpoint"] = {"Address": host, "Port": port}
    return group


def _failover_with_endpoint(stubber: Stubber, host: str, port: int) -> None:
    """_elasticache_failover, with the group describing its primary endpoint."""
    _elasticache_failover(stubber, described=_with_endpoint(_group(OLD), host, port))


def test_canary_writes_through_the_primary_endpoint(sandboxes: SandboxPool) -> None:
    """The control plane is stubbed; its primary endpoint is a real sandbox primary, so the canary
    really writes, reads back and deletes. No failover happens on the sandbox: one server answers
    throughout, so nothing is lost and no new primary is ever reached."""
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    primary = sb.info.nodes_with_role("primary")[0]
    client, stubber = _stubbed("elasticache")
    _failover_with_endpoint(stubber, primary.host, primary.port)
    result = run_aws_probe(sandbox_target(sb, user="admin"),
                           _options("elasticache", GROUP, SHARD, warmup_s=0.5, settle_s=0.3), client,
                           sleep=lambda s: time.sleep(0.2), now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed", result["reasons"]
    canary = result["canary"]
    assert canary is not None and canary["endpoint"] == primary.address
    assert canary["key"].startswith(CANARY_KEY_PREFIX)
    m = result["metrics"]
    assert m["acked"] >= 50 and m["failed"] == 0  # 100 Hz for about a second: before, during and after
    assert m["readBack"] and m["finalLength"] == m["acked"] and m["ackedWritesLost"] == 0
    assert list(m["acksByNode"]) == [canary["oldServer"]] and canary["oldServer"].startswith(primary.address)
    assert canary["newServer"] is None and m["firstAckOnNewPrimaryMs"] is None
    assert m["promotionMs"] == 20_000 and m["recoveryFinishedMs"] == 95_000  # the control plane's, unchanged
    assert m["staleAcksAfterPromotion"] == 0  # every ack came before the (stubbed) promotion at 20 s
    assert result["healthy"] and result["cleanup"] == [] and not result["canaryKeyRemains"]
    assert result["reasons"] == []
    assert_no_canary_key(sb)
    found = verdicts(result)
    assert found["FO-002"] == "PASS" and found["FO-003"] == "PASS" and found["FO-001"] == "PASS"
    assert found["FO-004"] == "FAIL"  # honest: the sandbox never moved the endpoint to another server


def test_unreachable_endpoint_keeps_the_skip_with_the_reason() -> None:
    client, stubber = _stubbed("elasticache")
    _failover_with_endpoint(stubber, "127.0.0.1", 9)  # nothing listens: connection refused
    result = run_aws_probe(TARGET, _options("elasticache", GROUP, SHARD), client, sleep=lambda s: None,
                           now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed" and result["canary"] is None
    assert "not reachable" in result["canaryUnavailable"] and "127.0.0.1:9" in result["canaryUnavailable"]
    findings = {str(f["checkId"]): f for f in failover_findings(result, load_profile(None), TARGET)}
    assert findings["FO-002"]["status"] == "SKIP" and "not reachable" in str(findings["FO-002"]["message"])
    assert findings["FO-004"]["status"] == "SKIP"


def test_interrupt_during_the_aws_failover_stops_the_canary_and_deletes_its_key(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="standalone"))
    primary = sb.info.nodes_with_role("primary")[0]
    client, stubber = _stubbed("elasticache")
    _failover_with_endpoint(stubber, primary.host, primary.port)

    def ctrl_c(seconds: float) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_aws_probe(sandbox_target(sb, user="admin"), _options("elasticache", GROUP, SHARD, warmup_s=0.3),
                      client, sleep=ctrl_c, now=lambda: T0)
    assert_no_canary_key(sb)
    with sb.admin_client(primary) as admin:  # the canary's connection is closed, not left writing
        names = [c.get("name") for c in admin.client_list()]
    assert "redis-audit-failover-canary" not in names


def test_memorydb_canary_uses_the_cluster_endpoint_and_the_shards_slots(sandboxes: SandboxPool) -> None:
    """MemoryDB is always cluster mode: the canary is a cluster client seeded with the cluster endpoint,
    its key hash-tagged into the failed-over shard's slots (here a real sandbox cluster's second shard)."""
    sb = sandboxes.get(SandboxSpec(topology="cluster"))
    seed = sb.info.nodes_with_role("primary")[0]
    with sb.admin_client(seed) as admin:
        ranges = sorted((int(low), int(high), f"{node[0]}:{node[1]}")
                        for low, high, node, *_ in admin.execute_command("CLUSTER", "SLOTS"))
    low, high, owner = ranges[1]
    client, stubber = _stubbed("memorydb")
    cluster = {"Name": "sessions", "Status": "available", "ClusterEndpoint": {"Address": seed.host, "Port": seed.port},
               "Shards": [{"Name": SHARD, "Status": "available", "Slots": f"{low}-{high}", "NumberOfNodes": 2,
                           "Nodes": [{"Name": "sessions-0001-001"}, {"Name": "sessions-0001-002"}]}]}
    stubber.add_response("describe_clusters", {"Clusters": [cluster]},
                         {"ClusterName": "sessions", "ShowShardDetails": True})
    stubber.add_response("failover_shard", {"Cluster": {**cluster, "Status": "updating"}},
                         {"ClusterName": "sessions", "ShardName": SHARD})
    message = "Failover from primary node sessions-0001-001 to replica node sessions-0001-002 completed"
    stubber.add_response("describe_events", {"Events": [{"SourceName": "sessions", "SourceType": "cluster",
                                                         "Message": message, "Date": _at(12)}]},
                         {"SourceName": "sessions", "SourceType": "cluster", "StartTime": T0})
    stubber.add_response("describe_clusters", {"Clusters": [cluster]}, {"ClusterName": "sessions"})
    result = run_aws_probe(sandbox_target(sb, user="admin"),
                           _options("memorydb", "sessions", SHARD, warmup_s=0.5, settle_s=0.3), client,
                           sleep=lambda s: None, now=lambda: T0)
    stubber.assert_no_pending_responses()
    assert result["status"] == "completed", result["reasons"]
    m = result["metrics"]
    assert "RedisCluster" in result["canary"]["client"]
    assert m["acked"] >= 40 and m["failed"] == 0 and m["ackedWritesLost"] == 0 and m["readBack"]
    assert list(m["acksByNode"]) == [owner]  # the shard the key was hash-tagged into answered every write
    assert result["healthy"] and result["cleanup"] == []
    assert_no_canary_key(sb)
