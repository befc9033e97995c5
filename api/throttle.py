"""Failed-authentication throttle: a token bucket per client address (pure, no I/O).

Every failed token lookup takes one token from its address's bucket; when the bucket
is empty the address is refused (HTTP 429) *before* any database lookup, so guessing
tokens costs the guesser, not the pool. Successful lookups cost nothing. Memory is
bounded by ``max_keys`` (the least recently seen address is forgotten first). Time is
passed in (monotonic seconds), so tests are deterministic.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last: float


class FailureThrottle:
    """``blocked(addr, now)`` before a lookup; ``failed(addr, now)`` after a failed one."""

    def __init__(self, per_s: float, burst: int, *, max_keys: int = 50_000) -> None:
        if per_s <= 0 or burst < 1 or max_keys < 1:
            raise ValueError("per_s must be > 0, burst and max_keys >= 1")
        self.per_s = per_s
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._buckets)

    def _refill(self, key: str, now: float) -> _Bucket | None:
        bucket = self._buckets.get(key)
        if bucket is None:
            return None
        elapsed = now - bucket.last
        if elapsed > 0:
            bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.per_s)
            bucket.last = now
        if bucket.tokens >= self.burst:  # fully recovered: forget it
            del self._buckets[key]
            return None
        return bucket

    def blocked(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0.0 = not blocked)."""
        with self._lock:
            bucket = self._refill(key, now)
            if bucket is None or bucket.tokens >= 1.0:
                return 0.0
            return (1.0 - bucket.tokens) / self.per_s

    def failed(self, key: str, now: float) -> None:
        """Count one failed lookup from ``key``."""
        with self._lock:
            bucket = self._refill(key, now)
            if bucket is None:
                bucket = _Bucket(self.burst, now)
                self._buckets[key] = bucket
                while len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)
            else:
                self._buckets.move_to_end(key)
            bucket.tokens = max(0.0, bucket.tokens - 1.0)
