"""``fieldflow train-fault-model``: train on C-MAPSS, evaluate, save model, report, plot."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from models.fault.artifact import save_artifact
from models.fault.cmapss import OP_NAMES, SENSOR_NAMES, load_cmapss, load_rul, sha256_file
from models.fault.predictor import FaultPredictor, measure_inference
from models.fault.report import plot_predictions, summary_table
from models.fault.train import TrainConfig, evaluate, train

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT / "data" / "cmapss"
STEPS = ("features", "cross-validation", "regressor", "classifier")


def build_parser() -> argparse.ArgumentParser:
    """Command-line options."""
    p = argparse.ArgumentParser(
        prog="fieldflow train-fault-model",
        description="Train the RUL / fails-within-H model on NASA C-MAPSS and score it "
        "on the official test set (last cycle per unit, RUL capped at 125).",
    )
    p.add_argument("--train", type=Path, default=DATA_DIR / "train_FD001.txt")
    p.add_argument("--test", type=Path, default=DATA_DIR / "test_FD001.txt")
    p.add_argument("--rul", type=Path, default=DATA_DIR / "RUL_FD001.txt")
    p.add_argument("--model", type=Path, default=Path(".fieldflow/models/fault_fd001.joblib"))
    p.add_argument("--report", type=Path, default=None, help="JSON report path")
    p.add_argument("--plot", type=Path, default=None, help="PNG predicted-vs-true plot")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--horizon", type=int, default=30, help="cycles for P(fail within H)")
    p.add_argument("--kind", choices=("hgb", "extratrees", "ensemble"), default="hgb")
    p.add_argument("--cv", action="store_true", help="also run 5-fold unit-wise CV")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Train, evaluate and write the model, report and plot; 0 on success."""
    args = build_parser().parse_args(argv)
    for name in ("train", "test", "rul"):
        path: Path = getattr(args, name)
        if not path.is_file():
            print(f"error: --{name} {path} not found", file=sys.stderr)
            return 2
    from tqdm import tqdm

    cfg = TrainConfig(seed=args.seed, horizon=args.horizon, kind=args.kind)
    steps = [s for s in STEPS if args.cv or s != "cross-validation"]
    t0 = time.perf_counter()
    with tqdm(total=len(steps), desc="train-fault-model", disable=args.no_progress) as bar:

        def progress(step: str) -> None:
            if bar.n or step != steps[0]:
                bar.update(1)
            bar.set_postfix_str(step)

        model = train(
            load_cmapss(args.train),
            cfg,
            data_path=str(args.train),
            data_sha256=sha256_file(args.train),
            progress=progress,
            cv=args.cv,
        )
        bar.update(1)
    train_s = time.perf_counter() - t0

    test = load_cmapss(args.test)
    ev = evaluate(model, test, load_rul(args.rul))
    meta = model.metadata.model_copy(update={"metrics": ev.metrics})
    model_path = save_artifact(
        args.model,
        regressor=model.regressor,
        classifier=model.classifier,
        spec=model.spec,
        metadata=meta,
    )
    predictor = FaultPredictor.load(model_path)
    names = (*OP_NAMES, *SENSOR_NAMES)
    streams = [
        [
            dict(zip(names, [*test.ops[r].tolist(), *test.sensors[r].tolist()], strict=True))
            for r in test.rows_of(u)
        ]
        for u in test.units
    ]
    ms = measure_inference(predictor, streams)

    report = {
        **ev.metrics,
        "n_test_units": len(ev.units),
        "model_path": str(model_path),
        "convention": "one prediction per test unit at its last cycle; RUL capped at "
        f"{cfg.rul_cap:g} for training; rmse and phm08_score vs truth capped at "
        f"{cfg.rul_cap:g}; rmse_uncapped and phm08_score_uncapped vs raw RUL file",
        "train_seconds": round(train_s, 2),
        "inference_ms_per_update": round(ms, 4),
        "horizon": cfg.horizon,
        "kind": cfg.kind,
        "seed": cfg.seed,
        "cv": meta.cv,
        "training_data_sha256": meta.training_data_sha256,
        "version": meta.version,
        "predictions": [
            {"unit": u, "pred": round(float(p), 2), "true": float(t), "p_fail": round(float(q), 4)}
            for u, p, t, q in zip(ev.units, ev.pred, ev.true, ev.p_fail, strict=True)
        ],
    }
    if args.plot:
        report["plot_path"] = str(plot_predictions(ev, args.plot, cfg.rul_cap))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=2) + "\n")
    extra = {
        "training time (s)": f"{train_s:.1f}",
        "inference ms / asset update": f"{ms:.3f}",
        "model": str(model_path),
    }
    if meta.cv:
        extra["unit-wise CV rmse (train)"] = f"{meta.cv['cv_rmse']:.2f}"
    print(summary_table(ev.metrics, cfg.rul_cap, extra))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
