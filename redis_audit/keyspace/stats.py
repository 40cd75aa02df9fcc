"""Streaming per-group aggregation: counts, bytes, TTL histogram, TTL-less examples, largest keys.

Memory is bounded whatever the number of keys: one GroupStats per group (Grouper caps the
number of groups), a few examples and a small top-k heap per group, and per-unit sums for the
sampled mode's confidence intervals.
"""

from __future__ import annotations

import bisect
import heapq
import itertools
import math
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
    types: dict[str, int] = field(default_factory=dict)
    histogram: list[int] = field(default_factory=list)
    examples: list[str] = field(default_factory=list)
    largest: list[tuple[int, str, str, int]] = field(default_factory=list)  # (bytes, key, type, elements)
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
        if len(self.largest) < TOP_K:
            heapq.heappush(self.largest, entry)
        elif size > self.largest[0][0]:
            heapq.heapreplace(self.largest, entry)


class Aggregator:
    """Folds one node's key facts into group statistics, one batch (or sampling unit) at a time."""

    def __init__(self, edges_s: tuple[int, ...] = DEFAULT_TTL_EDGES_S, now_ms: int = 0,
                 big_bytes: int = 1 << 62) -> None:
        self.big_bytes = big_bytes  # values this large are offered to the top-k by the scanner, with sizes
        self.edges_ms = [e * 1000 for e in edges_s]
        self.labels = bucket_labels(edges_s)
        self.groups: dict[str, GroupStats] = {}
        self.units = UnitSums()
        self.keys = 0
        self.vanished = 0
        self.now_ms = now_ms
        self.expiry_seconds: dict[int, int] = {}  # absolute expiry second -> keys (TTL <= 1 day)
        self.ttl_keys = 0

    def group(self, name: str) -> GroupStats:
        found = self.groups.get(name)
        if found is None:
            found = self.groups[name] = GroupStats(name, len(self.labels))
        return found

    def add(self, names: list[str], keys: list[bytes], types: list[str], pttls: list[int], sizes: list[int],
            main_share: float, expires_share: float, *, unit: bool = False) -> None:
        """Fold one batch. With unit=True the batch is one sampling unit (its sums feed the CIs)."""
        per_unit: dict[str, list[float]] = {}
        edges = self.edges_ms
        seconds = self.expiry_seconds
        day_ms = 86_400_000
        key: bytes
        for name, key, kind, pttl, size in zip(names, keys, types, pttls, sizes, strict=True):
            if size < 0:
                self.vanished += 1
                continue
            g = self.groups.get(name) or self.group(name)
            g.keys += 1
            g.size += size
            g.types[kind] = g.types.get(kind, 0) + 1
            corrected = size + main_share
            if pttl < 0:
                g.no_ttl += 1
                g.histogram[0] += 1
                if len(g.examples) < EXAMPLES:
                    g.examples.append(key.decode("utf-8", "backslashreplace"))
            else:
                corrected += expires_share
                g.histogram[1 + bisect.bisect_right(edges, pttl)] += 1
                if pttl > g.max_ttl_ms:
                    g.max_ttl_ms = pttl
                self.ttl_keys += 1
                if pttl <= day_ms:
                    second = (self.now_ms + pttl) // 1000
                    seconds[second] = seconds.get(second, 0) + 1
            g.corrected += corrected
            if size < self.big_bytes and (len(g.largest) < TOP_K or size > g.largest[0][0]):
                g.offer_largest(size, key, kind)
            if unit:
                acc = per_unit.get(name)
                if acc is None:
                    acc = per_unit[name] = [0.0, 0.0, 0.0, 0.0]
                acc[0] += 1
                acc[1] += size
                acc[2] += corrected
                acc[3] += pttl < 0
        self.keys += len(keys)
        if unit:
            self.add_unit(len(keys), per_unit)

    def add_unit(self, x: int, per_group: dict[str, list[float]]) -> None:
        self.units.add(x)
        for name, (count, size, corrected, no_ttl) in per_group.items():
            g = self.groups[name]
            g.u_keys.add(count, x)
            g.u_bytes.add(size, x)
            g.u_corrected.add(corrected, x)
            g.u_no_ttl.add(no_ttl, x)
