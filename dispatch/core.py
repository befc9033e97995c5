"""The one OR-Tools routing core shared by batch planning, assignment and Solomon.

Callers translate their domain into a :class:`CoreProblem` made of plain integer
matrices (node indices, integer time units), and get a :class:`CoreSolution` back.
Keeping OR-Tools behind this single module means the search tuning (first solution
strategy, guided local search, time limit) is done once and shared, and the domain
modules stay readable.

Conventions:
- ``travel[i][j]`` is the travel time from node ``i`` to ``j``; the time dimension's
  transit is ``service[i] + travel[i][j]`` so a node's cumul is its service *start*.
- ``arc_cost`` (default: ``travel``) is what the objective minimises per arc.
- Nodes without a drop penalty are mandatory; with one they may be dropped at that cost.
- ``soft_due`` adds a cost per time unit after a bound (SLA); a ``relaxed`` node keeps
  its window start but may run past its window end (a frozen visit happens anyway).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from ortools.constraint_solver import pywrapcp, routing_enums_pb2
from ortools.util import optional_boolean_pb2

FIRST_SOLUTION = routing_enums_pb2.FirstSolutionStrategy
METAHEURISTIC = routing_enums_pb2.LocalSearchMetaheuristic
OPTIONAL_BOOL = optional_boolean_pb2.OptionalBoolean


@dataclass(frozen=True)
class CoreProblem:
    """A VRPTW over integer matrices; see the module docstring for units."""

    travel: Sequence[Sequence[int]]
    service: Sequence[int]
    windows: Sequence[tuple[int, int]]
    starts: Sequence[int]
    ends: Sequence[int]
    vehicle_windows: Sequence[tuple[int, int]]
    horizon: int
    arc_cost: Sequence[Sequence[int]] | None = None
    demands: Sequence[Sequence[int]] = ()
    capacities: Sequence[Sequence[int]] = ()
    allowed: Mapping[int, Sequence[int]] = field(default_factory=dict)
    penalties: Mapping[int, int] = field(default_factory=dict)
    breaks: Mapping[int, tuple[int, int, int]] = field(default_factory=dict)
    chains: Mapping[int, Sequence[int]] = field(default_factory=dict)
    soft_due: Mapping[int, tuple[int, int]] = field(default_factory=dict)
    precedences: Sequence[tuple[int, int]] = ()  # (a, b): same vehicle, a served first
    # Stock carried along a route, one entry per kind: (change at each node: negative
    # uses, positive collects; stock of each vehicle at its start). Never below zero.
    stocks: Sequence[tuple[Sequence[int], Sequence[int]]] = ()
    # Optional nodes offered as alternatives: at most one of each group is visited, at no
    # penalty when none is.
    optional_groups: Sequence[Sequence[int]] = ()
    # (helper, served): a visited helper is on the vehicle of ``served``, before it.
    helpers: Sequence[tuple[int, int]] = ()
    # (terms, bound): sum of weight over the visited nodes of terms (node, weight) <= bound.
    limits: Sequence[tuple[Sequence[tuple[int, int]], int]] = ()
    relaxed: frozenset[int] = frozenset()
    inactive: frozenset[int] = frozenset()

    @property
    def num_vehicles(self) -> int:
        return len(self.starts)


@dataclass(frozen=True)
class CoreSolution:
    """Routes as node lists (start/end excluded), service starts, breaks, drops."""

    routes: tuple[tuple[int, ...], ...]
    start_times: Mapping[int, int]
    vehicle_start: tuple[int, ...]
    vehicle_end: tuple[int, ...]
    breaks: Mapping[int, tuple[int, int]]
    dropped: tuple[int, ...]
    objective: int


@dataclass(frozen=True)
class SearchConfig:
    """Search tuning: first solution strategy, metaheuristic and limits."""

    time_limit_s: float = 2.0
    first_solution: str = "PARALLEL_CHEAPEST_INSERTION"
    metaheuristic: str = "GUIDED_LOCAL_SEARCH"
    solution_limit: int | None = None
    # Guided local search penalty weight (OR-Tools' default is 0.1). 0.3 was best on the
    # hardest Solomon instances at 30 s (R107, RC103, R110, RC208: mean gap 5.57% -> 3.24%;
    # 0.05, 0.6 and 1.0 were worse; one run each): see docs/dispatch.md.
    gls_lambda: float | None = 0.3
    # Options tried and left off (over all 56 Solomon instances at 30 s neither helped;
    # see docs/dispatch.md): after the first share of the time limit, continue from the
    # best solution with each of these penalty weights in turn (time split equally); pick
    # local-search operators by a multi-armed bandit instead of in a fixed order.
    then_lambdas: tuple[float, ...] = ()
    bandit: bool = False
    # Local-search operators to switch off (``RoutingSearchParameters.local_search_operators``
    # field names without ``use_``, e.g. ``"local_cheapest_insertion_path_lns"``).
    operators_off: tuple[str, ...] = ()


def search_parameters(cfg: SearchConfig) -> pywrapcp.RoutingSearchParameters:
    """OR-Tools search parameters from a :class:`SearchConfig`."""
    params = pywrapcp.DefaultRoutingSearchParameters()
    params.first_solution_strategy = getattr(FIRST_SOLUTION, cfg.first_solution)
    params.local_search_metaheuristic = getattr(METAHEURISTIC, cfg.metaheuristic)
    millis = max(1, int(cfg.time_limit_s * 1000))
    params.time_limit.seconds = millis // 1000
    params.time_limit.nanos = (millis % 1000) * 1_000_000
    if cfg.solution_limit is not None:
        params.solution_limit = cfg.solution_limit
    if cfg.gls_lambda is not None:
        params.guided_local_search_lambda_coefficient = cfg.gls_lambda
    params.use_multi_armed_bandit_concatenate_operators = cfg.bandit
    for name in cfg.operators_off:
        setattr(params.local_search_operators, f"use_{name}", OPTIONAL_BOOL.BOOL_FALSE)
    return params


def _allow(routing: pywrapcp.RoutingModel, index: int, vehicles: Sequence[int]) -> None:
    """Restrict ``index`` to ``vehicles`` (skills / pinning).

    ``SetAllowedVehiclesForIndex`` is the intended call, but its SWIG wrapper in
    ortools 9.15 rejects every Python sequence (``absl::Span`` typemap); restricting
    the vehicle variable's domain (``-1`` = not performed) is the equivalent model.
    """
    try:
        routing.SetAllowedVehiclesForIndex(list(vehicles), index)
    except TypeError:
        routing.VehicleVar(index).SetValues([-1, *vehicles])


def _build(p: CoreProblem) -> tuple[pywrapcp.RoutingIndexManager, pywrapcp.RoutingModel,
                                     pywrapcp.RoutingDimension, list[pywrapcp.IntervalVar]]:
    n = len(p.travel)
    manager = pywrapcp.RoutingIndexManager(n, p.num_vehicles, list(p.starts), list(p.ends))
    routing = pywrapcp.RoutingModel(manager)
    cost = p.arc_cost if p.arc_cost is not None else p.travel
    routing.SetArcCostEvaluatorOfAllVehicles(
        routing.RegisterTransitMatrix([list(map(int, row)) for row in cost])
    )
    time_matrix = [[p.service[i] + int(t) for t in row] for i, row in enumerate(p.travel)]
    time_cb = routing.RegisterTransitMatrix(time_matrix)
    routing.AddDimension(time_cb, p.horizon, p.horizon, False, "time")
    time_dim = routing.GetDimensionOrDie("time")
    for k, (demand, caps) in enumerate(zip(p.demands, p.capacities, strict=True)):
        cb = routing.RegisterUnaryTransitVector([int(d) for d in demand])
        routing.AddDimensionWithVehicleCapacity(cb, 0, [int(c) for c in caps], True, f"cap{k}")
    special = set(p.starts) | set(p.ends)
    for node in range(n):
        if node in special:
            continue
        index = manager.NodeToIndex(node)
        if node in p.inactive:
            routing.ActiveVar(index).SetValue(0)
            continue
        lo, hi = p.windows[node]
        time_dim.CumulVar(index).SetRange(lo, p.horizon if node in p.relaxed else hi)
        if node in p.soft_due:
            bound, coefficient = p.soft_due[node]
            time_dim.SetCumulVarSoftUpperBound(index, bound, coefficient)
        if node in p.allowed:
            _allow(routing, index, p.allowed[node])
        if node in p.penalties:
            routing.AddDisjunction([index], int(p.penalties[node]))
    for v, (lo, hi) in enumerate(p.vehicle_windows):
        time_dim.CumulVar(routing.Start(v)).SetRange(lo, hi)
        time_dim.CumulVar(routing.End(v)).SetRange(lo, hi)
        routing.AddVariableMinimizedByFinalizer(time_dim.CumulVar(routing.End(v)))
        routing.AddVariableMaximizedByFinalizer(time_dim.CumulVar(routing.Start(v)))
    solver = routing.solver()
    for v, chain in p.chains.items():
        prev = routing.Start(v)
        for node in chain:
            index = manager.NodeToIndex(node)
            solver.Add(routing.NextVar(prev) == index)
            prev = index
    for k, (delta, at_start) in enumerate(p.stocks):
        top = sum(d for d in delta if d > 0) + max(at_start, default=0)
        cb = routing.RegisterUnaryTransitVector([int(d) for d in delta])
        routing.AddDimension(cb, 0, top, False, f"stock{k}")
        stock = routing.GetDimensionOrDie(f"stock{k}")
        for v, held in enumerate(at_start):
            stock.CumulVar(routing.Start(v)).SetValue(int(held))
    for group in p.optional_groups:
        routing.AddDisjunction([manager.NodeToIndex(n) for n in group], 0, 1)
    for helper, served in p.helpers:
        ih, iv = manager.NodeToIndex(helper), manager.NodeToIndex(served)
        # inactive: vehicle -1; active: the served node's vehicle, and no later than it
        solver.Add(routing.VehicleVar(ih)
                   == routing.ActiveVar(ih) * (routing.VehicleVar(iv) + 1) - 1)
        solver.Add(time_dim.CumulVar(ih) <= time_dim.CumulVar(iv))
    for terms, bound in p.limits:
        solver.Add(solver.Sum([routing.ActiveVar(manager.NodeToIndex(n)) * int(w)
                               for n, w in terms]) <= int(bound))
    for a, b in p.precedences:
        ia, ib = manager.NodeToIndex(a), manager.NodeToIndex(b)
        routing.AddPickupAndDelivery(ia, ib)
        solver.Add(routing.VehicleVar(ia) == routing.VehicleVar(ib))
        solver.Add(time_dim.CumulVar(ia) <= time_dim.CumulVar(ib))
    intervals: list[pywrapcp.IntervalVar] = []
    if p.breaks:
        visit_transits = [0] * routing.Size()
        for index in range(routing.Size()):
            visit_transits[index] = int(p.service[manager.IndexToNode(index)])
        for v, (earliest, latest, duration) in p.breaks.items():
            brk = solver.FixedDurationIntervalVar(earliest, latest, duration, False, f"break{v}")
            intervals.append(brk)
            time_dim.SetBreakIntervalsOfVehicle([brk], v, visit_transits)
    return manager, routing, time_dim, intervals


def solve(p: CoreProblem, cfg: SearchConfig) -> CoreSolution | None:
    """Solve ``p``; ``None`` when no feasible solution was found in the limit."""
    manager, routing, time_dim, intervals = _build(p)
    first = replace(cfg, time_limit_s=cfg.time_limit_s / (1 + len(cfg.then_lambdas)))
    solution = routing.SolveWithParameters(search_parameters(first))
    for weight in cfg.then_lambdas if cfg.metaheuristic == "GUIDED_LOCAL_SEARCH" else ():
        if solution is None:
            break
        # a guided local search returns the best it saw, so never worse than its start
        solution = routing.SolveFromAssignmentWithParameters(
            solution, search_parameters(replace(first, gls_lambda=weight))) or solution
    if solution is None:
        return None
    routes: list[tuple[int, ...]] = []
    starts: dict[int, int] = {}
    v_start: list[int] = []
    v_end: list[int] = []
    visited: set[int] = set()
    for v in range(p.num_vehicles):
        index = solution.Value(routing.NextVar(routing.Start(v)))
        nodes: list[int] = []
        while not routing.IsEnd(index):
            node = manager.IndexToNode(index)
            nodes.append(node)
            starts[node] = solution.Min(time_dim.CumulVar(index))
            index = solution.Value(routing.NextVar(index))
        visited.update(nodes)
        routes.append(tuple(nodes))
        v_start.append(solution.Min(time_dim.CumulVar(routing.Start(v))))
        v_end.append(solution.Min(time_dim.CumulVar(routing.End(v))))
    brk: dict[int, tuple[int, int]] = {}
    if intervals:
        container = solution.IntervalVarContainer()
        by_name = {container.Element(i).Var().Name(): container.Element(i)
                   for i in range(container.Size())}
        for v in p.breaks:
            element = by_name.get(f"break{v}")
            if element is not None and element.PerformedValue():
                brk[v] = (element.StartValue(), element.DurationValue())
    special = set(p.starts) | set(p.ends)
    dropped = tuple(n for n in range(len(p.travel)) if n not in special and n not in visited)
    return CoreSolution(
        routes=tuple(routes),
        start_times=starts,
        vehicle_start=tuple(v_start),
        vehicle_end=tuple(v_end),
        breaks=brk,
        dropped=dropped,
        objective=solution.ObjectiveValue(),
    )
