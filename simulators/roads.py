"""A Manhattan road grid around a city centre, routes along it, time-of-day speeds.

Pure geometry in a local frame (metres east ``x`` and north ``y`` of the centre);
``Grid.to_latlon`` converts back. Streets run every ``block_m`` in both directions.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

from models.geo import EARTH_RADIUS_M, offset_m

Point = tuple[float, float]  # (x east m, y north m)

# Typical urban van speeds (m/s) by hour of day: slow in the rush hours, quick at night.
SPEED_BY_HOUR: tuple[float, ...] = (
    13.0, 13.0, 13.0, 13.0, 13.0, 12.0, 10.0, 6.0, 5.5, 7.5, 8.5, 8.5,
    8.0, 8.0, 8.5, 8.0, 6.5, 5.5, 6.5, 8.5, 10.0, 11.0, 12.0, 13.0,
)


def speed_at(ts_ms: int, utc_offset_h: float = 0.0) -> float:
    """Driving speed (m/s) at an event time, from the hour-of-day profile (interpolated)."""
    hours = (ts_ms / 3_600_000 + utc_offset_h) % 24
    h0 = int(hours)
    frac = hours - h0
    return SPEED_BY_HOUR[h0] * (1 - frac) + SPEED_BY_HOUR[(h0 + 1) % 24] * frac


@dataclass(frozen=True)
class Grid:
    """Streets every ``block_m`` metres, centred on ``(lat, lon)``."""

    lat: float
    lon: float
    block_m: float = 200.0

    def to_latlon(self, p: Point) -> tuple[float, float]:
        return offset_m(self.lat, self.lon, p[1], p[0])

    def to_xy(self, lat: float, lon: float) -> Point:
        north = math.radians(lat - self.lat) * EARTH_RADIUS_M
        east = math.radians(lon - self.lon) * EARTH_RADIUS_M * math.cos(math.radians(self.lat))
        return east, north

    def snap(self, p: Point) -> Point:
        """The nearest intersection."""
        b = self.block_m
        return round(p[0] / b) * b, round(p[1] / b) * b

    def route(self, a: Point, b: Point) -> Route:
        """Drive from ``a`` to its nearest intersection, along the streets (east-west
        first, then north-south) to ``b``'s nearest intersection, then to ``b``."""
        sa, sb = self.snap(a), self.snap(b)
        points = [a, sa, (sb[0], sa[1]), sb, b]
        return Route.of(points)


@dataclass(frozen=True)
class Route:
    """A polyline with cumulative distances; ``at(d)`` is the point ``d`` metres along."""

    points: tuple[Point, ...]
    cumulative: tuple[float, ...]

    @classmethod
    def of(cls, points: list[Point]) -> Route:
        kept: list[Point] = []
        for i, p in enumerate(points):
            if not kept or math.dist(kept[-1], p) > 1e-6:
                kept.append(p)
            elif i == len(points) - 1:  # keep the exact destination
                if len(kept) > 1:
                    kept[-1] = p
                else:
                    kept.append(p)
        cum = [0.0]
        for p, q in itertools.pairwise(kept):
            cum.append(cum[-1] + math.dist(p, q))
        return cls(tuple(kept), tuple(cum))

    @property
    def length(self) -> float:
        return self.cumulative[-1]

    def at(self, d: float) -> tuple[Point, float]:
        """The point ``d`` metres along and the heading there (degrees, 0 = north)."""
        if len(self.points) == 1:
            return self.points[0], 0.0
        d = min(max(d, 0.0), self.length)
        for i in range(1, len(self.points)):
            if d <= self.cumulative[i] or i == len(self.points) - 1:
                p, q = self.points[i - 1], self.points[i]
                seg = self.cumulative[i] - self.cumulative[i - 1]
                f = 0.0 if seg == 0 else (d - self.cumulative[i - 1]) / seg
                heading = (math.degrees(math.atan2(q[0] - p[0], q[1] - p[1])) + 360) % 360
                return (p[0] + f * (q[0] - p[0]), p[1] + f * (q[1] - p[1])), heading
        raise AssertionError("unreachable")


def manhattan_m(a: Point, b: Point) -> float:
    return abs(a[0] - b[0]) + abs(a[1] - b[1])
