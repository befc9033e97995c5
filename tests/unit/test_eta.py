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


def at(t_s: float, north_m: float, east_m: float) -> Position:
    lat, lon = offset_m(*SITE, north_m, east_m)
    return Position(engineer_id="e1", ts=T0 + int(t_s * 1000), lat=lat, lon=lon, accuracy_m=10)


def l_trip(t0_s: float) -> list[Position]:
    """3 km east then 4 km north to the site at 10 m/s, a fix every 10 s: 7 km driven,
    5 km as the crow flies (detour 1.4), 700 s."""
    east = [at(t0_s + i * 10, -4000, -3000 + i * 100) for i in range(30)]
    north = [at(t0_s + 300 + i * 10, -4000 + i * 100, 0) for i in range(41)]
    return east + north


def test_a_few_arrivals_change_the_estimate() -> None:
    est = EtaEstimator()
    start = at(0, -4000, -3000)
    before = est.estimate(ActiveOrder("next", "e1", *SITE), start)
    for n in range(3):
        t0 = n * 3600.0
        trip = ActiveOrder(f"wo-{n}", "e1", *SITE, en_route_ms=T0 + int(t0 * 1000))
        est.track(trip)
        for p in l_trip(t0):
            est.on_position(p)
        assert est.on_arrival(trip.work_order_id, T0 + int((t0 + 700) * 1000)) is not None
    after = est.estimate(ActiveOrder("next", "e1", *SITE), start)
    detour = est.model.detour(start.lat, start.lon)
    assert 1.3 < detour < 1.4  # 1.3 -> 1.4 with alpha 0.1: 1.3271 after three trips
    assert after.remaining_m > before.remaining_m
    assert est.model.speed(T0) > TravelModel().speed(T0)  # 8.3 -> 10 m/s at that hour
    assert after.eta_ts - after.ts < before.eta_ts - before.ts  # faster more than longer


def test_the_trip_starts_where_the_order_went_en_route() -> None:
    """Driving to the start and waiting there before en_route is not part of the trip."""

    def learned(en_route_at_arrival: bool) -> TravelModel | None:
        est = EtaEstimator(TravelLearner(alpha=1.0))  # the model becomes this one trip
        en_route = T0 + 600_000
        est.track(ActiveOrder("wo-1", "e1", *SITE,
                              en_route_ms=None if en_route_at_arrival else en_route))
        for i in range(21):  # assigned at T0: 2 km east to the start of the trip...
            est.on_position(at(i * 10, -4000, -5000 + i * 100))
        for i in range(21, 60):  # ...then waiting there, GPS jitter only
            est.on_position(at(i * 10, -4000 + (i % 3) * 4, -3000))
        for p in l_trip(600):
            est.on_position(p)
        return est.on_arrival("wo-1", T0 + 1_300_000,
                              en_route if en_route_at_arrival else None)

    for late in (False, True):
        model = learned(late)
        assert model is not None
        start = offset_m(*SITE, -4000, -3000)
        assert abs(model.detour(*start) - 1.4) < 0.01
        assert abs(model.speed(T0 + 600_000) - 10.0) < 0.1
