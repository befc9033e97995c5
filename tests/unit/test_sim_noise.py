"""GPS noise: accuracy band, error consistent with accuracy, rare outliers, gaps."""

from __future__ import annotations

import math
import random
import statistics

from simulators.noise import GpsNoise, NoiseConfig


def test_accuracy_band_and_error_size() -> None:
    noise = GpsNoise(random.Random(1), NoiseConfig(outlier_p=0.0, gap_p=0.0))
    errors, accs = [], []
    for i in range(5000):
        fix = noise.fix((0.0, 0.0), i * 10_000)
        assert fix is not None
        accs.append(fix.accuracy_m)
        errors.append(math.dist(fix.xy, (0.0, 0.0)) / fix.accuracy_m)
    assert min(accs) >= 5 and max(accs) <= 30
    inside = sum(e <= 1.0 for e in errors) / len(errors)
    assert 0.5 < inside < 0.8  # accuracy is roughly the 68 % radius
    assert statistics.median(errors) < 1.0


def test_outliers_are_rare_and_far() -> None:
    noise = GpsNoise(random.Random(2), NoiseConfig(outlier_p=0.02, gap_p=0.0))
    fixes = [noise.fix((0.0, 0.0), i * 10_000) for i in range(5000)]
    outliers = [f for f in fixes if f is not None and f.outlier]
    assert 50 <= len(outliers) <= 160
    assert all(math.dist(f.xy, (0.0, 0.0)) >= 300 for f in outliers)


def test_gaps_last_a_while_and_can_be_forbidden() -> None:
    noise = GpsNoise(random.Random(3), NoiseConfig(gap_p=0.05, gap_s=(60.0, 60.0)))
    missing = [noise.fix((0.0, 0.0), i * 10_000) is None for i in range(2000)]
    assert 0.05 < sum(missing) / len(missing) < 0.5
    runs, run = [], 0
    for m in missing:
        if m:
            run += 1
        elif run:
            runs.append(run)
            run = 0
    assert max(runs) >= 6  # a 60 s gap swallows six 10 s fixes
    quiet = GpsNoise(random.Random(3), NoiseConfig(gap_p=1.0))
    assert all(quiet.fix((0.0, 0.0), i * 1000, allow_gap=False) for i in range(100))


def test_seeded() -> None:
    a = [GpsNoise(random.Random(9)).fix((1.0, 2.0), i * 1000) for i in range(100)]
    b = [GpsNoise(random.Random(9)).fix((1.0, 2.0), i * 1000) for i in range(100)]
    assert a == b
