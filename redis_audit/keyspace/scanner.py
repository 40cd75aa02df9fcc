"""One node's census: SCAN slices (exact) or random SCAN slices (sampled), pipelined per-key facts.

Gentle by construction. Everything is sent as requests sized to cost the server about the slice
budget each: a SCAN slice (COUNT from the server's own SCAN time), a chunk of O(1) per-key
commands, a re-measure of big values (MEMORY USAGE SAMPLES bounded by their element count, a
request's samples capped). At most ``window`` requests are unanswered at once, so the server
never holds more than window x slice budget of census work when another client's command
arrives; an ops/s cap paces the whole. No KEYS, no Lua, no DEBUG. A dropped connection is
retried from the last cursor: a slice (or a sampled batch) is folded in whole, or not at all.
"""

from __future__ import annotations

import random
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from redis import exceptions as rexc

from redis_audit.deadline import DeadlineExceeded
from redis_audit.guard import joined
from redis_audit.keyspace.batch import TYPE_ONLY, Batch, blank
from redis_audit.keyspace.bigvalues import BigValues
from redis_audit.keyspace.overhead import SHARED_REFCOUNT, SHARED_VALUE, Overhead
from redis_audit.keyspace.patterns import Grouper
from redis_audit.keyspace.pipeline import Pipeline, Request
from redis_audit.keyspace.stats import Aggregator, _type_name
from redis_audit.keyspace.wire import Link, parse_scan
from redis_audit.replies import ReplyRefused

RETRYABLE = (rexc.ConnectionError, rexc.TimeoutError)
# The three facts per key, interleaved key by key (the key's entry is still in the server's cache for the
# second and third). MEMORY USAGE without SAMPLES samples 5 elements: exact for listpack/intset/strings.
PER_KEY = (((b"TYPE",), ()), ((b"PTTL",), ()), ((b"MEMORY", b"USAGE"), ()))
REPLIES_PER_KEY = len(PER_KEY)
# Types by sampling (ScanSettings.types == "sampled"): PTTL and MEMORY USAGE for every key, TYPE for every
# type_sample_every-th key in SCAN order (hash order, unrelated to the names: a uniform sample).
PER_KEY_UNTYPED = (((b"PTTL",), ()), ((b"MEMORY", b"USAGE"), ()))
# On servers that share small integers: OBJECT REFCOUNT for every refcount_every-th key, a uniform sample
# of which keys point to a shared value (MEMORY USAGE counts its robj all the same).
REFCOUNT_ONLY = (((b"OBJECT", b"REFCOUNT"), ()),)


