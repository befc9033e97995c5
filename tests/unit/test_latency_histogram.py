"""models.latency: quantiles within one bucket (10%) of the exact ones; subtraction."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bench.common import percentile
from models.latency import GROWTH, StageHistogram, bucket_of, bucket_upper

values = st.lists(st.floats(min_value=0.0, max_value=50_000.0), min_size=1, max_size=300)


@given(values, st.sampled_from([0.5, 0.95, 0.99]))
def test_quantile_is_the_exact_one_within_a_bucket(vs: list[float], q: float) -> None:
    h = StageHistogram()
    h.observe_many(vs)
    exact = percentile(vs, q)
    got = h.quantile(q)
    assert got >= exact
    assert got <= max(1.0, exact * GROWTH) + 1e-9


@given(values, values)
def test_minus_leaves_what_came_after(first: list[float], then: list[float]) -> None:
    before = StageHistogram()
    before.observe_many(first)
    after = StageHistogram.from_dict(before.to_dict())
    after.observe_many(then)
    only = StageHistogram()
    only.observe_many(then)
    delta = after.minus(before)
    assert delta.counts == only.counts
    assert delta.n == len(then)


def test_weights_and_bounds() -> None:
    h = StageHistogram()
    h.observe(12.0, weight=500)
    assert h.n == 500
    assert h.quantile(0.99) == bucket_upper(bucket_of(12.0))
    assert bucket_of(0.3) == 0
    assert math.isnan(StageHistogram().quantile(0.5))
    assert StageHistogram.from_dict({"counts": [1, 2]}).n == 0  # a foreign shape: empty
