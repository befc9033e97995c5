"""Online ETA calibration: factors and forecaster weights learned from finished trips."""

from __future__ import annotations

import math
import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.geo import offset_m
from models.messages import Position
from models.travel import TravelLearner, TravelModel
from streams.eta import ActiveOrder, EtaEstimator
from streams.eta_learn import (
    ALIGN_BUCKETS,
    ANY,
    CalibConfig,
    EtaCalibration,
    Sample,
    Stat,
    alignment_of,
    band_of,
)

T0 = 1_700_000_000_000
SITE = (52.37, 4.89)


def test_alignment_buckets_heading_at_across_and_away() -> None:
    north = offset_m(*SITE, -2000, 0)  # 2 km south of the site: the site lies north
    assert alignment_of(0.0, *north, *SITE) == ALIGN_BUCKETS - 1  # straight at it
    assert alignment_of(180.0, *north, *SITE) == 0  # straight away
    assert alignment_of(90.0, *north, *SITE) in (ALIGN_BUCKETS // 2 - 1, ALIGN_BUCKETS // 2)
    assert alignment_of(None, *north, *SITE) == ANY


@given(st.floats(0, 50_000))
def test_bands_are_ordered(d: float) -> None:
    assert band_of(d) <= band_of(d + 1000)


@given(st.lists(st.floats(-2, 2), min_size=1, max_size=200))
def test_stat_mean_lies_within_the_values_and_variance_is_not_negative(xs: list[float]) -> None:
    s = Stat()
    for x in xs:
        s.add(x, window=50)
    assert min(xs) - 1e-9 <= s.mean <= max(xs) + 1e-9
    assert s.var >= -1e-12


def samples_of_trip(speed: float, detour: float, minutes: int, observed_noise: float = 0.0,
                    align: int = 5) -> tuple[list[Sample], int]:
    """A trip at constant ``speed`` over road ``detour`` x straight, a sample a minute."""
    arrival = T0 + minutes * 60_000
    out = []
    for m in range(minutes):
        left_s = (minutes - m) * 60
        straight = left_s * speed / detour
        out.append(Sample(T0 + m * 60_000, straight, align, speed * (1 + observed_noise), 8.0))
    return out, arrival


def test_learns_the_factor_and_trusts_the_forecaster_that_was_right() -> None:
    cal = EtaCalibration(CalibConfig(min_samples=10))
    assert cal.pace(5000, 5, 10.0, 8.0) is None  # nothing learned yet
    for i in range(6):  # speeds vary from trip to trip; the observed speed tracks them
        speed = 6.0 + 2 * i
        samples, arrival = samples_of_trip(speed, 1.25, 30)
        assert cal.observe(samples, arrival) > 0
    pace = cal.pace(5000, 5, 9.0, 8.0)
    assert pace is not None
    # the observed speed was exact every time: it takes nearly all the weight
    assert pace == pytest.approx(1.25 / 9.0, rel=0.05)
    weight = cal.weight(5000, 5)
    assert weight is not None and weight > 0.9
    # no fresh observed speed: the profile forecaster alone, calibrated
    assert cal.pace(5000, 5, None, 8.0) is not None


def test_fallback_to_the_distance_band_and_bad_samples_are_skipped() -> None:
    cal = EtaCalibration(CalibConfig(min_samples=5))
    samples, arrival = samples_of_trip(10.0, 1.2, 20, align=7)
    cal.observe(samples, arrival)
    assert cal.pace(3500, 2, 10.0, 8.0) is not None  # other alignment: the band's pool
    wild = [Sample(T0, 5000, 3, 10.0, 8.0)]
    assert cal.observe(wild, T0 + 1000) == 1  # k = 1 s x 10 / 5000: far off, not learned
    assert all(abs(s.mean) < math.log(4) for s in cal.observed.values())
    assert cal.observe([Sample(T0, 5000, 3, 10.0, 8.0)], T0 - 1) == 0  # after arrival


def test_the_estimator_uses_what_it_learned_and_snapshots_restore() -> None:
    model = TravelModel(default_detour=1.3, speed_by_hour=(8.0,) * 24)
    est = EtaEstimator(TravelLearner(model=model))
    est.calibration = EtaCalibration(CalibConfig(min_samples=5))
    speed, detour = 12.0, 1.0  # drives straight at the site, quicker than the profile
    for n in range(4):
        oid = f"wo-{n}"
        start = T0 + n * 3_600_000
        est.track(ActiveOrder(oid, "e1", SITE[0], SITE[1]))
        for i in range(60):
            left = (60 - i) * 10 * speed / detour
            lat, lon = offset_m(*SITE, -left, 0)
            est.on_position(Position(engineer_id="e1", ts=start + i * 10_000, lat=lat, lon=lon,
                                     accuracy_m=5, speed_mps=speed, heading=0.0))
        est.on_arrival(oid, start + 600_000)
    est.track(ActiveOrder("wo-x", "e1", SITE[0], SITE[1]))
    start = T0 + 10 * 3_600_000
    for i in range(6):
        lat, lon = offset_m(*SITE, -(6000 - i * 120), 0)
        est.on_position(Position(engineer_id="e1", ts=start + i * 10_000, lat=lat, lon=lon,
                                 accuracy_m=5, speed_mps=speed, heading=0.0))
    lat, lon = offset_m(*SITE, -5000, 0)
    fix = Position(engineer_id="e1", ts=start + 60_000, lat=lat, lon=lon, accuracy_m=5,
                   speed_mps=speed, heading=0.0)
    u = est.estimate(ActiveOrder("wo-x", "e1", SITE[0], SITE[1]), fix)
    # learned: 5 km straight at 12 m/s, no detour -> ~417 s (the prior said 5 x 1.3 / ~12)
    assert (u.eta_ts - u.ts) / 1000 == pytest.approx(5000 / 12.0, rel=0.05)
    restored = pickle.loads(pickle.dumps(est))
    assert restored.calibration.trips == est.calibration.trips == 4
    old = pickle.loads(pickle.dumps(est))
    del old.__dict__["calibration"]  # a snapshot from before the calibration existed
    again = pickle.loads(pickle.dumps(old))
    assert again.calibration.trips == 0


def test_an_unlearned_hour_takes_the_observed_speed_alone() -> None:
    est = EtaEstimator()  # the default model: every hour of the profile is the flat default
    est.track(ActiveOrder("wo-1", "e1", SITE[0], SITE[1]))
    for i in range(6):
        lat, lon = offset_m(*SITE, -(15_000 - i * 130), 0)
        est.on_position(Position(engineer_id="e1", ts=T0 + i * 60_000, lat=lat, lon=lon,
                                 accuracy_m=5, speed_mps=13.0))
    lat, lon = offset_m(*SITE, -14_000, 0)
    fix = Position(engineer_id="e1", ts=T0 + 400_000, lat=lat, lon=lon, accuracy_m=5,
                   speed_mps=13.0)
    u = est.estimate(ActiveOrder("wo-1", "e1", SITE[0], SITE[1]), fix)
    assert u.speed_mps == pytest.approx(13.0, rel=0.01)  # not pulled to the 8.3 m/s default
