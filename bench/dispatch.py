"""Dispatch benchmark: Solomon VRPTW, our own route search (SISR, ``dispatch/sisr.py``)
vs the DIMACS best-known, PyVRP and OR-Tools' routing library on the same budget, and
the latency of real-time assignment for 50/200/1,000 engineers.

Run: ``fieldflow bench dispatch --time-limit 30`` (or ``python -m bench.dispatch``).
Prints a per-instance table and a per-class table (C1, C2, R1, R2, RC1, RC2), and saves
JSON + a PNG bar plot of gaps under ``--out-dir``. ``--disable OP[,OP]`` switches
operators of our search off (what each contributes); ``--baselines-from JSON`` reuses
PyVRP/OR-Tools distances from an earlier record. PyVRP comes with the ``dev`` extra;
without it (and without a record) its columns are null.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench.dispatch_baselines import load_baselines, ortools_distance, pyvrp_distance
from dispatch import sisr
from dispatch.assign import rank_candidates
from dispatch.solomon import load, solve_instance, validate
from dispatch.synthetic import make_city
from models.travel import TravelModel

DEFAULT_DATA = Path(__file__).resolve().parents[1] / "data" / "solomon"
CLASSES = ("C1", "C2", "R1", "R2", "RC1", "RC2")


def _gap(d: float | None, best: float | None) -> float | None:
    return None if d is None or best is None else round(100 * (d / best - 1), 2)


def run_instance(path: Path, bks: dict[str, float], time_limit: float, cfg: sisr.SisrConfig,
                 use_pyvrp: bool, use_ortools: bool,
                 recorded: dict[str, float]) -> dict[str, Any]:
    """Solve one instance with our search (validated), then the comparisons that are not
    taken from ``recorded``."""
    inst = load(path)
    sol = solve_instance(inst, time_limit_s=time_limit, config=cfg)
    errors = validate(inst, sol.routes)
    if errors:
        raise RuntimeError(f"{inst.name}: invalid solution: {errors[:3]}")
    best = bks.get(inst.name)
    pv = recorded.get("pyvrp")
    if pv is None and use_pyvrp:
        pv = pyvrp_distance(inst, time_limit)
    ort = recorded.get("ortools")
    if ort is None and use_ortools:
        ort = ortools_distance(inst, time_limit)
    return {
        "name": inst.name,
        "distance": round(sol.distance, 1),
        "vehicles": sol.vehicles,
        "iterations": sol.iterations,
        "bks_distance": best,
        "gap_pct": _gap(sol.distance, best),
        "pyvrp_distance": pv,
        "pyvrp_gap_pct": _gap(pv, best),
        "ortools_distance": ort,
        "ortools_gap_pct": _gap(ort, best),
        "ratio_to_pyvrp": None if pv is None else round(sol.distance / pv, 4),
        "baselines_recorded": sorted(recorded),
    }


def _warm_up() -> None:
    """Load (or compile) the numba kernel before any clock starts."""
    sisr.warm_up()


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


def _max(values: list[float | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return max(vals) if vals else None


def per_class(rows: list[dict[str, Any]], groups: dict[str, str]) -> list[dict[str, Any]]:
    """Mean (and our worst) gap per Solomon class, then over all instances."""
    out = []
    for cls in (*CLASSES, "all"):
        rs = [r for r in rows if cls == "all" or groups.get(r["name"]) == cls]
        if not rs:
            continue
        out.append({
            "class": cls, "instances": len(rs),
            "mean_gap_pct": _mean([r["gap_pct"] for r in rs]),
            "worst_gap_pct": _max([r["gap_pct"] for r in rs]),
            "pyvrp_mean_gap_pct": _mean([r["pyvrp_gap_pct"] for r in rs]),
            "ortools_mean_gap_pct": _mean([r["ortools_gap_pct"] for r in rs]),
            "pyvrp_instances": sum(r["pyvrp_gap_pct"] is not None for r in rs),
            "ortools_instances": sum(r["ortools_gap_pct"] is not None for r in rs),
        })
    return out


def _fmt(v: float | None, spec: str = "6.2f") -> str:
    return "-" if v is None else format(v, spec)


def print_tables(rows: list[dict[str, Any]], classes: list[dict[str, Any]]) -> None:
    print(f"{'instance':9} {'dist':>8} {'veh':>4} {'bks':>8} {'gap%':>6} {'pyvrp%':>7} "
          f"{'ortools%':>8} {'iters':>9}")
    for r in rows:
        print(f"{r['name']:9} {r['distance']:8.1f} {r['vehicles']:4d} {r['bks_distance']:8.1f} "
              f"{_fmt(r['gap_pct'])} {_fmt(r['pyvrp_gap_pct'], '7.2f')} "
              f"{_fmt(r['ortools_gap_pct'], '8.2f')} {r['iterations']:9d}")
    print(f"\n{'class':5} {'n':>3} {'ours gap%':>9} {'worst%':>7} {'PyVRP gap%':>10} "
          f"{'OR-Tools gap%':>13}")
    for c in classes:
        print(f"{c['class']:5} {c['instances']:3d} {_fmt(c['mean_gap_pct'], '9.2f')} "
              f"{_fmt(c['worst_gap_pct'], '7.2f')} {_fmt(c['pyvrp_mean_gap_pct'], '10.2f')} "
              f"{_fmt(c['ortools_mean_gap_pct'], '13.2f')}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="fieldflow bench dispatch", description=__doc__)
    ap.add_argument("--instances", help="comma-separated names (default: all in the folder)")
    ap.add_argument("--time-limit", type=float, default=30.0, help="seconds per instance")
    ap.add_argument("--json", type=Path, help="also write the JSON result here")
    ap.add_argument("--disable", default="",
                    help=f"operators of our search to switch off, comma-separated "
                         f"({', '.join(sisr.OPERATORS)})")
    ap.add_argument("--seed", type=int, default=sisr.SisrConfig.seed)
    ap.add_argument("--no-pyvrp", action="store_true", help="skip the PyVRP comparison")
    ap.add_argument("--no-ortools", action="store_true",
                    help="skip the OR-Tools routing comparison")
    ap.add_argument("--baselines-from", type=Path, action="append", default=[],
                    help="reuse PyVRP/OR-Tools distances from an earlier --json record of "
                         "the same time limit (repeatable; instances it lacks are run)")
    ap.add_argument("--data-dir", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--out-dir", type=Path, default=Path(".fieldflow/bench"))
    ap.add_argument("--skip-assign", action="store_true", help="skip assignment timings")
    ap.add_argument("--jobs", type=int, default=1,
                    help="instances solved side by side, one process each (each solver is "
                         "single-threaded: keep jobs <= idle cores so each gets a whole core)")
    args = ap.parse_args(argv)
    disabled = frozenset(x.strip() for x in args.disable.split(",") if x.strip())
    try:
        cfg = sisr.SisrConfig(seed=args.seed, disabled=disabled)
        cfg.flags()
    except ValueError as exc:
        print(f"--disable: {exc}")
        return 2

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
        table = list(csv.DictReader(fh))
    bks = {r["instance"]: float(r["dimacs_bks_distance"]) for r in table}
    groups = {r["instance"]: r["group"] for r in table}
    recorded = load_baselines(args.baselines_from, args.time_limit)
    use_pyvrp = not args.no_pyvrp
    if use_pyvrp:
        try:
            import pyvrp  # noqa: F401
        except ImportError:
            print("note: PyVRP is not installed (pip install pyvrp); its columns are null")
            use_pyvrp = False

    load_before = os.getloadavg()
    jobs = [(p, bks, args.time_limit, cfg, use_pyvrp, not args.no_ortools,
             recorded.get(p.stem, {})) for p in paths]
    if args.jobs > 1:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"),
                                 initializer=_warm_up) as pool:
            futures = [pool.submit(run_instance, *j) for j in jobs]
            rows = [f.result() for f in tqdm(futures, desc="solomon", unit="inst")]
    else:
        _warm_up()
        rows = [run_instance(*j) for j in tqdm(jobs, desc="solomon", unit="inst")]
    load_after = os.getloadavg()
    classes = per_class(rows, groups)
    print_tables(rows, classes)
    result: dict[str, Any] = {
        "time_limit_s": args.time_limit,
        "solver": "sisr",
        "search": {"seed": cfg.seed, "disabled": sorted(cfg.disabled),
                   "avg_removed": cfg.avg_removed, "max_string": cfg.max_string,
                   "blink_rate": cfg.blink_rate,
                   "route_rate": cfg.route_rate, "t_start": cfg.t_start, "t_end": cfg.t_end},
        "jobs": args.jobs,
        "loadavg_before": [round(x, 2) for x in load_before],
        "loadavg_after": [round(x, 2) for x in load_after],
        "baselines_from": [str(p) for p in args.baselines_from],
        "instances": rows,
        "classes": classes,
        "mean_gap_pct": _mean([r["gap_pct"] for r in rows]),
        "pyvrp_mean_gap_pct": _mean([r["pyvrp_gap_pct"] for r in rows]),
        "ortools_mean_gap_pct": _mean([r["ortools_gap_pct"] for r in rows]),
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
    off = ",".join(sorted(cfg.disabled)) or "none"
    print(f"summary: {len(rows)} instances at {args.time_limit:g} s, operators off: {off}, "
          f"mean gap {result['mean_gap_pct']}% to DIMACS BKS (PyVRP "
          f"{result['pyvrp_mean_gap_pct']}%, OR-Tools {result['ortools_mean_gap_pct']}%), "
          f"load average {load_before[0]:.2f} -> {load_after[0]:.2f} "
          f"(saved under {args.out_dir})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
