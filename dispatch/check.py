"""Independent checks of a :class:`Plan` against its inputs (hard constraints).

Used by the tests (including property tests) and available to callers that want to
verify a plan before publishing it: the solver is trusted only as far as this module
confirms, recomputing every leg with the same :class:`TravelTimes`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from dispatch.plan import start_of
from dispatch.types import Engineer, Plan, Visit
from models.travel import TravelTimes

TOLERANCE_S = 1  # whole-second rounding of the travel matrix


def check_plan(plan: Plan, engineers: Sequence[Engineer], visits: Sequence[Visit],
               travel: TravelTimes, *, now_s: int | None = None,
               frozen_before: Mapping[str, tuple[str, ...]] | None = None) -> list[str]:
    """Violations of ``plan`` (empty = valid): skills, parts, windows, shifts, lunch,
    travel-time consistency, every visit exactly once, frozen visits unmoved.

    ``frozen_before`` maps engineer id -> the frozen visit ids at the head of their
    route before re-planning; they must still be there, in that order."""
    errors: list[str] = []
    by_id = {v.id: v for v in visits}
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
        for stop in route.stops:
            v = by_id[stop.visit_id]
            seen.append(v.id)
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
        for p in {p for s in route.stops for p in by_id[s.visit_id].parts}:
            used = sum(by_id[s.visit_id].parts.get(p, 0) for s in route.stops)
            if used > e.van_stock.get(p, 0):
                errors.append(f"{eid}: plans {used} x {p}, van holds {e.van_stock.get(p, 0)}")
    dupes = {x for x in seen if seen.count(x) > 1}
    missing = set(by_id) - set(seen)
    errors += [f"{x}: planned more than once" for x in sorted(dupes)]
    errors += [f"{x}: neither planned nor unassigned" for x in sorted(missing)]
    errors += [f"{x}: unassigned without a reason" for x, r in plan.unassigned.items() if not r]
    for eid, chain in (frozen_before or {}).items():
        route_ids = plan.routes[eid].visit_ids if eid in plan.routes else ()
        if route_ids[: len(chain)] != tuple(chain):
            errors.append(f"{eid}: frozen visits {chain} moved (route now {route_ids})")
    return errors
