"""Per-device token buckets, driven by the message's receive time (no clock reads).

Each key (a device, an engineer, an OwnTracks phone, a Sparkplug node or device) gets a
bucket of ``burst`` tokens refilled at ``rate_per_s``; a message takes one token or is
throttled. Time is the bridge's receive time passed in by the caller, so tests and
replays are deterministic and a flood from one key never slows any other key.

Throttled messages are not dropped: the router dead-letters them with reason
``rate limited`` and this limiter counts them per key (``throttled()``), so an
operator can see who floods.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from dataclasses import dataclass


@dataclass(slots=True)
class _Bucket:
    tokens: float
    last_ms: int


class RateLimiter:
    """Token bucket per key; thread-safe; memory bounded by ``max_keys`` (LRU)."""

    def __init__(self, rate_per_s: float, burst: float, *, max_keys: int = 100_000) -> None:
        if rate_per_s <= 0 or burst < 1:
            raise ValueError("rate_per_s must be > 0 and burst >= 1")
        self.rate_per_ms = rate_per_s / 1000.0
        self.burst = float(burst)
        self.max_keys = max_keys
        self._buckets: OrderedDict[str, _Bucket] = OrderedDict()
        self._throttled: Counter[str] = Counter()
        self._lock = threading.Lock()

    def allow(self, key: str, now_ms: int) -> bool:
        """Take one token from ``key``'s bucket at time ``now_ms``; False = throttle."""
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = _Bucket(self.burst, now_ms)
                self._buckets[key] = bucket
                if len(self._buckets) > self.max_keys:
                    self._buckets.popitem(last=False)  # forget the least recently seen
            else:
                self._buckets.move_to_end(key)
                elapsed = now_ms - bucket.last_ms
                if elapsed > 0:  # out-of-order receive times never add tokens
                    bucket.tokens = min(self.burst, bucket.tokens + elapsed * self.rate_per_ms)
                    bucket.last_ms = now_ms
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return True
            self._throttled[key] += 1
            return False

    def throttled(self, key: str | None = None) -> int:
        """Messages throttled for ``key`` (or for every key when None)."""
        with self._lock:
            return self._throttled[key] if key is not None else sum(self._throttled.values())

    def top_throttled(self, n: int = 10) -> list[tuple[str, int]]:
        """The keys throttled most, for logs and the API's KPIs."""
        with self._lock:
            return self._throttled.most_common(n)
