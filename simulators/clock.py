"""The simulated clock: starts at wall-clock now and runs ``speed`` times faster.

Every message the simulator sends carries event time from this clock (epoch ms), so the
platform, which processes by event time, sees an accelerated day.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

AFTER_GAP_MS = 600_000


class SimClock:
    """``now_ms()`` = start + (wall elapsed) x speed. ``wall`` is injectable for tests.

    ``max_lead_s`` bounds how far the simulated time may run ahead of the wall clock
    (the live demo runs for hours; the platform refuses event times too far in the
    future): once the lead is reached the clock goes on at 1x. The bound never sits
    below where the clock started, so the clock is monotonic and never stands still.
    """

    def __init__(
        self,
        speed: float,
        *,
        start_ms: int | None = None,
        max_lead_s: float | None = None,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self.speed = speed
        self._wall = wall
        self._sleep = sleep
        self._wall0 = wall()
        self.start_ms = start_ms if start_ms is not None else int(self._wall0 * 1000)
        self._lead_ms: int | None = None
        if max_lead_s is not None:
            self._lead_ms = max(int(max_lead_s * 1000), self.start_ms - int(self._wall0 * 1000))

    def now_ms(self) -> int:
        wall = self._wall()
        fast = self.start_ms + int((wall - self._wall0) * 1000 * self.speed)
        return fast if self._lead_ms is None else min(fast, int(wall * 1000) + self._lead_ms)

    @property
    def capped(self) -> bool:
        """True once the clock runs at 1x because it reached its lead over the wall clock."""
        wall = self._wall()
        return (self._lead_ms is not None and self.start_ms
                + (wall - self._wall0) * 1000 * self.speed > wall * 1000 + self._lead_ms)

    def elapsed_s(self) -> float:
        """Simulated seconds since the start."""
        return (self.now_ms() - self.start_ms) / 1000

    def wall_for(self, sim_s: float) -> float:
        """Wall seconds that ``sim_s`` simulated seconds take."""
        return sim_s / self.speed

    def sleep_until(self, sim_ms: int) -> None:
        """Sleep (wall time) until the simulated clock reaches ``sim_ms``."""
        wall_at = self._wall0 + (sim_ms - self.start_ms) / 1000 / self.speed
        if self._lead_ms is not None:
            wall_at = max(wall_at, (sim_ms - self._lead_ms) / 1000)
        ahead = wall_at - self._wall()
        if ahead > 0:
            self._sleep(ahead)


def clock_file(home: Path) -> Path:
    """Where a run leaves the simulated time it reached (``$FIELDFLOW_HOME/run``)."""
    return home / "run" / "simulator.clock"


def start_after(home: Path, now_ms: int | None = None) -> int:
    """Wall now, or just after the simulated time an earlier run on this stack reached:
    the platform processes by event time, so a later run must not go back in time. The
    gap (``AFTER_GAP_MS``) outlasts the platform's offline timeout (300 s), so engineers of
    the earlier run are offline, not dispatched, when the new run's first fault comes."""
    now = now_ms if now_ms is not None else int(time.time() * 1000)
    try:
        return max(now, int(clock_file(home).read_text().strip()) + AFTER_GAP_MS)
    except (OSError, ValueError):
        return now


def save_clock(home: Path, sim_ms: int) -> None:
    path = clock_file(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(str(sim_ms))
