"""A log-bucketed latency histogram (HdrHistogram's layout) and order-statistic confidence bounds.

Values are integers (nanoseconds here). A value keeps its top ``SUB_BUCKET_BITS`` significant bits, so
every bucket is at most 1/2**(SUB_BUCKET_BITS-1) wide relative to its values (0.8% with 8 bits;
the reported midpoint is within 0.4%), and
the memory is bounded whatever the number of samples: about 256 buckets per power of two, only
the used ones stored. Histograms with the same layout merge by adding counts, which is how several
pods' results become one deployment-wide distribution.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from redis_audit.jsonvalue import JsonObject, JsonValue

SUB_BUCKET_BITS = 8
_HALF = 1 << (SUB_BUCKET_BITS - 1)


def bucket_index(value: int) -> int:
    """The bucket of a non-negative integer; values below 2**SUB_BUCKET_BITS are exact."""
    if value < 0:
        raise ValueError("latency values cannot be negative")
    shift = max(0, value.bit_length() - SUB_BUCKET_BITS)
    # Each power of two above the exact range adds _HALF buckets (the top bit is implied).
    return (shift * _HALF) + (value >> shift)


def bucket_bounds(index: int) -> tuple[int, int]:
    """The smallest and largest value that land in bucket `index`."""
    if index < 2 * _HALF:
        return index, index
    shift = (index - _HALF) // _HALF
    mantissa = index - shift * _HALF
    low = mantissa << shift
    return low, low + (1 << shift) - 1


def bucket_value(index: int) -> int:
    """The value reported for a bucket: its midpoint (relative error at most 1/2**SUB_BUCKET_BITS)."""
    low, high = bucket_bounds(index)
    return (low + high) // 2


@dataclass
class Histogram:
    """Counts per bucket, plus the exact minimum, maximum and sum."""

    counts: dict[int, int] = field(default_factory=dict)
    total: int = 0
    minimum: int = 0
    maximum: int = 0
    sum: int = 0

    def record(self, value: int, count: int = 1) -> None:
        index = bucket_index(value)
        self.counts[index] = self.counts.get(index, 0) + count
        if self.total == 0 or value < self.minimum:
            self.minimum = value
        self.maximum = max(self.maximum, value)
        self.total += count
        self.sum += value * count

    def merge(self, other: Histogram) -> None:
        if other.total == 0:
            return
        for index, count in other.counts.items():
            self.counts[index] = self.counts.get(index, 0) + count
        self.minimum = other.minimum if self.total == 0 else min(self.minimum, other.minimum)
        self.maximum = max(self.maximum, other.maximum)
        self.total += other.total
        self.sum += other.sum

    def at_rank(self, rank: int) -> int:
        """The value of the rank-th smallest sample (1-based), to the bucket's resolution."""
        if not 1 <= rank <= self.total:
            raise ValueError(f"rank {rank} outside 1..{self.total}")
        if rank == self.total:
            return self.maximum
        if rank == 1:
            return self.minimum
        seen = 0
        for index in sorted(self.counts):
            seen += self.counts[index]
            if seen >= rank:
                return min(max(bucket_value(index), self.minimum), self.maximum)
        return self.maximum

    def count_above(self, value: int) -> int:
        """Samples whose bucket lies wholly above `value` (exact for values on bucket edges)."""
        return sum(c for i, c in self.counts.items() if bucket_bounds(i)[0] > value)

    def quantile(self, p: float, confidence: float = 0.95) -> Quantile | None:
        """The p-quantile with a distribution-free confidence interval, or None without samples."""
        if self.total == 0:
            return None
        rank = max(1, math.ceil(p * self.total))
        low_rank, high_rank = order_statistic_ranks(self.total, p, confidence)
        return Quantile(
            value=self.at_rank(rank),
            lower=self.at_rank(low_rank) if low_rank is not None else None,
            upper=self.at_rank(high_rank) if high_rank is not None else None,
        )

    def to_json(self) -> JsonObject:
        return {
            "layout": f"log2-sub{SUB_BUCKET_BITS}",
            "unit": "ns",
            "total": self.total,
            "min": self.minimum,
            "max": self.maximum,
            "sum": self.sum,
            "buckets": [[index, self.counts[index]] for index in sorted(self.counts)],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, JsonValue]) -> Histogram:
        if data.get("layout") != f"log2-sub{SUB_BUCKET_BITS}" or data.get("unit") != "ns":
            raise ValueError(f"unknown histogram layout {data.get('layout')!r}/{data.get('unit')!r}")
        buckets = data.get("buckets")
        counts: dict[int, int] = {}
        for pair in buckets if isinstance(buckets, list) else []:
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, int) for x in pair)):
                raise ValueError("histogram buckets must be [index, count] pairs of integers")
            index, count = pair[0], pair[1]
            if index < 0 or count < 0:
                raise ValueError("histogram buckets cannot be negative")
            counts[index] = counts.get(index, 0) + count
        total = sum(counts.values())
        if total != _int(data, "total"):
            raise ValueError("histogram total does not match its buckets")
        return cls(counts, total, _int(data, "min"), _int(data, "max"), _int(data, "sum"))


def _int(data: Mapping[str, JsonValue], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"histogram {key} must be an integer")
    return value


@dataclass(frozen=True)
class Quantile:
    value: int
    lower: int | None  # None: too few samples for a bound at this confidence
    upper: int | None


def merged(histograms: Iterable[Histogram]) -> Histogram:
    out = Histogram()
    for histogram in histograms:
        out.merge(histogram)
    return out


def order_statistic_ranks(n: int, p: float, confidence: float = 0.95) -> tuple[int | None, int | None]:
    """Ranks (1-based) l and u such that [X(l), X(u)] covers the p-quantile with the given confidence.

    The number of samples below the true p-quantile is Binomial(n, p) (Hahn & Meeker). Each side
    gets (1-confidence)/2; a side that needs a rank outside 1..n is None (e.g. P99.9 needs n >= 3688
    for an upper bound at 95%).
    """
    tail = (1.0 - confidence) / 2.0
    # Search near the mean only: the CDF is ~0 or ~1 more than 6 standard deviations away.
    spread = 6 * math.sqrt(n * p * (1 - p)) + 2
    start, stop = max(0, int(n * p - spread)), min(n, int(n * p + spread) + 1)
    lower: int | None = None
    upper: int | None = None
    cdf = 0.0  # P(B < start): below 1e-9 by the choice of start
    log_p, log_q = math.log(p), math.log1p(-p)
    for k in range(start, stop + 1):
        if k <= n:
            cdf += math.exp(math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)
                            + k * log_p + (n - k) * log_q)
        # P(B <= k) = cdf. Lower rank l: largest l with P(B <= l-1) <= tail, i.e. l = k+1.
        if cdf <= tail:
            lower = k + 1
        # Upper rank u: smallest u with P(B <= u-1) >= 1-tail, i.e. u = k+1.
        if upper is None and cdf >= 1.0 - tail:
            upper = k + 1
            break
    if lower is not None and lower < 1:
        lower = None
    if upper is not None and upper > n:
        upper = None
    return lower, upper
