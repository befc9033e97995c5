"""PHM08 score and RMSE capping convention."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from models.fault.metrics import cap_rul, phm08_score, phm08_terms, rmse


def test_phm08_hand_computed() -> None:
    # d = pred - true: -13 (early), 0, +10 (late)
    pred = [87.0, 50.0, 30.0]
    true = [100.0, 50.0, 20.0]
    expected = (math.e - 1) + 0.0 + (math.e - 1)
    assert phm08_score(pred, true) == pytest.approx(expected)
    assert phm08_terms([0.0], [26.0])[0] == pytest.approx(math.exp(2) - 1)
    assert phm08_terms([20.0], [0.0])[0] == pytest.approx(math.exp(2) - 1)


def test_rmse_capping_convention() -> None:
    true = np.array([140.0, 100.0])
    pred = np.array([125.0, 100.0])
    assert rmse(pred, cap_rul(true)) == 0.0
    assert rmse(pred, true) == pytest.approx(math.sqrt(15.0**2 / 2))
    assert cap_rul([200, 3], cap=130).tolist() == [130.0, 3.0]


errors = st.floats(min_value=0.0, max_value=60.0, allow_nan=False)


@given(a=errors, b=errors)
def test_phm08_monotone_in_abs_error(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    for sign in (-1.0, 1.0):
        assert phm08_score([sign * lo], [0.0]) <= phm08_score([sign * hi], [0.0])


@given(e=st.floats(min_value=0.01, max_value=60.0))
def test_phm08_late_costs_more_than_early(e: float) -> None:
    assert phm08_score([50.0 + e], [50.0]) > phm08_score([50.0 - e], [50.0])
    assert phm08_score([50.0], [50.0]) == 0.0
