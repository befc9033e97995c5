"""Road grid and movement: Manhattan routes, positions along them, fence entry, speeds."""

from __future__ import annotations

import itertools
import math

from hypothesis import given
from hypothesis import strategies as st

from models.geo import haversine_m
from simulators.phone import Trip, fence_entry_m
from simulators.roads import Grid, Route, manhattan_m, speed_at

coord = st.floats(min_value=-3000, max_value=3000, allow_nan=False)


@given(coord, coord, coord, coord)
def test_route_runs_along_streets(ax: float, ay: float, bx: float, by: float) -> None:
    g = Grid(51.5, -0.12, 200.0)
    r = g.route((ax, ay), (bx, by))
    assert r.points[0] == (ax, ay) and r.points[-1] == (bx, by)
    inner = r.points[1:-1]
    for p, q in itertools.pairwise(inner):  # street legs: axis-parallel, on the grid
        assert p[0] == q[0] or p[1] == q[1]
        assert p[0] % 200 == 0 or p[1] % 200 == 0
    assert r.length >= math.dist((ax, ay), (bx, by)) - 1e-6
    assert r.length <= manhattan_m((ax, ay), (bx, by)) + 4 * 200


def test_position_along_route_and_heading() -> None:
    r = Route.of([(0, 0), (100, 0), (100, 50)])
    assert r.length == 150
    assert r.at(50) == ((50.0, 0.0), 90.0)  # heading east
    p, h = r.at(125)
    assert p == (100.0, 25.0) and h == 0.0  # heading north
    assert r.at(-5)[0] == (0.0, 0.0) and r.at(500)[0] == (100.0, 50.0)


def test_trip_moves_at_its_speed_then_parks() -> None:
    trip = Trip(Route.of([(0, 0), (1000, 0)]), depart_ms=0, speed_mps=10.0, order_id="o",
                site=None, enter_ms=None)
    assert trip.end_ms == 100_000
    assert trip.at(50_000)[0] == (500.0, 0.0) and trip.at(50_000)[2] == 10.0
    assert trip.at(200_000)[0] == (1000.0, 0.0) and trip.at(200_000)[2] == 0.0


def test_fence_entry() -> None:
    r = Route.of([(0, 0), (1000, 0)])
    d = fence_entry_m(r, (1000.0, 0.0), 150.0)
    assert d is not None and 848 <= d <= 852
    assert fence_entry_m(r, (0.0, 0.0), 150.0) is None  # already inside


def test_grid_round_trip_and_scale() -> None:
    g = Grid(51.5, -0.12)
    lat, lon = g.to_latlon((300.0, 400.0))
    assert abs(haversine_m(51.5, -0.12, lat, lon) - 500) < 1
    x, y = g.to_xy(lat, lon)
    assert abs(x - 300) < 0.5 and abs(y - 400) < 0.5
    assert g.snap((130.0, -90.0)) == (200.0, -0.0) or g.snap((130.0, -90.0)) == (200.0, 0.0)


def test_time_of_day_speeds() -> None:
    hour = 3_600_000
    rush, noon, night = speed_at(8 * hour), speed_at(12 * hour), speed_at(3 * hour)
    assert rush < noon < night
    assert all(3 < speed_at(h * hour // 4) < 15 for h in range(96))
