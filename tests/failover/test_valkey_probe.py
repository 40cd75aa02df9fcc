"""Valkey 9 Sentinel: the switchover is SENTINEL FAILOVER <name> COORDINATED, run by the Sentinels; the
pause-demote recipe only when the Sentinels could not run it, with the reason recorded."""

from __future__ import annotations

import time
from collections.abc import Callable

from redis_audit.sandbox import Sandbox, SandboxNode, SandboxSpec

from .conftest import assert_clean, probe, probe_events, verdicts

VALKEY_SENTINEL = SandboxSpec(topology="sentinel", engine="valkey")


def test_coordinated_switchover_then_fallback_when_the_sentinel_user_may_not_fail_over(
    fresh_sandbox: Callable[[SandboxSpec], Sandbox],
) -> None:
    sb = fresh_sandbox(VALKEY_SENTINEL)
    assert sb.info.version.split(".")[0] >= "9"

    result = probe(sb)
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "sentinel-coordinated" and result["plan"]["fallback"] is None
    m = result["metrics"]
    assert m["readBack"] and m["acked"] > 0 and m["ackedWritesLost"] == 0
    assert m["fullResyncs"] == 0 and m["partialResyncs"] == 2
    assert len(m["sentinelSwitchMs"]) == 3
    assert set(m["replicaListLengths"].values()) == {m["finalLength"]}
    events = probe_events(result)
    assert "client-pause" not in events and "replicaof" not in events  # the Sentinels did the handover
    assert m["lastAckOnOldPrimaryMs"] < m["firstAckOnNewPrimaryMs"]  # never two primaries acknowledging
    assert result["healthy"] and not result["canaryKeyRemains"]
    assert verdicts(result)["FO-002"] == "PASS"
    assert_clean(sb)

    # Not again within 2 × failover-timeout (120 s here); a shorter failover-timeout (5 s) ends the
    # cool-down 10 s after the switch.
    refused = probe(sb)
    assert refused["status"] == "refused" and any("cool-down" in r for r in refused["reasons"])
    for node in sb.info.nodes_with_role("sentinel"):
        with sb.admin_client(node) as client:
            client.execute_command("SENTINEL", "SET", "mymaster", "failover-timeout", "5000")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(_role_reported_ms(sb, n) < 10_000
                                              for n in sb.info.nodes_with_role("sentinel")):
        time.sleep(0.5)

    # The same (healthy) deployment whose Sentinel user may not run FAILOVER: Sentinel would answer OK to
    # COORDINATED and then stall until failover-timeout, so preflight falls back and says why.
    for node in sb.info.nodes:
        if not node.is_sentinel:
            with sb.admin_client(node) as client:
                client.execute_command("ACL", "SETUSER", "sentinel", "-failover")
    result = probe(sb)
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "sentinel-pause-demote"
    assert "'sentinel' may not run FAILOVER" in result["plan"]["fallback"]
    assert result["metrics"]["ackedWritesLost"] == 0
    events = probe_events(result)
    assert events.index("client-pause") < events.index("trigger") < events.index("replicaof") \
        < events.index("client-unpause")
    assert result["healthy"]
    assert_clean(sb)


def _role_reported_ms(sb: Sandbox, sentinel: SandboxNode) -> int:
    with sb.admin_client(sentinel) as client:
        return int(client.execute_command("SENTINEL", "MASTER", "mymaster")["role-reported-time"])
