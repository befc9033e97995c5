"""The shared travel-time model and its learner."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from models.geo import haversine_m, offset_m
from models.travel import TravelLearner, TravelModel, matrix_seconds


def test_haversine_known_distance() -> None:
    # London -> Paris is about 343.5 km great-circle.
    assert abs(haversine_m(51.5072, -0.1276, 48.8566, 2.3522) - 343_500) < 1500


@given(st.floats(-60, 60), st.floats(-170, 170), st.floats(-5000, 5000), st.floats(-5000, 5000))
def test_offset_matches_haversine(lat: float, lon: float, north: float, east: float) -> None:
    lat2, lon2 = offset_m(lat, lon, north, east)
    expected = (north**2 + east**2) ** 0.5
    assert abs(haversine_m(lat, lon, lat2, lon2) - expected) <= 0.01 * expected + 0.5


def test_seconds_use_detour_and_speed() -> None:
    model = TravelModel(default_detour=1.5, speed_by_hour=(10.0,) * 24)
    a, b = (51.5, -0.12), (51.51, -0.12)
    straight = haversine_m(*a, *b)
    assert abs(model.seconds(a, b, at_ms=0) - straight * 1.5 / 10.0) < 1e-6


def test_learner_moves_towards_observed_detour_and_speed() -> None:
    learner = TravelLearner(alpha=0.5)
    a, b = (51.5, -0.12), (51.52, -0.12)
    straight = haversine_m(*a, *b)
    for _ in range(20):
        model = learner.observe_trip(
            a, b, driven_m=straight * 2.0, duration_s=straight * 2.0 / 5.0, start_ms=3_600_000 * 9
        )
    assert abs(model.detour(*a) - 2.0) < 0.01
    assert abs(model.speed_by_hour[9] - 5.0) < 0.01


def test_matrix_is_square_with_zero_diagonal() -> None:
    pts = [(51.5, -0.12), (51.51, -0.1), (51.49, -0.13)]
    m = matrix_seconds(TravelModel(), pts)
    assert len(m) == 3 and all(len(r) == 3 for r in m)
    assert all(m[i][i] == 0 for i in range(3))
    assert all(m[i][j] > 0 for i in range(3) for j in range(3) if i != j)


def test_fence_polygons_are_checked() -> None:
    from models.geo import polygon_problem

    square = [(51.5, -0.1), (51.5, -0.099), (51.501, -0.099), (51.501, -0.1)]
    assert polygon_problem(square) is None
    assert polygon_problem([*square, square[0]]) is None  # closed ring
    bowtie = [(51.5, -0.1), (51.501, -0.099), (51.5, -0.099), (51.501, -0.1)]
    assert "cross itself" in (polygon_problem(bowtie) or "")
    assert "area" in (polygon_problem([(51.5, -0.1), (51.5, -0.099), (51.5, -0.098)]) or "")
    assert "distinct" in (polygon_problem([(1.0, 1.0), (1.0, 1.0), (2.0, 2.0)]) or "")
    assert "span" in (polygon_problem([(0.0, 0.0), (0.0, 1.0), (1.0, 1.0)]) or "")
