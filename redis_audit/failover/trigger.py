"""The trigger: exactly one failover, by the safest method for the platform, and its undo.

- Sentinel switchover (Redis, Valkey < 9): CLIENT PAUSE <ms> WRITE on the primary, SENTINEL FAILOVER,
  then, once a Sentinel names the new primary and its ROLE confirms, REPLICAOF <new> on the old
  primary and CLIENT UNPAUSE (writes that waited now fail with READONLY instead of being lost).
- Sentinel switchover on Valkey >= 9: SENTINEL FAILOVER <name> COORDINATED. Should the Sentinel refuse
  the argument (an error reply other than INPROG/NOGOODSLAVE: nothing was started), the trigger falls
  back to the pause-demote recipe once and records the reply; preflight falls back earlier when the
  Sentinels' data-node user may not pause or fail over.
- Sentinel plain: SENTINEL FAILOVER alone (its real cost is what the probe measures).
- Cluster: CLUSTER FAILOVER on a replica of the chosen shard (FORCE only when asked; never TAKEOVER).
- Replicated without Sentinel: FAILOVER TO <replica> on the primary (never on a Sentinel-managed one).
  FAILOVER swaps only the primary and that replica; the other replicas would stay chained behind the
  old primary, so once the new one is confirmed they are re-pointed to it with REPLICAOF.
- crash-sim: SIGSTOP/SIGKILL of the primary's process, only for a sandbox redis-audit started.
The trigger never retries a failover by itself.
"""

from __future__ import annotations

import signal
import time
from dataclasses import dataclass, field
from typing import Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError

from redis_audit.facts.values import as_text
from redis_audit.failover.connections import ProbeAccess
from redis_audit.failover.model import Clock, CrashableProcess, ProbeAborted, ProbeOptions, Timeline
from redis_audit.failover.preflight import Plan
from redis_audit.secret import scrub
from redis_audit.topology import Address

MAX_PAUSE_MS = 15_000  # bounded: should the probe die, the pause still ends by itself


