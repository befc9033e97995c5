"""Loading the fault model and batched inference over asset windows.

A stream agent keeps one :class:`AssetWindow` per asset::

    predictor = FaultPredictor.load(path)
    window = windows.setdefault(device_id, predictor.new_window())
    if window.update(ts, metrics):
        ready.append(window)
    ...
    for window, p in zip(ready, predictor.predict_batch(ready)):
        ...  # p.rul (cycles), p.p_fail (probability of failing within the horizon)
"""

from __future__ import annotations

import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from models.fault.artifact import ModelMetadata, load_artifact
from models.fault.conformal import ConformalBands
from models.fault.features import AssetWindow, FeatureSpec, features_from_windows

FloatArray = npt.NDArray[np.float64]


class Prediction(NamedTuple):
    """Predicted remaining useful life (cycles), P(fails within the horizon) and the RUL's
    prediction interval (``low``..``high`` cycles at the model's ``interval_coverage``;
    NaN for a model file without intervals)."""

    rul: float
    p_fail: float
    low: float = math.nan
    high: float = math.nan


class FaultPredictor:
    """A loaded fault model: regressor, calibrated classifier, feature spec, metadata."""

    def __init__(
        self,
        *,
        regressor: Any,
        classifier: Any,
        spec: FeatureSpec,
        metadata: ModelMetadata,
        intervals: ConformalBands | None = None,
    ) -> None:
        self.regressor = regressor
        self.classifier = classifier
        self.spec = spec
        self.metadata = metadata
        self.intervals = intervals
        # Scikit-learn's gradient boosting predicts with every OpenMP thread by default; for
        # a stream batch (tens of rows) on a loaded machine the threads' hand-offs cost far
        # more than the trees (0.8 vs 19 ms per asset update measured at load average 7-9).
        from threadpoolctl import ThreadpoolController

        self._threads = ThreadpoolController()

    @classmethod
    def load(cls, path: str | Path) -> FaultPredictor:
        """Load a model file written by training (see :mod:`models.fault.artifact`)."""
        art = load_artifact(path)
        return cls(
            regressor=art["regressor"],
            classifier=art["classifier"],
            spec=art["spec"],
            metadata=art["metadata"],
            intervals=art["intervals"],
        )

    @property
    def horizon(self) -> int:
        """The classifier's horizon in cycles."""
        return self.metadata.horizon

    @property
    def interval_coverage(self) -> float | None:
        """Nominal coverage of the prediction intervals, None without intervals."""
        return None if self.intervals is None else self.intervals.coverage

    def new_window(self) -> AssetWindow:
        """An empty window for one asset, matching this model's features."""
        return AssetWindow(self.spec)

    def predict_features(self, x: FloatArray) -> list[Prediction]:
        """Predictions for a feature matrix (rows as from ``batch_features``)."""
        if x.shape[0] == 0:
            return []
        with self._threads.limit(limits=1, user_api="openmp"):
            rul = np.clip(self.regressor.predict(x), 0.0, self.metadata.rul_cap)
            p = self.classifier.predict_proba(x)[:, 1]
        if self.intervals is None:
            return [Prediction(float(r), float(q)) for r, q in zip(rul, p, strict=True)]
        low, high = self.intervals.bounds(rul)
        return [
            Prediction(float(r), float(q), float(lo), float(hi))
            for r, q, lo, hi in zip(rul, p, low, high, strict=True)
        ]

    def predict_snapshots(self, snapshots: Sequence[tuple[FloatArray, int]]) -> list[Prediction]:
        """Predictions for ``(window.buffer.copy(), window.n_seen)`` pairs taken after
        each update, so a batch holding several cycles of one asset predicts every cycle."""
        if not snapshots:
            return []
        stack = np.stack([buf for buf, _ in snapshots])
        seen = np.array([n for _, n in snapshots], dtype=np.int64)
        return self.predict_features(features_from_windows(stack, seen, self.spec.config))

    def predict_batch(self, windows: Sequence[AssetWindow]) -> list[Prediction]:
        """One prediction per window, for its newest cycle, in one vectorised call."""
        if not windows:
            return []
        for w in windows:
            if w.n_seen == 0:
                raise ValueError("window has no readings")
            if w.spec is not self.spec and w.spec.sensors != self.spec.sensors:
                raise ValueError("window was built for a different model")
        stack = np.stack([w.buffer for w in windows])
        seen = np.array([w.n_seen for w in windows], dtype=np.int64)
        return self.predict_features(features_from_windows(stack, seen, self.spec.config))


def measure_inference(
    predictor: FaultPredictor,
    streams: Sequence[Sequence[Mapping[str, float]]],
    *,
    batch_size: int = 100,
) -> float:
    """Milliseconds per asset update: window update plus its share of a batched predict.

    ``streams`` holds one sequence of per-cycle metric dicts per asset; cycles are fed
    round-robin (one reading per asset per tick) and each tick's ready windows are
    predicted in batches of ``batch_size``, as a stream agent would.
    """
    windows = [predictor.new_window() for _ in streams]
    n_updates = 0
    t0 = time.perf_counter()
    for tick in range(max(len(s) for s in streams)):
        ready = []
        for w, stream in zip(windows, streams, strict=True):
            if tick < len(stream) and w.update(float(tick), stream[tick]):
                ready.append(w)
            n_updates += tick < len(stream)
        for i in range(0, len(ready), batch_size):
            predictor.predict_batch(ready[i : i + batch_size])
    elapsed = time.perf_counter() - t0
    return 1000.0 * elapsed / max(n_updates, 1)
