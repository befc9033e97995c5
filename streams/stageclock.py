"""Where a telemetry record's time goes inside a worker, for ``fieldflow bench e2e``.

Per record: ``kafka`` = consumed - the record's Kafka timestamp (the bridge's produce
call: producer linger, broker, fetch and the wait in the consumer's queue while the
worker was busy), ``stored`` = persisted - consumed, ``processed`` = every stage done -
consumed (for readings, whose write runs behind, the stages other than the write).
Cumulative histograms (:class:`models.latency.StageHistogram`) written every tick to
``run_dir/stages/<worker>.<topic>.json``; a benchmark subtracts two readings.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from models.latency import StageHistogram

log = logging.getLogger("fieldflow.streams.stages")
STAGES = ("kafka", "stored", "processed")


def stages_file(run_dir: Path, worker: str, topic: str) -> Path:
    return run_dir / "stages" / f"{worker}.{topic}.json"


def read_stages(path: Path) -> dict[str, StageHistogram]:
    """The histograms in ``path`` (empty ones when it is missing or unreadable)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        data = {}
    return {s: StageHistogram.from_dict(data.get(s) or {}) for s in STAGES}


@dataclass(frozen=True)
class Consumed:
    """A batch as it came back from the consumer: when, and how many records."""

    at_ms: float
    n: int


@dataclass
class StageClock:
    path: Path
    hist: dict[str, StageHistogram] = field(
        default_factory=lambda: {s: StageHistogram() for s in STAGES})

    def consumed(self, kafka_ts_ms: list[int]) -> Consumed:
        """A batch came back from the consumer: ``kafka_ts_ms`` its records' timestamps."""
        now = time.time() * 1000
        self.hist["kafka"].observe_many(now - ts for ts in kafka_ts_ms if ts > 0)
        return Consumed(now, len(kafka_ts_ms))

    def mark(self, stage: str, batch: Consumed, at_ms: float | None = None) -> None:
        """Every record of ``batch`` reached ``stage`` at ``at_ms`` (default: now)."""
        if batch.n:
            now = time.time() * 1000 if at_ms is None else at_ms
            self.hist[stage].observe(now - batch.at_ms, batch.n)

    def write(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            tmp.write_text(json.dumps({s: h.to_dict() for s, h in self.hist.items()}))
            tmp.replace(self.path)
        except OSError as exc:
            log.warning("could not write the stage timings to %s: %s", self.path, exc)
