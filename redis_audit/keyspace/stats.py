"""Streaming per-group aggregation: counts, bytes, TTL histogram, TTL-less examples, largest keys.

Memory is bounded whatever the number of keys: one GroupStats per group (Grouper caps the
number of groups), a few examples and a small top-k heap per group, and per-unit sums for the
sampled mode's confidence intervals.
"""

from __future__ import annotations

import bisect
import functools
import heapq
import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

DEFAULT_TTL_EDGES_S = (60, 300, 900, 3600, 21600)  # none, <1 min, 1-5 min, 5-15 min, 15-60 min, 1-6 h, >6 h
EXAMPLES = 5
TOP_K = 5
Z95 = 1.96


def bucket_labels(edges_s: tuple[int, ...]) -> list[str]:
    """Histogram labels: 'none', then '<e0', 'e0-e1', ..., '>=eN' in readable units."""
    labels = ["none", f"<{_human(edges_s[0])}"] if edges_s else ["none"]
    labels += [f"{_human(a)}-{_human(b)}" for a, b in itertools.pairwise(edges_s)]
    if edges_s:
        labels.append(f">={_human(edges_s[-1])}")
    else:
        labels.append("any")
    return labels


def _human(seconds: int) -> str:
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    if seconds % 60 == 0:
        return f"{seconds // 60}m"
    return f"{seconds}s"


@dataclass
class RatioSums:
    """Per-unit sums of one quantity y, for the ratio estimator N * sum(y) / sum(x)."""

    s: float = 0.0
    ss: float = 0.0
    sx: float = 0.0

    def add(self, y: float, x: float) -> None:
        self.s += y
        self.ss += y * y
        self.sx += y * x

    def estimate(self, population: int, units: UnitSums) -> tuple[float, float]:
        """The estimated total and its 95% half-width (delta method for a ratio, clusters as units)."""
        if units.sx <= 0:
            return 0.0, 0.0
        ratio = self.s / units.sx
        if units.m < 2:
            return population * ratio, float(population)
        residual = self.ss - 2 * ratio * self.sx + ratio * ratio * units.sxx
        mean_x = units.sx / units.m
        variance = max(residual, 0.0) / (units.m - 1) / (units.m * mean_x * mean_x)
        return population * ratio, Z95 * population * math.sqrt(variance)


@dataclass
class UnitSums:
    """Sampling units (one SCAN slice each): how many, and the sums of their key counts."""

    m: int = 0
    sx: float = 0.0
    sxx: float = 0.0

    def add(self, x: int) -> None:
        self.m += 1
        self.sx += x
        self.sxx += x * x


@dataclass
class GroupStats:
    name: str
    buckets: int
    keys: int = 0
    size: int = 0  # MEMORY USAGE bytes
    corrected: float = 0.0
    no_ttl: int = 0
    max_ttl_ms: int = 0
    types: dict[str, int] = field(default_factory=dict)  # by type; with types by sampling, of the sample
    type_sample: int = 0  # types by sampling: keys of this group whose TYPE was asked
    histogram: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    largest: list[tuple[int, str, str, int]] = field(default_factory=list)  # (bytes, key, type, elements)
    # Limiter groups with a window ([[limiters]]): keys whose TTL is in the top of the window, or above it.
    window_ms: int = 0
    near_window: int = 0
    above_window: int = 0
    # Sampled mode: per-unit sums for the confidence intervals.
    u_keys: RatioSums = field(default_factory=RatioSums)
    u_bytes: RatioSums = field(default_factory=RatioSums)
    u_corrected: RatioSums = field(default_factory=RatioSums)
    u_no_ttl: RatioSums = field(default_factory=RatioSums)

    def __post_init__(self) -> None:
        if not self.histogram:
            self.histogram = [0] * self.buckets

    def offer_largest(self, size: int, key: bytes, kind: str, elements: int = -1) -> None:
        entry = (size, key.decode("utf-8", "backslashreplace"), kind, elements)
        if any(e[1] == entry[1] for e in self.largest):
            return  # sampled mode can draw a key twice
        if len(self.largest) < TOP_K:
            heapq.heappush(self.largest, entry)
        elif size > self.largest[0][0]:
            heapq.heapreplace(self.largest, entry)


