"""Independent checks of a :class:`Plan` against its inputs (hard constraints).

Used by the tests (including property tests) and available to callers that want to
verify a plan before publishing it: the solver is trusted only as far as this module
confirms, recomputing every leg with the same :class:`TravelTimes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatch.plan import pickup_visit, start_of
from dispatch.types import Depot, Engineer, Plan, Visit, pickup_for
from models.travel import TravelTimes

TOLERANCE_S = 1  # whole-second rounding of the travel matrix


def check_plan(plan: Plan, engineers: Sequence[Engineer], visits: Sequence[Visit],
               travel: TravelTimes, *, now_s: int | None = None,
               frozen_before: Mapping[str, tuple[str, ...]] | None = None,
               depots: Sequence[Depot] = ()) -> list[str]:
    """Violations of ``plan`` (empty = valid): skills, parts (a van never uses a part
    before it holds it; a depot never gives out more than it holds), windows, shifts,
    lunch, travel-time consistency, every visit exactly once, a pickup on its visit's
    route before it, frozen visits unmoved.

    ``frozen_before`` maps engineer id -> the frozen visit ids at the head of their
    route before re-planning; they must still be there, in that order."""
    errors: list[str] = []
    by_id = {v.id: v for v in visits}
    depot_of = {d.id: d for d in depots}
    for vid, did in plan.pickups.items():
        if vid in by_id and did in depot_of:
            pv = pickup_visit(depot_of[did], by_id[vid])
            by_id[pv.id] = pv
        else:
            errors.append(f"{vid}: pickup at unknown depot {did} or for an unknown visit")
    given: dict[tuple[str, str], int] = {}
    engs = {e.id: e for e in engineers}
    seen: list[str] = [*plan.unassigned]
    for eid, route in plan.routes.items():
        e = engs[eid]
        if route.stops and not e.online:
            errors.append(f"{eid}: offline engineer has a route")
        where, t0 = start_of(e, now_s)
        dep = t0
        if route.start_s < e.shift_start_s or route.end_s > e.shift_end_s:
            errors.append(f"{eid}: route {route.start_s}-{route.end_s} outside shift")
        lunch = (route.lunch_start_s, route.lunch_duration_s)
        if e.lunch is not None and lunch[0] is not None and not (
            e.lunch.earliest_s <= lunch[0] <= e.lunch.latest_s
            and lunch[1] == e.lunch.duration_s
        ):
            errors.append(f"{eid}: lunch at {lunch[0]} outside its window")
        ids = route.visit_ids
        for k, stop in enumerate(route.stops):
            v = by_id[stop.visit_id]
            served = pickup_for(v.id)
            if served is None:
                seen.append(v.id)
            elif served not in ids[k + 1:]:
                errors.append(f"{v.id}: not before {served} on {eid}'s route")
            if not v.skills <= e.skills:
                errors.append(f"{v.id}: {eid} lacks skills {sorted(v.skills - e.skills)}")
            if v.engineer_id is not None and v.engineer_id != eid:
                errors.append(f"{v.id}: pinned to {v.engineer_id}, planned for {eid}")
            if not v.is_frozen and not v.window_start_s <= stop.start_s <= v.window_end_s:
                errors.append(f"{v.id}: starts {stop.start_s} outside window "
                              f"[{v.window_start_s}, {v.window_end_s}]")
            need = dep + round(travel.seconds(where, v.point)) - TOLERANCE_S
            if lunch[0] is not None and dep <= lunch[0] < stop.start_s:
                need += lunch[1]
                if lunch[0] + lunch[1] > stop.start_s:
                    errors.append(f"{v.id}: lunch overlaps the service")
            if stop.start_s < need:
                errors.append(f"{v.id}: starts {stop.start_s} before reachable {need}")
            if stop.departure_s != stop.start_s + v.service_s:
                errors.append(f"{v.id}: departure is not start + service")
            dep, where = stop.departure_s, v.point
        home = dep + round(travel.seconds(where, e.home)) - TOLERANCE_S
        if home > e.shift_end_s:
            errors.append(f"{eid}: back home at {home} after shift end {e.shift_end_s}")
        van = dict(e.van_stock)
        for stop in route.stops:
            v = by_id[stop.visit_id]
            picked = pickup_for(v.id) is not None
            for p, q in v.parts.items():
                van[p] = van.get(p, 0) + (q if picked else -q)
                if picked:
                    key = (plan.pickups[pickup_for(v.id) or ""], p)
                    given[key] = given.get(key, 0) + q
                elif van[p] < 0:
                    errors.append(f"{v.id}: {eid}'s van lacks {-van[p]} x {p} by then")
    for (did, p), q in given.items():
        if q > depot_of[did].stock.get(p, 0):
            errors.append(f"depot {did} gives out {q} x {p}, holds "
                          f"{depot_of[did].stock.get(p, 0)}")
    dupes = {x for x in seen if seen.count(x) > 1}
    missing = {v.id for v in visits} - set(seen)
    errors += [f"{x}: planned more than once" for x in sorted(dupes)]
    errors += [f"{x}: neither planned nor unassigned" for x in sorted(missing)]
    errors += [f"{x}: unassigned without a reason" for x, r in plan.unassigned.items() if not r]
    for eid, chain in (frozen_before or {}).items():
        route_ids = plan.routes[eid].visit_ids if eid in plan.routes else ()
        if route_ids[: len(chain)] != tuple(chain):
            errors.append(f"{eid}: frozen visits {chain} moved (route now {route_ids})")
    return errors
