"""Window features: incremental AssetWindow equals batch training features."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from models.fault.conditions import ConditionNormalizer, fit_conditions, select_sensors
from models.fault.features import (
    AssetWindow,
    FeatureConfig,
    FeatureSpec,
    IncompleteReadingError,
    batch_features,
    feature_names,
)

SENSORS = ("s2", "s3", "s4")
OPS = ("op1", "op2", "op3")
CFG = FeatureConfig(mean_windows=(3, 6), slope_windows=(4, 6), min_cycles=2)


def _spec(ops: np.ndarray, raw: np.ndarray) -> FeatureSpec:
    return FeatureSpec(SENSORS, OPS, ConditionNormalizer.fit(ops, raw), CFG)


def _series(n: int, seed: int, conditions: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ops = rng.normal(0, 0.001, (n, 3))
    if conditions:
        ops[:, 0] += rng.choice([0.0, 20.0, 42.0], n)
    raw = 500 + np.cumsum(rng.normal(0, 1, (n, 3)), axis=0) + ops[:, :1] * 3
    return ops, raw


@pytest.mark.parametrize("conditions", [False, True])
def test_incremental_equals_batch(conditions: bool) -> None:
    ops, raw = _series(25, 1, conditions)
    spec = _spec(ops, raw)
    assert spec.normalizer.n_conditions == (3 if conditions else 1)
    batch = batch_features(spec.normalizer.transform(ops, raw), np.ones(25, np.int64), CFG)
    assert batch.shape == (25, len(feature_names(SENSORS, CFG)))
    window = AssetWindow(spec)
    for i in range(25):
        metrics = {**dict(zip(SENSORS, raw[i], strict=True)), **dict(zip(OPS, ops[i], strict=True))}
        ready = window.update(float(i), metrics)
        assert ready == (i + 1 >= CFG.min_cycles)
        np.testing.assert_allclose(window.features(), batch[i], rtol=1e-12, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 20), seed=st.integers(0, 1000))
def test_incremental_equals_batch_property(n: int, seed: int) -> None:
    ops, raw = _series(max(n, 2), seed)
    spec = _spec(ops, raw)
    batch = batch_features(spec.normalizer.transform(ops, raw)[:n], np.zeros(n, np.int64), CFG)
    window = AssetWindow(spec)
    for i in range(n):
        window.update(float(i), dict(zip(SENSORS, raw[i], strict=True)))
    np.testing.assert_allclose(window.features(), batch[-1], rtol=1e-12, atol=1e-12)


def test_batch_units_are_independent() -> None:
    ops, raw = _series(20, 2)
    spec = _spec(ops, raw)
    z = spec.normalizer.transform(ops, raw)
    unit = np.repeat([1, 2], 10)
    both = batch_features(z, unit, CFG)
    np.testing.assert_allclose(both[10:], batch_features(z[10:], unit[10:], CFG))
    assert both[10, -1] == 1.0  # cycle count restarts per unit


def test_slope_and_mean_of_a_line() -> None:
    cfg = FeatureConfig(mean_windows=(4,), slope_windows=(4,), include_cycle=False)
    z = np.arange(6, dtype=float)[:, None] * 2.0
    feats = batch_features(z, np.zeros(6, np.int64), cfg)
    last, mean4, slope4, _std = feats[-1]
    assert (last, mean4, slope4) == (10.0, 7.0, 2.0)
    assert feats[0, 2] == 0.0  # one point: slope 0


def test_window_ignores_stale_and_carries_forward() -> None:
    ops, raw = _series(5, 3)
    window = AssetWindow(_spec(ops, raw))
    with pytest.raises(IncompleteReadingError):
        window.update(0.0, {"s2": 1.0})
    window.update(1.0, dict(zip(SENSORS, raw[0], strict=True)))
    assert window.update(1.0, dict(zip(SENSORS, raw[1], strict=True))) is False  # duplicate ts
    assert window.n_seen == 1
    assert window.update(2.0, {"s2": 501.0}) is True  # s3, s4 carried forward
    with pytest.raises(IncompleteReadingError):
        window.update(3.0, {"s2": float("nan")})


def test_sensor_selection_drops_constant() -> None:
    rng = np.random.default_rng(0)
    x = np.column_stack(
        [
            rng.normal(0, 1, 50),
            np.full(50, 7.0),
            rng.choice([21.60, 21.61], 50),
            2388 + rng.normal(0, 0.07, 50),
        ]
    )
    assert select_sensors(x, ["a", "const", "two", "s8"]) == ["a", "s8"]


def test_fit_conditions_groups_noise() -> None:
    rng = np.random.default_rng(0)
    ops = np.column_stack(
        [rng.normal(0, 0.005, 100), rng.normal(0, 3e-4, 100), np.full(100, 100.0)]
    )
    assert fit_conditions(ops).shape == (1, 3)
    ops[:50, 0] += 42.0
    assert fit_conditions(ops).shape == (2, 3)


def test_ewm_weights_recent_cycles_and_matches_the_formula() -> None:
    cfg = FeatureConfig(mean_windows=(6,), slope_windows=(6,), ewm_spans=(3,), include_cycle=False)
    assert feature_names(["a"], cfg)[-1] == "a_ewm3"
    z = np.array([0.0, 0.0, 0.0, 4.0, 4.0])[:, None]  # a step up, 5 cycles of a 6-cycle window
    feats = batch_features(z, np.zeros(5, np.int64), cfg)
    decay = 1 - 2 / (3 + 1)
    w = decay ** np.arange(4, -1, -1)  # oldest first; the padding row has no weight
    assert feats[-1, -1] == pytest.approx(float((w * z[:, 0]).sum() / w.sum()))
    assert feats[-1, -1] > feats[-1, 1]  # nearer the new level than the plain mean
    assert feats[0, -1] == 0.0 and feats[3, -1] > 0.0


@settings(max_examples=25, deadline=None)
@given(n=st.integers(1, 12), level=st.floats(-5, 5), spans=st.lists(st.integers(1, 30), min_size=1,
                                                                     max_size=3))
def test_ewm_of_a_constant_is_the_constant(n: int, level: float, spans: list[int]) -> None:
    cfg = FeatureConfig(mean_windows=(8,), slope_windows=(8,), ewm_spans=tuple(spans),
                        include_cycle=False)
    feats = batch_features(np.full((n, 1), level), np.zeros(n, np.int64), cfg)
    np.testing.assert_allclose(feats[:, -len(spans):], level, atol=1e-9)
