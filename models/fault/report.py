"""Human-facing output of an evaluation: summary table and predicted-vs-true plot."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.fault.train import Evaluation

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


def summary_table(metrics: dict[str, float], cap: float, extra: dict[str, str]) -> str:
    """A plain-text table of the figures, the convention and the published baselines."""
    rows = [
        ("rmse (truth capped)", f"{metrics['rmse']:.2f}"),
        ("rmse_uncapped", f"{metrics['rmse_uncapped']:.2f}"),
        ("phm08_score (truth capped)", f"{metrics['phm08_score']:.1f}"),
        ("phm08_score_uncapped", f"{metrics['phm08_score_uncapped']:.1f}"),
        ("mae (truth capped)", f"{metrics['mae']:.2f}"),
        ("n_test_units", f"{int(metrics['n_test_units'])}"),
        *extra.items(),
    ]
    rows += [(f"published: {name}", f"{v:.2f}") for name, v in PUBLISHED_FD001_RMSE]
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    rule = "-" * max(len(x) for x in lines)
    return "\n".join(
        [
            rule,
            "FieldFlow fault model - C-MAPSS test set",
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
    ax.plot(x, ev.pred[order], "o", ms=4, color="tab:red", label="predicted RUL")
    ax.set_xlabel("test unit (sorted by true RUL)")
    ax.set_ylabel("RUL (cycles)")
    ax.set_title(
        f"C-MAPSS FD001 test, last cycle per unit: rmse {ev.metrics['rmse']:.2f} "
        f"(capped), {ev.metrics['rmse_uncapped']:.2f} (uncapped), "
        f"PHM08 {ev.metrics['phm08_score']:.0f}"
    )
    ax.grid(alpha=0.3)
    ax.legend()
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(target, dpi=110)
    plt.close(fig)
    return target
