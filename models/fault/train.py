"""Training and evaluation of the fault model on C-MAPSS.

- RUL regressor (:mod:`models.fault.estimators`) on the window features, target
  ``min(RUL, 125)`` (piece-wise linear, as Li et al. 2018).
- Held-out predictions: the regressor is also fitted ``cv_folds`` times on unit-wise
  folds of the training file (GroupKFold by unit); each training unit is predicted by
  the fold model that did not see it. They give the held-out RMSE (``cv_rmse``) and
  calibrate the prediction intervals (:mod:`models.fault.conformal`).
- Failure classifier: ``CalibratedClassifierCV`` (isotonic) around a
  ``HistGradientBoostingClassifier`` of ``RUL <= horizon``, calibrated on unit-wise folds.
- Choices are made on the training file only (:mod:`models.fault.selection`); the test
  file is used once, for the report.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field
from sklearn.model_selection import GroupKFold

from models.fault.artifact import ModelMetadata
from models.fault.cmapss import OP_NAMES, SENSOR_NAMES, CmapssData, rul_targets
from models.fault.conditions import ConditionNormalizer, select_sensors
from models.fault.conformal import ConformalBands, coverage, fit_bands, mean_width
from models.fault.estimators import make_classifier, make_regressor, regressor_name
from models.fault.features import FeatureConfig, FeatureSpec, batch_features, feature_names
from models.fault.metrics import cap_rul, phm08_score, rmse

FloatArray = npt.NDArray[np.float64]
ModelKind = Literal["hgb", "extratrees", "ensemble"]
Progress = Callable[[str], None]

#: Held-out rows scored by ``cv_rmse``: true RUL in this band, where test units stop (7-145).
CV_BAND = (5.0, 150.0)

#: The features of model version 1.0 (windows up to 30 cycles), to measure the change against.
LEGACY_FEATURES = FeatureConfig()
#: Version 1.1's features, chosen by unit-wise CV (:mod:`models.fault.selection`): trends
#: over up to 200 cycles cut the held-out RMSE by a quarter.
DEFAULT_FEATURES = FeatureConfig(
    mean_windows=(5, 10, 20, 30, 60, 100, 200),
    slope_windows=(10, 20, 30, 60, 100, 200),
    ewm_spans=(10,),
)


class TrainConfig(BaseModel):
    """Hyper-parameters, chosen by unit-wise CV on train_FD001 (``--select``)."""

    model_config = ConfigDict(frozen=True)

    rul_cap: float = 125.0
    horizon: int = 30
    seed: int = 0
    kind: ModelKind = "hgb"
    features: FeatureConfig = DEFAULT_FEATURES
    learning_rate: float = 0.05
    max_iter: int = 400
    max_leaf_nodes: int = 15
    min_samples_leaf: int = 40
    l2_regularization: float = 1.0
    max_features: float = Field(default=0.5, gt=0, le=1)
    et_trees: int = 150
    et_min_samples_leaf: int = 5
    hgb_weight: float = Field(default=0.5, ge=0, le=1)
    calibration_folds: int = 3
    cv_folds: int = Field(default=5, ge=2)
    interval_alpha: float = Field(default=0.1, gt=0, lt=1)


#: Version 1.0's model (hgb on all features per split, windows up to 30 cycles), the
#: "before" of the held-out figure.
LEGACY = TrainConfig(features=LEGACY_FEATURES, max_features=1.0)


@dataclass(frozen=True)
class TrainedModel:
    """Estimators, feature spec, intervals and metadata, ready to save or evaluate."""

    regressor: Any
    classifier: Any
    spec: FeatureSpec
    metadata: ModelMetadata
    intervals: ConformalBands | None = None


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


def out_of_fold(
    x: FloatArray, y: FloatArray, groups: npt.NDArray[np.int64], cfg: TrainConfig,
    progress: Progress | None = None,
) -> FloatArray:
    """Each row predicted by a regressor fitted on the other units (GroupKFold by unit)."""
    oof = np.empty_like(y)
    for k, (trn, val) in enumerate(GroupKFold(cfg.cv_folds).split(x, y, groups)):
        if progress:
            progress(f"held-out fold {k + 1}/{cfg.cv_folds}")
        oof[val] = make_regressor(cfg).fit(x[trn], y[trn]).predict(x[val])
    return np.clip(oof, 0.0, cfg.rul_cap)


def held_out_rmse(oof: FloatArray, rul: FloatArray, cap: float) -> float:
    """RMSE of held-out predictions on rows with true RUL in :data:`CV_BAND`, capped truth."""
    band = (rul >= CV_BAND[0]) & (rul <= CV_BAND[1])
    return rmse(oof[band], cap_rul(rul[band], cap))


def cross_validate(
    x: FloatArray, rul: FloatArray, groups: npt.NDArray[np.int64], cfg: TrainConfig,
) -> dict[str, float]:
    """Unit-wise CV RMSE of the regressor (see :func:`held_out_rmse`)."""
    oof = out_of_fold(x, cap_rul(rul, cfg.rul_cap), groups, cfg)
    return {"cv_rmse": held_out_rmse(oof, rul, cfg.rul_cap), "cv_folds": float(cfg.cv_folds)}


def train(
    data: CmapssData,
    cfg: TrainConfig,
    *,
    data_path: str = "",
    data_sha256: str = "",
    progress: Progress | None = None,
) -> TrainedModel:
    """Fit features, held-out intervals, regressor and classifier on a training file."""
    say = progress or (lambda _msg: None)
    say("features")
    spec = fit_spec(data, cfg.features)
    x = features_for(data, spec)
    rul = rul_targets(data)
    y = cap_rul(rul, cfg.rul_cap)
    oof = out_of_fold(x, y, data.unit, cfg, say)
    # Calibrated on the rows the held-out RMSE scores (true RUL 5-150): all rows would
    # weigh in the long healthy plateau, where a capped prediction is easy, and give
    # intervals too narrow for assets nearer failure (checked on training units only:
    # calibrated on half the units, 85% instead of 90% coverage on the other half).
    band = (rul >= CV_BAND[0]) & (rul <= CV_BAND[1])
    bands = fit_bands(oof[band], y[band], alpha=cfg.interval_alpha, ceiling=cfg.rul_cap)
    cv_metrics = {
        "cv_rmse": held_out_rmse(oof, rul, cfg.rul_cap),
        "cv_folds": float(cfg.cv_folds),
        "cv_interval_coverage": coverage(bands, oof[band], y[band]),
    }
    say("regressor")
    reg = make_regressor(cfg).fit(x, y)
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
        regressor=regressor_name(cfg),
        classifier=f"CalibratedClassifierCV(HistGradientBoostingClassifier, isotonic, "
        f"{cfg.calibration_folds} unit folds)",
        seed=cfg.seed,
        cv=cv_metrics,
    )
    return TrainedModel(regressor=reg, classifier=clf, spec=spec, metadata=meta, intervals=bands)


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
    low: FloatArray | None = None
    high: FloatArray | None = None


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
    low = high = None
    if model.intervals is not None:
        bands = model.intervals
        low, high = bands.bounds(pred)
        metrics |= {
            "interval_nominal": bands.coverage,
            "interval_coverage": coverage(bands, pred, capped),
            "interval_coverage_uncapped": coverage(bands, pred, truth, open_top=True),
            "interval_mean_width": mean_width(bands, pred),
        }
    return Evaluation(metrics, test.units, pred, truth, p_fail, low, high)
