"""The probe on real Sentinel sandboxes (fresh per test: a failover changes the topology)."""

from __future__ import annotations

import signal
from collections.abc import Callable

import pytest

from redis_audit.failover import Mode, Phase
from redis_audit.failover import preflight as preflight_module
from redis_audit.sandbox import Sandbox, SandboxSpec
from redis_audit.sandbox.crash import SandboxCrashSim
from tests.conftest import SandboxPool

from .conftest import assert_clean, probe, probe_events, verdicts

SENTINEL = SandboxSpec(topology="sentinel")


def test_switchover_loses_nothing_and_converges(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    result = probe(sb)
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "sentinel-pause-demote" and result["plan"]["fallback"] is None
    m = result["metrics"]
    assert m["readBack"] and m["acked"] > 0
    assert m["ackedWritesLost"] == 0
    assert m["firstAckOnNewPrimaryMs"] is not None
    assert result["newPrimary"] != result["oldPrimary"]
    assert m["fullResyncs"] == 0
    # The paused old primary still answers ROLE master for a while, but it acknowledged nothing after the
    # promotion: the old "twoPrimariesMs" counted that overlap as two writable primaries.
    assert "twoPrimariesMs" not in m and m["roleMasterOverlapMs"] >= 0
    assert m["staleAcksAfterPromotion"] == 0 and m["staleAckAfterPromotionMs"] == 0
    assert len(m["sentinelSwitchMs"]) == 3  # every Sentinel switched, each at its own time
    assert result["healthy"] and not result["canaryKeyRemains"]
    events = [e["event"] for e in result["timeline"] if e["source"] == "probe"]
    assert events.index("client-pause") < events.index("trigger") < events.index("replicaof") \
        < events.index("client-unpause")
    assert_clean(sb)


def test_plain_sentinel_failover_shows_stale_acks(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    result = probe(sb, mode=Mode.PLAIN)
    assert result["status"] == "completed", result["reasons"]
    m = result["metrics"]
    assert m["ackedWritesLost"] > 0  # the pooled client kept writing to the old, still writable primary
    assert set(m["lostByNode"]) == {result["oldPrimary"]}
    window = m["staleAckWindow"]
    assert 0 <= window["firstMs"] <= window["lastMs"]
    assert m["promotionMs"] <= window["lastMs"]  # acks after the promotion: two primaries at once
    assert m["staleAcksAfterPromotion"] > 0  # measured from the canary's acks, not from ROLE
    assert m["staleAckAfterPromotionMs"] == window["lastMs"] - m["promotionMs"]
    assert result["healthy"]
    assert_clean(sb)


def test_crash_sim_measures_detection_and_promotion(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    sb = fresh_sandbox(SENTINEL)
    for node in sb.info.nodes_with_role("sentinel"):
        with sb.admin_client(node) as client:
            client.execute_command("SENTINEL", "SET", "mymaster", "down-after-milliseconds", "1000")
    result = probe(sb, mode=Mode.CRASH_SIM, crash_sim=SandboxCrashSim(sb.state_dir))
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

    result = probe(sb, on_phase=interrupt)
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
        result = probe(sb)
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
        result = probe(sb)
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
    result = probe(sb, budget_s=20)
    assert result["status"] == "refused" and "budget" in " ".join(result["reasons"])
    assert_clean(sb)


def test_coordinated_refused_by_the_sentinel_falls_back_with_its_reply(
    fresh_sandbox: Callable[[SandboxSpec], Sandbox], monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A Sentinel that does not know COORDINATED (here Redis 7.0's, taken for Valkey 9) answers with an
    error and starts nothing: the trigger falls back once to the pause-demote recipe, with the reply."""
    monkeypatch.setattr(preflight_module, "_valkey_major", lambda server: 9)
    monkeypatch.setattr(preflight_module, "_coordinated_blocker", lambda access, primary: None)
    sb = fresh_sandbox(SENTINEL)
    result = probe(sb)
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "sentinel-pause-demote"
    assert "COORDINATED was refused (" in result["plan"]["fallback"]
    triggers = [e["detail"] for e in result["timeline"] if e["source"] == "probe" and e["event"] == "trigger"]
    assert triggers == ["sentinel-coordinated", "sentinel-pause-demote"]
    events = probe_events(result)
    assert events.index("method-fallback") < events.index("client-pause") < events.index("replicaof") \
        < events.index("client-unpause")
    assert result["metrics"]["ackedWritesLost"] == 0
    assert result["healthy"]
    assert_clean(sb)


def test_preflight_refuses_during_the_cool_down_after_a_failover(
        fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> None:
    """failover.md §6: not again within 2 × failover-timeout (the sandbox's: 60 s, so 120 s)."""
    sb = fresh_sandbox(SENTINEL)
    first = probe(sb)
    assert first["status"] == "completed", first["reasons"]
    assert any(p.startswith("cool-down: config-epoch 0") for p in first["plan"]["preflight"])
    again = probe(sb)
    assert again["status"] == "refused"
    cooling = [r for r in again["reasons"] if "cool-down" in r]
    assert len(cooling) == 3, again["reasons"]  # every Sentinel says so
    assert "less than 2 × failover-timeout = 120s" in cooling[0] and "config-epoch 1" in cooling[0]
    assert verdicts(again)["FO-001"] == "FAIL"
    assert_clean(sb)  # refused: nothing changed, the first probe's result still stands


def test_cool_down_from_sentinel_master_fields() -> None:
    view = {"config-epoch": "3", "failover-timeout": "60000", "role-reported-time": "119000"}
    assert "wait 2s" in str(preflight_module.cooldown_refusal("s:26379", view))
    assert preflight_module.cooldown_refusal("s:26379", {**view, "role-reported-time": "120000"}) is None
    assert preflight_module.cooldown_refusal("s:26379", {**view, "config-epoch": "0"}) is None  # never failed over
    assert "cannot tell" in str(preflight_module.cooldown_refusal("s:26379", {"config-epoch": "2"}))
