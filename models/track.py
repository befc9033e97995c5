"""An engineer's track: Douglas-Peucker simplification of GPS fixes (pure, no I/O).

Points are projected to metres on a local equirectangular plane around the track's
mean latitude (good to well under 1% over a city), then simplified; the answer is the
indices of the kept fixes, so each kept point keeps its own timestamp.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from models.geo import EARTH_RADIUS_M

LatLon = tuple[float, float]


def project_m(points: Sequence[LatLon]) -> NDArray[np.float64]:
    """``(n, 2)`` array of (east, north) metres from the first point."""
    if not points:
        return np.zeros((0, 2))
    arr = np.asarray(points, dtype=np.float64)
    lat0, lon0 = arr[0]
    k = math.cos(math.radians(float(arr[:, 0].mean())))
    east = np.radians(arr[:, 1] - lon0) * EARTH_RADIUS_M * k
    north = np.radians(arr[:, 0] - lat0) * EARTH_RADIUS_M
    return np.column_stack((east, north))


def segment_distances(xy: NDArray[np.float64], a: int, b: int) -> NDArray[np.float64]:
    """Distance (m) of ``xy[a+1:b]`` to the segment ``xy[a]``-``xy[b]``."""
    p, q = xy[a], xy[b]
    pts = xy[a + 1:b]
    d = q - p
    length2 = float(d @ d)
    if length2 == 0.0:
        nearest = np.broadcast_to(p, pts.shape)
    else:
        t = np.clip(((pts - p) @ d) / length2, 0.0, 1.0)
        nearest = p + t[:, None] * d
    out: NDArray[np.float64] = np.linalg.norm(pts - nearest, axis=1)
    return out


def simplify(points: Sequence[LatLon], tolerance_m: float) -> list[int]:
    """Indices of the fixes Douglas-Peucker keeps at ``tolerance_m``: the first and the
    last always; every dropped fix lies within ``tolerance_m`` of the segment joining
    the kept fixes either side of it."""
    if tolerance_m < 0:
        raise ValueError("tolerance_m must be >= 0")
    n = len(points)
    if n <= 2:
        return list(range(n))
    xy = project_m(points)
    keep = np.zeros(n, dtype=bool)
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        a, b = stack.pop()
        if b - a < 2:
            continue
        dist = segment_distances(xy, a, b)
        i = int(np.argmax(dist))
        if dist[i] > tolerance_m:
            mid = a + 1 + i
            keep[mid] = True
            stack.extend(((a, mid), (mid, b)))
    return [int(i) for i in np.flatnonzero(keep)]
