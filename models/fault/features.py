"""Sliding-window features per asset, batch (training) and incremental (streaming).

Both paths go through :func:`features_from_windows` on the same right-aligned window
tensor (the last ``N`` normalised cycles, zero-padded on the left while an asset has
fewer than ``N`` cycles), so the incremental :class:`AssetWindow` produces the same
feature vector for an asset's last cycle as :func:`batch_features` does in training.

Per selected sensor: the last level, rolling means over ``mean_windows``, least-squares
slopes over ``slope_windows``, the standard deviation over the whole window and
exponentially weighted means over ``ewm_spans`` (weights ``(1 - 2/(span+1))**lag`` over
the cycles in the window, normalised); plus the number of cycles seen (``cycle``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from models.fault.conditions import ConditionNormalizer

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


class FeatureConfig(BaseModel):
    """Window lengths (in cycles) of the features."""

    model_config = ConfigDict(frozen=True)

    mean_windows: tuple[int, ...] = (5, 10, 20, 30)
    slope_windows: tuple[int, ...] = (10, 20, 30)
    include_cycle: bool = True
    min_cycles: int = Field(default=5, ge=1)
    # Off by default so a model file written before these existed loads unchanged.
    ewm_spans: tuple[int, ...] = ()

    @model_validator(mode="after")
    def _positive(self) -> FeatureConfig:
        if min((*self.mean_windows, *self.slope_windows, *self.ewm_spans), default=1) < 1:
            raise ValueError("windows must be at least one cycle")
        if not self.mean_windows and not self.slope_windows:
            raise ValueError("need at least one window")
        return self

    @property
    def length(self) -> int:
        """Cycles kept per asset: the longest window."""
        return max((*self.mean_windows, *self.slope_windows))


def feature_names(sensors: Sequence[str], config: FeatureConfig) -> list[str]:
    """Column names of the feature matrix, in order."""
    names: list[str] = []
    for s in sensors:
        names.append(f"{s}_last")
        names.extend(f"{s}_mean{w}" for w in config.mean_windows)
        names.extend(f"{s}_slope{w}" for w in config.slope_windows)
        names.append(f"{s}_std{config.length}")
        names.extend(f"{s}_ewm{span}" for span in config.ewm_spans)
    if config.include_cycle:
        names.append("cycle")
    return names


def features_from_windows(
    windows: FloatArray, n_seen: IntArray, config: FeatureConfig
) -> FloatArray:
    """Features of a batch of right-aligned windows.

    ``windows`` is (B, N, S) with ``N == config.length``: row ``N-1`` is the newest
    cycle, rows before an asset's first cycle are padding. ``n_seen`` (B,) counts the
    cycles each asset has reported so far (at least 1).
    """
    b, n, s = windows.shape
    if n != config.length:
        raise ValueError(f"window length {n} != config length {config.length}")
    seen = np.asarray(n_seen, dtype=np.int64).reshape(b)
    length = np.minimum(seen, n)
    pos = np.arange(n, dtype=np.float64)
    valid = pos[None, :] >= (n - length)[:, None]  # (B, N)
    per_sensor: list[FloatArray] = [windows[:, -1, :]]
    for w in config.mean_windows:
        mean, _ = _masked_mean(windows, valid & (pos >= n - w)[None, :])
        per_sensor.append(mean)
    per_sensor.extend(
        _masked_slope(windows, valid & (pos >= n - w)[None, :], pos) for w in config.slope_windows
    )
    mean_all, cnt = _masked_mean(windows, valid)
    dev = (windows - mean_all[:, None, :]) * valid[:, :, None]
    per_sensor.append(np.sqrt(np.einsum("bns,bns->bs", dev, dev) / cnt))
    lag = (n - 1 - pos)[None, :]
    for span in config.ewm_spans:
        weight = np.where(valid, (1.0 - 2.0 / (span + 1.0)) ** lag, 0.0)
        per_sensor.append(np.einsum("bn,bns->bs", weight, windows) / weight.sum(axis=1)[:, None])
    # interleave: sensor-major order matching feature_names
    stacked = np.stack(per_sensor, axis=2)  # (B, S, k)
    out = stacked.reshape(b, s * len(per_sensor))
    if config.include_cycle:
        out = np.concatenate([out, seen[:, None].astype(np.float64)], axis=1)
    return np.ascontiguousarray(out)


def _masked_mean(x: FloatArray, mask: npt.NDArray[np.bool_]) -> tuple[FloatArray, FloatArray]:
    m = mask.astype(np.float64)
    cnt = np.maximum(m.sum(axis=1), 1.0)[:, None]  # (B, 1)
    mean: FloatArray = np.einsum("bn,bns->bs", m, x) / cnt
    return mean, cnt


def _masked_slope(x: FloatArray, mask: npt.NDArray[np.bool_], pos: FloatArray) -> FloatArray:
    m = mask.astype(np.float64)
    cnt = np.maximum(m.sum(axis=1), 1.0)
    tbar = (m * pos[None, :]).sum(axis=1) / cnt
    dt = (pos[None, :] - tbar[:, None]) * m  # (B, N)
    den = (dt * dt).sum(axis=1)
    xbar = np.einsum("bn,bns->bs", m, x) / cnt[:, None]
    num = np.einsum("bn,bns->bs", dt, x - xbar[:, None, :])
    safe = np.where(den > 0, den, 1.0)[:, None]
    out: FloatArray = np.where(den[:, None] > 0, num / safe, 0.0)
    return out


def unit_windows(z: FloatArray, length: int) -> FloatArray:
    """Right-aligned windows (n, length, S) for each cycle of one unit's rows (n, S)."""
    pad = np.zeros((length - 1, z.shape[1]), dtype=np.float64)
    padded = np.concatenate([pad, z], axis=0)
    view = np.lib.stride_tricks.sliding_window_view(padded, length, axis=0)  # (n, S, L)
    return np.ascontiguousarray(view.transpose(0, 2, 1))


