"""One node's census: SCAN slices (exact) or random SCAN slices (sampled), pipelined per-key facts.

Gentle by construction: SCAN COUNT is sized so that one slice costs the server at most the
slice budget (SCAN costs ~1.8 µs per returned key on Redis 7), the per-key commands are all
O(1) on compact values (MEMORY USAGE ... SAMPLES 5 is exact for listpack/intset/strings; bigger
values are re-measured with SAMPLES bounded by their element count), and an ops/s cap paces
the whole. No KEYS, no Lua, no DEBUG. A dropped connection is retried from the last cursor.
"""

from __future__ import annotations

import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from redis import exceptions as rexc

from redis_audit.keyspace.overhead import Overhead
from redis_audit.keyspace.patterns import Grouper
from redis_audit.keyspace.stats import Aggregator, _type_name
from redis_audit.keyspace.wire import Link, as_int

# Element count per type, for keys big enough to need an exact measure (MEM-009 thresholds too).
LENGTH_COMMAND = {b"string": b"STRLEN", b"hash": b"HLEN", b"set": b"SCARD", b"zset": b"ZCARD", b"list": b"LLEN",
                  b"stream": b"XLEN"}
RETRYABLE = (rexc.ConnectionError, rexc.TimeoutError)
# The three facts per key, interleaved key by key (the key's entry is still in the server's cache for the
# second and third). MEMORY USAGE without SAMPLES samples 5 elements: exact for listpack/intset/strings.
PER_KEY = (((b"TYPE",), ()), ((b"PTTL",), ()), ((b"MEMORY", b"USAGE"), ()))
REPLIES_PER_KEY = len(PER_KEY)
# Types by sampling (ScanSettings.types == "sampled"): PTTL and MEMORY USAGE for every key, TYPE for every
# type_sample_every-th key in SCAN order (hash order, unrelated to the names: a uniform sample).
PER_KEY_UNTYPED = (((b"PTTL",), ()), ((b"MEMORY", b"USAGE"), ()))
TYPE_ONLY = (((b"TYPE",), ()),)
UNKNOWN_TYPE = b""  # a key whose TYPE was not asked (types by sampling)
TYPE_MODES = ("per-key", "sampled")


@dataclass
class _Measured:
    keys: list[bytes]
    types: list[bytes]
    pttls: list[int]
    sizes: list[int]
    elements: dict[int, int]  # index -> element count, for values re-measured as big
    typed: list[int] | None = None  # types by sampling: the indices whose TYPE belongs to the uniform sample


