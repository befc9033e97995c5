"""Pure helpers of the dispatch use-cases: round order, ranking pool, travel cache,
the reasons nobody fits, warnings for a manual assignment, and a timed route."""

from __future__ import annotations

from datetime import UTC, datetime

from dispatch.assign import rank_candidates
from dispatch.plan import PlanOptions, plan_routes
from dispatch.types import Engineer, Visit
from models.geo import offset_m
from models.travel import TravelModel
from models.workorder import Priority, Status
from services.dispatch_round import CachedTravel, round_key
from services.dispatching import manual_warnings, pool_for, why_nobody
from services.picture import visit_of
from services.planning import relevant, sunk_sla_cleared, timed_route

TM = TravelModel()
H = 3600
BASE = (51.5, -0.12)
NOW = 9 * H


def at(north_km: float, east_km: float = 0.0) -> tuple[float, float]:
    return offset_m(*BASE, north_km * 1000, east_km * 1000)


def eng(eid: str, skills: set[str], where: tuple[float, float] = BASE, **kw: object) -> Engineer:
    return Engineer(id=eid, skills=frozenset(skills), shift_start_s=8 * H, shift_end_s=17 * H,
                    home=where, position=where, **kw)  # type: ignore[arg-type]


def order(vid: str, where: tuple[float, float] = BASE, skills: set[str] = frozenset(),  # type: ignore[assignment]
          **kw: object) -> Visit:
    return Visit(id=vid, lat=where[0], lon=where[1], skills=frozenset(skills),
                 **kw)  # type: ignore[arg-type]


def test_round_goes_highest_priority_first_then_oldest() -> None:
    t = [datetime(2026, 1, 1, h, tzinfo=UTC) for h in range(4)]
    rows = [{"id": "a", "priority": "P3", "created_at": t[0]},
            {"id": "b", "priority": "P1", "created_at": t[3]},
            {"id": "c", "priority": "P3", "created_at": t[1]},
            {"id": "d", "priority": "P1", "created_at": t[2]},
            {"id": "e", "priority": "P4", "created_at": t[0]}]
    assert [r["id"] for r in sorted(rows, key=round_key)] == ["d", "b", "a", "c", "e"]


def test_pool_drops_excluded_and_takes_the_order_off_its_route() -> None:
    engineers = [eng("a", {"hvac"}, route=("x", "o", "y")), eng("b", {"hvac"}, route=("z",)),
                 eng("c", {"hvac"})]
    pool = pool_for("o", engineers, frozenset({"c"}))
    assert [(e.id, e.route) for e in pool] == [("a", ("x", "y")), ("b", ("z",))]
    assert pool[1] is engineers[1]  # untouched engineers are not copied


def test_rejecter_excluded_from_the_pool_is_never_ranked() -> None:
    engineers = [eng("near", {"hvac"}, at(1)), eng("far", {"hvac"}, at(5))]
    new = order("o", BASE, {"hvac"})
    assert rank_candidates(new, pool_for("o", engineers), {}, TM, now_s=NOW)[0].engineer_id \
        == "near"
    ranked = rank_candidates(new, pool_for("o", engineers, frozenset({"near"})), {}, TM,
                             now_s=NOW)
    assert [c.engineer_id for c in ranked] == ["far"]


def test_cached_travel_gives_the_same_seconds_and_computes_each_pair_once() -> None:
    calls: list[tuple[tuple[float, float], tuple[float, float]]] = []

    class Counting:
        def seconds(self, a: tuple[float, float], b: tuple[float, float],
                    at_ms: int | None = None) -> float:
            calls.append((a, b))
            return TM.seconds(a, b, at_ms)

        def metres(self, a: tuple[float, float], b: tuple[float, float]) -> float:
            return TM.metres(a, b)

    cached = CachedTravel(Counting(), max_pairs=2)
    a, b, c = at(0), at(1), at(2)
    assert cached.seconds(a, b) == TM.seconds(a, b)
    assert cached.seconds(a, b) == TM.seconds(a, b)
    assert len(calls) == 1
    cached.seconds(a, c)
    cached.seconds(b, c)  # over max_pairs: the cache starts again instead of growing
    assert len(cached.cache) == 1
    cached.seconds(a, b, at_ms=0)  # time-of-day query: passed through
    assert len(calls) == 4
    assert cached.metres(a, b) == TM.metres(a, b)
    engineers = [eng("e1", {"hvac"}, at(1)), eng("e2", {"hvac"}, at(3))]
    new = order("o", BASE, {"hvac"})
    assert rank_candidates(new, engineers, {}, CachedTravel(TM), now_s=NOW) == \
        rank_candidates(new, engineers, {}, TM, now_s=NOW)


