"""The latency probe: open-loop PING/GET (and, when allowed, SET and a limiter script) at a fixed rate.

Method (docs: ../shared/reference/failover.md §8): request k of a connection is *scheduled* at
t0 + k/rate. The probe sleeps until then, sends, and records two latencies:

* response time = reply - scheduled time: the SLO metric. When the server stalls, the requests
  that a real application would have sent meanwhile are sent late and the lateness is charged
  to them, so a stall shows in the tail (no coordinated omission);
* service time = reply - actual send, which a closed loop would report.

Values are nanoseconds from ``time.perf_counter_ns`` in log-bucketed histograms (facts/histogram.py);
percentiles come with distribution-free 95% bounds. The probe also times connection setup (TCP
connect, TLS handshake and the first command, apart), reads the server's own view (``INFO
commandstats`` deltas and ``INFO latencystats`` on 7.0+) to split server time from network and
client time, and measures its own scheduler's oversleep to flag a jittery host.

It is bounded: at most ``rate × duration`` requests, never past ``duration + read timeout``, and
never past its Deadline (deadline.py), whatever the server does: every socket is watched by it. Its
only writes, SET and EVALSHA (EVAL on NOSCRIPT) of one reserved key with a TTL, run only with
``allow_writes``; otherwise the connection's policy cannot even pack them.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis_audit.deadline import Deadline, DeadlineExceeded
from redis_audit.facts.histogram import Histogram
from redis_audit.facts.keyslot import key_slot
from redis_audit.facts.parse import parse_info, parse_info_fields
from redis_audit.facts.values import as_text
from redis_audit.guard import LATENCY_PROBE, LATENCY_PROBE_WRITES, READ_ONLY, CommandPolicy
from redis_audit.jsonvalue import JsonObject
from redis_audit.probes.resp import (
    Prepared,
    ProbeConnection,
    ProbeTimeout,
    RespError,
    SetupTiming,
)
from redis_audit.replies import ReplyRefused
from redis_audit.secret import scrub
from redis_audit.target import Credentials, TlsOptions
from redis_audit.topology import Address

KEY_PREFIX = "__redis-audit:latency:"
CLIENT_NAME = "redis-audit-latency"
READ_COMMANDS = ("ping", "get")
WRITE_COMMANDS = ("set", "evalsha")
ALL_COMMANDS = READ_COMMANDS + WRITE_COMMANDS
# A fixed-window limiter step: count the hit, start the window's expiry on the first one.
LIMITER_SCRIPT = (
    "local c = redis.call('INCR', KEYS[1]) "
    "if c == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end "
    "return c"
)
LIMITER_SHA = hashlib.sha1(LIMITER_SCRIPT.encode()).hexdigest()
MAX_RATE_HZ = 20_000
MAX_DURATION_MS = 3_600_000
MAX_REQUESTS = 2_000_000
JITTER_P99_US = 1_000  # a scheduler that oversleeps more than this at P99 makes the tail suspect


class ProbeConfigError(ValueError):
    """A probe configuration outside its bounds (the message says which and why)."""


@dataclass(frozen=True)
class ProbeConfig:
    rate_hz: int = 50  # requests per second over all connections
    duration_ms: int = 10_000
    commands: tuple[str, ...] = READ_COMMANDS
    allow_writes: bool = False
    connections: int = 1
    closed_loop: bool = False  # only for comparisons: send, wait, sleep one period (hides stalls)
    setup_samples: int = 10  # extra connections opened, timed and closed, spread over the window
    connect_timeout_ms: int = 1_000
    read_timeout_ms: int = 1_000
    spin_us: int = 200  # busy-wait this long before each scheduled send, instead of sleeping to it
    reply_spin_us: int = 0  # poll this long for a reply before blocking (benchmarks/latency: 0 is best
    # on a loaded host with few cores, where a spinning probe takes the core the server needs)
    key_ttl_ms: int = 60_000
    key_prefix: str = KEY_PREFIX

    def validate(self) -> None:
        if not 1 <= self.rate_hz <= MAX_RATE_HZ:
            raise ProbeConfigError(f"rate must be 1..{MAX_RATE_HZ} requests/s, got {self.rate_hz}")
        if not 100 <= self.duration_ms <= MAX_DURATION_MS:
            raise ProbeConfigError(f"duration must be 0.1..{MAX_DURATION_MS // 1000} s, got {self.duration_ms} ms")
        if self.rate_hz * self.duration_ms // 1000 > MAX_REQUESTS:
            raise ProbeConfigError(f"rate × duration exceeds {MAX_REQUESTS} requests")
        if not 1 <= self.connections <= 16 or self.connections > self.rate_hz:
            raise ProbeConfigError("connections must be 1..16 and at most the rate")
        if not self.commands:
            raise ProbeConfigError("no command to probe")
        for command in self.commands:
            if command not in ALL_COMMANDS:
                raise ProbeConfigError(f"unknown probe command {command!r} (known: {', '.join(ALL_COMMANDS)})")
            if command in WRITE_COMMANDS and not self.allow_writes:
                raise ProbeConfigError(
                    f"{command.upper()} writes to the server: it runs only when the profile allows writes "
                    "([latency] allow_writes = true)"
                )
        if min(self.connect_timeout_ms, self.read_timeout_ms) < 1 or not 0 <= self.setup_samples <= 1_000:
            raise ProbeConfigError("timeouts must be at least 1 ms and setup samples 0..1000")
        if not self.key_prefix.startswith("__"):
            raise ProbeConfigError("the probe key prefix must start with '__' (a reserved namespace)")

    @property
    def policy(self) -> CommandPolicy:
        return LATENCY_PROBE_WRITES if self.allow_writes else LATENCY_PROBE

    @property
    def requests(self) -> int:
        return max(1, self.rate_hz * self.duration_ms // 1000)


@dataclass
class CommandStats:
    response: Histogram = field(default_factory=Histogram)
    service: Histogram = field(default_factory=Histogram)
    sent: int = 0
    errors: int = 0
    timeouts: int = 0
    noscript: int = 0  # EVALSHA answered NOSCRIPT and was retried as EVAL
    messages: list[str] = field(default_factory=list)  # first few error messages

    def merge(self, other: CommandStats) -> None:
        self.response.merge(other.response)
        self.service.merge(other.service)
        self.sent += other.sent
        self.errors += other.errors
        self.timeouts += other.timeouts
        self.noscript += other.noscript
        self.messages = (self.messages + other.messages)[:3]

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.messages) < 3:
            self.messages.append(message)


@dataclass
class SchedulerStats:
    oversleep: Histogram = field(default_factory=Histogram)  # how late time.sleep woke up
    late_sends: int = 0  # sends more than 1 ms after their scheduled time
    missed: int = 0  # scheduled requests never sent: the run's hard stop came first

    def merge(self, other: SchedulerStats) -> None:
        self.oversleep.merge(other.oversleep)
        self.late_sends += other.late_sends
        self.missed += other.missed


@dataclass
class SetupStats:
    tcp: Histogram = field(default_factory=Histogram)
    tls: Histogram = field(default_factory=Histogram)
    first_command: Histogram = field(default_factory=Histogram)
    failures: int = 0
    messages: list[str] = field(default_factory=list)

    def record(self, timing: SetupTiming) -> None:
        self.tcp.record(timing.tcp_ns)
        if timing.tls_ns is not None:
            self.tls.record(timing.tls_ns)
        self.first_command.record(timing.first_command_ns)

    def fail(self, exc: BaseException) -> None:
        self.failures += 1
        if len(self.messages) < 3:
            self.messages.append(f"{type(exc).__name__}: {scrub(exc)}")


@dataclass
class ProbeResult:
    address: Address
    tls: bool
    config: ProbeConfig
    started_at: str
    elapsed_ns: int
    commands: dict[str, CommandStats]
    skipped: dict[str, str]  # command -> why it was left out (denied, unknown, ...)
    setup: SetupStats
    scheduler: SchedulerStats
    server: JsonObject
    probe_key: str | None
    failure: str | None = None  # a refused reply or a lost connection: the numbers are not to be trusted

    def overall(self) -> Histogram:
        total = Histogram()
        for stats in self.commands.values():
            total.merge(stats.response)
        return total

    def to_json(self) -> JsonObject:
        oversleep_p99 = self.scheduler.oversleep.quantile(0.99)
        return {
            "target": {"address": str(self.address), "tls": self.tls},
            "startedAt": self.started_at,
            "elapsedMs": self.elapsed_ns // 1_000_000,
            "config": {
                "rateHz": self.config.rate_hz,
                "durationMs": self.config.duration_ms,
                "connections": self.config.connections,
                "commands": list(self.config.commands),
                "allowWrites": self.config.allow_writes,
                "mode": "closed" if self.config.closed_loop else "open",
                "connectTimeoutMs": self.config.connect_timeout_ms,
                "readTimeoutMs": self.config.read_timeout_ms,
            },
            "commands": {name: command_json(stats) for name, stats in self.commands.items()},
            "skipped": dict(self.skipped),
            "all": {"responseUs": summary(self.overall()), "response": self.overall().to_json()},
            "setup": {
                "failures": self.setup.failures,
                "errors": list(self.setup.messages),
                "tcpConnectUs": summary(self.setup.tcp),
                "tlsHandshakeUs": summary(self.setup.tls) if self.tls else None,
                "firstCommandUs": summary(self.setup.first_command),
            },
            "scheduler": {
                "oversleepUs": summary(self.scheduler.oversleep),
                "lateSends": self.scheduler.late_sends,
                "missed": self.scheduler.missed,
                "hostJitter": oversleep_p99 is not None and oversleep_p99.value // 1000 > JITTER_P99_US,
            },
            "server": self.server,
            "probeKey": self.probe_key,
        }


def command_json(stats: CommandStats) -> JsonObject:
    return {
        "sent": stats.sent,
        "errors": stats.errors,
        "timeouts": stats.timeouts,
        "noscriptFallbacks": stats.noscript,
        "errorMessages": list(stats.messages),
        "responseUs": summary(stats.response),
        "serviceUs": summary(stats.service),
        "response": stats.response.to_json(),
        "service": stats.service.to_json(),
    }


PERCENTILES: tuple[tuple[str, float], ...] = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99), ("p999", 0.999))


def summary(histogram: Histogram) -> JsonObject:
    """Count, min, mean, P50/P95/P99/P99.9 with 95% bounds (None: too few samples), max; in µs."""
    out: JsonObject = {"count": histogram.total}
    if histogram.total == 0:
        return out
    bounds: JsonObject = {}
    out["min"] = histogram.minimum // 1000
    out["mean"] = histogram.sum // histogram.total // 1000
    for name, p in PERCENTILES:
        q = histogram.quantile(p)
        assert q is not None
        out[name] = q.value // 1000
        bounds[name] = [None if q.lower is None else q.lower // 1000, None if q.upper is None else q.upper // 1000]
    out["max"] = histogram.maximum // 1000
    out["ci95"] = bounds
    return out


# -- key placement ----------------------------------------------------------------------------------


def probe_key(prefix: str, origin: str, slots: list[tuple[int, int]] | None) -> str:
    """The reserved key, with a hash tag that lands on one of `slots` (cluster) when given."""
    seed = hashlib.sha1(origin.encode()).hexdigest()[:8]
    for attempt in range(100_000):
        key = f"{prefix}{{{seed}-{attempt}}}"
        if slots is None or any(low <= key_slot(key) <= high for low, high in slots):
            return key
    raise ProbeConfigError("no probe key hashes to this node's slots")


def own_slots(conn: ProbeConnection) -> list[tuple[int, int]] | None:
    """This node's slot ranges when it runs in cluster mode, else None."""
    info = parse_info(as_text(conn.call("INFO", "cluster")))
    if info.get("cluster", {}).get("cluster_enabled") != "1":
        return None
    ranges: list[tuple[int, int]] = []
    for line in as_text(conn.call("CLUSTER", "NODES")).splitlines():
        fields = line.split()
        if len(fields) >= 8 and "myself" in fields[2].split(","):
            for item in fields[8:]:
                if item.startswith("["):
                    continue
                low, _, high = item.partition("-")
                ranges.append((int(low), int(high or low)))
    return ranges


