"""Batch VRPTW planning for a day or a shift, on the shared OR-Tools core.

Each online engineer is a vehicle starting at their live position (or home base) no
earlier than their shift start / availability, and ending at home by shift end. The
model holds:
- skills and van parts as the allowed vehicles of each visit
  (``SetAllowedVehiclesForIndex``); parts also as one capacity dimension per part type,
  so an engineer never plans more of a part than their van holds;
- time windows on the start of service, service times, and the lunch break as a break
  interval (``SetBreakIntervalsOfVehicle``) that never overlaps a service;
- priorities as drop penalties (``AddDisjunction``), SLA due times as soft bounds;
- frozen visits (en_route/on_site) forced to their engineer and to the head of the
  route in their current order; pinned visits restricted to their engineer.

Visits that can never be served are filtered out *before* solving and come back with
the precise reason (missing skill, missing part, unreachable window); the rest the
solver drops for lack of engineer time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dispatch.core import CoreProblem, CoreSolution, SearchConfig, solve
from dispatch.types import DAY_S, Engineer, Plan, Route, Stop, Visit
from models.travel import TravelTimes, matrix_seconds
from models.workorder import Priority

DROP_PENALTY: dict[Priority, int] = {
    Priority.P1: 10_000_000,
    Priority.P2: 1_000_000,
    Priority.P3: 100_000,
    Priority.P4: 20_000,
}
SLA_COST_PER_S: dict[Priority, int] = {Priority.P1: 100, Priority.P2: 20, Priority.P3: 5,
                                       Priority.P4: 1}
FROZEN_LATE_COST_PER_S = 1_000


@dataclass(frozen=True)
class PlanOptions:
    """Caller-controlled search settings; ``now_s`` is the re-planning instant."""

    time_limit_s: float = 5.0
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    now_s: int | None = None
    day_start_ms: int | None = None


def start_of(e: Engineer, now_s: int | None) -> tuple[tuple[float, float], int]:
    """Where and when engineer ``e`` is free to start the (remaining) route."""
    t = max(e.shift_start_s, e.available_s or 0, now_s or 0)
    return (e.position or e.home), t


def qualified(e: Engineer, v: Visit) -> bool:
    """Hard filter: skills, and the van holds every part in the quantity needed."""
    return v.skills <= e.skills and all(e.van_stock.get(p, 0) >= q for p, q in v.parts.items())


def unserveable_reason(v: Visit, engineers: Sequence[Engineer], travel: TravelTimes,
                       now_s: int | None) -> str | None:
    """Why no engineer can ever serve ``v`` (``None`` if some engineer might)."""
    online = [e for e in engineers if e.online]
    if v.engineer_id is not None and v.engineer_id not in {e.id for e in online}:
        return f"pinned engineer {v.engineer_id} is offline or unknown"
    pool = [e for e in online if v.engineer_id in (None, e.id)]
    all_skills = set().union(*(e.skills for e in pool)) if pool else set()
    missing = sorted(v.skills - all_skills)
    if missing:
        return f"no engineer has skill {', '.join(missing)}"
    skilled = [e for e in pool if v.skills <= e.skills]
    if not skilled:
        return f"no single engineer has all of {', '.join(sorted(v.skills))}"
    stocked = [e for e in skilled if qualified(e, v)]
    if not stocked:
        return f"no qualified engineer carries parts {dict(v.parts)}"
    if v.is_frozen:
        return None
    for e in stocked:
        where, t0 = start_of(e, now_s)
        begin = max(t0 + round(travel.seconds(where, v.point)), v.window_start_s)
        back = begin + v.service_s + round(travel.seconds(v.point, e.home))
        if begin <= v.window_end_s and back <= e.shift_end_s:
            return None
    return "time window unreachable by any qualified engineer within their shift"


def _frozen_chains(engineers: Sequence[Engineer], visits: Sequence[Visit]) -> dict[str, list[str]]:
    """Frozen visit ids per engineer, in the engineer's current route order."""
    chains: dict[str, list[str]] = {}
    for e in engineers:
        frozen = {v.id for v in visits if v.is_frozen and v.engineer_id == e.id}
        ordered = [vid for vid in e.route if vid in frozen]
        ordered += sorted(frozen - set(ordered))
        if ordered:
            chains[e.id] = ordered
    return chains


