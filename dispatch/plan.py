"""Batch VRPTW planning for a day or a shift, on the shared OR-Tools core.

Each online engineer is a vehicle starting at their live position (or home base) no
earlier than their shift start / availability, and ending at home by shift end. The
model holds:
- skills and van parts as the allowed vehicles of each visit
  (``SetAllowedVehiclesForIndex``); parts also as one stock dimension per part type,
  so an engineer never plans more of a part than their van holds;
- depot detours: a visit needing parts some depot holds gets an optional pickup stop at
  each such depot (at most one visited, on the same engineer's route, before the visit;
  it adds the visit's parts to the van's stock), and a depot never gives out more of a
  part than it holds; so an engineer whose van lacks a part can take the visit via a
  depot, and ``Plan.pickups`` says which;
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

from dispatch.assign import depots_holding, missing_parts
from dispatch.core import CoreProblem, CoreSolution, SearchConfig, solve
from dispatch.types import DAY_S, PICKUP, PICKUP_S, Depot, Engineer, Plan, Route, Stop, Visit
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


def qualified(e: Engineer, v: Visit, depots: Sequence[Depot] = ()) -> bool:
    """Hard filter: skills, and the van holds every part in the quantity needed (or a
    depot holds them all)."""
    return v.skills <= e.skills and (
        not missing_parts(v.parts, e.van_stock) or bool(suppliers(v, depots)))


def suppliers(v: Visit, depots: Sequence[Depot]) -> list[Depot]:
    """The depots holding every part ``v`` needs (none when it needs none)."""
    return depots_holding(v.parts, depots) if v.parts else []


def unserveable_reason(v: Visit, engineers: Sequence[Engineer], travel: TravelTimes,
                       now_s: int | None, depots: Sequence[Depot] = ()) -> str | None:
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
    stocked = [e for e in skilled if qualified(e, v, depots)]
    if not stocked:
        return f"no qualified engineer carries parts {dict(v.parts)} and no depot holds them"
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
                options: PlanOptions | None = None, depots: Sequence[Depot] = ()) -> Plan:
    """Plan ``visits`` over the online ``engineers`` (detouring through ``depots`` for
    parts a van lacks); unserved visits get a reason."""
    opt = options or PlanOptions()
    fleet = [e for e in engineers if e.online]
    unassigned: dict[str, str] = {}
    kept: list[Visit] = []
    for v in visits:
        reason = unserveable_reason(v, engineers, travel, opt.now_s, depots)
        if reason is None:
            kept.append(v)
        else:
            unassigned[v.id] = reason
    if not fleet:
        return Plan({}, unassigned)
    pickups = _pickups(fleet, kept, depots)
    core = _to_core(fleet, kept, travel, opt, pickups)
    sol = solve(core, SearchConfig(opt.time_limit_s, opt.first_solution, opt.metaheuristic))
    if sol is None:
        for v in kept:
            unassigned[v.id] = "no feasible plan found within the time limit"
        return Plan({}, unassigned)
    for node in sol.dropped:
        if node < len(kept):
            v = kept[node]
            unassigned[v.id] = (f"dropped for capacity: not enough engineer time in shifts "
                                f"and windows (priority {v.priority.value})")
    stops = [*kept, *(pickup_visit(d, kept[i]) for i, d in pickups)]
    visited = {n for r in sol.routes for n in r}
    used = {kept[i].id: d.id for k, (i, d) in enumerate(pickups) if len(kept) + k in visited}
    return Plan(_routes(fleet, stops, core, sol), unassigned, used)


def _pickups(fleet: Sequence[Engineer], kept: Sequence[Visit],
             depots: Sequence[Depot]) -> list[tuple[int, Depot]]:
    """(visit index, depot) of each optional pickup stop: every depot holding all the
    parts of a visit some engineer of ``fleet`` could take but does not carry."""
    out: list[tuple[int, Depot]] = []
    for i, v in enumerate(kept):
        if v.is_frozen or not v.parts:
            continue
        if any(v.skills <= e.skills and not qualified(e, v) for e in fleet):
            out += [(i, d) for d in suppliers(v, depots)]
    return out


def pickup_visit(d: Depot, v: Visit) -> Visit:
    """The stop collecting ``v``'s parts at depot ``d`` (id ``pickup:<visit id>``)."""
    return Visit(id=PICKUP + v.id, lat=d.lat, lon=d.lon, parts=dict(v.parts), service_s=PICKUP_S,
                 window_end_s=2 * DAY_S, priority=v.priority, engineer_id=v.engineer_id)


def _to_core(fleet: Sequence[Engineer], kept: Sequence[Visit], travel: TravelTimes,
             opt: PlanOptions, pickups: Sequence[tuple[int, Depot]] = ()) -> CoreProblem:
    """Nodes: the visits, then the optional pickups, then each engineer's start and end."""
    n, m = len(kept) + len(pickups), len(fleet)
    starts = [start_of(e, opt.now_s) for e in fleet]
    points = ([v.point for v in kept] + [d.point for _, d in pickups]
              + [s[0] for s in starts] + [e.home for e in fleet])
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
    pickup_nodes = [(len(kept) + k, i, d) for k, (i, d) in enumerate(pickups)]
    groups: dict[int, list[int]] = {}
    for node, i, _ in pickup_nodes:
        groups.setdefault(i, []).append(node)
    limits: dict[tuple[str, str], list[tuple[int, int]]] = {}
    for node, i, d in pickup_nodes:
        for p, q in kept[i].parts.items():
            limits.setdefault((d.id, p), []).append((node, q))
    stock_of = {d.id: d.stock for _, _, d in pickup_nodes}
    return CoreProblem(
        travel=matrix,
        service=[v.service_s for v in kept] + [PICKUP_S] * len(pickups) + [0] * (2 * m),
        windows=[(v.window_start_s, v.window_end_s) for v in kept]
        + [(0, horizon)] * (len(pickups) + 2 * m),
        starts=list(range(n, n + m)),
        ends=list(range(n + m, n + 2 * m)),
        vehicle_windows=[(t, max(t, e.shift_end_s)) for (_, t), e in zip(starts, fleet,
                                                                           strict=True)],
        horizon=horizon,
        stocks=[([-v.parts.get(p, 0) for v in kept] + [kept[i].parts.get(p, 0)
                                                       for i, _ in pickups] + [0] * (2 * m),
                 [e.van_stock.get(p, 0) for e in fleet]) for p in part_types],
        allowed={i: [k for k, e in enumerate(fleet) if qualified(e, v, [d for j, d in pickups
                                                                        if j == i])
                     and v.engineer_id in (None, e.id)] for i, v in enumerate(kept)},
        penalties={i: DROP_PENALTY[v.priority] for i, v in enumerate(kept) if not v.is_frozen},
        breaks=breaks,
        chains={index[eid]: [node_of[vid] for vid in chain] for eid, chain in chains.items()},
        soft_due=soft,
        relaxed=frozenset(i for i, v in enumerate(kept) if v.is_frozen),
        optional_groups=list(groups.values()),
        helpers=[(node, i) for node, i, _ in pickup_nodes],
        limits=[(terms, stock_of[d].get(p, 0)) for (d, p), terms in limits.items()],
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
