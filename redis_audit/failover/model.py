"""The failover probe's vocabulary: options, the clock, what the canary and the watchers record."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol

from redis_audit.jsonvalue import JsonObject
from redis_audit.topology import Address


class Mode(StrEnum):
    SWITCHOVER = "switchover"  # the lossless handover (pause-demote recipe, COORDINATED, CLUSTER FAILOVER)
    PLAIN = "plain"  # the failover as operators usually trigger it, to measure its real cost
    CRASH_SIM = "crash-sim"  # a primary that dies: sandbox process, or the AWS API


class Phase(StrEnum):
    """Points at which the probe calls its hook (tests interrupt here)."""

    PREFLIGHT_PASSED = "preflight-passed"
    CANARY_STARTED = "canary-started"
    PAUSED = "paused"
    TRIGGERED = "triggered"
    PROMOTED = "promoted"
    CONVERGED = "converged"


class ProbeAborted(Exception):
    """The probe stopped before the end (budget, no promotion, a refused trigger); the message says why."""


class PreflightRefused(Exception):
    """Preflight found a reason not to fail over. Nothing was changed."""

    def __init__(self, reasons: list[str], unreachable: bool = False) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons
        self.unreachable = unreachable  # the deployment could not be read: no verdict on its safety


@dataclass(frozen=True)
class AwsTarget:
    service: str  # "elasticache" or "memorydb"
    resource_id: str  # ReplicationGroupId or MemoryDB ClusterName
    shard: str  # NodeGroupId or ShardName
    region: str | None = None
    endpoint_url: str | None = None  # tests: a fake endpoint so nothing can reach AWS
    daily_quota: int = 15  # ElastiCache TestFailover: node groups per rolling 24 h



class CrashableProcess(Protocol):
    """A server process crash-sim stops or kills, and then brings back."""

    @property
    def pid(self) -> int: ...

    @property
    def address(self) -> str: ...

    def signal(self, sig: signal.Signals) -> None: ...

    def restart(self) -> None: ...


class CrashSim(Protocol):
    """What crash-sim needs from the program that started the deployment's processes: the process
    behind an address, or None when it did not start a running one (crash-sim never signals a process
    redis-audit did not start). The caller injects it (the CLI's --sandbox-state, a test): the probe
    never depends on the sandbox."""

    @property
    def where(self) -> str: ...  # "the sandbox in DIR", for messages

    def process(self, address: Address) -> CrashableProcess | None: ...


@dataclass(frozen=True)
class ProbeOptions:
    mode: Mode = Mode.SWITCHOVER
    budget_s: float = 120.0
    shard: str | None = None  # cluster: shard id or primary node id / address; AWS: the node group
    canary_rate_hz: int = 100
    warmup_s: float = 1.0  # canary writes before the trigger
    settle_s: float = 1.0  # canary writes after the new primary took over
    wait_replicas: int = 0  # > 0: each write is followed by WAIT n, and counts as acked only if satisfied
    wait_timeout_ms: int = 100
    read_timeout_ms: int = 200
    connect_timeout_ms: int = 100
    switch_deadline_s: float = 30.0  # no promotion by then: abort (never a second failover)
    max_replica_lag_s: int = 1
    force: bool = False  # cluster: CLUSTER FAILOVER FORCE (never TAKEOVER)
    crash_signal: str = "stop"  # crash-sim on a sandbox: "stop" (a hung primary) or "kill"
    crash_sim: CrashSim | None = None  # crash-sim without AWS: the processes of a sandbox redis-audit started
    aws: AwsTarget | None = None
    on_phase: Callable[[Phase], None] | None = None  # tests: called at each phase


class Clock:
    """Monotonic time in µs since the probe started; the trigger time is set once."""

    def __init__(self) -> None:
        self._t0 = time.monotonic_ns()
        self.trigger_us: int | None = None

    def now_us(self) -> int:
        return (time.monotonic_ns() - self._t0) // 1000

    def rel_ms(self, t_us: int | None) -> int | None:
        """A probe time as ms after the trigger (negative before it); None stays None."""
        if t_us is None:
            return None
        return (t_us - (self.trigger_us or 0)) // 1000


@dataclass
class WriteRecord:
    seq: int
    intended_us: int
    sent_us: int
    done_us: int
    outcome: str  # "ack", "error", "timeout"
    error_class: str | None = None
    node: str | None = None  # host:port that answered (or was asked)
    run_id: str | None = None
    wait_replicas: int | None = None  # WAIT's reply when enabled


@dataclass(frozen=True)
class Event:
    t_us: int
    source: str  # "sentinel 127.0.0.1:26379", "role 127.0.0.1:7000", "probe", "aws"
    name: str  # "+switch-master", "master", "slave", "trigger", ...
    detail: str = ""

    def to_json(self, clock: Clock) -> JsonObject:
        return {"tMs": clock.rel_ms(self.t_us), "source": self.source, "event": self.name, "detail": self.detail}


@dataclass
class Timeline:
    """Thread-safe event log shared by the trigger, the watchers and the converger."""

    events: list[Event] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, t_us: int, source: str, name: str, detail: str = "") -> None:
        with self._lock:
            if len(self.events) < 2000:
                self.events.append(Event(t_us, source, name, detail))

    def snapshot(self) -> list[Event]:
        with self._lock:
            return sorted(self.events, key=lambda e: e.t_us)

    def first(self, name: str, source_prefix: str = "", detail: str | None = None, after_us: int = 0) -> int | None:
        for event in self.snapshot():
            if (event.name == name and event.source.startswith(source_prefix) and event.t_us >= after_us
                    and (detail is None or event.detail == detail)):
                return event.t_us
        return None
