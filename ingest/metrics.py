"""Bridge metrics (thread-safe) with Prometheus text exposition.

received, published, dead-lettered per reason class, in-flight, Kafka retries and
the MQTT-receive -> Kafka-confirmed latency (a fixed-bucket histogram).
"""

from __future__ import annotations

import bisect
import re
import threading
from collections import Counter as _Counter
from dataclasses import dataclass, field

LATENCY_BUCKETS_MS = (1, 2, 5, 10, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300,
                      400, 500, 750, 1000, 1500, 2000, 2500, 5000, 10000)


@dataclass
class Counter:
    value: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inc(self, n: int = 1) -> None:
        with self._lock:
            self.value += n

    def dec(self, n: int = 1) -> None:
        with self._lock:
            self.value -= n


@dataclass
class Histogram:
    buckets: tuple[float, ...] = LATENCY_BUCKETS_MS
    counts: list[int] = field(default_factory=lambda: [0] * (len(LATENCY_BUCKETS_MS) + 1))
    total: float = 0.0
    n: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def observe(self, value: float) -> None:
        with self._lock:
            self.counts[bisect.bisect_left(self.buckets, value)] += 1
            self.total += value
            self.n += 1

    def observe_many(self, values: list[float]) -> None:
        buckets, counts = self.buckets, self.counts
        with self._lock:
            for value in values:
                counts[bisect.bisect_left(buckets, value)] += 1
            self.total += sum(values)
            self.n += len(values)

    def quantile(self, q: float) -> float | None:
        """Upper bound of the bucket holding quantile ``q`` (None before any sample)."""
        with self._lock:
            if self.n == 0:
                return None
            rank, seen = q * self.n, 0
            for i, c in enumerate(self.counts):
                seen += c
                if seen >= rank:
                    return float(self.buckets[i]) if i < len(self.buckets) else float("inf")
        return float("inf")


def reason_class(reason: str) -> str:
    """Group free-text reasons into a small label set (`missing field 'lat'` -> `missing_field`)."""
    head = re.split(r"[:'\"(0-9]", reason, maxsplit=1)[0].strip().lower()
    label = re.sub(r"[^a-z]+", "_", head).strip("_")
    return label[:40] or "other"


class BridgeMetrics:
    def __init__(self) -> None:
        self.received = Counter()
        self.published = Counter()
        self.retries = Counter()
        self.in_flight = Counter()
        self.latency = Histogram()
        self._dead: _Counter[str] = _Counter()
        self._lock = threading.Lock()

    def dead_lettered(self, reason: str) -> None:
        with self._lock:
            self._dead[reason_class(reason)] += 1

    @property
    def dead_total(self) -> int:
        with self._lock:
            return sum(self._dead.values())

    def summary(self) -> str:
        p50, p99 = self.latency.quantile(0.5), self.latency.quantile(0.99)
        return (
            f"received={self.received.value} published={self.published.value} "
            f"dead_lettered={self.dead_total} in_flight={self.in_flight.value} "
            f"retries={self.retries.value} latency_p50<={p50}ms p99<={p99}ms"
        )

    def render_prometheus(self) -> str:
        lines = [
            "# HELP fieldflow_bridge_received_total MQTT messages received.",
            "# TYPE fieldflow_bridge_received_total counter",
            f"fieldflow_bridge_received_total {self.received.value}",
            "# HELP fieldflow_bridge_published_total Records confirmed by Kafka.",
            "# TYPE fieldflow_bridge_published_total counter",
            f"fieldflow_bridge_published_total {self.published.value}",
            "# HELP fieldflow_bridge_deadlettered_total Messages sent to ingest.deadletter.",
            "# TYPE fieldflow_bridge_deadlettered_total counter",
        ]
        with self._lock:
            lines += [
                f'fieldflow_bridge_deadlettered_total{{reason="{r}"}} {n}'
                for r, n in sorted(self._dead.items())
            ]
        lines += [
            "# HELP fieldflow_bridge_in_flight Messages received but not yet confirmed by Kafka.",
            "# TYPE fieldflow_bridge_in_flight gauge",
            f"fieldflow_bridge_in_flight {self.in_flight.value}",
            "# HELP fieldflow_bridge_kafka_retries_total Kafka deliveries retried.",
            "# TYPE fieldflow_bridge_kafka_retries_total counter",
            f"fieldflow_bridge_kafka_retries_total {self.retries.value}",
            "# HELP fieldflow_bridge_latency_ms MQTT receive to Kafka confirmation.",
            "# TYPE fieldflow_bridge_latency_ms histogram",
        ]
        h = self.latency
        with h._lock:
            cumulative = 0
            for bound, count in zip(h.buckets, h.counts, strict=False):
                cumulative += count
                lines.append(f'fieldflow_bridge_latency_ms_bucket{{le="{bound}"}} {cumulative}')
            lines.append(f'fieldflow_bridge_latency_ms_bucket{{le="+Inf"}} {h.n}')
            lines.append(f"fieldflow_bridge_latency_ms_sum {h.total}")
            lines.append(f"fieldflow_bridge_latency_ms_count {h.n}")
        return "\n".join(lines) + "\n"
