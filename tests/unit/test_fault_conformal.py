"""Conformal prediction intervals: coverage on the calibration data and on fresh draws."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.fault.conformal import ConformalBands, conformal_rank, coverage, fit_bands, mean_width


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 400),
    alpha=st.sampled_from([0.05, 0.1, 0.2, 0.5]),
    seed=st.integers(0, 10_000),
    skew=st.floats(0.0, 3.0),
)
def test_covers_its_own_calibration_data(n: int, alpha: float, seed: int, skew: float) -> None:
    """Per band, the conformal quantiles leave at most alpha of the residuals outside."""
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0, 125, n)
    truth = np.clip(pred + rng.gamma(1 + skew, 5, n) - 5 * (1 + skew) + rng.normal(0, 3, n),
                    0, 125)
    bands = fit_bands(pred, truth, alpha=alpha, ceiling=125.0)
    assert sum(bands.counts) == n
    lo, hi = bands.bounds(pred)
    assert np.all(lo <= hi) and np.all(lo >= 0) and np.all(hi <= 125)
    for b in range(len(bands.edges) + 1):
        inside = bands.band_of(pred) == b
        if inside.any():
            assert coverage(bands, pred[inside], truth[inside]) >= 1 - alpha


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), alpha=st.sampled_from([0.1, 0.2]))
def test_fresh_exchangeable_draws_are_covered_at_the_nominal_rate(seed: int, alpha: float) -> None:
    """Calibrate on 40,000 draws, check on 40,000 more from the same heteroscedastic law.

    Given its calibration set, coverage varies by about sqrt(alpha (1 - alpha) / n) per
    band; with these sizes both that and the test sample's noise are near 0.002."""
    rng = np.random.default_rng(seed)

    def draw(n: int) -> tuple[np.ndarray, np.ndarray]:
        pred = rng.uniform(0, 125, n)
        return pred, pred + rng.normal(0, 2 + pred / 10, n)

    bands = fit_bands(*draw(40_000), alpha=alpha, floor=-math.inf)  # truth may be < 0 here
    pred, truth = draw(40_000)
    got = coverage(bands, pred, truth)
    assert 1 - alpha - 0.01 <= got <= 1 - alpha + 0.01  # calibrated: neither short nor loose
    # and the bands adapt: wider where the noise is larger
    assert bands.upper[-1] - bands.lower[-1] > bands.upper[0] - bands.lower[0]


def test_too_few_residuals_give_an_unbounded_band() -> None:
    bands = fit_bands([10.0, 11.0, 90.0], [12.0, 10.0, 95.0], alpha=0.1, ceiling=125.0)
    assert conformal_rank(2, 0.95) == 3  # more than the 2 residuals in the first band
    assert math.isinf(bands.upper[0]) and math.isinf(bands.lower[0])
    low, high = bands.interval(10.0)
    assert (low, high) == (0.0, 125.0)  # clipped to what RUL can be


def test_open_top_counts_truth_above_the_ceiling() -> None:
    bands = ConformalBands(alpha=0.1, edges=(50.0,), lower=(-5.0, -10.0), upper=(5.0, 10.0),
                           counts=(100, 100), ceiling=125.0)
    assert bands.interval(120.0) == (110.0, 125.0)
    assert coverage(bands, [120.0], [140.0]) == 0.0
    assert coverage(bands, [120.0], [140.0], open_top=True) == 1.0
    assert coverage(bands, [20.0], [140.0], open_top=True) == 0.0
    assert mean_width(bands, [20.0, 120.0]) == pytest.approx((10 + 15) / 2)


def test_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError):
        ConformalBands(alpha=0.1, edges=(50.0,), lower=(0.0,), upper=(0.0,), counts=(1,))
    with pytest.raises(ValueError):
        fit_bands([1.0], [1.0, 2.0])
    with pytest.raises(ValueError):
        fit_bands([1.0], [1.0], alpha=1.0)
