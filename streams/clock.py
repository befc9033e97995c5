"""Stream time: the newest event time seen, never behind the wall clock.

Timers (dwell release, offline sweeps, SLA escalation) run on this clock, so an
accelerated simulator clock moves them too (DESIGN.md §4: processing uses event time).
"""

from __future__ import annotations

from models.timeutil import now_ms


class StreamClock:
    def __init__(self) -> None:
        self._max_event_ms = 0

    def observe(self, ts_ms: int) -> None:
        self._max_event_ms = max(self._max_event_ms, ts_ms)

    def now(self) -> int:
        return max(self._max_event_ms, now_ms())


clock = StreamClock()
