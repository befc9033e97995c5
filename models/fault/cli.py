"""``fieldflow train-fault-model``: train on C-MAPSS over several seeds, evaluate, save the
first seed's model, print the figures and write the report, the ``--json`` figures and the
plot."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from models.fault.artifact import save_artifact
from models.fault.cmapss import OP_NAMES, SENSOR_NAMES, load_cmapss, load_rul, sha256_file
from models.fault.predictor import FaultPredictor, measure_inference
from models.fault.report import figures_json, plot_predictions, seeds_table, summary_table
from models.fault.seeds import baseline_held_out, run_seeds, summarise
from models.fault.selection import CANDIDATES, select
from models.fault.train import LEGACY, TrainConfig

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data" / "cmapss"


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="fieldflow train-fault-model",
        description="Train the RUL / fails-within-H model on NASA C-MAPSS over several "
        "seeds and score it on the official test set (last cycle per unit, RUL capped at "
        "125), with conformal prediction intervals calibrated on held-out training units.",
    )
    p.add_argument("--train", type=Path, default=DATA_DIR / "train_FD001.txt")
    p.add_argument("--test", type=Path, default=DATA_DIR / "test_FD001.txt")
    p.add_argument("--rul", type=Path, default=DATA_DIR / "RUL_FD001.txt")
    p.add_argument("--model", type=Path, default=Path(".fieldflow/models/fault_fd001.joblib"))
    p.add_argument("--report", type=Path, default=None, help="JSON report path (first seed)")
    p.add_argument("--json", type=Path, default=None, help="figures over all seeds (JSON)")
    p.add_argument("--plot", type=Path, default=None, help="PNG predicted-vs-true plot")
    p.add_argument("--seed", type=int, default=0, help="first seed; its model is saved")
    p.add_argument("--seeds", type=int, default=5, help="seeds to train and score")
    p.add_argument("--horizon", type=int, default=30, help="cycles for P(fail within H)")
    p.add_argument("--kind", choices=("hgb", "extratrees", "ensemble"), default=None,
                   help="regressor (default: the CV-selected one)")
    p.add_argument("--select", action="store_true",
                   help="first run the model selection (unit-wise CV over training units "
                   "only, models.fault.selection) and train its winner")
    p.add_argument("--no-baseline", action="store_true",
                   help="skip the held-out RMSE of the version-1.0 model (5 more fits)")
    p.add_argument("--no-progress", action="store_true")
    return p


def _limit_threads() -> Any:
    """One OpenMP/BLAS thread: the machine that trains also runs the stack."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and write the model, report, figures and plot; 0 on success."""
    args = build_parser().parse_args(argv)
    for name in ("train", "test", "rul"):
        path: Path = getattr(args, name)
        if not path.is_file():
            print(f"error: --{name} {path} not found", file=sys.stderr)
            return 2
    if args.seeds < 1:
        print("error: --seeds must be at least 1", file=sys.stderr)
        return 2
    from tqdm import tqdm

    cfg = TrainConfig(horizon=args.horizon)
    if args.kind:
        cfg = cfg.model_copy(update={"kind": args.kind})
    data, test, truth = load_cmapss(args.train), load_cmapss(args.test), load_rul(args.rul)
    selection: list[tuple[str, float]] = []
    if args.select:
        with _limit_threads(), tqdm(total=len(CANDIDATES), desc="model selection",
                                    disable=args.no_progress) as sel_bar:

            def candidate(name: str) -> None:
                sel_bar.set_postfix_str(name)
                sel_bar.update(1)

            selection = select(data, progress=candidate)
        for name, score in selection:
            print(f"held-out rmse {score:7.3f}  {name}")
        cfg = CANDIDATES[selection[0][0]].model_copy(update={"horizon": args.horizon})
    seeds = list(range(args.seed, args.seed + args.seeds))
    per_seed = cfg.cv_folds + 3  # features, folds, regressor, classifier
    total = per_seed * len(seeds) + (0 if args.no_baseline else LEGACY.cv_folds)
    t0 = time.perf_counter()
    with _limit_threads(), tqdm(total=total, desc="train-fault-model",
                                disable=args.no_progress) as bar:

        def progress(step: str) -> None:
            bar.set_postfix_str(step)
            bar.update(1)

        runs = run_seeds(data, test, truth, cfg, seeds, data_path=str(args.train),
                         data_sha256=sha256_file(args.train), progress=progress)
        train_s = (time.perf_counter() - t0) / len(seeds)
        before = None
        if not args.no_baseline:
            before = baseline_held_out(
                data, LEGACY.model_copy(update={"horizon": args.horizon}),
                lambda m: progress(f"version 1.0 model: {m}"))
    first = runs[0]
    ev, model = first.evaluation, first.model
    meta = model.metadata.model_copy(update={"metrics": ev.metrics})
    model_path = save_artifact(args.model, regressor=model.regressor,
                               classifier=model.classifier, spec=model.spec, metadata=meta,
                               intervals=model.intervals)
    predictor = FaultPredictor.load(model_path)
    names = (*OP_NAMES, *SENSOR_NAMES)
    streams = [
        [dict(zip(names, [*test.ops[r].tolist(), *test.sensors[r].tolist()], strict=True))
         for r in test.rows_of(u)]
        for u in test.units
    ]
    ms = measure_inference(predictor, streams)
    load = os.getloadavg()
    summary = summarise(runs)
    figures = figures_json(summary, runs, cfg, before=before, train_s=train_s, ms=ms,
                           load=load, model_path=model_path)
    if selection:
        figures["selection"] = [{"candidate": n, "held_out_rmse": v} for n, v in selection]
    report: dict[str, Any] = {
        **ev.metrics,
        "n_test_units": len(ev.units),
        "model_path": str(model_path),
        "convention": figures["convention"],
        "train_seconds": round(train_s, 2),
        "inference_ms_per_update": round(ms, 4),
        "load_average": [round(x, 2) for x in load],
        "horizon": cfg.horizon,
        "kind": cfg.kind,
        "seed": first.seed,
        "cv": meta.cv,
        "intervals": None if model.intervals is None else model.intervals.model_dump(),
        "training_data_sha256": meta.training_data_sha256,
        "version": meta.version,
        "predictions": [
            {"unit": u, "pred": round(float(p), 2), "true": float(t),
             "p_fail": round(float(q), 4), "low": round(float(lo), 2),
             "high": round(float(hi), 2)}
            for u, p, t, q, lo, hi in zip(ev.units, ev.pred, ev.true, ev.p_fail,
                                          ev.low if ev.low is not None else ev.pred,
                                          ev.high if ev.high is not None else ev.pred,
                                          strict=True)
        ],
    }
    if args.plot:
        report["plot_path"] = str(plot_predictions(ev, args.plot, cfg.rul_cap))
    for path, body in ((args.report, report), (args.json, figures)):
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(body, indent=2) + "\n")
    extra = {
        "training time per seed (s)": f"{train_s:.1f}",
        "inference ms / asset update": f"{ms:.3f}",
        "load average (1/5/15 min)": " ".join(f"{x:.2f}" for x in load),
        "model": str(model_path),
    }
    print(summary_table(ev.metrics, cfg.rul_cap, extra))
    print(seeds_table(summary, runs, before))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
