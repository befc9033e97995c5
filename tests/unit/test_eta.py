"""ETA estimator: distance x detour / blended speed, publication throttling, learning."""

from __future__ import annotations

from models.geo import offset_m
from models.messages import Position
from models.travel import TravelLearner, TravelModel, region_of
from streams.eta import ActiveOrder, EtaEstimator

T0 = 1_700_000_000_000
SITE = (52.37, 4.89)


def pos(t_s: float, north_m: float, speed: float | None = None) -> Position:
    lat, lon = offset_m(*SITE, north_m, 0)
    return Position(engineer_id="e1", ts=T0 + int(t_s * 1000), lat=lat, lon=lon,
                    accuracy_m=10, speed_mps=speed)


def order(due_s: float | None = None) -> ActiveOrder:
    due = None if due_s is None else T0 + int(due_s * 1000)
    return ActiveOrder("wo-1", "e1", SITE[0], SITE[1], due)


def test_first_fix_publishes_distance_times_detour_over_profile_speed() -> None:
    model = TravelModel(default_detour=1.5, speed_by_hour=(10.0,) * 24)
    est = EtaEstimator(TravelLearner(model=model))
    est.track(order())
    (u,) = est.on_position(pos(0, 6000))
    assert abs(u.remaining_m - 9000) < 20
    assert abs((u.eta_ts - u.ts) / 1000 - 900) < 5
    assert 0 < u.confidence <= 1 and u.late_by_s is None


def test_smoothed_speed_blends_in_and_stops_are_ignored() -> None:
    est = EtaEstimator(TravelLearner(model=TravelModel(speed_by_hour=(10.0,) * 24)))
    est.track(order())
    updates = []
    for i in range(10):
        updates += est.on_position(pos(i * 10, 5000 - i * 200, speed=20.0))
    for i in range(10, 14):  # a red light: speed 0 does not drag the smoothed speed down
        updates += est.on_position(pos(i * 10, 3200, speed=0.0))
    last = est.estimate(order(), pos(140, 3200, speed=0.0))
    assert last.speed_mps > 12.0  # pulled towards 20 m/s from the 10 m/s profile


def test_publishes_only_on_material_change_or_each_minute() -> None:
    est = EtaEstimator(TravelLearner(model=TravelModel(speed_by_hour=(10.0,) * 24)))
    est.track(order())
    published = []
    for i in range(60):  # 10 minutes of fixes every 10 s at exactly the profile speed
        published += est.on_position(pos(i * 10, 8000 - i * 100, speed=10.0))
    assert 8 <= len(published) <= 12  # about one a minute, not 60
    jump = est.on_position(pos(601, 20_000, speed=10.0))  # rerouted far away: ETA jumps
    assert len(jump) == 1


def test_late_by_vs_sla_and_arrival() -> None:
    est = EtaEstimator(TravelLearner(model=TravelModel(speed_by_hour=(10.0,) * 24)))
    est.track(order(due_s=300))
    (u,) = est.on_position(pos(0, 5000))
    assert u.late_by_s is not None and u.late_by_s > 300
    near = est.estimate(order(due_s=300), pos(10, 50))
    assert near.remaining_m == 0 and near.eta_ts == near.ts


def test_on_arrival_feeds_the_learner() -> None:
    learner = TravelLearner(alpha=0.5)
    est = EtaEstimator(learner)
    est.track(order())
    for i in range(11):  # drives 5 km straight in 10 minutes
        est.on_position(pos(i * 60, 5000 - i * 500))
    model = est.on_arrival("wo-1", T0 + 660_000)
    assert model is not None and est.orders_of("e1") == []
    start = offset_m(*SITE, 5000, 0)
    assert region_of(*start) in model.detour_by_region
    assert model.speed(T0) != TravelModel().speed(T0)


def test_out_of_order_fix_is_ignored() -> None:
    est = EtaEstimator()
    est.track(order())
    assert est.on_position(pos(100, 4000))
    assert est.on_position(pos(50, 6000)) == []
