"""One node's census: SCAN slices (exact) or random SCAN slices (sampled), pipelined per-key facts.

Gentle by construction: SCAN COUNT is sized so that one slice costs the server at most the
slice budget (SCAN costs ~1.8 µs per returned key on Redis 7), the per-key commands are all
O(1) on compact values (MEMORY USAGE ... SAMPLES 5 is exact for listpack/intset/strings; bigger
values are re-measured with SAMPLES bounded by their element count), and an ops/s cap paces
the whole. No KEYS, no Lua, no DEBUG. A dropped connection is retried from the last cursor.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import exceptions as rexc

from redis_audit.keyspace.overhead import Overhead
from redis_audit.keyspace.patterns import Grouper
from redis_audit.keyspace.stats import Aggregator
from redis_audit.keyspace.wire import Link, as_int

# Element count per type, for keys big enough to need an exact measure (MEM-009 thresholds too).
LENGTH_COMMAND = {"string": b"STRLEN", "hash": b"HLEN", "set": b"SCARD", "zset": b"ZCARD", "list": b"LLEN",
                  "stream": b"XLEN"}
RETRYABLE = (rexc.ConnectionError, rexc.TimeoutError)
TYPE_NAMES = {b"+" + t.encode(): t for t in ("string", "hash", "set", "zset", "list", "stream", "none")}


@dataclass
class _Measured:
    keys: list[bytes]
    types: list[str]
    pttls: list[int]
    sizes: list[int]
    elements: dict[int, int]  # index -> element count, for values re-measured as big


@dataclass(frozen=True)
class ScanSettings:
    mode: str = "exact"  # or "sampled"
    budget: int = 200_000  # sampled: commands to spend on this node
    slice_budget_us: int = 5000  # the longest one SCAN may block the server
    scan_cost_ns: int = 1800  # per returned key (Redis 7)
    max_ops_per_s: int = 0  # 0: no cap beyond the slice budget
    big_key_bytes: int = 2048  # re-measure values this large exactly (bounded SAMPLES)
    max_samples: int = 20_000  # SAMPLES cap for one huge value (~1-2 ms)
    sample_slice: int = 10  # sampled: keys per random SCAN slice (one sampling unit)
    slices_per_round: int = 200
    target_ci_bp: int = 300  # sampled: stop once every group above min_share_bp is this precise
    min_share_bp: int = 100
    deadline: float = 0.0  # monotonic time after which no new slice starts; 0: none
    seed: int | None = None
    retries: int = 5

    def scan_count(self) -> int:
        """SCAN COUNT whose slice stays within half the budget (replies vary around COUNT)."""
        return max(10, self.slice_budget_us * 1000 // self.scan_cost_ns // 2)


@dataclass
class BigKey:
    group: str
    key: str
    type: str
    bytes: int
    elements: int


@dataclass
class NodeState:
    """What a node's census has done so far: enough to resume after a dropped connection."""

    cursor: int = 0
    done: bool = False
    slices: int = 0
    retries: int = 0
    error: str | None = None
    big_keys: list[BigKey] = field(default_factory=list)
    big_key_count: int = 0