def test_why_nobody_names_the_first_missing_requirement() -> None:
    new = order("o", BASE, {"gas"}, parts={"valve": 1})
    assert "no engineer has the skills it needs (gas)" in why_nobody(new, [eng("a", {"hvac"})],
                                                                      NOW)
    offline = [eng("a", {"gas"}, online=False)]
    assert "none is online" in why_nobody(new, offline, NOW)
    assert "none is on shift" in why_nobody(new, [eng("a", {"gas"})], 18 * H)
    assert "carries the parts" in why_nobody(new, [eng("a", {"gas"})], NOW)
    stocked = [eng("a", {"gas"}, van_stock={"valve": 2})]
    assert "none can fit it into their route" in why_nobody(new, stocked, NOW)
    both_rejected = why_nobody(new, stocked, NOW, frozenset({"a"}))
    assert "no engineer has the skills" in both_rejected and "1 excluded" in both_rejected


def test_manual_warnings() -> None:
    new = order("o", BASE, {"gas"}, parts={"valve": 2})
    assert manual_warnings(new, None, NOW) == ["engineer has no home base or position: no ETA"]
    ok = eng("a", {"gas"}, van_stock={"valve": 2})
    assert manual_warnings(new, ok, NOW) == []
    bad = eng("b", {"gas"}, online=False, van_stock={"valve": 1})
    assert manual_warnings(new, bad, 20 * H) == [
        "engineer is offline", "engineer is off shift now", "van lacks parts {'valve': 2}"]


def test_visit_of_a_row() -> None:
    day = int(datetime(2026, 3, 2, tzinfo=UTC).timestamp() * 1000)
    row = {"id": "WO-1", "lat": 51.5, "lon": -0.1, "required_skills": ["hvac"],
           "required_parts": {"valve": 2}, "service_minutes": 30, "priority": "P1",
           "sla_due": datetime(2026, 3, 2, 10, 30, tzinfo=UTC), "status": "en_route",
           "engineer_id": "e1"}
    v = visit_of(row, day)
    assert v.sla_due_s == 10 * H + 1800 and v.service_s == 1800 and v.is_frozen
    assert v.priority == Priority.P1 and v.status == Status.EN_ROUTE
    assert v.parts == {"valve": 2} and v.skills == frozenset({"hvac"})


def test_timed_route_arrives_waits_for_windows_and_returns_home() -> None:
    e = eng("a", {"hvac"}, at(0))
    first = order("o1", at(2), service_s=1800)
    second = order("o2", at(4), service_s=1800, window_start_s=11 * H, window_end_s=12 * H)
    stops, home = timed_route(e, [first, second], NOW, TM)
    assert [s.visit_id for s in stops] == ["o1", "o2"]
    s1, s2 = stops
    assert NOW < s1.arrival_s == s1.start_s and s1.departure_s == s1.start_s + 1800
    assert s1.departure_s < s2.arrival_s < s2.start_s == 11 * H  # waits for the window
    assert home > s2.departure_s and not s1.late and not s2.late
    late = order("o3", at(2), window_end_s=NOW)
    (only,), _ = timed_route(e, [late], NOW, TM)
    assert only.late
    assert timed_route(e, [], NOW, TM) == ([], NOW)


def test_sunk_sla_lateness_does_not_make_the_planner_drop_a_p4() -> None:
    overdue = order("p4", at(1), priority=Priority.P4, sla_due_s=NOW - 6 * H)
    due_later = order("p3", at(1), sla_due_s=NOW + H)
    cleared = sunk_sla_cleared([overdue, due_later, order("none", at(1))], NOW)
    assert [v.sla_due_s for v in cleared] == [NOW, NOW + H, None]
    engineers = [eng("a", set())]
    opt = PlanOptions(time_limit_s=0.5, now_s=NOW)
    assert "p4" in plan_routes(engineers, [overdue], TM, opt).unassigned  # the sunk cost
    plan = plan_routes(engineers, sunk_sla_cleared([overdue], NOW), TM, opt)
    assert plan.unassigned == {} and plan.engineer_of("p4") == "a"


def test_relevant_engineers_share_a_skill_or_hold_a_visit() -> None:
    fleet = [eng("gas", {"gas"}), eng("hvac", {"hvac", "lift"}), eng("holder", {"x"}),
             eng("idle", {"plumbing"})]
    visits = [order("v1", skills={"gas", "lift"}), order("v2", skills={"y"}, engineer_id="holder")]
    assert [e.id for e in relevant(fleet, visits)] == ["gas", "hvac", "holder"]
    reasons = plan_routes(fleet, visits, TM, PlanOptions(time_limit_s=0.2)).unassigned
    assert plan_routes(relevant(fleet, visits), visits, TM,
                       PlanOptions(time_limit_s=0.2)).unassigned == reasons
    assert relevant(fleet, [*visits, order("any")]) == fleet
