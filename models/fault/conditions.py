"""Sensor selection and normalisation per operating condition.

C-MAPSS subsets run in one (FD001, FD003) or six (FD002, FD004) operating conditions,
given by the three operating settings. Sensor levels depend strongly on the condition,
so each sensor is standardised with the mean and standard deviation of its condition.
Conditions are found by leader clustering with an absolute tolerance per setting, which
groups the settings' measurement noise (FD001: op1 within +-0.009) into one condition
while keeping real regimes (FD002: op1 in {0, 10, 20, 25, 35, 42}) apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

#: Default absolute tolerance per operating setting (op1, op2, op3) for one condition.
DEFAULT_TOLERANCE: tuple[float, float, float] = (1.0, 0.05, 1.0)


def select_sensors(
    sensors: FloatArray,
    names: Sequence[str],
    *,
    min_distinct: int = 3,
    min_rel_std: float = 1e-6,
) -> list[str]:
    """Names of the informative sensors: drop constant and near-constant ones.

    A sensor is dropped when it takes fewer than ``min_distinct`` distinct values
    (FD001: s1, s5, s10, s16, s18, s19 are constant and s6 takes two values) or when
    its standard deviation is below ``min_rel_std`` times its mean magnitude.
    """
    if sensors.shape[1] != len(names):
        raise ValueError(f"{sensors.shape[1]} sensor columns but {len(names)} names")
    keep = []
    for j, name in enumerate(names):
        col = sensors[:, j]
        distinct = np.unique(col).size
        scale = max(float(np.abs(col).mean()), 1e-12)
        if distinct >= min_distinct and float(col.std()) > min_rel_std * scale:
            keep.append(name)
    return keep


def fit_conditions(ops: FloatArray, tolerance: Sequence[float] = DEFAULT_TOLERANCE) -> FloatArray:
    """Centroids (k, n_ops) of the operating conditions, by leader clustering.

    Each row joins the first centroid within ``tolerance`` on every setting, else starts
    a new one; centroids are then the means of their members, sorted for determinism.
    """
    tol = np.asarray(tolerance, dtype=np.float64)
    if ops.ndim != 2 or ops.shape[1] != tol.size:
        raise ValueError(f"ops must be (n, {tol.size}), got {ops.shape}")
    leaders: list[FloatArray] = []
    labels = np.empty(ops.shape[0], dtype=np.int64)
    for i, row in enumerate(ops):
        for k, lead in enumerate(leaders):
            if np.all(np.abs(row - lead) <= tol):
                labels[i] = k
                break
        else:
            leaders.append(row.copy())
            labels[i] = len(leaders) - 1
    cents = np.array([ops[labels == k].mean(axis=0) for k in range(len(leaders))])
    order = np.lexsort(cents.T[::-1])
    return np.ascontiguousarray(cents[order], dtype=np.float64)


@dataclass(frozen=True)
class ConditionNormalizer:
    """Per-condition standardisation of the selected sensors (fitted on training data)."""

    centroids: FloatArray  # (k, n_ops)
    tolerance: FloatArray  # (n_ops,)
    mean: FloatArray  # (k, n_sensors)
    std: FloatArray  # (k, n_sensors)

    @property
    def n_conditions(self) -> int:
        """Number of operating conditions found in training."""
        return int(self.centroids.shape[0])

    @classmethod
    def fit(
        cls,
        ops: FloatArray,
        sensors: FloatArray,
        tolerance: Sequence[float] = DEFAULT_TOLERANCE,
    ) -> ConditionNormalizer:
        """Find the conditions and each sensor's mean and std within each of them."""
        cents = fit_conditions(ops, tolerance)
        tol = np.asarray(tolerance, dtype=np.float64)
        labels = _nearest(ops, cents, tol)
        mean = np.empty((cents.shape[0], sensors.shape[1]))
        std = np.empty_like(mean)
        for k in range(cents.shape[0]):
            member = sensors[labels == k]
            mean[k] = member.mean(axis=0)
            sd = member.std(axis=0)
            std[k] = np.where(sd > 1e-12, sd, 1.0)
        return cls(centroids=cents, tolerance=tol, mean=mean, std=std)

    def assign(self, ops: FloatArray) -> npt.NDArray[np.int64]:
        """Condition index of each row (nearest centroid in tolerance units)."""
        if self.n_conditions == 1:
            return np.zeros(ops.shape[0], dtype=np.int64)
        return _nearest(ops, self.centroids, self.tolerance)

    def transform(self, ops: FloatArray, sensors: FloatArray) -> FloatArray:
        """Standardised sensors ``(x - mean[c]) / std[c]`` row by row."""
        labels = self.assign(ops)
        out: FloatArray = (sensors - self.mean[labels]) / self.std[labels]
        return out


def _nearest(ops: FloatArray, cents: FloatArray, tol: FloatArray) -> npt.NDArray[np.int64]:
    scaled = (ops[:, None, :] - cents[None, :, :]) / tol
    dist = np.einsum("nkd,nkd->nk", scaled, scaled)
    labels: npt.NDArray[np.int64] = np.argmin(dist, axis=1).astype(np.int64)
    return labels
