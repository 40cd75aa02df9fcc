"""The failover probe when its primary stops answering mid-probe: it ends by its deadline, changes
nothing it cannot undo, and says exactly what it left.

The replica follows its primary through a delaying proxy (tests/probes/delayproxy.py), and the probe
reaches the primary through it too; once the canary runs, the proxy holds everything. The trigger
(FAILOVER TO, sent to the primary) is then held as well: no failover happens.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator

import pytest

from redis_audit.deadline import Deadline
from redis_audit.failover import Phase, ProbeOptions, run_probe
from redis_audit.sandbox import Sandbox, SandboxSpec, sandbox_target
from redis_audit.topology import Address
from tests.probes.delayproxy import DelayProxy

MARGIN = 5


@pytest.fixture
def through_proxy(fresh_sandbox: Callable[[SandboxSpec], Sandbox]) -> Iterator[tuple[Sandbox, DelayProxy]]:
    sandbox = fresh_sandbox(SandboxSpec(topology="replicated", replicas=1))
    primary = sandbox.info.nodes_with_role("primary")[0]
    replica = sandbox.info.nodes_with_role("replica")[0]
    with DelayProxy(primary.port, 0.0) as proxy:
        with sandbox.admin_client(replica) as client:
            client.execute_command("REPLICAOF", "127.0.0.1", proxy.port)
            limit = time.monotonic() + 15
            while client.info("replication").get("master_link_status") != "up":
                assert time.monotonic() < limit, "the replica did not follow the primary through the proxy"
                time.sleep(0.1)
        yield sandbox, proxy


@pytest.mark.parametrize("seconds", [6, 20])
def test_a_primary_that_stops_answering_ends_the_probe_by_its_deadline(
        seconds: int, through_proxy: tuple[Sandbox, DelayProxy]) -> None:
    sandbox, proxy = through_proxy
    primary = sandbox.info.nodes_with_role("primary")[0]
    seen = f"127.0.0.1:{proxy.port}"
    target = dataclasses.replace(sandbox_target(sandbox, user="admin"), seeds=(Address("127.0.0.1", proxy.port),))

    def hook(phase: Phase) -> None:
        if phase is Phase.CANARY_STARTED:
            proxy.stall(600)  # the primary, as the probe sees it, stops answering for good

    options = ProbeOptions(warmup_s=0.5, settle_s=0.3, budget_s=90, on_phase=hook)
    started = time.monotonic()
    result = run_probe(target, options, deadline=Deadline.after(seconds, "failover probe"))
    assert time.monotonic() - started < seconds + MARGIN
    assert result["status"] == "aborted", result
    assert result["newPrimary"] is None and not result["healthy"]
    # What it could not undo is named: the canary key could not be deleted, or confirmed gone, on the primary.
    assert any(seen in line and "canary" in line for line in result["cleanup"]), result["cleanup"]
    # And nothing else changed: the trigger never reached the primary.
    with sandbox.admin_client(primary) as client:
        assert client.info("replication")["role"] == "master"
