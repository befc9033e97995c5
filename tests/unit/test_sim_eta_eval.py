"""ETA evaluation: the ETA in force H before arrival, the same fix for the baseline, stats."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.geo import offset_m
from simulators.etaeval import (
    Published,
    TripTruth,
    best_constant_speed,
    cases,
    evaluate,
    format_eta_table,
    quantile,
)

T0 = 1_795_425_600_000
MIN = 60_000
SITE = (51.5, -0.12)


def north_of_site(m: float) -> tuple[float, float]:
    return offset_m(*SITE, m, 0)


def straight_trip(order: str, depart: int, arrival: int, speed: float, eng: str = "e1"
                  ) -> tuple[TripTruth, list[tuple[int, float, float]]]:
    """A van driving straight south at ``speed`` onto the site, one fix every 10 s."""
    fixes = []
    t = depart
    while t <= arrival:
        lat, lon = north_of_site((arrival - t) / 1000 * speed)
        fixes.append((t, lat, lon))
        t += 10_000
    return TripTruth(eng, order, depart, arrival, *SITE), fixes


def test_takes_the_eta_in_force_h_before_arrival_and_the_same_fix_for_the_baseline() -> None:
    trip, fixes = straight_trip("o1", T0, T0 + 30 * MIN, 10.0)
    published = [
        Published("o1", T0 - 5 * MIN, T0),  # before the trip began: not this trip's
        Published("o1", T0 + 9 * MIN, T0 + 31 * MIN),  # in force at 20 min before: 1 min late
        Published("o1", T0 + 15 * MIN, T0 + 28 * MIN),  # in force at 10 min: 2 min early
        Published("o1", T0 + 24 * MIN + 30_000, T0 + 30 * MIN),  # at 5 min: exact
        Published("o1", T0 + 26 * MIN, T0 + 40 * MIN),  # after the 5-min mark: unused
        Published("o2", T0 + 10 * MIN, T0),  # another order
    ]
    got = {c.horizon_min: c for c in cases([trip], published, {"e1": fixes})}
    assert sorted(got) == [5, 10, 20]
    assert got[20].at_ms == T0 + 9 * MIN and got[20].eta_ms == T0 + 31 * MIN
    # the baseline's position is the fix at that time: 21 min from the site at 10 m/s
    assert got[20].straight_m == pytest.approx(21 * 60 * 10.0, rel=1e-3)
    r = evaluate([trip], published, {"e1": fixes}, baseline_speed_mps=5.0)
    rows = r["horizons"]
    assert rows["20m"]["ours"]["mae_min"] == 1.0
    assert rows["10m"]["ours"]["mae_min"] == 2.0
    assert rows["5m"]["ours"]["mae_min"] == 0.0
    # baseline at 5 m/s needs twice the true time left: at 20 min, 21 min left -> 21 late
    assert rows["20m"]["baseline"]["mae_min"] == pytest.approx(21.0, abs=0.05)
    assert rows["20m"]["gain"] == pytest.approx(1 - 1 / 21, abs=0.01)
    # the best constant in hindsight is the true speed: the hindsight baseline is exact
    assert r["hindsight_speed_mps"] == pytest.approx(10.0, rel=1e-3)
    assert rows["20m"]["baseline_hindsight"]["mae_min"] == pytest.approx(0.0, abs=0.01)
    assert r["trips"] == 1 and r["published_etas"] == 6


def test_a_trip_shorter_than_the_horizon_is_not_counted_there() -> None:
    trip, fixes = straight_trip("o1", T0, T0 + 8 * MIN, 10.0)
    published = [Published("o1", T0, T0 + 8 * MIN)]
    rows = evaluate([trip], published, {"e1": fixes})["horizons"]
    assert rows["5m"]["trips"] == 1 and rows["10m"]["trips"] == 0 and rows["20m"]["trips"] == 0
    assert rows["10m"]["ours"]["mae_min"] is None and rows["10m"]["gain"] is None


def test_target_met_only_when_every_horizon_is_30_percent_better() -> None:
    trip, fixes = straight_trip("o1", T0, T0 + 30 * MIN, 10.0)
    exact = [Published("o1", T0 + m * MIN, T0 + 30 * MIN) for m in range(30)]
    r = evaluate([trip], exact, {"e1": fixes}, baseline_speed_mps=7.0)
    assert r["target_met"] is True
    # a baseline at the true speed is as good as ours: no gain, target not met
    r = evaluate([trip], exact, {"e1": fixes}, baseline_speed_mps=10.0)
    assert r["target_met"] is False
    text = format_eta_table(r)
    assert "5m" in text and "20m" in text and "NOT met" in text
    with pytest.raises(ValueError, match="positive"):
        evaluate([trip], exact, {"e1": fixes}, baseline_speed_mps=0)


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=50),
       st.floats(0, 1))
def test_quantile_lies_within_the_values_and_is_monotone(values: list[float], q: float) -> None:
    v = quantile(values, q)
    assert min(values) - 1e-9 <= v <= max(values) + 1e-9
    assert quantile(values, 0) == min(values) and quantile(values, 1) == max(values)
    assert quantile(values, min(1.0, q + 0.1)) >= v - 1e-9


@given(st.lists(st.tuples(st.floats(3, 20), st.integers(5, 40)), min_size=1, max_size=12),
       st.floats(2, 25))
def test_no_constant_speed_beats_the_hindsight_one(trips: list[tuple[float, int]],
                                                   other: float) -> None:
    all_trips, fixes, published = [], {}, []
    for i, (speed, minutes) in enumerate(trips):
        eng, order = f"e{i}", f"o{i}"
        depart = T0 + i * 100 * MIN
        trip, fx = straight_trip(order, depart, depart + minutes * MIN, speed, eng)
        all_trips.append(trip)
        fixes[eng] = fx
        published += [Published(order, t, t) for t, _, _ in fx]
    cs = cases(all_trips, published, fixes)
    best = best_constant_speed(cs)
    assert best is not None

    def total(v: float) -> float:
        return sum(abs(c.at_ms + c.straight_m / v * 1000 - c.arrival_ms) for c in cs)

    assert total(best) <= total(other) * (1 + 1e-9) + 1e-6


def test_only_eta_messages_of_the_live_feed_are_kept() -> None:
    from simulators.etafeed import EtaFeed, published_of

    msg = {"type": "eta", "topic": "events.eta", "data": {
        "work_order_id": "o1", "engineer_id": "e1", "ts": T0, "eta_ts": T0 + MIN}}
    assert published_of(msg) == Published("o1", T0, T0 + MIN)
    assert published_of({**msg, "type": "position"}) is None
    assert published_of({"type": "eta", "data": {"work_order_id": "o1", "ts": "nope"}}) is None
    feed = EtaFeed("http://127.0.0.1:1", "t")
    assert feed.url == "ws://127.0.0.1:1/ws/live"
    assert feed.stop() == []  # never started: nothing to join
