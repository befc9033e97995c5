"""Load-mode pacing: never ahead of the asked rate, catches up in bounded batches."""

from __future__ import annotations

from simulators.load import LoadResult, due


def test_pacing() -> None:
    assert due(0.0, 20_000, 0, 2000) == 0
    assert due(0.01, 20_000, 0, 2000) == 200
    assert due(0.01, 20_000, 200, 2000) == 0  # on pace: nothing more
    assert due(1.0, 20_000, 0, 2000) == 2000  # far behind: one bounded batch
    assert due(1.0, 20_000, 25_000, 2000) == 0  # never ahead of the rate


def test_achieved_rate() -> None:
    assert LoadResult(10_000, 2.0, 5000, 0).achieved_per_s == 5000
    assert LoadResult(0, 0.0, 5000, 0).achieved_per_s == 0
