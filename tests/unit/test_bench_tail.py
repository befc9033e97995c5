"""The benches' per-second figures: p99 per second sent, the worst seconds, messages sent."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bench.streams_measure import tail_per_second, worst_seconds


def test_seconds_without_messages_are_nan_and_before_the_run_left_out() -> None:
    out = tail_per_second([(-1, 900.0), (0, 120.0), (2, 3400.5)])
    assert out[0] == 120.0 and math.isnan(out[1]) and out[2] == 3400.5
    assert len(out) == 3


def test_no_rows_no_seconds() -> None:
    assert tail_per_second([]) == []
    assert worst_seconds([]) == []


@given(st.lists(st.one_of(st.floats(0, 1e6), st.just(math.nan)), max_size=200),
       st.integers(1, 10))
def test_worst_seconds_are_the_highest_in_order(p99: list[float], n: int) -> None:
    worst = worst_seconds(p99, n)
    real = [v for v in p99 if not math.isnan(v)]
    assert [v for _, v in worst] == sorted(real, reverse=True)[:n]
    assert all(p99[s] == v for s, v in worst)


def test_publishers_per_second_add_up_whatever_their_lengths() -> None:
    from bench.load import sum_per_second

    reports = [{"per_second": [5, 7]}, {"per_second": [1, 0, 3]}, {"per_second": []}]
    assert sum_per_second(reports) == [6, 7, 3]
    assert sum_per_second([]) == []
