"""The log-bucketed histogram and its order-statistic confidence bounds."""

import random

import pytest

from redis_audit.facts.histogram import Histogram, bucket_bounds, bucket_index, merged, order_statistic_ranks


def test_every_value_lands_in_a_bucket_that_contains_it():
    for value in [*range(0, 5000), *(random.Random(1).randrange(10**12) for _ in range(5000))]:
        low, high = bucket_bounds(bucket_index(value))
        assert low <= value <= high
        assert high - low <= max(0, low // 128)  # ≤ 0.8% wide


@pytest.mark.parametrize(("p", "n_min"), [(0.95, 72), (0.99, 368), (0.999, 3688)])
def test_a_two_sided_95_percent_bound_exists_from_the_published_sample_sizes(p, n_min):
    assert order_statistic_ranks(n_min, p)[1] is not None
    assert order_statistic_ranks(n_min - 1, p)[1] is None


def test_quantiles_are_within_bucket_resolution_and_bracketed():
    rng = random.Random(7)
    values = [rng.randrange(100_000, 50_000_000) for _ in range(20_000)]
    histogram = Histogram()
    for v in values:
        histogram.record(v)
    exact = sorted(values)[int(0.95 * len(values)) - 1]
    q = histogram.quantile(0.95)
    assert q is not None and abs(q.value - exact) <= exact // 200
    assert q.lower is not None and q.upper is not None and q.lower <= q.value <= q.upper


def test_merge_and_json_round_trip_keep_every_count():
    a, b = Histogram(), Histogram()
    for v in range(1, 1000):
        (a if v % 2 else b).record(v * 1000)
    both = merged([Histogram.from_json(a.to_json()), Histogram.from_json(b.to_json())])
    assert both.total == 999 and both.minimum == 1000 and both.maximum == 999_000
    with pytest.raises(ValueError):
        Histogram.from_json({**a.to_json(), "total": 1})
