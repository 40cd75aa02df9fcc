"""The probe on a real Redis Cluster (3 primaries x 1 replica): CLUSTER FAILOVER on the shard's replica."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from redis_audit.failover import Mode
from redis_audit.sandbox import Sandbox, SandboxSpec

from .conftest import assert_clean, probe, probe_events, verdicts

CLUSTER = SandboxSpec(topology="cluster", cluster_primaries=3, cluster_replicas=1)


def _assert_lossless_handover(result: dict[str, Any], other_primaries: set[str]) -> None:
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "cluster-failover"
    old, new = result["oldPrimary"], result["newPrimary"]
    assert new == result["plan"]["targetReplica"] and new != old
    m = result["metrics"]
    assert m["readBack"] and m["acked"] > 0
    assert m["ackedWritesLost"] == 0 and m["duplicates"] == 0 and m["outOfOrder"] == 0
    assert set(m["acksByNode"]) == {old, new}  # one client, redirected by MOVED, not rebuilt
    assert "MOVED" not in m["errorsByClass"]  # followed, never surfaced as an error
    if m["lastAckOnOldPrimaryMs"] is not None:  # no moment with two primaries acknowledging writes
        assert m["lastAckOnOldPrimaryMs"] <= m["firstAckOnNewPrimaryMs"]
    assert m["fullResyncs"] == 0 and m["partialResyncs"] == 1
    assert m["replicaListLengths"] == {old: m["finalLength"]}
    assert set(m["clusterViewMs"]) == other_primaries  # each other primary saw the switch
    events = probe_events(result)
    assert events.index("trigger") < events.index("new-primary-confirmed") < events.index("data-plane-healthy") \
        <= events.index("control-plane-healthy")
    assert result["healthy"] and not result["canaryKeyRemains"] and result["cleanup"] == []
    judged = verdicts(result)
    assert judged["FO-002"] == "PASS" and judged["FO-003"] == "PASS", judged


def test_cluster_failover_follows_moved_loses_nothing_and_converges(
    fresh_sandbox: Callable[[SandboxSpec], Sandbox],
) -> None:
    sb = fresh_sandbox(CLUSTER)
    primaries = {n.address for n in sb.info.nodes_with_role("primary")}
    first = probe(sb)
    _assert_lossless_handover(first, primaries - {first["oldPrimary"]})
    assert_clean(sb)
    # The same cluster again, another shard chosen by its primary's address, in plain mode (for a
    # cluster it is the same coordinated CLUSTER FAILOVER). A different shard needs no cool-down.
    chosen = sorted(primaries - {first["oldPrimary"]})[0]
    second = probe(sb, mode=Mode.PLAIN, shard=chosen)
    assert second["oldPrimary"] == chosen
    _assert_lossless_handover(second, (primaries | {first["newPrimary"]}) - {first["oldPrimary"], chosen})
    assert_clean(sb)
