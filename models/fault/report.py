"""Human-facing output of an evaluation: summary table and predicted-vs-true plot."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from models.fault.seeds import SeedRun
from models.fault.train import CV_BAND, Evaluation, TrainConfig

PUBLISHED_FD001_RMSE: tuple[tuple[str, float], ...] = (
    ("SVR (Babu et al. 2016 baseline)", 20.96),
    ("CNN (Babu et al. 2016)", 18.45),
    ("deep LSTM (Zheng et al. 2017)", 16.14),
    ("deep CNN (Li et al. 2018)", 12.61),
)

CONVENTION = (
    "one prediction per test unit at its last observed cycle; RUL capped at {cap:g} for "
    "training; rmse/phm08_score vs truth capped at {cap:g}, *_uncapped vs raw RUL file"
)


def _mean_spread(stats: dict[str, float], digits: int = 2) -> str:
    return (f"{stats['mean']:.{digits}f} +- {stats['std']:.{digits}f} "
            f"(min {stats['min']:.{digits}f}, max {stats['max']:.{digits}f})")


def seeds_table(
    summary: dict[str, dict[str, float]], runs: Sequence[SeedRun], before: float | None
) -> str:
    """Figures over seeds: mean +- sample std (min, max), and the held-out comparison."""
    seeds = ", ".join(str(r.seed) for r in runs)
    rows = [(f"{name} over seeds {seeds}", _mean_spread(stats, 1 if "phm08" in name else 3))
            for name, stats in summary.items()]
    if before is not None:
        rows.append(("held-out rmse, version 1.0 model (before)", f"{before:.3f}"))
    width = max(len(k) for k, _ in rows)
    return "\n".join(f"{k:<{width}}  {v}" for k, v in rows)


def figures_json(
    summary: dict[str, dict[str, float]],
    runs: Sequence[SeedRun],
    cfg: TrainConfig,
    *,
    before: float | None,
    train_s: float,
    ms: float,
    load: Sequence[float],
    model_path: Path,
) -> dict[str, Any]:
    """The ``--json`` document: figures over seeds, per seed, and how they were made."""
    per_seed = [{"seed": r.seed, **{k: r.figures[k] for k in summary if k in r.figures}}
                for r in runs]
    nominal = runs[0].evaluation.metrics.get("interval_nominal")
    return {
        "benchmark": "fault-model",
        "dataset": "C-MAPSS FD001",
        "convention": CONVENTION.format(cap=cfg.rul_cap),
        "held_out": f"{cfg.cv_folds}-fold GroupKFold by unit over train_FD001; RMSE on rows "
        f"with true RUL in [{CV_BAND[0]:g}, {CV_BAND[1]:g}], truth capped at {cfg.rul_cap:g}",
        "seeds": [r.seed for r in runs],
        "summary": summary,
        "per_seed": per_seed,
        "held_out_rmse_before": before,
        "held_out_rmse_after": summary["cv_rmse"]["mean"] if "cv_rmse" in summary else None,
        "interval_nominal_coverage": nominal,
        "train_seconds_per_seed": round(train_s, 2),
        "inference_ms_per_update": round(ms, 4),
        "load_average": [round(x, 2) for x in load],
        "config": cfg.model_dump(mode="json", exclude={"seed"}),
        "model_path": str(model_path),
    }


def summary_table(metrics: dict[str, float], cap: float, extra: dict[str, str]) -> str:
    """A plain-text table of the figures, the convention and the published baselines."""
    rows = [
        ("rmse (truth capped)", f"{metrics['rmse']:.2f}"),
        ("rmse_uncapped", f"{metrics['rmse_uncapped']:.2f}"),
        ("phm08_score (truth capped)", f"{metrics['phm08_score']:.1f}"),
        ("phm08_score_uncapped", f"{metrics['phm08_score_uncapped']:.1f}"),
        ("mae (truth capped)", f"{metrics['mae']:.2f}"),
        ("n_test_units", f"{int(metrics['n_test_units'])}"),
        *(
            [
                (f"interval coverage, nominal {metrics['interval_nominal']:.0%} (capped)",
                 f"{metrics['interval_coverage']:.2f}"),
                ("interval coverage (raw truth, top open)",
                 f"{metrics['interval_coverage_uncapped']:.2f}"),
                ("interval mean width (cycles)", f"{metrics['interval_mean_width']:.1f}"),
            ]
            if "interval_coverage" in metrics
            else []
        ),
        *extra.items(),
    ]
    rows += [(f"published: {name}", f"{v:.2f}") for name, v in PUBLISHED_FD001_RMSE]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    rule = "-" * max(len(x) for x in lines)
    return "\n".join(
        [
            rule,
            "FieldFlow fault model - C-MAPSS test set (first seed)",
            rule,
            *lines,
            rule,
            "convention: " + CONVENTION.format(cap=cap),
        ]
    )


def plot_predictions(ev: Evaluation, path: str | Path, cap: float) -> Path:
    """PNG of predicted vs true RUL per test unit (units sorted by true RUL)."""
    import matplotlib as mpl

    mpl.use("Agg")
    import matplotlib.pyplot as plt

    order = np.argsort(ev.true, kind="stable")
    capped = np.minimum(ev.true, cap)
    fig, ax = plt.subplots(figsize=(11, 5))
    x = np.arange(order.size)
    ax.plot(x, ev.true[order], "k.", ms=4, label="true RUL (raw)")
    ax.plot(x, capped[order], "k-", lw=1, label=f"true RUL capped at {cap:g}")
    if ev.low is not None and ev.high is not None:
        nominal = ev.metrics.get("interval_nominal", float("nan"))
        ax.vlines(x, ev.low[order], ev.high[order], color="tab:red", alpha=0.3, lw=2,
                  label=f"{nominal:.0%} prediction interval")
    ax.plot(x, ev.pred[order], "o", ms=4, color="tab:red", label="predicted RUL")
    ax.set_xlabel("test unit (sorted by true RUL)")
    ax.set_ylabel("RUL (cycles)")
    ax.set_title(
        f"C-MAPSS FD001 test, last cycle per unit: rmse {ev.metrics['rmse']:.2f} "
        f"(capped), {ev.metrics['rmse_uncapped']:.2f} (uncapped), "
        f"PHM08 {ev.metrics['phm08_score']:.0f}"
        + (f", interval coverage {ev.metrics['interval_coverage']:.2f}"
           if "interval_coverage" in ev.metrics else "")
    )
    ax.grid(alpha=0.3)
    ax.legend()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
