"""Travel-time estimation shared by the ETA agent and dispatch (issue 6 §5).

Great-circle distance times a detour factor (per region) divided by a speed from a
time-of-day profile. Both parameters are learned from observed trips by
:class:`TravelLearner`; :class:`TravelModel` is what callers query. A road-network
matrix can replace it behind the :class:`TravelTimes` protocol.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from models.geo import haversine_m

DEFAULT_DETOUR = 1.3
DEFAULT_SPEED_MPS = 8.3  # ~30 km/h urban average
MIN_SPEED_MPS = 1.0
HOURS = 24


class TravelTimes(Protocol):
    def seconds(
        self, a: tuple[float, float], b: tuple[float, float], at_ms: int | None = None
    ) -> float: ...

    def metres(self, a: tuple[float, float], b: tuple[float, float]) -> float: ...


def region_of(lat: float, lon: float, cell_deg: float = 0.1) -> str:
    """A coarse grid cell (~11 km) used as the region key for learned detour factors."""
    return f"{math.floor(lat / cell_deg)}:{math.floor(lon / cell_deg)}"


def hour_of(at_ms: int, utc_offset_h: float = 0.0) -> int:
    return int(((at_ms / 3_600_000) + utc_offset_h) % HOURS)


@dataclass(frozen=True)
class TravelModel:
    """Great-circle x detour / speed(hour). Immutable; learners make new ones."""

    default_detour: float = DEFAULT_DETOUR
    detour_by_region: dict[str, float] = field(default_factory=dict)
    speed_by_hour: tuple[float, ...] = (DEFAULT_SPEED_MPS,) * HOURS
    utc_offset_h: float = 0.0

    def detour(self, lat: float, lon: float) -> float:
        return self.detour_by_region.get(region_of(lat, lon), self.default_detour)

    def speed(self, at_ms: int | None) -> float:
        if at_ms is None:
            return sum(self.speed_by_hour) / len(self.speed_by_hour)
        return self.speed_by_hour[hour_of(at_ms, self.utc_offset_h)]

    def metres(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        return haversine_m(a[0], a[1], b[0], b[1]) * self.detour(a[0], a[1])

    def seconds(
        self, a: tuple[float, float], b: tuple[float, float], at_ms: int | None = None
    ) -> float:
        return self.metres(a, b) / max(MIN_SPEED_MPS, self.speed(at_ms))


@dataclass
class TravelLearner:
    """Learns detour factors and the speed profile from completed trips (EWMA)."""

    alpha: float = 0.1
    model: TravelModel = field(default_factory=TravelModel)

    def observe_trip(
        self,
        start: tuple[float, float],
        end: tuple[float, float],
        driven_m: float,
        duration_s: float,
        start_ms: int,
    ) -> TravelModel:
        straight = haversine_m(start[0], start[1], end[0], end[1])
        detours = dict(self.model.detour_by_region)
        if straight > 200 and driven_m >= straight:
            key = region_of(*start)
            old = detours.get(key, self.model.default_detour)
            detours[key] = (1 - self.alpha) * old + self.alpha * min(3.0, driven_m / straight)
        speeds = list(self.model.speed_by_hour)
        if duration_s > 30 and driven_m > 0:
            h = hour_of(start_ms, self.model.utc_offset_h)
            observed = min(40.0, driven_m / duration_s)
            speeds[h] = (1 - self.alpha) * speeds[h] + self.alpha * observed
        self.model = TravelModel(
            default_detour=self.model.default_detour,
            detour_by_region=detours,
            speed_by_hour=tuple(speeds),
            utc_offset_h=self.model.utc_offset_h,
        )
        return self.model


def matrix_seconds(
    model: TravelTimes, points: Sequence[tuple[float, float]], at_ms: int | None = None
) -> list[list[int]]:
    """Whole-second travel-time matrix between ``points`` (what OR-Tools wants)."""
    return [
        [0 if i == j else round(model.seconds(a, b, at_ms)) for j, b in enumerate(points)]
        for i, a in enumerate(points)
    ]
