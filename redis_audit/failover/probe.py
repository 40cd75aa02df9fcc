"""The controlled failover probe: preflight → canary → trigger → observe → converge → clean up.

The only code in redis-audit that changes a deployment's state, and only when the user passed
--allow-failover. It fails over exactly once, never retries, and whatever happens (budget
exhausted, a refused trigger, Ctrl-C) it stops the canary, undoes its pause, deletes its keys and
says plainly what is not healthy.

Its Deadline is a wall like the audit's (deadline.py): every connection is watched by it, whatever
the servers do. The steps end `cleanup_reserve` before it (30 s, or a third of a short deadline), so
that the clean-up always has that long; what it could not undo by the deadline is listed in "cleanup".
"""

from __future__ import annotations

import time
from typing import Any

from redis_audit.client import Timeouts
from redis_audit.deadline import Deadline
from redis_audit.facts.values import as_text
from redis_audit.failover.analysis import stale_ack_metrics, timeline_metrics, write_metrics
from redis_audit.failover.canary import (
    CanaryClient,
    CanaryWriter,
    ClusterCanary,
    DirectCanary,
    SentinelCanary,
    canary_key,
    new_run_id,
)
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.converge import Convergence, delete_canary, read_back, wait_converged
from redis_audit.failover.model import Clock, Phase, PreflightRefused, ProbeAborted, ProbeOptions, Timeline
from redis_audit.failover.observe import ClusterViewPoller, RolePoller, SentinelWatcher, start_all, stop_all
from redis_audit.failover.preflight import Plan, preflight
from redis_audit.failover.trigger import Trigger
from redis_audit.jsonvalue import JsonObject, ensure_canonical
from redis_audit.secret import scrub
from redis_audit.target import Target
from redis_audit.topology import Address, DeploymentKind

RESULT_SCHEMA = "redis-audit/failover-result/v1"
# Time the clean-up (unpause, restore, delete the canary, confirm) has before the deadline.
CLEANUP_RESERVE_S = 30.0


def cleanup_reserve(deadline: Deadline) -> float:
    return min(CLEANUP_RESERVE_S, deadline.seconds / 3)


def probe_deadline(options: ProbeOptions) -> Deadline:
    """The probe's own deadline when the caller gives none: its budget and the clean-up's reserve."""
    return Deadline.after(options.budget_s + CLEANUP_RESERVE_S, "failover probe")


def run_probe(target: Target, options: ProbeOptions, timeouts: Timeouts | None = None,
              deadline: Deadline | None = None) -> JsonObject:
    """Run the probe against `target` (the operator's credentials) and return its result (JSON)."""
    wall = deadline or probe_deadline(options)
    try:
        access = ProbeAccess(target, timeouts or Timeouts(2.0, 3.0), wall)
        base: JsonObject = {"schema": RESULT_SCHEMA, "mode": str(options.mode), "budgetS": int(options.budget_s)}
        try:
            plan = preflight(access, options)
        except PreflightRefused as exc:
            inconclusive = {"inconclusive": True} if exc.unreachable else {}
            return {**base, "status": "refused", "reasons": list(exc.reasons), **inconclusive}
        return _Run(access, options, plan).run(base)
    finally:
        if deadline is None:
            wall.close()