class Aggregator:
    """Folds one node's key facts into group statistics, one batch (or sampling unit) at a time.

    The per-key work is kept in C where it can be: TTL buckets by ``map(bisect_right)``, keys,
    types and histograms by one ``Counter`` over (group, type, bucket) per batch; only the byte
    sums and the max TTL per group walk the batch in Python.

    ``windows_ms`` maps a group name to its limiter's window: such a group also counts the keys
    whose remaining TTL lies in the top ``top_bp`` of the window, or above the window (RL-001's
    "TTL refreshed on every hit" heuristic). Its edges are folded into the bucket search, so they
    cost nothing per key.
    """

    def __init__(self, edges_s: tuple[int, ...] = DEFAULT_TTL_EDGES_S, now_ms: int = 0,
                 big_bytes: int = 1 << 62, windows_ms: dict[str, int] | None = None, top_bp: int = 500) -> None:
        self.big_bytes = big_bytes  # values this large are offered to the top-k by the scanner, with sizes
        self.edges_ms = [e * 1000 for e in edges_s]
        self.labels = bucket_labels(edges_s)
        self.groups: dict[str, GroupStats] = {}
        self.units = UnitSums()
        self.keys = 0
        self.vanished = 0
        self.now_ms = now_ms
        self.expiry_seconds: Counter[int] = Counter()  # absolute expiry second -> keys (TTL <= 1 day)
        self.ttl_keys = 0
        self.top_bp = top_bp
        self.types_sampled = False  # set by the scanner: types come from a uniform sample (add's type_sample)
        coarse = [0, *self.edges_ms]  # bisect_right(coarse, pttl): 0 for no TTL, else 1 + the label's index
        extra: set[int] = set()
        for window in (windows_ms or {}).values():
            extra |= {window - window * top_bp // 10_000, window + 1}
        fine = sorted(set(coarse) | extra)
        self._bucket = functools.partial(bisect.bisect_right, fine)
        # Fine bucket i holds [fine[i-1], fine[i]); its histogram bucket is that of its lower edge.
        self._coarse_of = [0] + [bisect.bisect_right(coarse, lower) for lower in fine]
        # Per windowed group: (window ms, fine indices in the top of the window, first index above it).
        self.windows: dict[str, tuple[int, frozenset[int], int]] = {}
        for name, window in (windows_ms or {}).items():
            low, above = fine.index(window - window * top_bp // 10_000), fine.index(window + 1)
            self.windows[name] = (window, frozenset(range(low + 1, above + 1)), above + 1)

    def group(self, name: str) -> GroupStats:
        found = self.groups.get(name)
        if found is None:
            found = self.groups[name] = GroupStats(name, len(self.labels))
            if name in self.windows:
                found.window_ms = self.windows[name][0]
        return found

    def add(self, names: list[str], keys: list[bytes], types: list[bytes], pttls: list[int], sizes: list[int],
            main_share: float, expires_share: float, *, unit: bool = False,
            type_sample: list[int] | None = None, adjust: dict[int, int] | None = None) -> None:
        """Fold one batch: TYPE, PTTL and MEMORY USAGE replies per key, as hiredis returns them.

        A key whose size is not an integer (nil: it vanished; an error reply) or whose type is
        ``none`` is counted as vanished. With unit=True the batch is one sampling unit (its sums
        feed the confidence intervals). With type_sample (types by sampling), only the keys at
        those indices had their TYPE asked: they alone count in the groups' ``types``, and the
        other keys' type is UNKNOWN (b"").
        ``adjust`` maps a key's index to bytes its corrected size gains (a hash table's entry slack)
        or loses (a shared value found by the refcount sample, for every key that sample stands for).
        """
        total = len(keys)
        extra: dict[str, int] = {}
        for i, delta in (adjust or {}).items():
            if type(sizes[i]) is int:
                extra[names[i]] = extra.get(names[i], 0) + delta
        if type_sample is not None:
            sample = Counter((names[i], types[i]) for i in type_sample
                             if type(sizes[i]) is int and type(types[i]) is bytes and types[i] != b"none")
            for (name, kind), count in sample.items():
                g = self.groups.get(name) or self.group(name)
                label = _type_name(kind)
                g.types[label] = g.types.get(label, 0) + count
                g.type_sample += count
        if not _all_valid(types, pttls, sizes):
            keep = [i for i, (kind, pttl, size) in enumerate(zip(types, pttls, sizes, strict=True))
                    if type(size) is int and type(pttl) is int and type(kind) is bytes and kind != b"none"]
            names, keys = [names[i] for i in keep], [keys[i] for i in keep]
            types, pttls, sizes = [types[i] for i in keep], [pttls[i] for i in keep], [sizes[i] for i in keep]
            self.vanished += total - len(keep)
        self.keys += total
        buckets = list(map(self._bucket, pttls))
        combos = Counter(zip(names, types, buckets, strict=True))
        coarse_of = self._coarse_of
        windows = self.windows
        # Per group in this batch: [keys, keys with a TTL, bytes, max TTL]
        batch: dict[str, list[int]] = {}
        for (name, kind, fine), count in combos.items():
            acc = batch.get(name)
            if acc is None:
                acc = batch[name] = [0, 0, 0, -1]
            g = self.groups.get(name) or self.group(name)
            acc[0] += count
            if type_sample is None:
                label = _type_name(kind)
                g.types[label] = g.types.get(label, 0) + count
            coarse = coarse_of[fine]
            g.histogram[coarse] += count
            if coarse:
                acc[1] += count
                window = windows.get(name)
                if window is not None:
                    if fine in window[1]:
                        g.near_window += count
                    elif fine >= window[2]:
                        g.above_window += count
        for name, size, pttl in zip(names, sizes, pttls, strict=True):
            acc = batch[name]
            acc[2] += size
            if pttl > acc[3]:
                acc[3] = pttl
        per_unit: dict[str, list[float]] = {}
        examples_wanted = False
        for name, (count, with_ttl, size, max_ttl) in batch.items():
            g = self.groups[name]
            no_ttl = count - with_ttl
            corrected = size + count * main_share + with_ttl * expires_share + extra.get(name, 0)
            g.keys += count
            g.size += size
            g.corrected += corrected
            g.no_ttl += no_ttl
            if max_ttl > g.max_ttl_ms:
                g.max_ttl_ms = max_ttl
            if no_ttl and len(g.examples) < EXAMPLES:
                examples_wanted = True
            if unit:
                per_unit[name] = [count, size, corrected, no_ttl]
        self.ttl_keys += sum(acc[1] for acc in batch.values())
        if examples_wanted:
            for i, pttl in enumerate(pttls):
                if pttl < 0:
                    g = self.groups[names[i]]
                    if len(g.examples) < EXAMPLES:
                        g.examples.append(keys[i].decode("utf-8", "backslashreplace"))
        now, day_ms = self.now_ms, 86_400_000
        self.expiry_seconds.update([(now + pttl) // 1000 for pttl in pttls if 0 <= pttl <= day_ms])
        self._offer_largest(batch, names, keys, types, sizes)
        if unit:
            self.add_unit(total, per_unit)

    def _offer_largest(self, batch: dict[str, list[int]], names: list[str], keys: list[bytes],
                       types: list[bytes], sizes: list[int]) -> None:
        """Only keys larger than the smallest top-k entry of the batch's groups are looked at."""
        floor = min((g.largest[0][0] if len(g.largest) >= TOP_K else -1)
                    for g in (self.groups[name] for name in batch)) if batch else 0
        big = self.big_bytes
        for i in [i for i, size in enumerate(sizes) if floor < size < big]:
            g = self.groups[names[i]]
            size = sizes[i]
            if len(g.largest) < TOP_K or size > g.largest[0][0]:
                g.offer_largest(size, keys[i], _type_name(types[i]))

    def add_units(self, names: list[str], keys: list[bytes], types: list[bytes], pttls: list[int],
                  sizes: list[int], main_share: float, expires_share: float, units: list[int],
                  type_sample: list[int] | None = None, adjust: dict[int, int] | None = None) -> None:
        """Fold a batch of sampling units (``units``: each one's key count, in order) in one call.

        The batch is folded once as a whole (histograms, types, examples, largest); only the
        per-unit, per-group sums the confidence intervals need walk the keys unit by unit.
        """
        self.add(names, keys, types, pttls, sizes, main_share, expires_share, type_sample=type_sample, adjust=adjust)
        adjust = adjust or {}
        start = 0
        for size_of_unit in units:
            end = start + size_of_unit
            per_unit: dict[str, list[float]] = {}
            for i in range(start, end):
                size, pttl, kind = sizes[i], pttls[i], types[i]
                if type(size) is not int or type(pttl) is not int or type(kind) is not bytes or kind == b"none":
                    continue
                acc = per_unit.get(names[i])
                if acc is None:
                    acc = per_unit[names[i]] = [0, 0, 0.0, 0]
                acc[0] += 1
                acc[1] += size
                if pttl >= 0:
                    acc[2] += size + main_share + expires_share
                else:
                    acc[2] += size + main_share
                    acc[3] += 1
                if i in adjust:
                    acc[2] += adjust[i]
            self.add_unit(size_of_unit, per_unit)
            start = end

    def add_unit(self, x: int, per_group: dict[str, list[float]]) -> None:
        self.units.add(x)
        for name, (count, size, corrected, no_ttl) in per_group.items():
            g = self.groups[name]
            g.u_keys.add(count, x)
            g.u_bytes.add(size, x)
            g.u_corrected.add(corrected, x)
            g.u_no_ttl.add(no_ttl, x)


TYPE_NAMES = {t.encode(): t for t in ("string", "hash", "set", "zset", "list", "stream", "none")}


def _type_name(kind: bytes | str) -> str:
    if isinstance(kind, str):
        return kind
    return TYPE_NAMES.get(kind) or kind.decode("ascii", "replace")


def _all_valid(types: list[bytes], pttls: list[int], sizes: list[int]) -> bool:
    """Every reply is the expected kind (checked in C: sum() refuses non-numbers)."""
    try:
        sum(sizes)
        sum(pttls)
    except TypeError:
        return False
    return None not in sizes and b"none" not in types and all(map(bytes.__instancecheck__, types))
