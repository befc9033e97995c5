"""The consumers' batches follow the load (streams.partitioned: take, next_batch_size)."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streams.partitioned import BATCH_GROWTH, next_batch_size, take


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


class FakeConsumer:
    """``consume(n, timeout)`` over a queue: ``arrivals`` is what comes during a wait."""

    def __init__(self, queued: int, arrivals: int = 0) -> None:
        self.queued, self.arrivals = queued, arrivals
        self.calls: list[tuple[int, float]] = []

    def consume(self, n: int, timeout: float) -> list[int]:
        self.calls.append((n, timeout))
        if not self.queued and timeout > 0:
            self.queued, self.arrivals = self.arrivals, 0
        got = min(n, self.queued)
        self.queued -= got
        return list(range(got))


def test_take_returns_what_is_queued_without_waiting_to_fill_the_batch() -> None:
    consumer = FakeConsumer(queued=300)
    assert len(take(consumer, 2000, 0.05)) == 300  # type: ignore[arg-type]
    assert consumer.calls == [(2000, 0)]


def test_take_waits_for_the_first_record_then_takes_what_came_with_it() -> None:
    consumer = FakeConsumer(queued=0, arrivals=40)
    assert len(take(consumer, 2000, 0.05)) == 40  # type: ignore[arg-type]
    assert consumer.calls == [(2000, 0), (1, 0.05), (1999, 0)]
    idle = FakeConsumer(queued=0)
    assert take(idle, 2000, 0.05) == []  # type: ignore[arg-type]


@given(st.integers(1, 5000), st.integers(0, 20_000), st.integers(0, 20_000))
def test_take_never_returns_more_than_asked(size: int, queued: int, arrivals: int) -> None:
    consumer = FakeConsumer(queued, arrivals)
    got = take(consumer, size, 0.05)  # type: ignore[arg-type]
    assert len(got) == min(size, queued or arrivals)