class _Run:
    def __init__(self, access: ProbeAccess, options: ProbeOptions, plan: Plan) -> None:
        self.access = access
        self.options = options
        self.plan = plan
        self.clock = Clock()
        self.timeline = Timeline()
        self.deadline = time.monotonic() + options.budget_s
        if access.deadline is not None:  # the steps leave the clean-up its reserve
            self.deadline = min(self.deadline, access.deadline.at - cleanup_reserve(access.deadline))
        self.key = canary_key(new_run_id(), plan.slots)
        self.trigger = Trigger(access, plan, options, self.clock, self.timeline)
        self.writer: CanaryWriter | None = None
        self.client: CanaryClient | None = None
        self.watchers: list[Any] = []
        self.new_primary: Address | None = None
        self.convergence: Convergence | None = None
        self.final: list[int] | None = None
        self.lengths: dict[str, int] = {}
        self.notes: list[str] = []
        self.cleanup: list[str] = []

    def hook(self, phase: Phase) -> None:
        self.timeline.add(self.clock.now_us(), "probe", "phase", str(phase))
        if self.options.on_phase is not None:
            self.options.on_phase(phase)

    def run(self, base: JsonObject) -> JsonObject:
        status = "completed"
        try:
            self.hook(Phase.PREFLIGHT_PASSED)
            self._steps()
        except ProbeAborted as exc:
            status = "aborted"
            self.notes.append(str(exc))
        except KeyboardInterrupt:
            status = "interrupted"
            self.notes.append("interrupted (Ctrl-C): the canary was stopped and the probe cleaned up")
        except Exception as exc:  # a bug or a lost node must still end in clean-up and a report
            status = "aborted"
            self.notes.append(f"{type(exc).__name__}: {scrub(exc)}")
        finally:
            self._clean_up()
        return self._result(base, status)

    # -- the steps ------------------------------------------------------------------------------
    def _steps(self) -> None:
        if int(self.access.call(self.plan.primary, "EXISTS", self.key)):
            raise ProbeAborted(f"the canary key {self.key} already exists")
        self._start_watchers()
        self.client = self._canary_client()
        self.writer = CanaryWriter(self.client, self.key, self.clock, self.options.canary_rate_hz,
                                   self.options.wait_replicas, self.options.wait_timeout_ms)
        self.writer.start()
        self.hook(Phase.CANARY_STARTED)
        self._sleep(self.options.warmup_s)
        self.trigger.prepare()
        if self.trigger.paused:
            self.hook(Phase.PAUSED)
        self.trigger.fire()
        self.hook(Phase.TRIGGERED)
        switch_deadline = min(self.deadline, time.monotonic() + self.options.switch_deadline_s)
        self.new_primary = self.trigger.wait_for_promotion(switch_deadline)
        self.trigger.after_promotion(self.new_primary)
        self.hook(Phase.PROMOTED)
        self._until_canary_on(self.new_primary, switch_deadline)
        self._sleep(self.options.settle_s)
        self._stop_canary()
        self.convergence = wait_converged(self.access, self.plan, self.new_primary, self.deadline, self.clock,
                                          self.timeline)
        if self.convergence.healthy:
            self.hook(Phase.CONVERGED)
        self.final, self.lengths = read_back(self.access, self.plan, self.key, self.new_primary)

    def _sleep(self, seconds: float) -> None:
        end = min(self.deadline, time.monotonic() + seconds)
        while time.monotonic() < end:
            time.sleep(min(0.05, max(0.0, end - time.monotonic())))
        if time.monotonic() >= self.deadline:
            raise ProbeAborted(f"the budget of {self.options.budget_s:.0f}s was exhausted")

    def _until_canary_on(self, address: Address, deadline: float) -> None:
        """Keep writing until the canary's client found the new primary (or the switch deadline)."""
        assert self.writer is not None
        while time.monotonic() < deadline:
            if any(r.outcome == "ack" and r.node == str(address) for r in self.writer.records[-50:]):
                return
            time.sleep(0.05)
        self.notes.append(f"the canary client had not written to {address} by the switch deadline")

    def _start_watchers(self) -> None:
        nodes = self.plan.shard_nodes
        self.watchers = [RolePoller(self.access, nodes, self.clock, self.timeline)]
        sentinels = [SentinelWatcher(self.access, s, self.clock, self.timeline) for s in self.plan.sentinels]
        self.watchers += sentinels
        if self.plan.kind is DeploymentKind.CLUSTER and self.plan.target_replica_id:
            self.watchers.append(ClusterViewPoller(self.access, self.plan.other_primaries,
                                                   self.plan.target_replica_id, self.clock, self.timeline))
        start_all(*self.watchers)
        for watcher in sentinels:
            watcher.subscribed.wait(timeout=3)

    def _canary_client(self) -> CanaryClient:
        read_s = self.options.read_timeout_ms / 1000
        connect_s = self.options.connect_timeout_ms / 1000
        if self.plan.kind is DeploymentKind.SENTINEL:
            return SentinelCanary(self.access, self.plan.sentinels, str(self.plan.master_name), read_s, connect_s)
        if self.plan.kind is DeploymentKind.CLUSTER:
            seeds = [*self.plan.shard_nodes, *self.plan.other_primaries]
            return ClusterCanary(self.access, seeds, read_s, connect_s)
        return DirectCanary(self.access, self._current_primary, read_s, connect_s)

    def _current_primary(self) -> Address:
        for address in self.plan.shard_nodes:
            try:
                if as_text(self.access.call(address, "ROLE")[0]) == "master":
                    return address
            except Exception:
                continue
        return self.plan.primary

    # -- always -----------------------------------------------------------------------------------
    def _stop_canary(self) -> None:
        if self.writer is not None and self.writer.is_alive():
            self.writer.stop()
            self.writer.join(timeout=5)

    def _clean_up(self) -> None:
        self._stop_canary()
        self.cleanup += self.trigger.unpause()
        self.cleanup += self.trigger.restore()
        stop_all(*self.watchers)
        if self.client is not None:
            try:
                self.client.close()
            except Exception as exc:
                self.cleanup.append(f"closing the canary client: {scrub(exc)}")
        self.cleanup += delete_canary(self.access, self.plan, self.key)

    # -- the result ---------------------------------------------------------------------------------
    def _result(self, base: JsonObject, status: str) -> JsonObject:
        clock, plan = self.clock, self.plan
        records = self.writer.records if self.writer else []
        new = str(self.new_primary) if self.new_primary else None
        metrics: JsonObject = {}
        if clock.trigger_us is not None:
            metrics.update(write_metrics(records, self.final, clock, 1_000_000 // self.options.canary_rate_hz,
                                         new, str(plan.primary)))
            metrics.update(timeline_metrics(self.timeline, clock, str(plan.primary), new))
            promoted = metrics.get("promotionMs")
            metrics.update(stale_ack_metrics(records, clock, str(plan.primary),
                                             promoted if isinstance(promoted, int) else None))
        conv = self.convergence
        if conv is not None:
            metrics["dataPlaneHealthyMs"] = clock.rel_ms(conv.data_us)
            metrics["controlPlaneHealthyMs"] = clock.rel_ms(conv.control_us)
            metrics["convergedMs"] = clock.rel_ms(conv.control_us) if conv.healthy else None
            before = plan.sync_before.get(new or "", {})
            metrics["fullResyncs"] = conv.sync_after.get("sync_full", 0) - before.get("sync_full", 0)
            metrics["partialResyncs"] = conv.sync_after.get("sync_partial_ok", 0) - before.get("sync_partial_ok", 0)
        metrics["replicaListLengths"] = dict(self.lengths)
        unhealthy = list(conv.problems) if conv is not None else ["convergence was not reached or not checked"]
        if self.writer is not None and self.writer.failure:
            self.notes.append(f"the canary stopped early: {self.writer.failure}")
        result: JsonObject = {
            **base,
            "status": status,
            "method": plan.method,
            "plan": plan.to_json(),
            "reasons": list(self.notes),
            "oldPrimary": str(plan.primary),
            "newPrimary": new,
            "canary": {
                "key": self.key,
                "rateHz": self.options.canary_rate_hz,
                "readTimeoutMs": self.options.read_timeout_ms,
                "connectTimeoutMs": self.options.connect_timeout_ms,
                "client": _client_name(plan.kind),
                "waitReplicas": self.options.wait_replicas,
            },
            "metrics": metrics,
            "healthy": bool(conv is not None and conv.healthy and not self.cleanup),
            "unhealthy": unhealthy if not (conv is not None and conv.healthy) else [],
            "cleanup": list(self.cleanup),
            "canaryKeyRemains": any("still on" in c for c in self.cleanup),
            "timeline": [e.to_json(clock) for e in self.timeline.snapshot()][:400],
        }
        ensure_canonical(result)
        return result


def _client_name(kind: DeploymentKind) -> str:
    import redis

    name = {DeploymentKind.SENTINEL: "redis-py Sentinel pool (connection kept; resolved at connect)",
            DeploymentKind.CLUSTER: "redis-py RedisCluster (follows MOVED)"}.get(kind, "redis-py, re-resolved")
    return f"{name}, redis-py {redis.__version__}, no retries"
