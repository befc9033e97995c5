"""Fast forward scheduling and cheapest insertion for one engineer's route.

The prefilter of real-time assignment: pure Python, O(route length) travel look-ups
per engineer through a small cache, so ranking hundreds of engineers stays cheap.
The lunch break is taken at the first departure inside its window (an approximation;
the OR-Tools refinement models it exactly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dispatch.types import Engineer, LatLon, Visit
from models.travel import TravelTimes


@dataclass
class Leg:
    """Whole-second travel times through :class:`TravelTimes`, cached per pair."""

    travel: TravelTimes
    cache: dict[tuple[LatLon, LatLon], int] = field(default_factory=dict)

    def __call__(self, a: LatLon, b: LatLon) -> int:
        key = (a, b)
        if key not in self.cache:
            self.cache[key] = 0 if a == b else round(self.travel.seconds(a, b))
        return self.cache[key]


@dataclass(frozen=True)
class Schedule:
    """A timed route: service starts per visit id, driving, booked work, lateness."""

    order: tuple[str, ...]
    starts: dict[str, int]
    travel_s: int
    work_s: int
    home_s: int
    late: frozenset[str]


def schedule(e: Engineer, stops: Sequence[Visit], now_s: int, leg: Leg) -> Schedule:
    """Earliest-start schedule of ``stops`` in order from the engineer's position."""
    here = e.position or e.home
    t = max(now_s, e.shift_start_s, e.available_s or 0)
    lunch_due = e.lunch is not None and t <= e.lunch.latest_s
    starts: dict[str, int] = {}
    late: set[str] = set()
    driven = work = 0
    for v in stops:
        d = leg(here, v.point)
        if lunch_due and e.lunch is not None and t + d >= e.lunch.earliest_s:
            t = max(t, e.lunch.earliest_s) + e.lunch.duration_s
            lunch_due = False
        start = max(t + d, v.window_start_s)
        if start > v.window_end_s and not v.is_frozen:
            late.add(v.id)
        starts[v.id] = start
        driven += d
        work += d + v.service_s
        t = start + v.service_s
        here = v.point
    d = leg(here, e.home)
    home = t + d + (e.lunch.duration_s if lunch_due and e.lunch is not None else 0)
    return Schedule(tuple(v.id for v in stops), starts, driven + d, work, home, frozenset(late))


def feasible_after(new: Schedule, base: Schedule, e: Engineer, order_id: str) -> bool:
    """No visit that was on time becomes late, the new order is on time, and the
    engineer is home by shift end (or no later than before, if already late)."""
    return (order_id not in new.late and new.late <= base.late
            and new.home_s <= max(e.shift_end_s, base.home_s))


def best_insertion(e: Engineer, stops: Sequence[Visit], order: Visit, fixed: int, *,
                   now_s: int, leg: Leg) -> Schedule | None:
    """Cheapest feasible position for ``order`` after the first ``fixed`` stops."""
    base = schedule(e, stops, now_s, leg)
    best: Schedule | None = None
    for pos in range(fixed, len(stops) + 1):
        trial = schedule(e, [*stops[:pos], order, *stops[pos:]], now_s, leg)
        if feasible_after(trial, base, e, order.id) and (
            best is None or trial.travel_s < best.travel_s
        ):
            best = trial
    return best


def fmt_min(seconds: float) -> str:
    """Human duration: ``"7 min"`` or ``"2 h 05 min"``."""
    m = round(abs(seconds) / 60)
    sign = "-" if seconds < 0 else ""
    return f"{sign}{m} min" if m < 60 else f"{sign}{m // 60} h {m % 60:02d} min"
