"""GPS noise of a phone: reported accuracy 5-30 m, errors to match, rare outliers, gaps.

Pure and seeded (a ``random.Random`` per phone); works in the grid's metre frame.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from simulators.roads import Point


@dataclass(frozen=True)
class NoiseConfig:
    min_accuracy_m: float = 5.0
    max_accuracy_m: float = 30.0
    outlier_p: float = 0.01  # a wild fix (multipath): hundreds of metres off
    outlier_m: tuple[float, float] = (300.0, 900.0)
    gap_p: float = 0.005  # chance per fix that a gap (no fixes) starts
    gap_s: tuple[float, float] = (30.0, 120.0)


@dataclass(frozen=True)
class Fix:
    """What the phone reports: a position in the metre frame and its claimed accuracy."""

    xy: Point
    accuracy_m: float
    outlier: bool = False


class GpsNoise:
    """Turns true positions into reported fixes (or nothing, during a gap)."""

    def __init__(self, rng: random.Random, config: NoiseConfig | None = None) -> None:
        self.rng = rng
        self.config = config or NoiseConfig()
        self.gap_until_ms = 0

    def fix(self, true_xy: Point, ts_ms: int, *, allow_gap: bool = True) -> Fix | None:
        """The fix reported at ``ts_ms`` for the true position, or None inside a gap."""
        c, rng = self.config, self.rng
        if ts_ms < self.gap_until_ms:
            return None
        if allow_gap and rng.random() < c.gap_p:
            self.gap_until_ms = ts_ms + int(rng.uniform(*c.gap_s) * 1000)
            return None
        accuracy = rng.uniform(c.min_accuracy_m, c.max_accuracy_m)
        if rng.random() < c.outlier_p:
            dist = rng.uniform(*c.outlier_m)
            outlier = True
        else:
            # accuracy is the ~68% radius: the error is Rayleigh with sigma = acc / 1.5
            dist = rng.gauss(0, accuracy / 1.5) ** 2 + rng.gauss(0, accuracy / 1.5) ** 2
            dist = math.sqrt(dist)
            outlier = False
        angle = rng.uniform(0, 2 * math.pi)
        xy = (true_xy[0] + dist * math.cos(angle), true_xy[1] + dist * math.sin(angle))
        return Fix(xy, round(accuracy, 1), outlier)
