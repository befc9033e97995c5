"""The live dispatch inputs, pure parts: appointment windows and lunch breaks in seconds of
the planning day, the stored route order, why nobody fits a window or a part, and the
API's all-or-none / ordering checks on windows and lunch breaks."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from api.routers.engineers import EngineerIn, EngineerPatch
from api.routers.work_orders import WorkOrderIn
from dispatch.assign import missing_parts, rank_candidates, supplying_depots
from dispatch.core import CoreProblem, SearchConfig, solve
from dispatch.types import (
    DAY_S,
    PICKUP,
    Depot,
    Engineer,
    LunchBreak,
    Visit,
    is_order,
    pickup_for,
)
from models.geo import offset_m
from models.travel import TravelModel
from models.workorder import Status
from services.dispatching import manual_warnings, pool_for, why_nobody, window_missed
from services.picture import (
    Picture,
    later_day,
    lunch_of,
    pickup_of,
    sequenced,
    shift_of,
    visit_of,
    window_of,
)

TM = TravelModel()
H = 3600
BASE = (51.5, -0.12)
DAY = datetime(2026, 3, 2, tzinfo=UTC)
DAY_MS = int(DAY.timestamp() * 1000)


def at_clock(hours: float, days: int = 0) -> datetime:
    return DAY + timedelta(days=days, hours=hours)


def eng(eid: str, **kw: object) -> Engineer:
    return Engineer(id=eid, skills=frozenset({"hvac"}), shift_start_s=8 * H,
                    shift_end_s=17 * H, home=BASE, position=BASE, **kw)  # type: ignore[arg-type]


def order(vid: str = "o", **kw: object) -> Visit:
    where = offset_m(*BASE, 2000, 0)
    return Visit(id=vid, lat=where[0], lon=where[1], skills=frozenset({"hvac"}),
                 **kw)  # type: ignore[arg-type]


def test_window_of_in_seconds_of_the_day_clamped_to_it() -> None:
    assert window_of(None, None, DAY_MS) == (0, DAY_S)  # no window: the whole day
    assert window_of(at_clock(10), at_clock(12), DAY_MS) == (10 * H, 12 * H)
    assert window_of(at_clock(10), None, DAY_MS) == (10 * H, DAY_S)
    assert window_of(None, at_clock(12), DAY_MS) == (0, 12 * H)
    assert window_of(at_clock(-2), at_clock(30), DAY_MS) == (0, DAY_S)  # spans the day
    half = timedelta(milliseconds=500)  # rounded inwards: never before, never after
    assert window_of(at_clock(10) + half, at_clock(12) + half, DAY_MS) == (10 * H + 1, 12 * H)


def test_a_window_on_another_day_shrinks_to_the_edge_of_the_day() -> None:
    past = window_of(at_clock(9, days=-1), at_clock(11, days=-1), DAY_MS)
    later = window_of(at_clock(9, days=1), at_clock(11, days=1), DAY_MS)
    assert (past, later) == ((0, 0), (DAY_S, DAY_S))
    assert not later_day(order(window_start_s=past[0], window_end_s=past[1]))
    assert later_day(order(window_start_s=later[0], window_end_s=later[1]))
    assert not later_day(order())


@given(st.integers(-3 * DAY_S * 1000, 3 * DAY_S * 1000), st.integers(1, 3 * DAY_S * 1000),
       st.booleans(), st.booleans())
def test_window_of_is_never_empty_and_never_wider_than_asked(
        start_ms: int, length_ms: int, open_start: bool, open_end: bool) -> None:
    start = DAY + timedelta(milliseconds=start_ms)
    end = start + timedelta(milliseconds=length_ms)
    lo, hi = window_of(None if open_start else start, None if open_end else end, DAY_MS)
    assert 0 <= lo <= hi <= DAY_S  # OR-Tools fails the whole model on an empty window
    if not open_start and 0 < lo < DAY_S:
        assert DAY + timedelta(seconds=lo) >= start
    if not open_end and 0 < hi < DAY_S and lo < hi:
        assert DAY + timedelta(seconds=hi) <= end


def test_visit_of_a_row_with_a_window() -> None:
    row = {"id": "WO-1", "lat": 51.5, "lon": -0.1, "required_skills": [],
           "required_parts": {}, "service_minutes": 30, "priority": "P2", "sla_due": None,
           "status": "new", "engineer_id": None, "window_start": at_clock(13),
           "window_end": at_clock(15, days=0)}
    v = visit_of(row, DAY_MS)
    assert (v.window_start_s, v.window_end_s) == (13 * H, 15 * H)
    tomorrow = visit_of(row, DAY_MS + 86_400_000)  # the same order in tomorrow's plan
    assert (tomorrow.window_start_s, tomorrow.window_end_s) == (0, 0)
    before = visit_of(row, DAY_MS - 86_400_000)
    assert later_day(before) and not before.is_frozen
    under_way = visit_of({**row, "status": "en_route"}, DAY_MS - 86_400_000)
    assert (under_way.window_start_s, under_way.window_end_s) == (0, DAY_S)


def test_lunch_of_a_day_shift_a_night_shift_and_across_midnight() -> None:
    day_shift = (8 * H, 17 * H)
    assert lunch_of(None, None, None, day_shift) is None
    assert lunch_of(time(12), time(13, 30), 30, day_shift) == LunchBreak(12 * H, 13 * H + 1800,
                                                                         1800)
    night = (22 * H, 6 * H + DAY_S)  # 22:00-06:00
    assert lunch_of(time(1), time(2), 45, night) == LunchBreak(DAY_S + H, DAY_S + 2 * H, 2700)
    assert lunch_of(time(23, 30), time(0, 30), 30, night) == LunchBreak(
        23 * H + 1800, DAY_S + 1800, 1800)


def test_a_night_shift_begun_yesterday_runs_after_midnight() -> None:
    assert shift_of(time(8), time(17), 3 * H) == (8 * H, 17 * H)
    assert shift_of(time(22), time(6)) == (22 * H, DAY_S + 6 * H)  # a later day
    assert shift_of(time(22), time(6), 23 * H) == (22 * H, DAY_S + 6 * H)
    assert shift_of(time(22), time(6), 2 * H) == (-2 * H, 6 * H)  # yesterday's, still on
    assert shift_of(time(22), time(6), 7 * H) == (22 * H, DAY_S + 6 * H)  # tonight's
    assert shift_of(time(6), time(6), 5 * H) == (6 * H - DAY_S, 6 * H)  # round the clock
    yesterdays = (-2 * H, 6 * H)
    assert lunch_of(time(23, 30), time(0, 30), 30, yesterdays) == LunchBreak(-1800, 1800, 1800)
    assert lunch_of(time(1), time(2), 30, yesterdays) == LunchBreak(H, 2 * H, 1800)


@given(st.integers(0, DAY_S - 1), st.integers(0, DAY_S - 1), st.integers(0, DAY_S - 1))
def test_shift_of_holds_now_exactly_when_the_clock_is_inside_the_shift(
        start: int, end: int, now: int) -> None:
    lo, hi = shift_of(_clock(start), _clock(end), now)
    on_clock = start <= now < end if start < end else now >= start or now < end
    assert (lo <= now < hi) == on_clock
    assert 0 < hi - lo <= DAY_S and lo < DAY_S and hi > 0


def _clock(s: int) -> time:
    return time(s // H, s % H // 60, s % 60)


def test_sequenced_moves_the_given_orders_first_or_last() -> None:
    current = ["a", "b", "c", "d"]
    assert sequenced(current, ["c", "x", "a"], first=True) == ["c", "a", "b", "d"]
    assert sequenced(current, ["b"], first=False) == ["a", "c", "d", "b"]
    assert sequenced(current, ["b", "b"], first=False) == ["a", "c", "d", "b"]
    assert sequenced(current, [], first=True) == current
    assert sequenced([], ["a"], first=True) == []


def test_window_missed_names_a_passed_or_later_window() -> None:
    now = 14 * H
    assert window_missed(order(), now) is None
    assert window_missed(order(window_start_s=15 * H, window_end_s=16 * H), now) is None
    assert window_missed(order(window_start_s=12 * H, window_end_s=13 * H),
                         now) == "its appointment window ended at 13:00 UTC"
    assert window_missed(order(window_start_s=0, window_end_s=0), now) == (
        "its appointment window ended before today")
    assert window_missed(order(window_start_s=0, window_end_s=0), 0, "2026-03-03") == (
        "its appointment window ends before 2026-03-03")
    later = order(window_start_s=DAY_S, window_end_s=DAY_S)
    assert "later day" in str(window_missed(later, now))
    assert window_missed(later, 0, "2026-03-03") == (
        "its appointment window starts after 2026-03-03")
    ended = order(window_start_s=12 * H, window_end_s=13 * H)
    assert manual_warnings(ended, eng("a"), now) == ["its appointment window ended at 13:00 UTC"]
    assert manual_warnings(ended, None, now)[0] == "its appointment window ended at 13:00 UTC"


def test_why_nobody_explains_windows_and_counts_depot_supply() -> None:
    now = 9 * H
    ended = order(window_start_s=7 * H, window_end_s=8 * H)
    assert why_nobody(ended, [eng("a")], now).startswith("its appointment window ended")
    assert "1 excluded" in why_nobody(ended, [eng("a")], now, frozenset({"a"}))
    tight = order(window_start_s=9 * H, window_end_s=9 * H + 60)
    assert "its appointment window (09:00-09:01 UTC)" in why_nobody(tight, [eng("a")], now)
    assert "within its time window" in why_nobody(order(), [eng("a")], now)
    needs = order(parts={"pump": 2})
    assert "no depot can supply them" in why_nobody(needs, [eng("a")], now)
    depot = Depot("D1", *offset_m(*BASE, 500, 0), stock={"pump": 1})
    van = eng("a", van_stock={"pump": 1})
    assert "no depot can supply them" not in why_nobody(needs, [van], now, depots=[depot])
    assert "no depot can supply them" in why_nobody(needs, [eng("a")], now, depots=[depot])


def test_an_order_with_a_window_is_served_inside_it() -> None:
    now = 9 * H
    later = order(window_start_s=11 * H, window_end_s=12 * H)
    (best,) = rank_candidates(later, [eng("a")], {}, TM, now_s=now)
    assert 11 * H <= best.eta_s <= 12 * H
    lunch = eng("a", lunch=LunchBreak(9 * H, 9 * H, 3 * H))  # a break until 12:00, now
    assert rank_candidates(later, [lunch], {}, TM, now_s=now) == []


def test_a_held_window_past_the_shift_does_not_break_the_ranking() -> None:
    """OR-Tools' horizon in the refinement was twice the shift end: a held stop whose
    window starts later failed the whole model (an exception, a 500) instead of being
    just late."""
    short = replace(eng("a", route=("held",)), shift_end_s=9 * H)  # 08:00-09:00
    held = order("held", window_start_s=19 * H, window_end_s=20 * H, engineer_id="a")
    ranked = rank_candidates(order("new"), [short], {"held": held}, TM, now_s=8 * H)
    assert [c.route for c in ranked] == [("new", "held")]


def test_work_order_window_must_end_after_it_starts() -> None:
    start = datetime(2026, 3, 2, 10, tzinfo=UTC)
    body = WorkOrderIn(title="x", window_start=start, window_end=start + timedelta(hours=1))
    assert body.window_end is not None
    for end in (start, start - timedelta(minutes=1)):
        with pytest.raises(ValidationError, match="window_end must be after window_start"):
            WorkOrderIn(title="x", window_start=start, window_end=end)
    with pytest.raises(ValidationError, match="timezone"):
        WorkOrderIn.model_validate({"title": "x", "window_start": "2026-03-02T10:00:00"})
    WorkOrderIn(title="x", window_end=start)  # one end alone is fine


def test_lunch_fields_go_together() -> None:
    full = {"lunch_earliest": "12:00", "lunch_latest": "13:00", "lunch_minutes": 30}
    assert EngineerIn(id="e1", name="E", **full).lunch == (time(12), time(13), 30)
    assert EngineerIn(id="e1", name="E").lunch == (None, None, None)
    for partial in ({"lunch_minutes": 30}, {"lunch_earliest": "12:00", "lunch_latest": "13:00"}):
        with pytest.raises(ValidationError, match="together"):
            EngineerIn.model_validate({"id": "e1", "name": "E", **partial})
        with pytest.raises(ValidationError, match="together"):
            EngineerPatch.model_validate(partial)
    with pytest.raises(ValidationError):
        EngineerIn.model_validate({"id": "e1", "name": "E", **full, "lunch_minutes": 0})
    assert EngineerPatch.model_validate(full).lunch_sent
    cleared = EngineerPatch.model_validate(dict.fromkeys(full))
    assert cleared.lunch_sent and cleared.lunch == (None, None, None)
    untouched = EngineerPatch.model_validate({"name": "E"})
    assert not untouched.lunch_sent
    with pytest.raises(ValidationError, match="together"):
        EngineerPatch.model_validate({**dict.fromkeys(full), "lunch_minutes": 30})
    with pytest.raises(ValidationError, match="together"):
        EngineerPatch.model_validate({"lunch_earliest": None})


# --- depot pickups --------------------------------------------------------------------


def test_missing_parts_and_the_depots_that_supply_them() -> None:
    assert missing_parts({"a": 2, "b": 1}, {"a": 1, "b": 3}) == {"a": 1}
    assert missing_parts({"a": 1}, {}) == {"a": 1}
    assert missing_parts({}, {"a": 1}) == {}
    e = Engineer("e", frozenset(), 0, DAY_S, (0.0, 0.0), van_stock={"a": 1})
    order = Visit("o", 0.0, 0.0, parts={"a": 2, "b": 1})
    depots = [Depot("short", 0, 0, {"a": 1}), Depot("both", 0, 0, {"a": 1, "b": 1}),
              Depot("none", 0, 0, {})]
    assert [d.id for d in supplying_depots(e, order, depots)] == ["both"]


def test_a_precedence_keeps_a_pickup_before_its_order() -> None:
    # On a line: start 0, nodes at 10 (node 0) and 5 (node 1), end at 20. Alone the solver
    # serves 5 then 10; "node 0 first" forces the longer 0 -> 10 -> 5 -> 20.
    xs = [10, 5, 0, 20]
    travel = [[abs(a - b) for b in xs] for a in xs]
    base = CoreProblem(travel=travel, service=[0] * 4, windows=[(0, 1000)] * 4, starts=[2],
                       ends=[3], vehicle_windows=[(0, 1000)], horizon=1000)
    cfg = SearchConfig(0.2, "PATH_CHEAPEST_ARC", "AUTOMATIC")
    free = solve(base, cfg)
    assert free is not None and free.routes == ((1, 0),)
    tied = solve(replace(base, precedences=[(0, 1)]), cfg)
    assert tied is not None and tied.routes == ((0, 1),)


def test_re_dispatching_an_order_frees_its_own_booking() -> None:
    pic = Picture(0, (), {}, (Depot("d", 0, 0, {"a": 1}), Depot("x", 0, 0, {"a": 5})),
                  {"o1": ("d", {"a": 2, "b": 1})})
    assert pic.depots_for("o2") == pic.depots
    mine = {d.id: dict(d.stock) for d in pic.depots_for("o1")}
    assert mine == {"d": {"a": 3, "b": 1}, "x": {"a": 5}}


def test_the_pickup_ids_name_the_order_they_serve() -> None:
    assert pickup_for(PICKUP + "WO-1") == "WO-1"
    assert pickup_for("WO-1") is None
    assert [is_order(i) for i in ("WO-1", PICKUP + "WO-1", "depot:d1")] == [True, False, False]


def test_a_booked_pickup_is_routed_before_its_order_and_pool_for_drops_both() -> None:
    row = {"pickup_lat": 51.5, "pickup_lon": 0.1}
    order = Visit("WO-1", 51.6, 0.2, status=Status.EN_ROUTE)
    pickup = pickup_of(row, order)
    assert pickup is not None and pickup.id == PICKUP + "WO-1" and pickup.is_frozen
    assert pickup.point == (51.5, 0.1)
    assert pickup_of({"pickup_lat": None}, order) is None
    e = Engineer("e", frozenset(), 0, DAY_S, (0.0, 0.0), route=("A", PICKUP + "WO-1", "WO-1"))
    assert pool_for("WO-1", [e])[0].route == ("A",)