def batch_features(z: FloatArray, unit: IntArray, config: FeatureConfig) -> FloatArray:
    """Features for every row of normalised sensors ``z`` (rows of a unit in cycle order)."""
    out = np.empty((z.shape[0], 0), dtype=np.float64)
    chunks: list[tuple[npt.NDArray[np.intp], FloatArray]] = []
    for u in np.unique(unit):
        rows = np.flatnonzero(unit == u)
        win = unit_windows(z[rows], config.length)
        seen = np.arange(1, rows.size + 1, dtype=np.int64)
        chunks.append((rows, features_from_windows(win, seen, config)))
    if chunks:
        out = np.empty((z.shape[0], chunks[0][1].shape[1]), dtype=np.float64)
        for rows, feats in chunks:
            out[rows] = feats
    return out


class IncompleteReadingError(ValueError):
    """A reading lacks a metric the model needs and no earlier value can stand in."""


@dataclass(frozen=True)
class FeatureSpec:
    """What an asset window needs: the sensors, their normaliser and the windows."""

    sensors: tuple[str, ...]
    ops: tuple[str, ...]
    normalizer: ConditionNormalizer
    config: FeatureConfig = field(default_factory=FeatureConfig)


class AssetWindow:
    """The last ``N`` cycles of one asset, updated one reading at a time.

    ``update(ts, metrics)`` returns whether the window is ready for a prediction
    (at least ``config.min_cycles`` cycles). A reading not newer than the last one is
    ignored (at-least-once delivery repeats records) and returns False. A missing metric
    is carried forward from the previous reading; with none, it raises
    :class:`IncompleteReadingError`. Operating settings are only required when the model
    was trained on more than one operating condition.
    """

    def __init__(self, spec: FeatureSpec) -> None:
        self.spec = spec
        n = spec.config.length
        self._buf = np.zeros((n, len(spec.sensors)), dtype=np.float64)
        self._last_raw: dict[str, float] = {}
        self.n_seen = 0
        self.last_ts: float | None = None

    @property
    def ready(self) -> bool:
        """Enough cycles for a prediction."""
        return self.n_seen >= self.spec.config.min_cycles

    @property
    def buffer(self) -> FloatArray:
        """The right-aligned normalised window (N, S); a read-only view."""
        view = self._buf.view()
        view.flags.writeable = False
        return view

    def update(self, ts: float, metrics: Mapping[str, float]) -> bool:
        """Add one cycle's reading; True when the window is ready."""
        if self.last_ts is not None and ts <= self.last_ts:
            return False
        need_ops = self.spec.normalizer.n_conditions > 1
        names = (*self.spec.sensors, *(self.spec.ops if need_ops else ()))
        values: dict[str, float] = {}
        missing = []
        for name in names:
            v = metrics.get(name, self._last_raw.get(name))
            if v is None or not np.isfinite(v):
                missing.append(name)
            else:
                values[name] = float(v)
        if missing:
            raise IncompleteReadingError(f"reading lacks {', '.join(missing)}")
        self._last_raw.update(values)
        raw = np.array([[values[s] for s in self.spec.sensors]], dtype=np.float64)
        ops = np.array([[values[o] if need_ops else 0.0 for o in self.spec.ops]], dtype=np.float64)
        z = self.spec.normalizer.transform(ops, raw)
        self._buf[:-1] = self._buf[1:]
        self._buf[-1] = z[0]
        self.n_seen += 1
        self.last_ts = float(ts)
        return self.ready

    def features(self) -> FloatArray:
        """The feature vector for the newest cycle (same as :func:`batch_features`)."""
        if self.n_seen == 0:
            raise IncompleteReadingError("no readings yet")
        seen = np.array([self.n_seen], dtype=np.int64)
        row: FloatArray = features_from_windows(self._buf[None], seen, self.spec.config)[0]
        return row
