"""Model selection by cross-validation over training units only.

Each candidate is scored by :func:`models.fault.train.cross_validate` (GroupKFold by unit
on the training file, RMSE on rows with true RUL in 5-150, truth capped at 125); the test
file is never read here. ``fieldflow train-fault-model --select`` prints the table; the
lowest held-out RMSE became :class:`~models.fault.train.TrainConfig`'s defaults.
"""

from __future__ import annotations

from collections.abc import Callable

from models.fault.cmapss import CmapssData, rul_targets
from models.fault.features import FeatureConfig
from models.fault.train import (
    DEFAULT_FEATURES,
    LEGACY,
    TrainConfig,
    cross_validate,
    features_for,
    fit_spec,
)

_W100 = FeatureConfig(mean_windows=(5, 10, 20, 30, 60, 100),
                      slope_windows=(10, 20, 30, 60, 100), ewm_spans=(10,))
_W150 = FeatureConfig(mean_windows=(5, 10, 20, 30, 60, 100, 150),
                      slope_windows=(10, 20, 30, 60, 100, 150), ewm_spans=(10,))

def _all(features: FeatureConfig) -> TrainConfig:
    """HistGradientBoosting on all features at every split (as version 1.0)."""
    return TrainConfig(features=features, max_features=1.0)


#: The candidates, by name: version 1.0's model first.
CANDIDATES: dict[str, TrainConfig] = {
    "v1.0: hgb, windows to 30": LEGACY,
    "hgb, windows to 30 + ewm 5/10/20": _all(FeatureConfig(ewm_spans=(5, 10, 20))),
    "hgb, windows to 50 + ewm 5/10/20": _all(
        FeatureConfig(mean_windows=(5, 10, 20, 30, 50), slope_windows=(10, 20, 30, 50),
                      ewm_spans=(5, 10, 20))),
    "hgb, windows to 100 + ewm 10": _all(_W100),
    "hgb, windows to 150 + ewm 10": _all(_W150),
    "hgb, windows to 200 + ewm 10": _all(DEFAULT_FEATURES),
    "hgb, windows to 200 + ewm 10, half the features per split": TrainConfig(
        features=DEFAULT_FEATURES, max_features=0.5),
}


def select(
    data: CmapssData,
    candidates: dict[str, TrainConfig] | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[tuple[str, float]]:
    """Held-out RMSE of each candidate, best first."""
    rul = rul_targets(data)
    scores = []
    for name, cfg in (candidates or CANDIDATES).items():
        if progress:
            progress(name)
        x = features_for(data, fit_spec(data, cfg.features))
        scores.append((name, cross_validate(x, rul, data.unit, cfg)["cv_rmse"]))
    return sorted(scores, key=lambda s: s[1])
