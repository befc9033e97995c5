"""The Solomon bench's comparisons: PyVRP and OR-Tools' routing library, same budget.

Both solve the same DIMACS-truncated instance (distance only, at most the instance's
fleet). Their distances can be reused from an earlier ``--json`` record instead of
being recomputed (``--baselines-from``), so the comparison columns need not cost
another hour of CPU on every run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dispatch.solomon import SCALE, SolomonInstance, solve_instance_ortools


def pyvrp_distance(inst: SolomonInstance, time_limit_s: float) -> float | None:
    """PyVRP's best distance on the same DIMACS-truncated matrix, or None if absent."""
    try:
        from pyvrp import Model
        from pyvrp.stop import MaxRuntime
    except ImportError:
        return None
    m = Model()
    cs = inst.customers
    locs = [m.add_location(c.x, c.y) for c in cs]
    depot = m.add_depot(locs[0], tw_early=cs[0].ready * SCALE, tw_late=cs[0].due * SCALE)
    m.add_vehicle_type(num_available=inst.vehicles, capacity=inst.capacity, start_depot=depot,
                       end_depot=depot, tw_early=cs[0].ready * SCALE, tw_late=cs[0].due * SCALE)
    for c, loc in zip(cs[1:], locs[1:], strict=True):
        m.add_client(loc, delivery=c.demand, service_duration=c.service * SCALE,
                     tw_early=c.ready * SCALE, tw_late=c.due * SCALE)
    dist = inst.distance_matrix()
    for i, a in enumerate(locs):
        for j, b in enumerate(locs):
            m.add_edge(a, b, distance=dist[i][j], duration=dist[i][j])
    res = m.solve(stop=MaxRuntime(time_limit_s), display=False)
    if not res.is_feasible():
        return None
    return float(res.best.distance()) / SCALE


def ortools_distance(inst: SolomonInstance, time_limit_s: float) -> float | None:
    """OR-Tools routing (pywrapcp, guided local search, ``dispatch.core``'s Solomon
    configuration), or None if it found nothing feasible."""
    try:
        return solve_instance_ortools(inst, time_limit_s=time_limit_s).distance
    except RuntimeError:
        return None


def load_baselines(paths: list[Path], time_limit_s: float) -> dict[str, dict[str, float]]:
    """``{instance: {"pyvrp": d, "ortools": d}}`` from earlier ``--json`` records of the
    same time limit (later files win). A record of this bench has ``pyvrp_distance`` and
    ``ortools_distance`` per instance; a record made before our own search (``search``
    names OR-Tools settings, no ``solver`` key) has OR-Tools' distance as ``distance``."""
    out: dict[str, dict[str, float]] = {}
    for path in paths:
        rec: dict[str, Any] = json.loads(path.read_text())
        if rec.get("time_limit_s") != time_limit_s:
            raise ValueError(f"{path}: time limit {rec.get('time_limit_s')} s, not {time_limit_s}")
        old_ortools = "solver" not in rec
        for row in rec["instances"]:
            got = out.setdefault(row["name"], {})
            if row.get("pyvrp_distance") is not None:
                got["pyvrp"] = row["pyvrp_distance"]
            ort = row.get("distance") if old_ortools else row.get("ortools_distance")
            if ort is not None:
                got["ortools"] = ort
    return out