def plan_routes(engineers: Sequence[Engineer], visits: Sequence[Visit], travel: TravelTimes,
                options: PlanOptions | None = None) -> Plan:
    """Plan ``visits`` over the online ``engineers``; unserved visits get a reason."""
    opt = options or PlanOptions()
    fleet = [e for e in engineers if e.online]
    unassigned: dict[str, str] = {}
    kept: list[Visit] = []
    for v in visits:
        reason = unserveable_reason(v, engineers, travel, opt.now_s)
        if reason is None:
            kept.append(v)
        else:
            unassigned[v.id] = reason
    if not fleet:
        return Plan({}, unassigned)
    core = _to_core(fleet, kept, travel, opt)
    sol = solve(core, SearchConfig(opt.time_limit_s, opt.first_solution, opt.metaheuristic))
    if sol is None:
        for v in kept:
            unassigned[v.id] = "no feasible plan found within the time limit"
        return Plan({}, unassigned)
    for node in sol.dropped:
        v = kept[node]
        unassigned[v.id] = (f"dropped for capacity: not enough engineer time in shifts "
                            f"and windows (priority {v.priority.value})")
    return Plan(_routes(fleet, kept, core, sol), unassigned)


def _to_core(fleet: Sequence[Engineer], kept: Sequence[Visit], travel: TravelTimes,
             opt: PlanOptions) -> CoreProblem:
    n, m = len(kept), len(fleet)
    starts = [start_of(e, opt.now_s) for e in fleet]
    points = [v.point for v in kept] + [s[0] for s in starts] + [e.home for e in fleet]
    first = min(t for _, t in starts)
    at_ms = None if opt.day_start_ms is None else opt.day_start_ms + first * 1000
    matrix = matrix_seconds(travel, points, at_ms)
    horizon = max([DAY_S, *(e.shift_end_s for e in fleet), *(v.window_end_s for v in kept)])
    index = {e.id: k for k, e in enumerate(fleet)}
    chains = _frozen_chains(fleet, kept)
    node_of = {v.id: i for i, v in enumerate(kept)}
    part_types = sorted({p for v in kept for p in v.parts})
    breaks: dict[int, tuple[int, int, int]] = {}
    for k, e in enumerate(fleet):
        if e.lunch is not None:
            earliest = max(e.lunch.earliest_s, starts[k][1])
            if earliest <= e.lunch.latest_s:
                breaks[k] = (earliest, e.lunch.latest_s, e.lunch.duration_s)
    soft = {i: (v.sla_due_s, SLA_COST_PER_S[v.priority]) for i, v in enumerate(kept)
            if v.sla_due_s is not None and not v.is_frozen}
    soft |= {i: (v.window_end_s, FROZEN_LATE_COST_PER_S) for i, v in enumerate(kept)
             if v.is_frozen}
    return CoreProblem(
        travel=matrix,
        service=[v.service_s for v in kept] + [0] * (2 * m),
        windows=[(v.window_start_s, v.window_end_s) for v in kept] + [(0, horizon)] * (2 * m),
        starts=list(range(n, n + m)),
        ends=list(range(n + m, n + 2 * m)),
        vehicle_windows=[(t, max(t, e.shift_end_s)) for (_, t), e in zip(starts, fleet,
                                                                           strict=True)],
        horizon=horizon,
        demands=[[v.parts.get(p, 0) for v in kept] + [0] * (2 * m) for p in part_types],
        capacities=[[e.van_stock.get(p, 0) for e in fleet] for p in part_types],
        allowed={i: [k for k, e in enumerate(fleet) if qualified(e, v)
                     and v.engineer_id in (None, e.id)] for i, v in enumerate(kept)},
        penalties={i: DROP_PENALTY[v.priority] for i, v in enumerate(kept) if not v.is_frozen},
        breaks=breaks,
        chains={index[eid]: [node_of[vid] for vid in chain] for eid, chain in chains.items()},
        soft_due=soft,
        relaxed=frozenset(i for i, v in enumerate(kept) if v.is_frozen),
    )


def _routes(fleet: Sequence[Engineer], kept: Sequence[Visit], core: CoreProblem,
            sol: CoreSolution) -> dict[str, Route]:
    """Turn solver node routes into timed :class:`Route` objects."""
    routes: dict[str, Route] = {}
    for k, e in enumerate(fleet):
        nodes = sol.routes[k]
        lunch = sol.breaks.get(k)
        prev, dep = core.starts[k], sol.vehicle_start[k]
        stops: list[Stop] = []
        travel_s = 0
        for node in [*nodes, core.ends[k]]:
            leg = int(core.travel[prev][node])
            travel_s += leg
            if node == core.ends[k]:
                break
            start = sol.start_times[node]
            arrival = dep + leg
            if lunch is not None and dep <= lunch[0] < start:
                arrival += lunch[1]  # lunch is taken on the way, before arriving
            stops.append(Stop(kept[node].id, min(arrival, start), start,
                              start + kept[node].service_s))
            prev, dep = node, start + kept[node].service_s
        routes[e.id] = Route(e.id, tuple(stops), sol.vehicle_start[k], sol.vehicle_end[k],
                             travel_s, lunch[0] if lunch else None, lunch[1] if lunch else 0)
    return routes