@dataclass(frozen=True)
class ScanSettings:
    mode: str = "exact"  # or "sampled"
    budget: int = 200_000  # sampled: commands to spend on this node
    slice_budget_us: int = 1000  # the server time one request may take (a SCAN slice, a chunk of per-key commands)
    window: int = 2  # requests unanswered at once: another client waits behind at most window x slice_budget_us
    scan_cost_ns: int = 1800  # per returned key (Redis 7)
    command_cost_ns: int = 1000  # one O(1) per-key command (TYPE, PTTL, MEMORY USAGE), parse to reply (Redis 7)
    max_ops_per_s: int = 0  # 0: no cap beyond the slice budget
    big_key_bytes: int = 2048  # re-measure values this large exactly (bounded SAMPLES)
    max_samples: int = 20_000  # SAMPLES of one re-measure request in all (~1-2 ms)
    sample_slice: int = 10  # sampled: SCAN COUNT of one random-cursor slice (one sampling unit)
    slices_per_batch: int = 25  # sampled: random slices sent as one request
    batches_in_flight: int = 3  # sampled: batches under way at once (scanned or being measured)
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
    refcount_every: int = 16  # when the server shares integers (Overhead.shared_integers)

    def scan_count(self) -> int:
        """SCAN COUNT whose slice stays within half the budget (replies vary around COUNT)."""
        return max(10, self.slice_budget_us * 1000 // self.scan_cost_ns // 2)

    def chunk_keys(self, commands_per_key: int) -> int:
        """Keys per request of per-key commands, for the request to stay within the slice budget."""
        return max(1, self.slice_budget_us * 1000 // (self.command_cost_ns * commands_per_key))


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
    failed: bool = False  # stopped by a failure (the server's), not by its time or command budget
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
        self._chunk = settings.chunk_keys(self.replies_per_key)
        self._positions = 0  # keys requested so far, in SCAN order (types by sampling: the stride's phase)
        self._refcount_every = settings.refcount_every if overhead.shared_integers else 0
        self._refcount_positions = 0
        self._batches: deque[Batch] = deque()  # started, in order; folded from the front once measured
        self._stop = False  # sampled: the judged groups are precise enough
        self._big = BigValues(link, settings.max_samples, self._follow_up)
        aggregator.types_sampled = not self.typed

    # -- the loops -------------------------------------------------------------------------------
    def run(self) -> NodeState:
        step = self._exact_run if self.settings.mode == "exact" else self._sampled_run
        failure = ""  # the last failure retried, should the time run out while retrying
        while not self.state.done:
            if self._out_of_time():
                self.state.error = "time budget exhausted" + (f" (while retrying after {failure})" if failure else "")
                self.state.failed = bool(failure)
                break
            try:
                step()
                self.state.retries = 0
            except RETRYABLE as exc:
                self.link.reset()  # replay from state.cursor: nothing after it was folded in
                self.state.retries += 1
                # No retry makes a refused reply acceptable or gives back an expired deadline.
                final = isinstance(exc, ReplyRefused | DeadlineExceeded)
                failure = f"{type(exc).__name__}: {exc}"
                if final or self.state.retries > self.settings.retries:
                    self.state.error, self.state.failed = failure, True
                    break
                time.sleep(min(0.05 * 2**self.state.retries, 2.0, max(0.0, self._time_left())))
            except rexc.InvalidResponse as exc:  # a reply of the wrong shape: the server is not one to trust
                self.link.reset()
                self.state.error, self.state.failed = f"{type(exc).__name__}: {exc}", True
                break
        if not self.typed:
            self._resolve_largest_types()
        return self.state

    def _out_of_time(self) -> bool:
        return bool(self.settings.deadline) and time.monotonic() >= self.settings.deadline

    def _time_left(self) -> float:
        return self.settings.deadline - time.monotonic() if self.settings.deadline else float("inf")

    def _exact_run(self) -> None:
        """SCAN from state.cursor to the end, the next slice's SCAN always one slice ahead.

        Each slice's keys are measured in chunks; the SCAN for slice i+1 goes out before slice
        i's chunks, so the client never waits for a SCAN reply with nothing else on the wire.
        state.cursor moves once a slice is folded in whole, so a dropped connection replays at
        most the slices under way. The run is done when the slice that ends at cursor 0 is folded.
        """
        pipe = self._new_pipeline()
        count, (cursor, keys) = self._calibrate()

        def scanned(after: int, keys: list[bytes]) -> None:
            if after and not self._out_of_time():
                pipe.submit(Request(self.link.pack(b"SCAN", after, b"COUNT", count), 1,
                                    lambda replies: scanned(*parse_scan(replies[0]))))
            self._start_batch(pipe, Batch(keys, *blank(len(keys)), after=after))

        scanned(cursor, keys)
        pipe.drain()

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
            cursor, some = self._scan(cursor, min(200, bound))
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
        return int(max(10, min(bound, self.settings.slice_budget_us * 1000 / 2 / best))), (cursor, keys)

    def _scan_usec(self) -> int | None:
        """SCAN's total server time so far (INFO commandstats), or None when it cannot be read."""
        self.link.send(self.link.pack(b"INFO", b"commandstats"), 1)
        reply = self.link.read(1)[0]
        if not isinstance(reply, bytes):
            return None
        found = re.search(rb"^cmdstat_scan:calls=\d+,usec=(\d+)", reply, re.MULTILINE)
        return int(found.group(1)) if found else 0

    def _sampled_run(self) -> None:
        """Random-cursor SCAN slices: a batch is ``slices_per_batch`` of them, sent as one request.

        As soon as a batch's SCAN replies are read, its keys' measurements are queued and the next
        batch's SCANs after them, so the server always has the next request while the client
        folds. Each slice is one sampling unit; a batch is folded in whole once measured. No new
        batch starts once the budget would be overrun, the judged groups' intervals are within
        ``target_ci_bp``, or the deadline passed; what is under way is still read and folded.
        """
        settings = self.settings
        link = self.link
        if self.population == 0:
            self.state.done = True
            return
        rng = self._rng()
        count = settings.sample_slice
        per_slice = 1 + self.replies_per_key * count + (0 if self.typed else count // settings.type_sample_every + 1)
        per_slice += count // self._refcount_every + 1 if self._refcount_every else 0
        pipe = self._new_pipeline()
        expected = [0]  # measurement commands the SCANs not answered yet will cause
        timed_out = [False]

        def next_batch() -> None:
            if self._stop:
                return
            if self._out_of_time():
                timed_out[0] = True
                return
            planned = link.commands_sent + pipe.unsent_commands() + expected[0]
            slices = min(settings.slices_per_batch, (settings.budget - planned) // per_slice)
            if slices <= 0:
                return
            expected[0] += slices * (per_slice - 1)
            scans = joined(link.pack(b"SCAN", rng.getrandbits(48), b"COUNT", count) for _ in range(slices))
            pipe.submit(Request(scans, slices, scanned))

        def scanned(replies: list[Any]) -> None:
            expected[0] -= len(replies) * (per_slice - 1)
            units = [parse_scan(reply)[1] for reply in replies]
            keys = [k for unit in units for k in unit]
            self._start_batch(pipe, Batch(keys, *blank(len(keys)), units=[len(unit) for unit in units]))
            next_batch()

        for _ in range(settings.batches_in_flight):
            next_batch()
        pipe.drain()
        if timed_out[0] and not self._stop:
            self.state.error = "time budget exhausted"
        self.state.done = True

    def _new_pipeline(self) -> Pipeline:
        self._batches.clear()  # a replay starts afresh: nothing under way was folded in
        return Pipeline(self.link, self.settings.window)

    # -- per-key facts ---------------------------------------------------------------------------
    def _measure(self, keys: list[bytes], units: list[int] | None) -> None:
        """Measure and fold keys now (one batch, on its own pipeline)."""
        pipe = self._new_pipeline()
        self._start_batch(pipe, Batch(keys, *blank(len(keys)), units=units))
        pipe.drain()

    def _start_batch(self, pipe: Pipeline, batch: Batch) -> None:
        """Queue the batch's measurements in chunks; it is folded once they (and any re-measure) are in."""
        if not self.typed:
            batch.typed = []
        self._batches.append(batch)
        keys, size = batch.keys, self._chunk
        for start in range(0, len(keys), size):
            self._submit_chunk(pipe, batch, start, keys[start:start + size])
        self._fold_ready()

    def _submit_chunk(self, pipe: Pipeline, batch: Batch, start: int, keys: list[bytes]) -> None:
        payload, commands, typed = self._request(keys)
        shared = self._refcount_sample(len(keys))
        if shared:
            payload = joined((payload, self.link.per_key_template(*REFCOUNT_ONLY).fill([keys[i] for i in shared])))
            commands += len(shared)
        batch.waiting += 1

        def measured(replies: list[Any]) -> None:
            if shared:
                for i, count in zip(shared, replies[len(replies) - len(shared):], strict=True):
                    if count == SHARED_REFCOUNT:
                        batch.adjust[start + i] = -SHARED_VALUE * self._refcount_every
                replies = replies[:len(replies) - len(shared)]
            self._take_replies(batch, start, len(keys), typed, replies)
            limit = self.settings.big_key_bytes
            big = [start + i for i, size in enumerate(batch.sizes[start:start + len(keys)])
                   if type(size) is int and size >= limit]
            if big:
                self._big.remeasure(pipe, batch, big)
            batch.waiting -= 1
            self._fold_ready()

        pipe.submit(Request(payload, commands, measured))

    def _request(self, keys: list[bytes]) -> tuple[bytes, int, list[int] | None]:
        """The per-key commands for keys: payload, command count, and (types by sampling) the indices
        whose TYPE is asked: every type_sample_every-th key in SCAN order, the stride running on across
        requests."""
        link = self.link
        if self.typed:
            return link.per_key_template(*PER_KEY).fill(keys), REPLIES_PER_KEY * len(keys), None
        every = self.settings.type_sample_every
        typed = list(range((-self._positions) % every, len(keys), every))
        self._positions += len(keys)
        payload = joined((link.per_key_template(*PER_KEY_UNTYPED).fill(keys),
                          link.per_key_template(*TYPE_ONLY).fill([keys[i] for i in typed])))
        return payload, len(PER_KEY_UNTYPED) * len(keys) + len(typed), typed

    def _refcount_sample(self, n: int) -> list[int]:
        """The indices, among the next n keys in SCAN order, whose OBJECT REFCOUNT is asked."""
        every = self._refcount_every
        if not every:
            return []
        picked = list(range((-self._refcount_positions) % every, n, every))
        self._refcount_positions += n
        return picked

    def _take_replies(self, batch: Batch, start: int, n: int, typed: list[int] | None, replies: list[Any]) -> None:
        end = start + n
        if typed is None:
            batch.types[start:end], batch.pttls[start:end], batch.sizes[start:end] = (
                replies[0::3], replies[1::3], replies[2::3])
            return
        batch.pttls[start:end], batch.sizes[start:end] = replies[0:2 * n:2], replies[1:2 * n:2]
        for i, kind in zip(typed, replies[2 * n:], strict=True):
            batch.types[start + i] = kind
        assert batch.typed is not None
        batch.typed.extend(start + i for i in typed)

    def _follow_up(self, pipe: Pipeline, batch: Batch, payload: bytes, commands: int,
                   handle: Callable[[list[Any]], None]) -> None:
        """A request the batch waits for, ahead of every request not sent yet."""
        batch.waiting += 1

        def answered(replies: list[Any]) -> None:
            handle(replies)
            batch.waiting -= 1
            self._fold_ready()

        pipe.submit(Request(payload, commands, answered), urgent=True)

    def _resolve_largest_types(self) -> None:
        """Types by sampling: ask TYPE for the few largest keys per group whose type is not known yet."""
        entries = [(g, e) for g in self.agg.groups.values() for e in g.largest if e[2] == ""]
        names = [e[1].encode() for _, e in entries if "\\" not in e[1]]
        if not names:
            return
        try:
            self.link.send(self.link.per_key_template(*TYPE_ONLY).fill(names), len(names))
            kinds = dict(zip(names, self.link.read(len(names)), strict=True))
        except RETRYABLE:
            self.link.reset()
            kinds = {}
        for g, entry in entries:
            kind = kinds.get(entry[1].encode()) if "\\" not in entry[1] else None
            label = _type_name(kind) if type(kind) is bytes and kind != b"none" else "unknown"
            g.largest[g.largest.index(entry)] = (entry[0], entry[1], label, entry[3])

    # -- folding, in the order the batches were started --------------------------------------------
    def _fold_ready(self) -> None:
        batches = self._batches
        while batches and batches[0].waiting == 0:
            batch = batches.popleft()
            self._fold(batch)
            if batch.units is None:
                self.state.cursor = batch.after
                self.state.slices += 1
                self.state.done = batch.after == 0
            else:
                self.state.slices += len(batch.units)
                self._stop = self._stop or self._precise_enough()
            self._pace()

    def _fold(self, batch: Batch) -> None:
        if not batch.keys:
            for _ in batch.units or ():
                self.agg.add_unit(0, {})
            return
        names = self.grouper.group_many(batch.keys)
        oh = self.overhead
        if batch.units is None:
            self.agg.add(names, batch.keys, batch.types, batch.pttls, batch.sizes, oh.main_share, oh.expires_share,
                         type_sample=batch.typed, adjust=batch.adjust)
        else:
            self.agg.add_units(names, batch.keys, batch.types, batch.pttls, batch.sizes, oh.main_share,
                               oh.expires_share, batch.units, type_sample=batch.typed, adjust=batch.adjust)
        for i, count in batch.elements.items():
            self._record_big(names[i], batch.keys[i], batch.types[i], batch.sizes[i], count)
        self.progress(len(batch.keys))

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
