"""Prediction intervals for the RUL: split conformal, per band of the predicted RUL.

Calibration data are out-of-fold predictions on training units the model did not see
(unit-wise folds), paired with the truth the model is trained on (RUL capped at 125).
The residuals ``truth - prediction`` are grouped by the band the prediction falls in
(Mondrian conformal: near failure the model is sharper than at mid life), and each band
keeps the lower and upper conformal quantiles of its residuals for a nominal coverage
``1 - alpha``: with ``n`` residuals in a band, the ``ceil((n + 1)(1 - alpha/2))``-th
smallest for the upper end and the mirror one for the lower end. For a new case
exchangeable with the calibration cases of its band, the interval
``[pred + lower, pred + upper]`` then covers the truth with probability at least
``1 - alpha`` (split conformal; Vovk et al. 2005, Lei et al. 2018). Rows of one unit are
not independent and the test units stop at other points of their life than training
rows, so the achieved coverage is measured on the test set and reported, not assumed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

FloatArray = npt.NDArray[np.float64]

#: Upper edges of the predicted-RUL bands (cycles); the last band is open-ended.
DEFAULT_EDGES: tuple[float, ...] = (20.0, 40.0, 60.0, 80.0, 100.0)


class Interval(NamedTuple):
    """A prediction interval in cycles, ``low <= high``."""

    low: float
    high: float


class ConformalBands(BaseModel):
    """Fitted interval offsets per predicted-RUL band (plain data, stored in the model)."""

    model_config = ConfigDict(frozen=True)

    alpha: float = Field(gt=0, lt=1)
    edges: tuple[float, ...]
    lower: tuple[float, ...]  # residual offset per band (usually <= 0)
    upper: tuple[float, ...]  # residual offset per band (usually >= 0)
    counts: tuple[int, ...]
    floor: float = 0.0  # RUL cannot be negative
    ceiling: float | None = None  # the capped target's ceiling, if any

    @model_validator(mode="after")
    def _shapes(self) -> ConformalBands:
        n = len(self.edges) + 1
        if not (len(self.lower) == len(self.upper) == len(self.counts) == n):
            raise ValueError(f"need {n} bands for {len(self.edges)} edges")
        if list(self.edges) != sorted(self.edges):
            raise ValueError("edges must be increasing")
        return self

    @property
    def coverage(self) -> float:
        """The nominal coverage ``1 - alpha``."""
        return 1.0 - self.alpha

    def band_of(self, pred: npt.ArrayLike) -> npt.NDArray[np.intp]:
        """Band index of each prediction."""
        return np.searchsorted(np.asarray(self.edges), np.asarray(pred, dtype=np.float64),
                               side="right")

    def bounds(self, pred: npt.ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Lower and upper interval ends for each prediction (vectorised)."""
        p = np.asarray(pred, dtype=np.float64)
        band = self.band_of(p)
        lo = p + np.asarray(self.lower)[band]
        hi = p + np.asarray(self.upper)[band]
        top = np.inf if self.ceiling is None else self.ceiling
        lo = np.clip(lo, self.floor, top)
        hi = np.clip(hi, self.floor, top)
        return lo, np.maximum(hi, lo)

    def interval(self, pred: float) -> Interval:
        """The interval of one prediction."""
        lo, hi = self.bounds([pred])
        return Interval(float(lo[0]), float(hi[0]))


def conformal_rank(n: int, q: float) -> int:
    """1-based rank of the conformal quantile ``q`` among ``n`` scores (may exceed n)."""
    return math.ceil((n + 1) * q)


def _upper_quantile(scores: FloatArray, q: float) -> float:
    """The ``ceil((n+1) q)``-th smallest score; +inf when there are too few scores."""
    n = scores.size
    k = conformal_rank(n, q)
    if n == 0 or k > n:
        return math.inf
    return float(np.partition(scores, k - 1)[k - 1])


def fit_bands(
    pred: npt.ArrayLike,
    truth: npt.ArrayLike,
    *,
    alpha: float = 0.1,
    edges: Sequence[float] = DEFAULT_EDGES,
    floor: float = 0.0,
    ceiling: float | None = None,
) -> ConformalBands:
    """Calibrate interval offsets from held-out predictions and their truth.

    Each band splits ``alpha`` evenly between its two tails. A band with too few
    residuals for the quantile gets an infinite offset (clipped to ``floor`` / ``ceiling``
    when the interval is built), so a sparse band never claims a coverage it cannot back.
    """
    p = np.asarray(pred, dtype=np.float64).reshape(-1)
    r = np.asarray(truth, dtype=np.float64).reshape(-1) - p
    if p.size != r.size:
        raise ValueError("pred and truth differ in length")
    if not 0 < alpha < 1:
        raise ValueError("alpha must be in (0, 1)")
    bands = ConformalBands(alpha=alpha, edges=tuple(float(e) for e in edges),
                           lower=(0.0,) * (len(edges) + 1), upper=(0.0,) * (len(edges) + 1),
                           counts=(0,) * (len(edges) + 1), floor=floor, ceiling=ceiling)
    band = bands.band_of(p)
    lower, upper, counts = [], [], []
    for b in range(len(edges) + 1):
        res = r[band == b]
        upper.append(_upper_quantile(res, 1.0 - alpha / 2.0))
        lower.append(-_upper_quantile(-res, 1.0 - alpha / 2.0))
        counts.append(int(res.size))
    return bands.model_copy(update={"lower": tuple(lower), "upper": tuple(upper),
                                    "counts": tuple(counts)})


def coverage(
    bands: ConformalBands, pred: npt.ArrayLike, truth: npt.ArrayLike, *, open_top: bool = False
) -> float:
    """Share of cases whose truth lies in its interval.

    ``open_top``: an interval reaching the ceiling means "at least ``low``" (the capped
    model cannot tell 125 from 145 cycles), as for truth that is not capped.
    """
    lo, hi = bands.bounds(pred)
    if open_top and bands.ceiling is not None:
        hi = np.where(hi >= bands.ceiling, np.inf, hi)
    t = np.asarray(truth, dtype=np.float64)
    return float(np.mean((t >= lo) & (t <= hi))) if t.size else math.nan


def mean_width(bands: ConformalBands, pred: npt.ArrayLike) -> float:
    """Mean interval width in cycles."""
    lo, hi = bands.bounds(pred)
    return float(np.mean(hi - lo)) if lo.size else math.nan
