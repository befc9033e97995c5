"""Latency histograms that can be subtracted: a process keeps cumulative counts, a
benchmark reads them before and after its run and takes the difference.

Buckets grow by 10% from 1 ms (bucket 0 is everything below 1 ms, the last everything
from about 100 s up), so a quantile read from them is within 10% of the true value.
Pure and not thread-safe: one writer (the consumer's loop) per histogram.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

GROWTH = 1.1
N_BUCKETS = 122  # 1.1 ** 121 ~ 100 s
_LOG = math.log(GROWTH)


def bucket_of(ms: float) -> int:
    """Index of the bucket holding ``ms``: 0 below 1 ms, then [1.1**(i-1), 1.1**i)."""
    if ms < 1.0:
        return 0
    return min(N_BUCKETS - 1, 1 + int(math.log(ms) / _LOG))


def bucket_upper(i: int) -> float:
    """The upper bound of bucket ``i`` in ms (what a quantile in it is reported as)."""
    return GROWTH ** i if i < N_BUCKETS - 1 else math.inf


@dataclass
class StageHistogram:
    counts: list[int] = field(default_factory=lambda: [0] * N_BUCKETS)
    n: int = 0
    total_ms: float = 0.0

    def observe(self, ms: float, weight: int = 1) -> None:
        self.counts[bucket_of(ms)] += weight
        self.n += weight
        self.total_ms += ms * weight

    def observe_many(self, values: Iterable[float]) -> None:
        counts = self.counts
        for ms in values:
            counts[bucket_of(ms)] += 1
            self.n += 1
            self.total_ms += ms

    def quantile(self, q: float) -> float:
        """Upper bound of the bucket holding the nearest-rank quantile ``q``; NaN if empty."""
        if self.n <= 0:
            return math.nan
        rank, seen = max(1, math.ceil(q * self.n)), 0
        for i, c in enumerate(self.counts):
            seen += c
            if seen >= rank:
                return bucket_upper(i)
        return math.inf

    def minus(self, earlier: StageHistogram) -> StageHistogram:
        """What was observed after ``earlier`` (a copy of this histogram taken before)."""
        return StageHistogram([a - b for a, b in zip(self.counts, earlier.counts, strict=True)],
                              self.n - earlier.n, self.total_ms - earlier.total_ms)

    def merged(self, other: StageHistogram) -> StageHistogram:
        return StageHistogram([a + b for a, b in zip(self.counts, other.counts, strict=True)],
                              self.n + other.n, self.total_ms + other.total_ms)

    def summary(self) -> dict[str, float]:
        def r(v: float) -> float:
            return round(v, 1) if math.isfinite(v) else v

        return {"count": self.n, "p50_ms": r(self.quantile(0.5)),
                "p95_ms": r(self.quantile(0.95)), "p99_ms": r(self.quantile(0.99)),
                "mean_ms": r(self.total_ms / self.n) if self.n else math.nan}

    def to_dict(self) -> dict[str, object]:
        return {"counts": self.counts, "n": self.n, "total_ms": self.total_ms}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> StageHistogram:
        counts = [int(c) for c in d.get("counts") or []]
        if len(counts) != N_BUCKETS:
            return cls()
        return cls(counts, int(d.get("n", 0)), float(d.get("total_ms", 0.0)))
