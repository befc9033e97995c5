"""The consumers' batch size follows the load (streams.partitioned.next_batch_size)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.partitioned import BATCH_GROWTH, next_batch_size


@given(st.integers(1, 5000), st.lists(st.integers(0, 100_000), max_size=50))
def test_batch_size_stays_within_base_and_its_ceiling(base: int, gots: list[int]) -> None:
    size = base
    for got in gots:
        size = next_batch_size(size, min(got, size), base)
        assert base <= size <= base * BATCH_GROWTH


def test_a_backlog_grows_the_batch_and_a_light_load_shrinks_it() -> None:
    size = 2000
    for _ in range(10):
        size = next_batch_size(size, size, 2000)  # every batch full: records waiting
    assert size == 2000 * BATCH_GROWTH
    for _ in range(10):
        size = next_batch_size(size, 100, 2000)
    assert size == 2000
    assert next_batch_size(8000, 5000, 2000) == 8000  # between half and full: kept
