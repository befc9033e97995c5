"""The estimators: RUL regressor and calibrated "fails within the horizon" classifier.

All single-threaded (``n_jobs=1``; the training CLI also limits OpenMP to one thread):
the machine that trains is the one that runs the stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.model_selection import GroupKFold

if TYPE_CHECKING:
    from models.fault.train import TrainConfig


def make_regressor(cfg: TrainConfig) -> Any:
    """A fresh, unfitted RUL regressor of ``cfg.kind``."""
    hgb = HistGradientBoostingRegressor(
        learning_rate=cfg.learning_rate,
        max_iter=cfg.max_iter,
        max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2_regularization,
        max_features=cfg.max_features,
        early_stopping=False,
        random_state=cfg.seed,
    )
    et = ExtraTreesRegressor(
        n_estimators=cfg.et_trees,
        min_samples_leaf=cfg.et_min_samples_leaf,
        max_features=0.3,
        n_jobs=1,
        random_state=cfg.seed,
    )
    if cfg.kind == "hgb":
        return hgb
    if cfg.kind == "extratrees":
        return et
    return VotingRegressor([("hgb", hgb), ("et", et)], weights=[cfg.hgb_weight, 1 - cfg.hgb_weight])


def regressor_name(cfg: TrainConfig) -> str:
    """How the metadata names the regressor."""
    if cfg.kind == "hgb":
        return "HistGradientBoostingRegressor"
    if cfg.kind == "extratrees":
        return "ExtraTreesRegressor"
    return f"VotingRegressor(hgb {cfg.hgb_weight:g}, et {1 - cfg.hgb_weight:g})"


def make_classifier(cfg: TrainConfig, groups: npt.NDArray[np.int64], y: Any) -> Any:
    """Isotonic-calibrated classifier of "fails within horizon", unit-wise folds."""
    base = HistGradientBoostingClassifier(
        learning_rate=cfg.learning_rate,
        max_iter=max(cfg.max_iter // 2, 50),
        max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=cfg.min_samples_leaf,
        early_stopping=False,
        random_state=cfg.seed,
    )
    folds = list(GroupKFold(cfg.calibration_folds).split(np.zeros(len(y)), y, groups))
    return CalibratedClassifierCV(base, method="isotonic", cv=folds)