class NodeScanner:
    def __init__(self, link: Link, grouper: Grouper, aggregator: Aggregator, overhead: Overhead,
                 settings: ScanSettings, population: int, progress: Callable[[int], None] | None = None) -> None:
        self.link = link
        self.grouper = grouper
        self.agg = aggregator
        self.overhead = overhead
        self.settings = settings
        self.population = population
        self.state = NodeState()
        self.progress = progress or (lambda n: None)
        self._started = time.monotonic()

    # -- the loops -------------------------------------------------------------------------------
    def run(self) -> NodeState:
        step = self._exact_run if self.settings.mode == "exact" else self._sampled_round
        while not self.state.done:
            if self._out_of_time():
                self.state.error = "time budget exhausted"
                break
            try:
                step()
                self.state.retries = 0
            except RETRYABLE as exc:
                self.link.reset()  # replay from state.cursor: nothing after it was folded in
                self.state.retries += 1
                if self.state.retries > self.settings.retries:
                    self.state.error = f"{type(exc).__name__}: {exc}"
                    break
                time.sleep(min(0.05 * 2**self.state.retries, 2.0))
        return self.state

    def _out_of_time(self) -> bool:
        return bool(self.settings.deadline) and time.monotonic() >= self.settings.deadline

    def _exact_run(self) -> None:
        """SCAN from state.cursor to the end; the server measures slice i while the client folds i-1.

        One batch is in flight at a time. state.cursor only moves once a slice is folded in, so
        a dropped connection replays at most the slices in flight.
        """
        link = self.link
        count, (cursor, keys) = self._calibrate()
        pending: tuple[int, _Measured] | None = None
        while True:
            if keys:
                self._send_measure(keys)
            if cursor:
                link.send(link.pack(b"SCAN", cursor, b"COUNT", count), 1)
            if pending is not None:
                self._fold(pending[1], None)
                self.state.cursor = pending[0]
            pending = (cursor, self._read_measure(keys)) if keys else None
            if pending is None:
                self.state.cursor = cursor
            self.state.slices += 1
            if cursor == 0:
                break
            cursor, keys = link.read_scan()
            self._pace()
            if self._out_of_time():
                break
        if pending is not None:
            self._fold(pending[1], None)
            self.state.cursor = pending[0]
        self.state.done = self.state.cursor == 0

    def _scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        self.link.send(self.link.pack(b"SCAN", cursor, b"COUNT", count), 1)
        return self.link.read_scan()

    def _calibrate(self) -> tuple[int, tuple[int, list[bytes]]]:
        """The first slice, timed alone: SCAN COUNT for this server, keeping slices under half the budget."""
        bound = self.settings.scan_count()
        started = time.perf_counter()
        reply = self._scan(self.state.cursor, 200)
        elapsed_ns = (time.perf_counter() - started) * 1e9
        if len(reply[1]) < 50:
            return bound, reply
        per_key = max(elapsed_ns / len(reply[1]), 1.0)
        return int(max(50, min(bound, self.settings.slice_budget_us * 1000 / 2 / per_key))), reply

    def _sampled_round(self) -> None:
        settings = self.settings
        rng = self._rng()
        link = self.link
        count = settings.sample_slice
        # Each slice costs a SCAN and ~3 commands per key: never start more than the budget has left.
        slices = min(settings.slices_per_round, (settings.budget - link.commands_sent) // (1 + 3 * count))
        if slices <= 0 or self.population == 0:
            self.state.done = True
            return
        scans = b"".join(link.pack(b"SCAN", rng.getrandbits(48), b"COUNT", count) for _ in range(slices))
        link.send(scans, slices)
        units = [link.read_scan()[1] for _ in range(slices)]
        self._measure([k for unit in units for k in unit], [len(u) for u in units])
        self.state.slices += len(units)
        self._pace()
        if self._precise_enough():
            self.state.done = True

    # -- per-key facts ---------------------------------------------------------------------------
    def _measure(self, keys: list[bytes], units: list[int] | None) -> None:
        if keys:
            self._send_measure(keys)
            self._fold(self._read_measure(keys), units)
        elif units is not None:
            for _ in units:
                self.agg.add_unit(0, {})

    def _send_measure(self, keys: list[bytes]) -> None:
        link = self.link
        payload = (link.pack_per_key((b"TYPE",), keys) + link.pack_per_key((b"PTTL",), keys)
                   + link.pack_per_key((b"MEMORY", b"USAGE"), keys, (b"SAMPLES", b"5")))
        link.send(payload, 3 * len(keys))

    def _read_measure(self, keys: list[bytes]) -> _Measured:
        n = len(keys)
        lines = self.link.read_lines(3 * n)
        names = TYPE_NAMES
        types = [names.get(line) or line[1:].decode("ascii", "replace") for line in lines[:n]]
        pttls = [int(line[1:]) if line[:1] == b":" else -2 for line in lines[n : 2 * n]]
        sizes = [int(line[1:]) if line[:1] == b":" and kind != "none" else -1
                 for kind, line in zip(types, lines[2 * n :], strict=True)]
        big = [i for i, size in enumerate(sizes) if size >= self.settings.big_key_bytes]
        elements = self._remeasure(keys, types, sizes, big) if big else {}
        return _Measured(keys, types, pttls, sizes, elements)

    def _fold(self, m: _Measured, units: list[int] | None) -> None:
        names = [self.grouper.group(k) for k in m.keys]
        oh = self.overhead
        if units is None:
            self.agg.add(names, m.keys, m.types, m.pttls, m.sizes, oh.main_share, oh.expires_share)
        else:
            start = 0
            for size in units:
                end = start + size
                self.agg.add(names[start:end], m.keys[start:end], m.types[start:end], m.pttls[start:end],
                             m.sizes[start:end], oh.main_share, oh.expires_share, unit=True)
                start = end
        for i, count in m.elements.items():
            self._record_big(names[i], m.keys[i], m.types[i], m.sizes[i], count)
        self.progress(len(m.keys))

    def _remeasure(self, keys: list[bytes], types: list[str], sizes: list[int], big: list[int]) -> dict[int, int]:
        """Element counts of big values, and their size with SAMPLES bounded by that count."""
        link = self.link
        wanted = [i for i in big if types[i] in LENGTH_COMMAND]
        if not wanted:
            return dict.fromkeys(big, -1)
        payload = b"".join(link.pack(LENGTH_COMMAND[types[i]], keys[i]) for i in wanted)
        link.send(payload, len(wanted))
        counts = {i: as_int(line) for i, line in zip(wanted, link.read_lines(len(wanted)), strict=True)}
        again = [i for i in wanted if types[i] != "string" and counts[i] is not None]
        if again:
            payload = b"".join(
                link.pack(b"MEMORY", b"USAGE", keys[i], b"SAMPLES", min(counts[i] or 0, self.settings.max_samples))
                for i in again)
            link.send(payload, len(again))
            for i, line in zip(again, link.read_lines(len(again)), strict=True):
                size = as_int(line)
                if size is not None:
                    sizes[i] = size
        found = {i: -1 if c is None else c for i, c in counts.items()}
        return {i: found.get(i, -1) for i in big}

    def _record_big(self, name: str, key: bytes, kind: str, size: int, elements: int) -> None:
        g = self.agg.group(name)
        g.offer_largest(size, key, kind, elements)
        self.state.big_key_count += 1
        if len(self.state.big_keys) < 50:
            self.state.big_keys.append(BigKey(name, key.decode("utf-8", "backslashreplace"), kind, size, elements))

    # -- pacing and stopping ---------------------------------------------------------------------
    def _pace(self) -> None:
        cap = self.settings.max_ops_per_s
        if cap <= 0:
            return
        ahead = self.link.commands_sent / cap - (time.monotonic() - self._started)
        if ahead > 0:
            time.sleep(ahead)

    def _precise_enough(self) -> bool:
        agg = self.agg
        if agg.units.m < 3 * self.settings.slices_per_round or agg.keys == 0:
            return False
        for g in agg.groups.values():
            if g.keys * 10_000 < self.settings.min_share_bp * agg.keys:
                continue
            total, half = g.u_bytes.estimate(self.population, agg.units)
            if total <= 0 or half * 10_000 > self.settings.target_ci_bp * total:
                return False
        return True

    def _rng(self) -> random.Random:
        if not hasattr(self, "_random"):
            self._random = random.Random(self.settings.seed)
        return self._random
