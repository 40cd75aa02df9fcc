"""The probe on a replicated primary without Sentinel: the FAILOVER command (Redis 6.2+); never on a
primary that Sentinel manages."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from redis_audit.failover import ProbeOptions, run_probe
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_target
from redis_audit.target import Credentials
from redis_audit.topology import Address
from tests.conftest import SandboxPool

from .conftest import FAST, assert_clean, probe, probe_events, verdicts


def test_failover_command_hands_over_and_repoints_the_other_replica(
    fresh_sandbox: Callable[[SandboxSpec], Sandbox],
) -> None:
    sb = fresh_sandbox(SandboxSpec(topology="replicated", replicas=2))
    result = probe(sb)
    assert result["status"] == "completed", result["reasons"]
    assert result["method"] == "replica-failover"
    old, new = result["oldPrimary"], result["newPrimary"]
    assert new in result["plan"]["replicas"]
    third = next(r for r in result["plan"]["replicas"] if r != new)
    m = result["metrics"]
    assert m["readBack"] and m["acked"] > 0 and m["ackedWritesLost"] == 0 and m["duplicates"] == 0
    assert set(m["acksByNode"]) == {old, new}
    # The old primary and the re-pointed replica both continue from the shared history.
    assert m["fullResyncs"] == 0 and m["partialResyncs"] == 2
    assert m["replicaListLengths"] == {old: m["finalLength"], third: m["finalLength"]}
    timeline = [(e["event"], e["detail"]) for e in result["timeline"] if e["source"] == "probe"]
    events = [name for name, _ in timeline]
    assert ("replicaof", f"{third} -> {new}") in timeline  # FAILOVER alone leaves it chained behind the old
    assert events.index("trigger") < events.index("new-primary-confirmed") < events.index("replicaof") \
        < events.index("data-plane-healthy")
    assert "client-pause" not in probe_events(result)  # FAILOVER pauses writes itself
    assert result["healthy"] and not result["canaryKeyRemains"]
    assert verdicts(result)["FO-002"] == "PASS"
    assert_clean(sb)


def test_preflight_refuses_failover_on_a_sentinel_managed_primary(sandboxes: SandboxPool) -> None:
    sb = sandboxes.get(SandboxSpec(topology="sentinel"))  # shared: preflight changes nothing
    primary = sb.info.nodes_with_role("primary")[0]
    target = dataclasses.replace(sandbox_target(sb, user="admin"), kind="redis", master_name=None,
                                 seeds=(Address(primary.host, primary.port),), sentinel_credentials=Credentials())
    result = run_probe(target, ProbeOptions(**FAST))  # type: ignore[arg-type]
    assert result["status"] == "refused"
    assert any("watched by Sentinel" in r and primary.address in r for r in result["reasons"]), result["reasons"]
    assert_clean(sb)
