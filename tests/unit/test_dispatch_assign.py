"""Real-time assignment: hard filters and ranking sanity."""

from __future__ import annotations

import time

from dispatch.assign import rank_candidates
from dispatch.synthetic import make_city
from dispatch.types import Depot, Engineer, Visit
from models.geo import offset_m
from models.travel import TravelModel
from models.workorder import Priority, Status

TM = TravelModel()
H = 3600
BASE = (51.5, -0.12)
NOW = 9 * H


def at(north_km: float, east_km: float) -> tuple[float, float]:
    return offset_m(*BASE, north_km * 1000, east_km * 1000)


def eng(eid: str, skills: set[str], where: tuple[float, float], **kw: object) -> Engineer:
    return Engineer(id=eid, skills=frozenset(skills), shift_start_s=8 * H, shift_end_s=17 * H,
                    home=where, position=where, **kw)  # type: ignore[arg-type]


def order(vid: str, where: tuple[float, float], skills: set[str], **kw: object) -> Visit:
    return Visit(id=vid, lat=where[0], lon=where[1], skills=frozenset(skills),
                 **kw)  # type: ignore[arg-type]


def test_closer_engineer_with_skill_wins_and_no_skill_never_candidate() -> None:
    engineers = [eng("far", {"hvac"}, at(0, 10)), eng("near", {"hvac"}, at(0, 1)),
                 eng("nearest_no_skill", {"gas"}, at(0, 0.1))]
    new = order("n", at(0, 0), {"hvac"})
    ranked = rank_candidates(new, engineers, {}, TM, now_s=NOW)
    assert [c.engineer_id for c in ranked] == ["near", "far"]
    assert all(c.reasons for c in ranked)
    assert ranked[0].route == ("n",)


def test_off_shift_and_offline_engineers_excluded() -> None:
    engineers = [Engineer("late", frozenset(), 13 * H, 20 * H, at(0, 0)),
                 eng("off", set(), at(0, 0), online=False), eng("ok", set(), at(0, 5))]
    ranked = rank_candidates(order("n", at(0, 0), set()), engineers, {}, TM, now_s=NOW)
    assert [c.engineer_id for c in ranked] == ["ok"]


def test_parts_from_van_or_depot_detour() -> None:
    engineers = [eng("van", set(), at(0, 3), van_stock={"pump": 1}),
                 eng("nopart", set(), at(0, 0.5))]
    new = order("n", at(0, 0), set(), parts={"pump": 1})
    assert [c.engineer_id for c in rank_candidates(new, engineers, {}, TM, now_s=NOW)] == ["van"]
    depot = Depot("D1", *at(0, 0.6), stock={"pump": 5})
    ranked = {c.engineer_id: c for c in
              rank_candidates(new, engineers, {}, TM, now_s=NOW, depots=[depot])}
    assert ranked["nopart"].depot_id == "D1"
    assert ranked["van"].depot_id is None
    assert any("collects parts at D1" in r for r in ranked["nopart"].reasons)


def _full_day(status: Status) -> tuple[list[Engineer], dict[str, Visit]]:
    booked = order("p4", at(0, 0.5), set(), priority=Priority.P4, service_s=7 * H,
                   window_start_s=9 * H, window_end_s=10 * H, status=status, engineer_id="e")
    return [eng("e", set(), at(0, 0), route=("p4",))], {"p4": booked}


def test_p1_preempts_p4_not_en_route() -> None:
    engineers, visits = _full_day(Status.ASSIGNED)
    urgent = order("p1", at(0, 0.2), set(), priority=Priority.P1, service_s=2 * H,
                   window_start_s=NOW, window_end_s=NOW + H)
    ranked = rank_candidates(urgent, engineers, visits, TM, now_s=NOW)
    assert len(ranked) == 1
    assert ranked[0].preempts == "p4"
    assert "p4" not in ranked[0].route
    assert any("pre-empts" in r for r in ranked[0].reasons)
    p2 = order("p2", at(0, 0.2), set(), priority=Priority.P2, service_s=2 * H,
               window_start_s=NOW, window_end_s=NOW + H)
    assert rank_candidates(p2, engineers, visits, TM, now_s=NOW) == []


def test_p1_does_not_preempt_p4_en_route() -> None:
    engineers, visits = _full_day(Status.EN_ROUTE)
    urgent = order("p1", at(0, 0.2), set(), priority=Priority.P1, service_s=2 * H,
                   window_start_s=NOW, window_end_s=NOW + H)
    assert rank_candidates(urgent, engineers, visits, TM, now_s=NOW) == []


def test_insertion_respects_frozen_head_and_windows() -> None:
    head = order("head", at(0, 2), set(), status=Status.EN_ROUTE, engineer_id="e")
    nxt = order("nxt", at(0, 4), set(), window_start_s=11 * H, window_end_s=12 * H)
    engineers = [eng("e", set(), at(0, 0), route=("head", "nxt"))]
    new = order("n", at(0, 0.1), set(), window_start_s=9 * H, window_end_s=16 * H)
    ranked = rank_candidates(new, engineers, {"head": head, "nxt": nxt}, TM, now_s=NOW)
    assert ranked[0].route[0] == "head"
    assert set(ranked[0].route) == {"head", "nxt", "n"}


def test_two_hundred_engineers_well_under_a_second() -> None:
    city = make_city(200, 900, seed=5, route_len=4)
    visits = {v.id: v for v in city.visits}
    new = city.visits[850]
    t0 = time.perf_counter()
    ranked = rank_candidates(new, city.engineers, visits, TM, now_s=NOW, depots=city.depots)
    assert time.perf_counter() - t0 < 1.0
    assert ranked
    assert ranked == sorted(ranked, key=lambda c: c.score)
    assert all(new.skills <= next(e for e in city.engineers if e.id == c.engineer_id).skills
               for c in ranked)
