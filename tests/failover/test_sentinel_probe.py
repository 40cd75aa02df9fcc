"""The probe on real Sentinel sandboxes (fresh per test: a failover changes the topology)."""

from __future__ import annotations

import signal
from collections.abc import Callable

from redis_audit.failover import Mode, Phase, ProbeOptions, run_probe
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_target
from tests.conftest import SandboxPool

from .conftest import assert_clean

SENTINEL = SandboxSpec(topology="sentinel")
FAST = {"warmup_s": 0.5, "settle_s": 0.3, "budget_s": 90}


def _probe(sb: Sandbox, **options: object) -> dict:
    return run_probe(sandbox_target(sb, user="admin"), ProbeOptions(**{**FAST, **options}))  # type: ignore[arg-type]


def test_switchover_loses_nothing_and_converges(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    result = _probe(sb)
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "sentinel-pause-demote"
    m = result["metrics"]
    assert m["readBack"] and m["acked"] > 0
    assert m["ackedWritesLost"] == 0
    assert m["firstAckOnNewPrimaryMs"] is not None
    assert result["newPrimary"] != result["oldPrimary"]
    assert m["fullResyncs"] == 0
    assert len(m["sentinelSwitchMs"]) == 3  # every Sentinel switched, each at its own time
    assert result["healthy"] and not result["canaryKeyRemains"]
    events = [e["event"] for e in result["timeline"] if e["source"] == "probe"]
    assert events.index("client-pause") < events.index("trigger") < events.index("replicaof") \
        < events.index("client-unpause")
    assert_clean(sb)


def test_plain_sentinel_failover_shows_stale_acks(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    result = _probe(sb, mode=Mode.PLAIN)
    assert result["status"] == "completed", result["reasons"]
    m = result["metrics"]
    assert m["ackedWritesLost"] > 0  # the pooled client kept writing to the old, still writable primary
    assert set(m["lostByNode"]) == {result["oldPrimary"]}
    window = m["staleAckWindow"]
    assert 0 <= window["firstMs"] <= window["lastMs"]
    assert m["promotionMs"] <= window["lastMs"]  # acks after the promotion: two primaries at once
    assert result["healthy"]
    assert_clean(sb)


def test_crash_sim_measures_detection_and_promotion(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    for node in sb.info.nodes_with_role("sentinel"):
        with sb.admin_client(node) as client:
            client.execute_command("SENTINEL", "SET", "mymaster", "down-after-milliseconds", "1000")
    result = _probe(sb, mode=Mode.CRASH_SIM, sandbox_state=sb.state_dir)
    assert result["status"] == "completed", result["reasons"]
    m = result["metrics"]
    assert m["detectionMs"] is not None and m["detectionMs"] <= m["promotionMs"]
    # A stopped primary acknowledges nothing while stopped; once resumed (SIGCONT after the promotion) it is
    # a writable master again until Sentinel converts it, so any loss is its acks, after the promotion.
    if m["ackedWritesLost"]:
        assert set(m["lostByNode"]) == {result["oldPrimary"]}
        assert m["staleAckWindow"]["firstMs"] >= m["promotionMs"]
    assert m["writeGapMaxMs"] >= m["promotionMs"] - m["detectionMs"]
    assert sum(m["errorsByClass"].values()) > 0
    assert result["healthy"]
    assert_clean(sb)


def test_interrupt_after_pause_unpauses_and_cleans_up(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)

    def interrupt(phase: Phase) -> None:
        if phase is Phase.PAUSED:
            raise KeyboardInterrupt

    result = _probe(sb, on_phase=interrupt)
    assert result["status"] == "interrupted"
    probe_events = [e["event"] for e in result["timeline"] if e["source"] == "probe"]
    assert "client-unpause" in probe_events and "trigger" not in probe_events
    primary = next(n for n in sb.info.nodes if n.address == result["oldPrimary"])
    with sb.client(primary, "admin", socket_timeout=1) as client:  # a paused primary would time out
        assert client.execute_command("ROLE")[0] == "master"
        client.rpush("__redis_audit:failover:unpaused", 1)
        client.delete("__redis_audit:failover:unpaused")
    assert_clean(sb)


def test_preflight_refuses_a_replica_with_its_link_down(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    replica = sb.info.nodes_with_role("replica")[0]
    sb.signal_node(replica, signal.SIGSTOP)
    with sb.admin_client(sb.info.nodes_with_role("primary")[0]) as client:
        client.execute_command("CLIENT", "KILL", "TYPE", "replica")  # the link drops; it cannot reconnect
    try:
        result = _probe(sb)
    finally:
        sb.signal_node(replica, signal.SIGCONT)
    assert result["status"] == "refused"
    assert any(str(replica.port) in r for r in result["reasons"]), result["reasons"]
    assert_clean(sb)


def test_preflight_refuses_without_quorum(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    stopped = sb.info.nodes_with_role("sentinel")[1:]
    for node in stopped:
        sb.stop_node(node)
    try:
        result = _probe(sb)
    finally:
        for node in stopped:
            sb.start_node(node)
    assert result["status"] == "refused"
    text = " ".join(result["reasons"])
    # Sentinels notice their peers gone only after down-after; the probe refuses at once.
    assert all(f"{n.port} is unreachable" in text for n in stopped)
    assert_clean(sb)


def test_probe_refuses_a_budget_too_small(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SENTINEL)  # the shared sandbox: preflight changes nothing
    result = _probe(sb, budget_s=20)
    assert result["status"] == "refused" and "budget" in " ".join(result["reasons"])
    assert_clean(sb)
