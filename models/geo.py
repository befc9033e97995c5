"""Geo helpers: great-circle distance and bearings (pure, no I/O)."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp = p2 - p1
    dl = math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def bearing_deg(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360.0) % 360.0


def offset_m(lat: float, lon: float, north_m: float, east_m: float) -> tuple[float, float]:
    """Move a point by metres north/east (small-distance approximation)."""
    dlat = north_m / EARTH_RADIUS_M
    dlon = east_m / (EARTH_RADIUS_M * math.cos(math.radians(lat)))
    return lat + math.degrees(dlat), lon + math.degrees(dlon)


MAX_FENCE_SPAN_M = 20_000.0


def _cross(o: tuple[float, float], a: tuple[float, float], b: tuple[float, float]) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1: tuple[float, float], p2: tuple[float, float],
                    q1: tuple[float, float], q2: tuple[float, float]) -> bool:
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    # Touching or collinear overlap counts as crossing for a fence outline.
    def on(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float],
           d: float) -> bool:
        return d == 0 and min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and \
            min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
    return on(q1, q2, p1, d1) or on(q1, q2, p2, d2) or on(p1, p2, q1, d3) or on(p1, p2, q2, d4)


def polygon_problem(vertices: list[tuple[float, float]]) -> str | None:
    """Why a (lat, lon) fence outline is unusable, or None: at least 3 distinct corners,
    a non-zero area, no self-intersection, at most ``MAX_FENCE_SPAN_M`` across."""
    pts = [(float(a), float(b)) for a, b in vertices]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts = pts[:-1]  # a closed ring repeats its first corner
    if len(set(pts)) < 3 or len(set(pts)) != len(pts):
        return "a fence polygon needs at least 3 distinct corners, none repeated"
    lat0, lon0 = pts[0]
    span = max(haversine_m(lat0, lon0, a, b) for a, b in pts)
    if span > MAX_FENCE_SPAN_M:
        return f"a fence polygon may span at most {MAX_FENCE_SPAN_M / 1000:.0f} km"
    # Local metres, then the shoelace area and a pairwise edge test (n <= a few hundred).
    k = math.cos(math.radians(lat0)) * EARTH_RADIUS_M * math.pi / 180
    xy = [((b - lon0) * k, (a - lat0) * EARTH_RADIUS_M * math.pi / 180) for a, b in pts]
    n = len(xy)
    edges = [(xy[i], xy[(i + 1) % n]) for i in range(n)]
    for i in range(n):
        for j in range(i + 2, n):
            if i == 0 and j == n - 1:
                continue  # neighbours through the closing edge
            if _segments_cross(*edges[i], *edges[j]):
                return "a fence polygon must not cross itself"
    area = sum(xy[i][0] * xy[(i + 1) % n][1] - xy[(i + 1) % n][0] * xy[i][1] for i in range(n))
    if abs(area) / 2 < 1.0:
        return "a fence polygon must enclose an area"
    return None
