"""A telemetry batch's write and its stages (streams.telemetry.process_partitioned): in
order by default, the write done on return; with ``write_behind`` side by side, the write
returned unfinished to the consumer, which commits only after it."""

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


async def run(behind: bool) -> list[str]:
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

    write = await process_partitioned(
        Reading, "telemetry.readings", batch(), states,  # type: ignore[arg-type]
        persist=persist, stages=(stage,), key=lambda r: r.device_id, write_behind=behind)
    log.append(f"returned, write {'done' if write.done() else 'running'}")
    stored_at = await write
    assert stored_at >= NOW
    return log


def test_by_default_the_stages_run_after_the_write() -> None:
    assert asyncio.run(run(False)) == ["write start 3", "write done", "stage 2", "stage 1",
                                       "returned, write done"]


def test_behind_the_stages_run_during_the_write_and_it_returns_before_it() -> None:
    assert asyncio.run(run(True)) == ["write start 3", "stage 2", "stage 1",
                                      "returned, write running", "write done"]
