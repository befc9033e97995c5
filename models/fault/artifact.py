"""The saved model file: estimators, feature spec and metadata, in one joblib dict."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
from pydantic import BaseModel, ConfigDict

from models.fault.conditions import ConditionNormalizer
from models.fault.conformal import ConformalBands
from models.fault.features import FeatureConfig, FeatureSpec

FORMAT = "fieldflow-fault-model/1"
MODEL_VERSION = "1.1.0"  # 1.1: EWM features, prediction intervals


class ArtifactError(ValueError):
    """A file that is not a FieldFlow fault model."""


class ModelMetadata(BaseModel):
    """What the model is, what it was trained on and how well it scored."""

    model_config = ConfigDict(frozen=True)

    version: str = MODEL_VERSION
    created_at: str
    horizon: int
    rul_cap: float
    features: list[str]
    sensors: list[str]
    ops: list[str]
    feature_config: FeatureConfig
    n_conditions: int
    training_data: str
    training_data_sha256: str
    n_train_units: int
    n_train_rows: int
    regressor: str
    classifier: str
    seed: int
    metrics: dict[str, float] = {}
    cv: dict[str, float] = {}


def spec_to_dict(spec: FeatureSpec) -> dict[str, Any]:
    """Plain-data form of a :class:`FeatureSpec` (lists and floats, pickle-stable)."""
    n = spec.normalizer
    return {
        "sensors": list(spec.sensors),
        "ops": list(spec.ops),
        "config": spec.config.model_dump(),
        "centroids": n.centroids.tolist(),
        "tolerance": n.tolerance.tolist(),
        "mean": n.mean.tolist(),
        "std": n.std.tolist(),
    }


def spec_from_dict(d: dict[str, Any]) -> FeatureSpec:
    """Inverse of :func:`spec_to_dict`."""
    norm = ConditionNormalizer(
        centroids=np.asarray(d["centroids"], dtype=np.float64),
        tolerance=np.asarray(d["tolerance"], dtype=np.float64),
        mean=np.asarray(d["mean"], dtype=np.float64),
        std=np.asarray(d["std"], dtype=np.float64),
    )
    return FeatureSpec(
        sensors=tuple(d["sensors"]),
        ops=tuple(d["ops"]),
        normalizer=norm,
        config=FeatureConfig.model_validate(d["config"]),
    )


def save_artifact(
    path: str | Path,
    *,
    regressor: Any,
    classifier: Any,
    spec: FeatureSpec,
    metadata: ModelMetadata,
    intervals: ConformalBands | None = None,
) -> Path:
    """Write the model atomically (temp file, then rename)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    joblib.dump(
        {
            "format": FORMAT,
            "metadata": metadata.model_dump(mode="json"),
            "spec": spec_to_dict(spec),
            "regressor": regressor,
            "classifier": classifier,
            "intervals": None if intervals is None else intervals.model_dump(),
        },
        tmp,
        compress=3,
    )
    tmp.replace(target)
    return target


def load_artifact(path: str | Path) -> dict[str, Any]:
    """Read a model file and check its format; metadata, spec and intervals are parsed
    (a file from before intervals existed has ``intervals`` None)."""
    obj = joblib.load(Path(path))
    if not isinstance(obj, dict) or obj.get("format") != FORMAT:
        raise ArtifactError(f"{path}: not a {FORMAT} file")
    return {
        "metadata": ModelMetadata.model_validate(obj["metadata"]),
        "spec": spec_from_dict(obj["spec"]),
        "regressor": obj["regressor"],
        "classifier": obj["classifier"],
        "intervals": None if obj.get("intervals") is None
        else ConformalBands.model_validate(obj["intervals"]),
    }
