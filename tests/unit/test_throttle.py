"""The failed-authentication throttle (api/throttle.py)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from api.throttle import FailureThrottle


def test_blocks_after_burst_and_recovers_with_time() -> None:
    t = FailureThrottle(per_s=1.0, burst=3)
    for _ in range(3):
        assert t.blocked("a", 0.0) == 0.0
        t.failed("a", 0.0)
    assert t.blocked("a", 0.0) == pytest.approx(1.0)
    assert t.blocked("b", 0.0) == 0.0  # other addresses are not affected
    assert t.blocked("a", 1.0) == 0.0  # one token back after one second
    t.failed("a", 1.0)
    assert t.blocked("a", 1.0) > 0


def test_recovered_addresses_are_forgotten() -> None:
    t = FailureThrottle(per_s=1.0, burst=2)
    t.failed("a", 0.0)
    assert len(t) == 1
    assert t.blocked("a", 10.0) == 0.0
    assert len(t) == 0


@given(st.lists(st.tuples(st.integers(0, 500), st.floats(0, 1000)), max_size=300))
def test_memory_is_bounded(events: list[tuple[int, float]]) -> None:
    t = FailureThrottle(per_s=0.1, burst=2, max_keys=20)
    now = 0.0
    for key, dt in events:
        now += dt
        t.failed(str(key), now)
        assert len(t) <= 20


def test_rejects_bad_parameters() -> None:
    with pytest.raises(ValueError, match="per_s"):
        FailureThrottle(per_s=0, burst=1)
