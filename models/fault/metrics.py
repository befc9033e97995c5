"""Scoring conventions for RUL on C-MAPSS.

One prediction per test unit at its last observed cycle. ``rmse`` compares with the true
RUL capped at ``cap`` (125, as the model is trained); ``rmse_uncapped`` with the raw
``RUL_FD001.txt`` values. The PHM08 score (Saxena et al. 2008) penalises late
predictions (d = pred - true >= 0) harder than early ones.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

RUL_CAP = 125.0


def cap_rul(rul: npt.ArrayLike, cap: float = RUL_CAP) -> FloatArray:
    """Piece-wise linear target: ``min(rul, cap)``."""
    return np.minimum(np.asarray(rul, dtype=np.float64), cap)


def rmse(pred: npt.ArrayLike, true: npt.ArrayLike) -> float:
    """Root mean squared error."""
    d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean(d * d)))


def phm08_terms(pred: npt.ArrayLike, true: npt.ArrayLike) -> FloatArray:
    """Per-unit PHM08 penalties: ``exp(-d/13)-1`` if d < 0 else ``exp(d/10)-1``."""
    d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    out: FloatArray = np.where(d < 0, np.expm1(-d / 13.0), np.expm1(d / 10.0))
    return out


def phm08_score(pred: npt.ArrayLike, true: npt.ArrayLike) -> float:
    """PHM08 score: sum of :func:`phm08_terms` (lower is better, 0 is perfect)."""
    return float(phm08_terms(pred, true).sum())
