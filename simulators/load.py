"""Load mode: many devices multiplexed on a few MQTT connections, readings only, paced.

Sends ``devices x rate`` readings per second (no faster), QoS 1, event time = now, and
reports what it achieved. Pacing is a deficit counter: each loop sends what the target
rate says should have been sent by now, in round-robin device order.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from simulators.mqttio import MqttPool


@dataclass(frozen=True)
class LoadResult:
    sent: int
    seconds: float
    target_per_s: float
    in_flight_at_end: int

    @property
    def achieved_per_s(self) -> float:
        return self.sent / self.seconds if self.seconds > 0 else 0.0


def due(elapsed_s: float, target_per_s: float, sent: int, batch_max: int) -> int:
    """How many to send now to be on pace (never more than ``batch_max`` at once)."""
    return max(0, min(batch_max, int(elapsed_s * target_per_s) - sent))


def run_load(mqtt_url: str, *, devices: int, rate: float, duration_s: float,
             connections: int = 4, seed: int = 7,
             progress: Callable[[int], None] | None = None) -> LoadResult:
    pool = MqttPool(mqtt_url, connections, prefix="fieldflow-load")
    rng = random.Random(seed)
    ids = [f"load-dev-{i:06d}" for i in range(devices)]
    topics = [f"fieldflow/devices/{d}/telemetry".encode().decode() for d in ids]
    target = devices * rate
    start = time.monotonic()
    sent = 0
    i = 0
    try:
        while (elapsed := time.monotonic() - start) < duration_s:
            n = due(elapsed, target, sent, 2000)
            if n == 0:
                time.sleep(0.002)
                continue
            ts = time.time_ns() // 1_000_000
            for _ in range(n):
                body = (b'{"ts":%d,"metrics":{"temperature":%.2f,"vibration_rms":%.3f}}'
                        % (ts, rng.gauss(38, 1.2), rng.gauss(2.2, 0.3)))
                pool.publish(topics[i % devices], body)
                i += 1
            sent += n
            if progress:
                progress(n)
        seconds = time.monotonic() - start
        left = pool.in_flight()
    finally:
        pool.close()
    return LoadResult(sent, seconds, target, left)
