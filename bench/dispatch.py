"""Dispatch benchmark: Solomon VRPTW vs best-known (DIMACS) and PyVRP, and the latency
of real-time assignment for 50/200/1,000 engineers.

Run: ``python -m bench.dispatch --instances C101,R101 --time-limit 30`` (or
``fieldflow bench dispatch ...``). Prints a table and a one-line summary, and saves
JSON + a PNG bar plot of gaps under ``--out-dir``. PyVRP comes with the ``dev``
extra (``make test`` installs it); without it those columns are null.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from dispatch.assign import rank_candidates
from dispatch.core import SearchConfig
from dispatch.solomon import (
    MANDATORY_VISITS_OPERATORS_OFF,
    SCALE,
    SOLOMON_SEARCH,
    SolomonInstance,
    load,
    solve_instance,
    validate,
)
from dispatch.synthetic import make_city
from models.travel import TravelModel

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "solomon"


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


def run_instance(path: Path, bks: dict[str, float], time_limit: float,
                 use_pyvrp: bool, search: SearchConfig = SOLOMON_SEARCH) -> dict[str, Any]:
    inst = load(path)
    sol = solve_instance(inst, time_limit_s=time_limit, search=search)
    errors = validate(inst, sol.routes)
    if errors:
        raise RuntimeError(f"{inst.name}: invalid solution: {errors[:3]}")
    best = bks.get(inst.name)
    pv = pyvrp_distance(inst, time_limit) if use_pyvrp else None
    return {
        "name": inst.name,
        "distance": round(sol.distance, 1),
        "vehicles": sol.vehicles,
        "bks_distance": best,
        "gap_pct": None if best is None else round(100 * (sol.distance / best - 1), 2),
        "pyvrp_distance": pv,
        "ratio_to_pyvrp": None if pv is None else round(sol.distance / pv, 4),
    }


def time_assignment(sizes: tuple[int, ...] = (50, 200, 1000), orders: int = 40,
                    seed: int = 7) -> dict[str, dict[str, float]]:
    """p50/p99 latency (ms) of ranking candidates for one new order in a synthetic city."""
    out: dict[str, dict[str, float]] = {}
    travel = TravelModel()
    for n in sizes:
        city = make_city(n, n * 4 + orders, seed=seed, route_len=4)
        visits = {v.id: v for v in city.visits}
        samples = []
        for new in city.visits[n * 4:]:
            t0 = time.perf_counter()
            rank_candidates(new, city.engineers, visits, travel, now_s=9 * 3600,
                            depots=city.depots)
            samples.append((time.perf_counter() - t0) * 1000)
        q = statistics.quantiles(samples, n=100)
        out[str(n)] = {"p50_ms": round(statistics.median(samples), 1), "p99_ms": round(q[98], 1)}
    return out


def _plot(rows: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(max(6, len(rows) * 0.35), 4))
    ax.bar([r["name"] for r in rows], [r["gap_pct"] or 0 for r in rows])
    ax.set_ylabel("gap to DIMACS BKS (%)")
    ax.tick_params(axis="x", rotation=90)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _mean(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return round(statistics.fmean(vals), 4) if vals else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fieldflow bench dispatch", description=__doc__)
    ap.add_argument("--instances", help="comma-separated names (default: all in the folder)")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per instance")
    ap.add_argument("--json", type=Path, help="also write the JSON result here")
    ap.add_argument("--no-pyvrp", action="store_true", help="skip the PyVRP comparison")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out-dir", type=Path, default=Path(".fieldflow/bench"))
    ap.add_argument("--skip-assign", action="store_true", help="skip assignment timings")
    ap.add_argument("--jobs", type=int, default=1,
                    help="instances solved side by side, one process each (each solver is "
                         "single-threaded: keep jobs <= idle cores so each gets a whole core)")
    ap.add_argument("--gls-lambda", type=float, default=SearchConfig.gls_lambda,
                    help="guided local search penalty coefficient (to compare tunings)")
    ap.add_argument("--then-lambdas", default=",".join(map(str, SearchConfig.then_lambdas)),
                    help="penalty weights the search continues with from its best solution, "
                         "comma-separated ('' for one search over the whole time limit)")
    ap.add_argument("--bandit", action="store_true",
                    help="pick local-search operators by a multi-armed bandit instead of in a "
                         "fixed order (to compare tunings)")
    ap.add_argument("--operators-off", default=",".join(MANDATORY_VISITS_OPERATORS_OFF),
                    help="local-search operators to switch off, comma-separated (OR-Tools "
                         "names without use_; default: those only useful for optional visits "
                         "and the insertion LNS ones; '' for OR-Tools' full set)")
    args = ap.parse_args(argv)
    search = SearchConfig(gls_lambda=args.gls_lambda, bandit=args.bandit,
                          operators_off=tuple(x.strip() for x in args.operators_off.split(",")
                                              if x.strip()),
                          then_lambdas=tuple(float(x) for x in args.then_lambdas.split(",")
                                             if x.strip()))

    inst_dir = args.data_dir / "instances"
    if args.instances:
        paths = [inst_dir / f"{n.strip().upper()}.txt" for n in args.instances.split(",")]
    else:
        paths = sorted(inst_dir.glob("*.txt"))
    missing = [p for p in paths if not p.exists()]
    if missing:
        print(f"unknown instances: {', '.join(p.stem for p in missing)} (in {inst_dir})")
        return 2
    with (args.data_dir / "bks.csv").open() as fh:
        bks = {r["instance"]: float(r["dimacs_bks_distance"]) for r in csv.DictReader(fh)}
    use_pyvrp = not args.no_pyvrp
    if use_pyvrp:
        try:
            import pyvrp  # noqa: F401
        except ImportError:
            print("note: PyVRP is not installed (pip install pyvrp); its columns are null")
            use_pyvrp = False

    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_instance, p, bks, args.time_limit, use_pyvrp, search)
                       for p in paths]
            for _ in tqdm(as_completed(futures), total=len(futures), desc="solomon",
                          unit="inst"):
                pass
            rows = [f.result() for f in futures]
    else:
        rows = [run_instance(p, bks, args.time_limit, use_pyvrp, search)
                for p in tqdm(paths, desc="solomon", unit="inst")]
    print(f"{'instance':9} {'dist':>8} {'veh':>4} {'bks':>8} {'gap%':>6} {'pyvrp':>8} "
          f"{'ours/pyvrp':>10}")
    for r in rows:
        pv = "-" if r["pyvrp_distance"] is None else f"{r['pyvrp_distance']:.1f}"
        ratio = "-" if r["ratio_to_pyvrp"] is None else f"{r['ratio_to_pyvrp']:.4f}"
        print(f"{r['name']:9} {r['distance']:8.1f} {r['vehicles']:4d} {r['bks_distance']:8.1f} "
              f"{r['gap_pct']:6.2f} {pv:>8} {ratio:>10}")
    result: dict[str, Any] = {
        "time_limit_s": args.time_limit,
        "search": {"gls_lambda": search.gls_lambda, "then_lambdas": search.then_lambdas,
                   "bandit": search.bandit, "operators_off": search.operators_off},
        "jobs": args.jobs,
        "instances": rows,
        "mean_gap_pct": _mean([r["gap_pct"] for r in rows]),
        "mean_ratio_to_pyvrp": _mean([r["ratio_to_pyvrp"] for r in rows]),
    }
    if not args.skip_assign:
        result["assign_latency_ms"] = time_assignment()
        for n, q in result["assign_latency_ms"].items():
            print(f"assign {n:>5} engineers: p50 {q['p50_ms']} ms, p99 {q['p99_ms']} ms")
    args.out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = json.dumps(result, indent=2)
    (args.out_dir / f"dispatch-{stamp}.json").write_text(text)
    _plot(rows, args.out_dir / f"dispatch-{stamp}.png")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text)
    print(f"summary: {len(rows)} instances at {args.time_limit:g} s, mean gap "
          f"{result['mean_gap_pct']}% to DIMACS BKS, mean ours/PyVRP "
          f"{result['mean_ratio_to_pyvrp']} (saved under {args.out_dir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
