"""Douglas-Peucker track simplification (models.track): properties with hypothesis."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.track import project_m, segment_distances, simplify

# Tracks around a city: up to ~20 km across, with repeats and back-tracking.
coords = st.tuples(st.floats(51.40, 51.60), st.floats(-0.25, 0.05))
tracks = st.lists(coords, min_size=0, max_size=120)
tolerances = st.floats(0.0, 500.0)


@settings(max_examples=300, deadline=None)
@given(tracks, tolerances)
def test_endpoints_kept_and_indices_increasing(points: list[tuple[float, float]],
                                               tol: float) -> None:
    kept = simplify(points, tol)
    assert kept == sorted(set(kept))
    if points:
        assert kept[0] == 0
        assert kept[-1] == len(points) - 1


@settings(max_examples=300, deadline=None)
@given(tracks, tolerances)
def test_every_dropped_point_is_within_tolerance_of_the_simplified_line(
        points: list[tuple[float, float]], tol: float) -> None:
    kept = simplify(points, tol)
    xy = project_m(points)
    for a, b in pairwise(kept):
        if b - a > 1:
            assert float(segment_distances(xy, a, b).max()) <= tol + 1e-6


@settings(max_examples=200, deadline=None)
@given(tracks)
def test_zero_tolerance_keeps_every_point_off_the_line(points: list[tuple[float, float]]) -> None:
    kept = simplify(points, 0.0)
    xy = project_m(points)
    dropped = sorted(set(range(len(points))) - set(kept))
    for i in dropped:  # only points exactly on the kept line may go
        a = max(k for k in kept if k < i)
        b = min(k for k in kept if k > i)
        assert float(segment_distances(xy, a, b)[i - a - 1]) <= 1e-6


def test_a_straight_drive_collapses_to_its_ends_and_a_corner_stays() -> None:
    straight = [(51.5 + i * 1e-4, -0.1) for i in range(50)]
    assert simplify(straight, 1.0) == [0, 49]
    corner = straight + [(51.5 + 49e-4, -0.1 + j * 1e-4) for j in range(1, 30)]
    kept = simplify(corner, 5.0)
    assert kept == [0, 49, len(corner) - 1]


def test_projection_is_metres() -> None:
    xy = project_m([(51.5, -0.1), (51.5 + 1 / 111.195, -0.1)])  # ~1 km north
    assert abs(float(np.hypot(*xy[1])) - 1000.0) < 1.0


def test_negative_tolerance_is_an_error() -> None:
    try:
        simplify([(51.5, 0.0)] * 3, -1)
    except ValueError as exc:
        assert "tolerance" in str(exc)
    else:
        raise AssertionError("expected ValueError")
