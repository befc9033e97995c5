"""Training and evaluation of the fault model on C-MAPSS.

- RUL regressor: scikit-learn ``HistGradientBoostingRegressor`` on the window features,
  target ``min(RUL, 125)`` (piece-wise linear, as Li et al. 2018); ``ensemble`` averages
  it with an ``ExtraTreesRegressor``.
- Failure classifier: ``CalibratedClassifierCV`` (isotonic) around a
  ``HistGradientBoostingClassifier`` of ``RUL <= horizon``, calibrated on unit-wise folds.
- Choices are made by unit-wise cross-validation (:func:`cross_validate`, GroupKFold by
  unit) on the training file only; the test file is used once, for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict
from sklearn.calibration import CalibratedClassifierCV
from sklearn.ensemble import (
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    VotingRegressor,
)
from sklearn.model_selection import GroupKFold

from models.fault.artifact import ModelMetadata
from models.fault.cmapss import OP_NAMES, SENSOR_NAMES, CmapssData, rul_targets
from models.fault.conditions import ConditionNormalizer, select_sensors
from models.fault.features import FeatureConfig, FeatureSpec, batch_features, feature_names
from models.fault.metrics import cap_rul, phm08_score, rmse

FloatArray = npt.NDArray[np.float64]
ModelKind = Literal["hgb", "extratrees", "ensemble"]
Progress = Callable[[str], None]


class TrainConfig(BaseModel):
    """Hyper-parameters (chosen by unit-wise 5-fold CV on train_FD001, see README)."""

    model_config = ConfigDict(frozen=True)

    rul_cap: float = 125.0
    horizon: int = 30
    seed: int = 0
    kind: ModelKind = "hgb"
    features: FeatureConfig = FeatureConfig()
    learning_rate: float = 0.05
    max_iter: int = 400
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    calibration_folds: int = 3


@dataclass(frozen=True)
class TrainedModel:
    """Estimators, feature spec and metadata, ready to save or evaluate."""

    regressor: Any
    classifier: Any
    spec: FeatureSpec
    metadata: ModelMetadata


def fit_spec(data: CmapssData, config: FeatureConfig) -> FeatureSpec:
    """Select sensors and fit the per-condition normaliser on training data."""
    sensors = select_sensors(data.sensors, SENSOR_NAMES)
    idx = [SENSOR_NAMES.index(s) for s in sensors]
    norm = ConditionNormalizer.fit(data.ops, data.sensors[:, idx])
    return FeatureSpec(sensors=tuple(sensors), ops=OP_NAMES, normalizer=norm, config=config)


def features_for(data: CmapssData, spec: FeatureSpec) -> FloatArray:
    """Feature matrix for every row of a C-MAPSS file."""
    idx = [SENSOR_NAMES.index(s) for s in spec.sensors]
    z = spec.normalizer.transform(data.ops, data.sensors[:, idx])
    return batch_features(z, data.unit, spec.config)


def make_regressor(cfg: TrainConfig) -> Any:
    """A fresh, unfitted RUL regressor of ``cfg.kind``."""
    hgb = HistGradientBoostingRegressor(
        learning_rate=cfg.learning_rate,
        max_iter=cfg.max_iter,
        max_leaf_nodes=cfg.max_leaf_nodes,
        min_samples_leaf=cfg.min_samples_leaf,
        l2_regularization=cfg.l2_regularization,
        early_stopping=False,
        random_state=cfg.seed,
    )
    et = ExtraTreesRegressor(
        n_estimators=200,
        min_samples_leaf=5,
        max_features=0.3,
        n_jobs=-1,
        random_state=cfg.seed,
    )
    if cfg.kind == "hgb":
        return hgb
    if cfg.kind == "extratrees":
        return et
    return VotingRegressor([("hgb", hgb), ("et", et)])


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


def cross_validate(
    x: FloatArray,
    rul: FloatArray,
    groups: npt.NDArray[np.int64],
    cfg: TrainConfig,
    n_splits: int = 5,
) -> dict[str, float]:
    """Unit-wise CV RMSE of the regressor on rows whose true RUL is in [5, 150].

    That band matches where test units stop (true RUL 7-145), so this estimates the test
    RMSE without looking at the test file. Truth is capped at ``rul_cap``.
    """
    y = cap_rul(rul, cfg.rul_cap)
    sq: list[FloatArray] = []
    for trn, val in GroupKFold(n_splits).split(x, y, groups):
        pred = make_regressor(cfg).fit(x[trn], y[trn]).predict(x[val])
        band = (rul[val] >= 5) & (rul[val] <= 150)
        sq.append((pred[band] - y[val][band]) ** 2)
    return {"cv_rmse": float(np.sqrt(np.concatenate(sq).mean())), "cv_folds": float(n_splits)}


def train(
    data: CmapssData,
    cfg: TrainConfig,
    *,
    data_path: str = "",
    data_sha256: str = "",
    progress: Progress | None = None,
    cv: bool = False,
) -> TrainedModel:
    """Fit features, regressor and classifier on a run-to-failure training file."""
    say = progress or (lambda _msg: None)
    say("features")
    spec = fit_spec(data, cfg.features)
    x = features_for(data, spec)
    rul = rul_targets(data)
    cv_metrics: dict[str, float] = {}
    if cv:
        say("cross-validation")
        cv_metrics = cross_validate(x, rul, data.unit, cfg)
    say("regressor")
    reg = make_regressor(cfg).fit(x, cap_rul(rul, cfg.rul_cap))
    say("classifier")
    label = (rul <= cfg.horizon).astype(np.int64)
    clf = make_classifier(cfg, data.unit, label).fit(x, label)
    meta = ModelMetadata(
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        horizon=cfg.horizon,
        rul_cap=cfg.rul_cap,
        features=feature_names(spec.sensors, spec.config),
        sensors=list(spec.sensors),
        ops=list(spec.ops),
        feature_config=spec.config,
        n_conditions=spec.normalizer.n_conditions,
        training_data=Path(data_path).name if data_path else "",
        training_data_sha256=data_sha256,
        n_train_units=len(data.units),
        n_train_rows=int(data.unit.size),
        regressor=type(reg).__name__ if cfg.kind != "ensemble" else "VotingRegressor(hgb, et)",
        classifier=f"CalibratedClassifierCV(HistGradientBoostingClassifier, isotonic, "
        f"{cfg.calibration_folds} unit folds)",
        seed=cfg.seed,
        cv=cv_metrics,
    )
    return TrainedModel(regressor=reg, classifier=clf, spec=spec, metadata=meta)


def last_cycle_rows(data: CmapssData) -> npt.NDArray[np.intp]:
    """Row index of each unit's last observed cycle, in unit order."""
    return np.array([data.rows_of(u)[-1] for u in data.units], dtype=np.intp)


