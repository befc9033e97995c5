"""Several seeds of one configuration: train, score once on the test file, summarise.

Pure orchestration over :func:`models.fault.train.train` / ``evaluate``; the CLI does the
file I/O. Figures are reported as mean, sample standard deviation, min and max.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.fault.cmapss import CmapssData, rul_targets
from models.fault.metrics import cap_rul
from models.fault.train import (
    Evaluation,
    FloatArray,
    TrainConfig,
    TrainedModel,
    evaluate,
    features_for,
    fit_spec,
    held_out_rmse,
    out_of_fold,
    train,
)

#: Figures summarised over seeds (test set, then held-out training units).
SEED_FIGURES = (
    "rmse",
    "rmse_uncapped",
    "phm08_score",
    "phm08_score_uncapped",
    "interval_coverage",
    "interval_coverage_uncapped",
    "interval_mean_width",
    "cv_rmse",
    "cv_interval_coverage",
)


@dataclass(frozen=True)
class SeedRun:
    """One seed's model and its test evaluation."""

    seed: int
    model: TrainedModel
    evaluation: Evaluation

    @property
    def figures(self) -> dict[str, float]:
        """Test metrics plus the held-out (``cv_*``) figures of training."""
        return {**self.evaluation.metrics, **self.model.metadata.cv}


def run_seeds(
    data: CmapssData,
    test: CmapssData,
    truth: FloatArray,
    cfg: TrainConfig,
    seeds: Sequence[int],
    *,
    data_path: str = "",
    data_sha256: str = "",
    progress: Callable[[str], None] | None = None,
) -> list[SeedRun]:
    """Train and evaluate ``cfg`` once per seed."""
    runs = []
    for seed in seeds:
        c = cfg.model_copy(update={"seed": seed})
        say = None if progress is None else (lambda m, s=seed: progress(f"seed {s}: {m}"))
        model = train(data, c, data_path=data_path, data_sha256=data_sha256, progress=say)
        runs.append(SeedRun(seed, model, evaluate(model, test, truth)))
    return runs


def summarise(runs: Sequence[SeedRun]) -> dict[str, dict[str, float]]:
    """Mean, sample std (0 for one seed), min and max of each figure over the seeds."""
    out: dict[str, dict[str, float]] = {}
    for name in SEED_FIGURES:
        vals = np.array([r.figures[name] for r in runs if name in r.figures], dtype=np.float64)
        if vals.size:
            out[name] = {
                "mean": float(vals.mean()),
                "std": float(vals.std(ddof=1)) if vals.size > 1 else 0.0,
                "min": float(vals.min()),
                "max": float(vals.max()),
            }
    return out


def baseline_held_out(
    data: CmapssData, cfg: TrainConfig, progress: Callable[[str], None] | None = None
) -> float:
    """Held-out RMSE (unit-wise folds, :data:`CV_BAND`) of another configuration."""
    x = features_for(data, fit_spec(data, cfg.features))
    rul = rul_targets(data)
    oof = out_of_fold(x, cap_rul(rul, cfg.rul_cap), data.unit, cfg, progress)
    return held_out_rmse(oof, rul, cfg.rul_cap)
