"""A telemetry batch's write and its stages (streams.telemetry.process_partitioned): in
order by default; side by side with ``persist_alongside``, and never returning before the
write is done (the offsets committed after it must stay at least once)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

from models.messages import Reading
from streams.telemetry import process_partitioned
from streams.watermark import PartitionStates, Watermark

NOW = int(time.time() * 1000)


@dataclass
class State:
    watermark: Watermark = field(default_factory=lambda: Watermark(600_000))


class Record:
    def __init__(self, device: str, ts: int) -> None:
        self._value = Reading(device_id=device, ts=ts, metrics={"t": 1.0}).model_dump_json()

    def value(self) -> bytes:
        return self._value.encode()


def batch() -> dict[int, list[Record]]:
    return {0: [Record("d-1", NOW), Record("d-2", NOW + 1)], 1: [Record("d-3", NOW + 2)]}


async def run(alongside: bool) -> list[str]:
    log: list[str] = []
    states: PartitionStates[State] = PartitionStates(new=lambda _p: State())
    for part in (0, 1):
        states.assign(part, None)

    async def persist(items: list[Reading]) -> None:
        log.append(f"write start {len(items)}")
        await asyncio.sleep(0.05)
        log.append("write done")

    async def stage(state: State, items: list[Reading]) -> None:
        log.append(f"stage {len(items)}")
        await asyncio.sleep(0)

    await process_partitioned(Reading, "telemetry.readings", batch(), states,  # type: ignore[arg-type]
                              persist=persist, stages=(stage,), key=lambda r: r.device_id,
                              persist_alongside=alongside)
    log.append("returned")
    return log


def test_by_default_the_stages_run_after_the_write() -> None:
    assert asyncio.run(run(False)) == ["write start 3", "write done", "stage 2", "stage 1",
                                       "returned"]


def test_alongside_the_stages_run_during_the_write_and_it_returns_after_both() -> None:
    assert asyncio.run(run(True)) == ["write start 3", "stage 2", "stage 1", "write done",
                                      "returned"]