@dataclass(frozen=True)
class ScanSettings:
    mode: str = "exact"  # or "sampled"
    budget: int = 200_000  # sampled: commands to spend on this node
    slice_budget_us: int = 5000  # the longest one SCAN may block the server
    scan_cost_ns: int = 1800  # per returned key (Redis 7)
    max_ops_per_s: int = 0  # 0: no cap beyond the slice budget
    big_key_bytes: int = 2048  # re-measure values this large exactly (bounded SAMPLES)
    max_samples: int = 20_000  # SAMPLES cap for one huge value (~1-2 ms)
    sample_slice: int = 10  # sampled: SCAN COUNT of one random-cursor slice (one sampling unit)
    slices_per_batch: int = 25  # sampled: random slices sent together (the pipeline depth of one batch)
    batches_in_flight: int = 3  # sampled: batches on the wire at once (SCANs and measurements)
    min_units: int = 600  # sampled: slices folded before the stop rule is looked at
    target_ci_bp: int = 300  # sampled: stop once every judged group's bytes are this precise (95%)
    # Sampled: the groups the stop rule judges are those whose name starts with one of these (the
    # limiter groups); when no such group was seen, every group holding at least min_share_bp of the keys.
    precise_prefixes: tuple[str, ...] = ()
    min_share_bp: int = 100
    deadline: float = 0.0  # monotonic time after which no new slice starts; 0: none
    seed: int | None = None
    retries: int = 5
    types: str = "per-key"  # or "sampled": TYPE only for every type_sample_every-th key (labelled in the output)
    type_sample_every: int = 16

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
        self.typed = settings.types != "sampled"
        self.replies_per_key = REPLIES_PER_KEY if self.typed else len(PER_KEY_UNTYPED)
        self._positions = 0  # keys requested so far, in SCAN order (types by sampling: the stride's phase)
        aggregator.types_sampled = not self.typed

    # -- the loops -------------------------------------------------------------------------------
    def run(self) -> NodeState:
        step = self._exact_run if self.settings.mode == "exact" else self._sampled_run
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
        if not self.typed:
            self._resolve_largest_types()
        return self.state

    def _out_of_time(self) -> bool:
        return bool(self.settings.deadline) and time.monotonic() >= self.settings.deadline

    def _exact_run(self) -> None:
        """SCAN from state.cursor to the end, with two slices' measurements on the wire at once.

        The wire holds, in order: the measurements of slice i, the SCAN for slice i+2 and the
        measurements of slice i+1. While the client reads and folds slice i, the server already
        works on the next two requests, so neither side waits for the other. Each request is
        one SCAN slice (under half the slice budget) or O(1) per-key commands, which the server
        interleaves with other clients' commands as it reads them. state.cursor only moves once a
        slice is folded in, so a dropped connection replays at most the slices in flight.
        """
        link = self.link
        count, (cursor, keys) = self._calibrate()
        # None: a SCAN reply; else (cursor after, keys, the indices whose TYPE is sampled)
        wire: deque[tuple[int, list[bytes], list[int] | None] | None] = deque()

        def issue(cursor: int, keys: list[bytes]) -> None:
            payload, commands = b"", 0
            if cursor:
                payload, commands = link.pack(b"SCAN", cursor, b"COUNT", count), 1
                wire.append(None)
            typed: list[int] | None = None
            if keys:
                measure, more, typed = self._request(keys)
                payload += measure
                commands += more
            wire.append((cursor, keys, typed))
            if payload:
                link.send(payload, commands)

        issue(cursor, keys)
        finished = False
        while wire:
            item = wire.popleft()
            if item is None:
                cursor, keys = link.read_scan()
                self._pace()
                if not self._out_of_time():
                    issue(cursor, keys)
                continue
            after, keys, typed = item
            if keys:
                self._fold(self._read_measure(keys, typed), None)
            self.state.cursor = after
            self.state.slices += 1
            finished = after == 0
        self.state.done = finished

    def _scan(self, cursor: int, count: int) -> tuple[int, list[bytes]]:
        self.link.send(self.link.pack(b"SCAN", cursor, b"COUNT", count), 1)
        return self.link.read_scan()

    def _calibrate(self) -> tuple[int, tuple[int, list[bytes]]]:
        """The first slices, timed: SCAN COUNT for this server, keeping slices under half the budget.

        The server's own time for them comes from INFO commandstats (SCAN's usec before and after):
        timed from here, a round trip or a scheduling delay on a busy host would look like server
        work and shrink the slices (and many small slices cost a round trip each). Without INFO,
        the fastest of the three timings from here counts. Their keys are all measured.
        """
        bound = self.settings.scan_count()
        cursor, keys = self.state.cursor, []
        before = self._scan_usec()
        best = 0.0
        for _ in range(3):
            started = time.perf_counter()
            cursor, some = self._scan(cursor, 200)
            elapsed_ns = (time.perf_counter() - started) * 1e9
            keys += some
            if len(some) >= 50:
                best = elapsed_ns / len(some) if not best else min(best, elapsed_ns / len(some))
            if not cursor:
                break
        after = self._scan_usec()
        if before is not None and after is not None and len(keys) >= 100:
            best = max((after - before) * 1000 / len(keys), 1.0)
        if not best:
            return bound, (cursor, keys)
        return int(max(50, min(bound, self.settings.slice_budget_us * 1000 / 2 / best))), (cursor, keys)

    def _scan_usec(self) -> int | None:
        """SCAN's total server time so far (INFO commandstats), or None when it cannot be read."""
        self.link.send(self.link.pack(b"INFO", b"commandstats"), 1)
        reply = self.link.read(1)[0]
        if not isinstance(reply, bytes):
            return None
        found = re.search(rb"^cmdstat_scan:calls=\d+,usec=(\d+)", reply, re.MULTILINE)
        return int(found.group(1)) if found else 0

    def _sampled_run(self) -> None:
        """Random-cursor SCAN slices, pipelined: no batch waits for another's replies.

        The wire holds up to ``batches_in_flight`` batches. A batch is ``slices_per_batch`` SCANs
        of COUNT ``sample_slice`` at random cursors; as soon as its SCAN replies are read, the
        measurements of its keys go out together with the next batch's SCANs, so the server always
        has the next request while the client folds. Each slice is one sampling unit, folded only
        once measured. No new batch starts once the budget would be overrun, the judged groups'
        intervals are within ``target_ci_bp``, or the deadline passed; what is on the wire is
        still read and folded. A dropped connection loses only the batches in flight.
        """
        settings = self.settings
        link = self.link
        if self.population == 0:
            self.state.done = True
            return
        rng = self._rng()
        count = settings.sample_slice
        per_key = self.replies_per_key
        per_slice = 1 + per_key * count + (0 if self.typed else count // settings.type_sample_every + 1)
        # (SCANs, or 0 for measurements; keys; units; the indices whose TYPE is sampled)
        wire: deque[tuple[int, list[bytes], list[int], list[int] | None]] = deque()
        planned = [link.commands_sent]  # commands sent, plus the measurements the SCANs on the wire will cause
        stop = [False]
        timed_out = [False]

        def send_scans(extra: bytes = b"", extra_commands: int = 0) -> None:
            slices = 0
            timed_out[0] = timed_out[0] or (not stop[0] and self._out_of_time())
            if not stop[0] and not timed_out[0]:
                slices = min(settings.slices_per_batch, (settings.budget - planned[0]) // per_slice)
            scans = b"".join(link.pack(b"SCAN", rng.getrandbits(48), b"COUNT", count) for _ in range(slices))
            if slices:
                wire.append((slices, [], [], None))
                planned[0] += slices * per_slice
            if extra or scans:
                link.send(extra + scans, extra_commands + slices)

        for _ in range(settings.batches_in_flight):
            send_scans()
        while wire:
            slices, keys, units, typed = wire.popleft()
            if slices:
                replies = [link.read_scan()[1] for _ in range(slices)]
                keys = [k for unit in replies for k in unit]
                units = [len(unit) for unit in replies]
                measure, commands, typed = self._request(keys) if keys else (b"", 0, None)
                planned[0] -= slices * per_slice - slices - commands
                wire.append((0, keys, units, typed))
                send_scans(measure, commands)
                continue
            if keys:
                self._fold(self._read_measure(keys, typed), units)
            else:
                for _ in units:
                    self.agg.add_unit(0, {})
            self.state.slices += len(units)
            self._pace()
            if not stop[0] and self._precise_enough():
                stop[0] = True
        if timed_out[0] and not stop[0]:
            self.state.error = "time budget exhausted"
        self.state.done = True

    # -- per-key facts ---------------------------------------------------------------------------
    def _measure(self, keys: list[bytes], units: list[int] | None) -> None:
        if keys:
            self._send_measure(keys)
            self._fold(self._read_measure(keys), units)
        elif units is not None:
            for _ in units:
                self.agg.add_unit(0, {})

    def _send_measure(self, keys: list[bytes]) -> list[int] | None:
        payload, commands, typed = self._request(keys)
        self.link.send(payload, commands)
        return typed

    def _request(self, keys: list[bytes]) -> tuple[bytes, int, list[int] | None]:
        """The per-key commands for keys: payload, command count, and (types by sampling) the indices
        whose TYPE is asked: every type_sample_every-th key in SCAN order, the stride running on across
        batches."""
        link = self.link
        if self.typed:
            return _fill(link.per_key_template(*PER_KEY), keys), REPLIES_PER_KEY * len(keys), None
        every = self.settings.type_sample_every
        typed = list(range((-self._positions) % every, len(keys), every))
        self._positions += len(keys)
        payload = (_fill(link.per_key_template(*PER_KEY_UNTYPED), keys)
                   + _fill(link.per_key_template(*TYPE_ONLY), [keys[i] for i in typed]))
        return payload, len(PER_KEY_UNTYPED) * len(keys) + len(typed), typed

    def _read_measure(self, keys: list[bytes], typed: list[int] | None = None) -> _Measured:
        n = len(keys)
        if typed is None:
            replies = self.link.read(REPLIES_PER_KEY * n)
            types, pttls, sizes = replies[0::3], replies[1::3], replies[2::3]
        else:
            replies = self.link.read(len(PER_KEY_UNTYPED) * n + len(typed))
            pttls, sizes = replies[0:2 * n:2], replies[1:2 * n:2]
            types = [UNKNOWN_TYPE] * n
            for i, kind in zip(typed, replies[2 * n:], strict=True):
                types[i] = kind
        limit = self.settings.big_key_bytes
        try:
            big = [i for i, size in enumerate(sizes) if size >= limit]
        except TypeError:  # a nil (vanished key) or an error reply among them
            big = [i for i, size in enumerate(sizes) if type(size) is int and size >= limit]
        if big and typed is not None:
            self._fill_types(keys, types, big)
        elements = self._remeasure(keys, types, sizes, big) if big else {}
        return _Measured(keys, types, pttls, sizes, elements, typed)

    def _fill_types(self, keys: list[bytes], types: list[bytes], wanted: list[int]) -> None:
        """TYPE for the keys among wanted whose type was not asked (big values need it; not in the sample)."""
        missing = [i for i in wanted if types[i] == UNKNOWN_TYPE]
        if missing:
            template = self.link.per_key_template(*TYPE_ONLY)
            self.link.send(_fill(template, [keys[i] for i in missing]), len(missing))
            for i, kind in zip(missing, self.link.read(len(missing)), strict=True):
                types[i] = kind if type(kind) is bytes else UNKNOWN_TYPE

    def _resolve_largest_types(self) -> None:
        """Types by sampling: ask TYPE for the few largest keys per group whose type is not known yet."""
        entries = [(g, e) for g in self.agg.groups.values() for e in g.largest if e[2] == ""]
        names = [e[1].encode() for _, e in entries if "\\" not in e[1]]
        if not names:
            return
        try:
            self.link.send(_fill(self.link.per_key_template(*TYPE_ONLY), names), len(names))
            kinds = dict(zip(names, self.link.read(len(names)), strict=True))
        except RETRYABLE:
            self.link.reset()
            kinds = {}
        for g, entry in entries:
            kind = kinds.get(entry[1].encode()) if "\\" not in entry[1] else None
            label = _type_name(kind) if type(kind) is bytes and kind != b"none" else "unknown"
            g.largest[g.largest.index(entry)] = (entry[0], entry[1], label, entry[3])

    def _fold(self, m: _Measured, units: list[int] | None) -> None:
        names = self.grouper.group_many(m.keys)
        oh = self.overhead
        if units is None:
            self.agg.add(names, m.keys, m.types, m.pttls, m.sizes, oh.main_share, oh.expires_share,
                         type_sample=m.typed)
        else:
            self.agg.add_units(names, m.keys, m.types, m.pttls, m.sizes, oh.main_share, oh.expires_share, units,
                               type_sample=m.typed)
        for i, count in m.elements.items():
            self._record_big(names[i], m.keys[i], m.types[i], m.sizes[i], count)
        self.progress(len(m.keys))

    def _remeasure(self, keys: list[bytes], types: list[bytes], sizes: list[int], big: list[int]) -> dict[int, int]:
        """Element counts of big values, and their size with SAMPLES bounded by that count."""
        link = self.link
        wanted = [i for i in big if types[i] in LENGTH_COMMAND]
        if not wanted:
            return dict.fromkeys(big, -1)
        payload = b"".join(link.pack(LENGTH_COMMAND[types[i]], keys[i]) for i in wanted)
        link.send(payload, len(wanted))
        counts = {i: as_int(reply) for i, reply in zip(wanted, link.read(len(wanted)), strict=True)}
        again = [i for i in wanted if types[i] != b"string" and counts[i] is not None]
        if again:
            payload = b"".join(
                link.pack(b"MEMORY", b"USAGE", keys[i], b"SAMPLES", min(counts[i] or 0, self.settings.max_samples))
                for i in again)
            link.send(payload, len(again))
            for i, reply in zip(again, link.read(len(again)), strict=True):
                size = as_int(reply)
                if size is not None:
                    sizes[i] = size
        found = {i: -1 if c is None else c for i, c in counts.items()}
        return {i: found.get(i, -1) for i in big}

    def _record_big(self, name: str, key: bytes, kind: bytes, size: int, elements: int) -> None:
        g = self.agg.group(name)
        label = _type_name(kind)
        g.offer_largest(size, key, label, elements)
        self.state.big_key_count += 1
        if len(self.state.big_keys) < 50:
            self.state.big_keys.append(BigKey(name, key.decode("utf-8", "backslashreplace"), label, size, elements))

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
        if agg.units.m < self.settings.min_units or agg.keys == 0:
            return False
        judged = [g for g in agg.groups.values() if g.name.startswith(self.settings.precise_prefixes)]
        if not judged:
            judged = [g for g in agg.groups.values() if g.keys * 10_000 >= self.settings.min_share_bp * agg.keys]
        for g in judged:
            total, half = g.u_bytes.estimate(self.population, agg.units)
            if total <= 0 or half * 10_000 > self.settings.target_ci_bp * total:
                return False
        return True

    def _rng(self) -> random.Random:
        if not hasattr(self, "_random"):
            self._random = random.Random(self.settings.seed)
        return self._random


def _fill(template: bytes, keys: list[bytes]) -> bytes:
    """The per-key template filled for every key: one bulk string per key, used once per command."""
    bulks = [b"$%d\r\n%b\r\n" % (len(key), key) for key in keys]
    uses = template.count(b"%b")
    if uses == 3:
        return b"".join([template % (bulk, bulk, bulk) for bulk in bulks])
    if uses == 2:
        return b"".join([template % (bulk, bulk) for bulk in bulks])
    return b"".join([template % (bulk,) for bulk in bulks])