@dataclass
class Trigger:
    access: ProbeAccess
    plan: Plan
    options: ProbeOptions
    clock: Clock
    timeline: Timeline
    paused: list[Address] = field(default_factory=list)
    frozen: CrashableProcess | None = None  # the process crash-sim stopped or killed, until restored
    new_primary: Address | None = None

    def note(self, name: str, detail: str = "") -> None:
        self.timeline.add(self.clock.now_us(), "probe", name, detail)

    # -- step 1 ---------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Steps before the trigger proper: the write pause of the switchover recipe."""
        if self.plan.method == "sentinel-pause-demote":
            pause_ms = int(min(MAX_PAUSE_MS, self.options.budget_s * 1000))
            self.paused.append(self.plan.primary)  # before the call: a timeout may still have paused it
            self.access.call(self.plan.primary, "CLIENT", "PAUSE", pause_ms, "WRITE")
            self.note("client-pause", f"{self.plan.primary} WRITE {pause_ms}ms")
        if self.plan.method == "sandbox-crash":
            self.frozen = self._crash_target()

    # -- step 2 ---------------------------------------------------------------------------------
    def fire(self) -> None:
        """Send the failover. The trigger time is taken just before the command leaves."""
        method = self.plan.method
        self.clock.trigger_us = self.clock.now_us()
        self.note("trigger", method)
        try:
            if method == "sentinel-coordinated":
                try:
                    reply = self._first_sentinel("SENTINEL", "FAILOVER", self.plan.master_name, "COORDINATED")
                except ResponseError as exc:
                    text = scrub(exc)
                    if text.startswith(("INPROG", "NOGOODSLAVE")):
                        raise
                    self._fall_back(f"SENTINEL FAILOVER {self.plan.master_name} COORDINATED was refused "
                                    f"({text}); pause-demote recipe instead")
                    return
            elif method.startswith("sentinel-"):
                reply = self._first_sentinel("SENTINEL", "FAILOVER", self.plan.master_name)
            elif method.startswith("cluster-failover"):
                assert self.plan.target_replica is not None
                extra = ("FORCE",) if method.endswith("force") else ()
                reply = self.access.call(self.plan.target_replica, "CLUSTER", "FAILOVER", *extra)
            elif method == "replica-failover":
                target = self.plan.replicas[0]
                reply = self.access.call(self.plan.primary, "FAILOVER", "TO", target.host, target.port,
                                         "TIMEOUT", 5000)
            elif method == "sandbox-crash":
                assert self.frozen is not None
                sig = signal.SIGKILL if self.options.crash_signal == "kill" else signal.SIGSTOP
                self.frozen.signal(sig)
                reply = f"sent {sig.name} to pid {self.frozen.pid}"
            else:
                raise ProbeAborted(f"unknown failover method {method}")
        except ProbeAborted:
            raise
        except Exception as exc:
            raise ProbeAborted(f"the trigger was refused: {type(exc).__name__}: {scrub(exc)}") from None
        self.note("trigger-reply", as_text(reply))

    def _fall_back(self, reason: str) -> None:
        """The coordinated failover was refused before anything started: the lab-validated recipe instead."""
        self.plan.method = "sentinel-pause-demote"
        self.plan.fallback = reason
        self.note("method-fallback", reason)
        self.prepare()
        self.fire()

    def _first_sentinel(self, *args: Any) -> Any:
        errors = []
        for sentinel in self.plan.sentinels:
            try:
                return self.access.call(sentinel, *args, sentinel=True)
            except (ConnectionError, RedisConnectionError) as exc:  # only an unreachable Sentinel moves on
                errors.append(f"{sentinel}: {scrub(exc)}")
        raise ProbeAborted("no Sentinel accepted SENTINEL FAILOVER: " + "; ".join(errors))

    # -- step 3 ---------------------------------------------------------------------------------
    def wait_for_promotion(self, deadline: float) -> Address:
        """Poll the authority (Sentinels' GET-MASTER-ADDR-BY-NAME, or the candidates' ROLE) until a new
        primary is named and its ROLE confirms it; ProbeAborted at the deadline."""
        candidates = self.plan.replicas if self.plan.target_replica is None else [self.plan.target_replica]
        while time.monotonic() < deadline:
            named = self._named_by_sentinels() if self.plan.sentinels else candidates
            for address in named:
                if address != self.plan.primary and self._role(address) == "master":
                    self.new_primary = address
                    self.note("new-primary-confirmed", str(address))
                    return address
            time.sleep(0.02)
        raise ProbeAborted(f"no new primary within {self.options.switch_deadline_s:.0f}s of the trigger")

    def _named_by_sentinels(self) -> list[Address]:
        named = []
        for sentinel in self.plan.sentinels:
            try:
                host, port = self.access.call(sentinel, "SENTINEL", "GET-MASTER-ADDR-BY-NAME",
                                              self.plan.master_name, sentinel=True)
                named.append(Address(as_text(host), int(port)))
            except Exception:
                continue
        return sorted(set(named))

    def _role(self, address: Address) -> str:
        try:
            return as_text(self.access.call(address, "ROLE")[0])
        except Exception:
            return "unreachable"

    # -- step 4 ---------------------------------------------------------------------------------
    def after_promotion(self, new_primary: Address) -> None:
        """Switchover: demote the old primary at once, then unpause. crash-sim: bring the node back."""
        if self.plan.method == "sentinel-pause-demote":
            self.access.call(self.plan.primary, "REPLICAOF", new_primary.host, new_primary.port)
            self.note("replicaof", f"{self.plan.primary} -> {new_primary}")
            self.unpause()
        elif self.plan.method == "replica-failover":
            for replica in self.plan.replicas:
                if replica != new_primary:
                    self.access.call(replica, "REPLICAOF", new_primary.host, new_primary.port)
                    self.note("replicaof", f"{replica} -> {new_primary}")
        elif self.plan.method == "sandbox-crash":
            self.restore()

    # -- undo (always, from the probe's finally) ----------------------------------------------------
    def unpause(self) -> list[str]:
        problems = []
        for address in list(self.paused):
            try:
                self.access.call(address, "CLIENT", "UNPAUSE")
                self.paused.remove(address)
                self.note("client-unpause", str(address))
            except Exception as exc:
                problems.append(f"CLIENT UNPAUSE on {address} failed ({scrub(exc)}): the pause ends by itself "
                                f"within {MAX_PAUSE_MS // 1000}s")
        return problems

    def restore(self) -> list[str]:
        """crash-sim: SIGCONT a stopped primary, restart a killed one."""
        if self.frozen is None:
            return []
        process, self.frozen = self.frozen, None
        try:
            if self.options.crash_signal == "kill":
                process.restart()
                self.note("restarted", process.address)
            else:
                process.signal(signal.SIGCONT)
                self.note("sigcont", process.address)
        except Exception as exc:
            return [f"could not bring {process.address} back: {scrub(exc)}"]
        return []

    def _crash_target(self) -> CrashableProcess:
        """crash-sim only on processes redis-audit started (a sandbox): the primary's must be one."""
        crash_sim = self.options.crash_sim
        if crash_sim is None:
            raise ProbeAborted("crash-sim needs --sandbox-state DIR of a sandbox redis-audit started")
        process = crash_sim.process(self.plan.primary)
        if process is None:
            raise ProbeAborted(f"the primary {self.plan.primary} is not a running node of {crash_sim.where}; "
                               "crash-sim never signals a process redis-audit did not start")
        return process