# -- the server's own view --------------------------------------------------------------------------


def server_view(conn: ProbeConnection) -> dict[str, dict[str, str]]:
    sections: dict[str, dict[str, str]] = {}
    sections.update(parse_info(as_text(conn.call("INFO", "commandstats"))))
    # Before 7.0 the section is empty or refused: commandstats alone still give means.
    with contextlib.suppress(RespError):
        sections.update(parse_info(as_text(conn.call("INFO", "latencystats"))))
    return sections


def server_delta(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]],
                 commands: list[str]) -> JsonObject:
    """Per command: calls and mean server µs during the probe (all clients), and the 7.0+ percentiles."""
    out: JsonObject = {}
    stats_before, stats_after = before.get("commandstats", {}), after.get("commandstats", {})
    latency = after.get("latencystats", {})
    for command in commands:
        one: JsonObject = {}
        first = parse_info_fields(stats_before.get(f"cmdstat_{command}", ""))
        last = parse_info_fields(stats_after.get(f"cmdstat_{command}", ""))
        calls = _num(last.get("calls")) - _num(first.get("calls"))
        usec = _num(last.get("usec")) - _num(first.get("usec"))
        one["calls"] = int(calls)
        one["meanNs"] = int(usec * 1000 // calls) if calls > 0 else None
        percentiles = parse_info_fields(latency.get(f"latency_percentiles_usec_{command}", ""))
        one["percentilesNs"] = {k: int(_num(v) * 1000) for k, v in percentiles.items()} or None
        out[command] = one
    out["latencystats"] = bool(latency)
    return out


def _num(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


# -- the probe --------------------------------------------------------------------------------------


@dataclass
class _Target:
    address: Address
    tls: TlsOptions
    credentials: Credentials
    config: ProbeConfig
    key: str
    # Each probed command checked against the policy and packed once (the hot path sends bytes).
    prepared: dict[str, Prepared] = field(default_factory=dict)
    deadline: Deadline | None = None

    @property
    def counter_key(self) -> str:
        """The limiter script's counter: same hash tag (same slot) as the string key."""
        return f"{self.key}:rl"

    def connect(self, policy: CommandPolicy | None = None) -> tuple[ProbeConnection, SetupTiming]:
        return ProbeConnection.open(
            self.address, tls=self.tls, credentials=self.credentials, policy=policy or self.config.policy,
            connect_timeout_s=self.config.connect_timeout_ms / 1000, read_timeout_s=self.config.read_timeout_ms / 1000,
            spin_ns=self.config.reply_spin_us * 1000, client_name=CLIENT_NAME, deadline=self.deadline,
        )

    def prepare(self, conn: ProbeConnection) -> None:
        """Check and pack the configured commands on a connection of the probe's policy."""
        ttl = self.config.key_ttl_ms
        commands = {
            "ping": ("PING",),
            "get": ("GET", self.key),
            "set": ("SET", self.key, "redis-audit-probe", "PX", ttl),  # GET then reads this value
            "evalsha": ("EVALSHA", LIMITER_SHA, 1, self.counter_key, ttl),
            "eval": ("EVAL", LIMITER_SCRIPT, 1, self.counter_key, ttl),
        }
        wanted = [*self.config.commands, *(["eval"] if "evalsha" in self.config.commands else [])]
        self.prepared = {name: conn.prepare(*commands[name]) for name in wanted}


def _execute(conn: ProbeConnection, command: str, target: _Target, stats: CommandStats) -> None:
    try:
        conn.call_prepared(target.prepared[command])
    except RespError as exc:
        if command != "evalsha" or not str(exc).startswith("NOSCRIPT"):
            raise
        # The script cache is per node and not replicated: after a failover the SHA is unknown.
        stats.noscript += 1
        conn.call_prepared(target.prepared["eval"])


def _sleep_until(when_ns: int, spin_ns: int, scheduler: SchedulerStats) -> None:
    while True:
        left = when_ns - time.perf_counter_ns()
        if left <= 0:
            return
        if left > spin_ns + 100_000:
            asked = left - spin_ns
            before = time.perf_counter_ns()
            time.sleep(asked / 1e9)
            scheduler.oversleep.record(max(0, time.perf_counter_ns() - before - asked))


class _Worker:
    """One connection's schedule: requests w, w+C, w+2C... of the global plan."""

    def __init__(self, index: int, conn: ProbeConnection, target: _Target, commands: list[str],
                 start_ns: int, setup: SetupStats) -> None:
        self.index = index
        self.conn: ProbeConnection | None = conn
        self.target = target
        self.commands = commands
        self.start_ns = start_ns
        self.setup = setup
        self.stats = {c: CommandStats() for c in commands}
        self.scheduler = SchedulerStats()
        self.failure: str | None = None

    def run(self) -> None:
        config = self.target.config
        count = config.connections
        period_ns = count * 1_000_000_000 // config.rate_hz
        offset_ns = self.index * 1_000_000_000 // config.rate_hz
        end_ns = self.start_ns + config.duration_ms * 1_000_000
        hard_stop_ns = end_ns + config.read_timeout_ms * 1_000_000
        slots = len(range(self.index, config.requests, count))
        previous_done: int | None = None
        for k in range(slots):
            scheduled = self.start_ns + offset_ns + k * period_ns
            if config.closed_loop and previous_done is not None:
                scheduled = previous_done + period_ns
                if scheduled > end_ns:
                    break
            deadline = self.target.deadline
            if time.perf_counter_ns() > hard_stop_ns or (deadline is not None and deadline.expired()):
                self.scheduler.missed += slots - k
                break
            _sleep_until(scheduled, config.spin_us * 1000, self.scheduler)
            previous_done = self._one(self.commands[(k * count + self.index) % len(self.commands)], scheduled)

    def _one(self, command: str, scheduled: int) -> int:
        stats = self.stats[command]
        sent = time.perf_counter_ns()
        if sent - scheduled > 1_000_000:
            self.scheduler.late_sends += 1
        stats.sent += 1
        try:
            if self.conn is None:
                self.conn = self._reconnect()
            _execute(self.conn, command, self.target, stats)
        except ProbeTimeout:
            # Recorded as a sample (≥ the timeout), never dropped; the connection is spent.
            stats.timeouts += 1
            self._drop()
        except RespError as exc:
            stats.error(scrub(exc))
        except (OSError, ConnectionError, ReplyRefused, DeadlineExceeded) as exc:
            stats.error(f"{type(exc).__name__}: {scrub(exc)}")
            if self.failure is None:
                self.failure = f"{type(exc).__name__}: {scrub(exc)}"
            self._drop()
            done = time.perf_counter_ns()
            return done  # a failed connect is not a latency sample
        done = time.perf_counter_ns()
        stats.response.record(done - scheduled)
        stats.service.record(done - sent)
        return done

    def _reconnect(self) -> ProbeConnection:
        conn, timing = self.target.connect()
        self.setup.record(timing)
        return conn

    def _drop(self) -> None:
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def _setup_series(target: _Target, samples: int, start_ns: int, setup: SetupStats, lock: threading.Lock,
                  stop: threading.Event) -> None:
    """Open, time and close `samples` connections spread evenly over the window (never a burst)."""
    spacing_ns = target.config.duration_ms * 1_000_000 // max(1, samples)
    for i in range(samples):
        wait_s = (start_ns + i * spacing_ns + spacing_ns // 2 - time.perf_counter_ns()) / 1e9
        if stop.wait(max(0.0, wait_s)):
            return
        try:
            conn, timing = target.connect(READ_ONLY)
            conn.close()
            with lock:
                setup.record(timing)
        except Exception as exc:  # a failed setup is a measurement too
            with lock:
                setup.fail(exc)


def run_latency_probe(address: Address, *, tls: TlsOptions, credentials: Credentials, config: ProbeConfig,
                      origin: str | None = None, now: Callable[[], str] | None = None,
                      deadline: Deadline | None = None) -> ProbeResult:
    """Probe one node. Raises when the first connections cannot be made or set up (OSError,
    ConnectionError, ReplyRefused, ProbeTimeout, RespError), and DeadlineExceeded when the deadline
    cut the probe short."""
    config.validate()
    started_at = (now or _utc_now)()
    setup = SetupStats()
    control, timing = ProbeConnection.open(
        address, tls=tls, credentials=credentials, policy=READ_ONLY,
        connect_timeout_s=config.connect_timeout_ms / 1000, read_timeout_s=config.read_timeout_ms / 1000,
        client_name=CLIENT_NAME, deadline=deadline,
    )
    setup.record(timing)
    try:
        uses_key = any(c != "ping" for c in config.commands)
        key = probe_key(config.key_prefix, origin or socket.gethostname(), own_slots(control)) if uses_key else ""
        target = _Target(address, tls, credentials, config, key, deadline=deadline)
        before = _safe_server_view(control)
        workers: list[_Worker] = []
        skipped: dict[str, str] = {}
        noscript: dict[str, int] = {}
        try:
            for index in range(config.connections):
                conn, timing = target.connect()
                setup.record(timing)
                if index == 0:
                    target.prepare(conn)
                    skipped, noscript = _preflight(conn, target)
                workers.append(_Worker(index, conn, target, [], 0, setup))
            commands = [c for c in config.commands if c not in skipped]
            result_commands, scheduler, elapsed = _sample(workers, target, commands, setup)
            for name, count in noscript.items():
                result_commands[name].noscript += count
            failure = next((w.failure for w in workers if w.failure), None)
        finally:
            for worker in workers:
                worker._drop()
        after = _safe_server_view(control)
        server: JsonObject
        if isinstance(before, str) or isinstance(after, str):
            server = {"error": before if isinstance(before, str) else str(after)}
        else:
            server = server_delta(before, after, list(config.commands))
    finally:
        control.close()
    if deadline is not None and deadline.expired():
        raise DeadlineExceeded(deadline.message(f"the latency probe of {address}"))
    return ProbeResult(address, tls.enabled, config, started_at, elapsed, result_commands, skipped, setup,
                       scheduler, server, key or None, failure)


def _sample(workers: list[_Worker], target: _Target, commands: list[str],
            setup: SetupStats) -> tuple[dict[str, CommandStats], SchedulerStats, int]:
    config = target.config
    out = {c: CommandStats() for c in config.commands}
    scheduler = SchedulerStats()
    if not commands:
        return out, scheduler, 0
    lock, stop = threading.Lock(), threading.Event()
    gc_was_enabled = gc.isenabled()
    gc.disable()  # a collection pause would be charged to whichever request it lands on
    start = time.perf_counter_ns() + 5_000_000
    for worker in workers:
        worker.commands, worker.start_ns = commands, start
        worker.stats = {c: CommandStats() for c in commands}
    setup_thread = threading.Thread(
        target=_setup_series, args=(target, config.setup_samples, start, setup, lock, stop), daemon=True
    )
    threads = [threading.Thread(target=w.run, name=f"latency-probe-{w.index}", daemon=True) for w in workers]
    try:
        setup_thread.start()
        for thread in threads:
            thread.start()
        limit_s = (config.duration_ms + 2 * config.read_timeout_ms) / 1000 + 1
        if target.deadline is not None:
            limit_s = min(limit_s, max(0.0, target.deadline.remaining()) + (time.perf_counter_ns() - start) / 1e9)
        for thread in threads:
            thread.join(timeout=max(0.0, limit_s - (time.perf_counter_ns() - start) / 1e9))
        stop.set()
        setup_thread.join(timeout=min(config.connect_timeout_ms / 1000 + 1, _left(target.deadline)))
    finally:
        stop.set()
        if gc_was_enabled:
            gc.enable()
    elapsed = time.perf_counter_ns() - start
    for worker in workers:
        for name, stats in worker.stats.items():
            out[name].merge(stats)
        scheduler.merge(worker.scheduler)
    return out, scheduler, elapsed


def _preflight(conn: ProbeConnection, target: _Target) -> tuple[dict[str, str], dict[str, int]]:
    """Run each command once (warm-up, script load): the commands the server refuses outright, and
    the NOSCRIPT fallbacks this took (an EVALSHA after a failover or restart meets an empty cache)."""
    skipped: dict[str, str] = {}
    noscript: dict[str, int] = {}
    for command in target.config.commands:
        stats = CommandStats()
        try:
            _execute(conn, command, target, stats)
        except RespError as exc:
            message = scrub(exc)
            if message.startswith(("NOPERM", "ERR unknown command", "MOVED", "CROSSSLOT", "READONLY")):
                skipped[command] = message
        noscript[command] = stats.noscript
    return skipped, noscript


def _safe_server_view(conn: ProbeConnection) -> dict[str, dict[str, str]] | str:
    try:
        return server_view(conn)
    except (RespError, ProbeTimeout, DeadlineExceeded, OSError, ConnectionError, ReplyRefused) as exc:
        return f"{type(exc).__name__}: {scrub(exc)}"


def _left(deadline: Deadline | None) -> float:
    return float("inf") if deadline is None else max(0.0, deadline.remaining())


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


__all__ = [
    "ALL_COMMANDS", "KEY_PREFIX", "LIMITER_SCRIPT", "ProbeConfig", "ProbeConfigError", "ProbeResult",
    "run_latency_probe", "summary",
]

