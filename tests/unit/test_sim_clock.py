"""The simulated clock runs ``speed`` times faster than the wall, from wall now."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulators.clock import SimClock, save_clock, start_after


class FakeWall:
    def __init__(self) -> None:
        self.t = 1_795_425_600.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def test_starts_at_wall_now_and_runs_fast() -> None:
    wall = FakeWall()
    c = SimClock(60, wall=wall, sleep=wall.sleep)
    assert c.start_ms == 1_795_425_600_000 and c.now_ms() == c.start_ms
    wall.t += 2.5
    assert c.now_ms() == c.start_ms + 150_000
    assert c.elapsed_s() == 150
    assert c.wall_for(600) == 10


def test_sleep_until_sleeps_wall_time() -> None:
    wall = FakeWall()
    c = SimClock(10, wall=wall, sleep=wall.sleep)
    c.sleep_until(c.start_ms + 60_000)
    assert wall.slept == [6.0] and c.now_ms() == c.start_ms + 60_000
    c.sleep_until(c.start_ms)  # in the past: no sleep
    assert wall.slept == [6.0]


def test_explicit_start_and_bad_speed() -> None:
    wall = FakeWall()
    assert SimClock(1, start_ms=123_000_000_000_0, wall=wall).now_ms() == 1_230_000_000_000
    with pytest.raises(ValueError, match="positive"):
        SimClock(0)


def test_later_runs_start_after_the_simulated_time_reached(tmp_path: Path) -> None:
    now = 1_795_425_600_000
    assert start_after(tmp_path, now) == now  # nothing recorded: wall now
    save_clock(tmp_path, now + 3_600_000)  # an earlier run reached an hour ahead
    assert start_after(tmp_path, now) == now + 3_600_000 + 600_000
    save_clock(tmp_path, now - 3_600_000)  # long ago: wall now again
    assert start_after(tmp_path, now) == now
    (tmp_path / "run" / "simulator.clock").write_text("garbage")
    assert start_after(tmp_path, now) == now


def test_lead_over_the_wall_is_capped_then_the_clock_runs_at_1x() -> None:
    wall = FakeWall()
    c = SimClock(10, max_lead_s=90, wall=wall, sleep=wall.sleep)
    wall.t += 10  # 100 s simulated, 10 s wall: the lead would be 90 s, exactly the cap
    assert c.now_ms() == c.start_ms + 100_000 and not c.capped
    wall.t += 10  # 1x from here on
    assert c.now_ms() == c.start_ms + 110_000 and c.capped
    c.sleep_until(c.start_ms + 130_000)
    assert wall.slept == [pytest.approx(20.0)]
    assert c.now_ms() == c.start_ms + 130_000


def test_capped_clock_is_monotonic_and_never_below_a_start_ahead_of_the_wall() -> None:
    wall = FakeWall()
    start = int(wall.t * 1000) + 7_200_000  # an earlier run left the clock 2 h ahead
    c = SimClock(10, start_ms=start, max_lead_s=3600, wall=wall, sleep=wall.sleep)
    seen = []
    for _ in range(50):
        seen.append(c.now_ms())
        wall.t += 0.7
    assert seen[0] == start and seen == sorted(seen) and len(set(seen)) == len(seen)