@dataclass(frozen=True)
class Evaluation:
    """Test-set figures and the per-unit predictions behind them."""

    metrics: dict[str, float]
    units: list[int]
    pred: FloatArray
    true: FloatArray
    p_fail: FloatArray


def evaluate(model: TrainedModel, test: CmapssData, truth: FloatArray) -> Evaluation:
    """Score one prediction per test unit at its last cycle (see ``metrics`` module)."""
    if truth.size != len(test.units):
        raise ValueError(f"{truth.size} RUL values for {len(test.units)} test units")
    x = features_for(test, model.spec)[last_cycle_rows(test)]
    cap = model.metadata.rul_cap
    pred = np.clip(model.regressor.predict(x), 0.0, cap)
    p_fail = model.classifier.predict_proba(x)[:, 1]
    capped = cap_rul(truth, cap)
    fails = truth <= model.metadata.horizon
    metrics = {
        "rmse": rmse(pred, capped),
        "rmse_uncapped": rmse(pred, truth),
        "phm08_score": phm08_score(pred, capped),
        "phm08_score_uncapped": phm08_score(pred, truth),
        "mae": float(np.mean(np.abs(pred - capped))),
        "n_test_units": float(truth.size),
        "brier_fail_within_horizon": float(np.mean((p_fail - fails) ** 2)),
    }
    return Evaluation(metrics, test.units, pred, truth, p_fail)
