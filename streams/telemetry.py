"""The shared shape of the telemetry consumers (positions, readings): decode each
partition's records once, persist the whole batch, then per partition check the records'
times against its watermark (flagging the skewed ones) and run the stages on its state."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Protocol, TypeVar

from pydantic import BaseModel

from models.timeutil import now_ms
from store.db import retry_db
from store.snapshots import flag_clock_skew
from streams.context import ctx
from streams.deadletter import decode_or_dead_letter, guarded
from streams.partitioned import Batch
from streams.watermark import PartitionStates, Watermark

log = logging.getLogger("fieldflow.streams.telemetry")


class HasWatermark(Protocol):
    watermark: Watermark


M = TypeVar("M", bound=BaseModel)
S = TypeVar("S", bound=HasWatermark)


async def observe_times(topic: str, partition: int, wm: Watermark, batch: Sequence[M], *,
                        key: Callable[[M], str], wall_ms: int) -> None:
    """Move the partition's watermark over ``batch``; flag the records too far ahead."""
    skewed: list[tuple[str, int, int, int | None]] = []
    for item in sorted(batch, key=lambda m: m.ts):  # type: ignore[attr-defined]
        ts: int = item.ts  # type: ignore[attr-defined]
        # the reference only counts for a partition's first record (ctx.now() is not free)
        if not wm.observe(ts, wall_ms, reference=ctx.now() if wm.value is None else None):
            skewed.append((key(item), ts, partition, wm.value))
    if not skewed:
        return
    for k, ts, _, mark in skewed[:3]:
        log.warning("%s[%d]: %s's time %d is %.0fs ahead of the partition's watermark: stored"
                    " and flagged (clock_skew), time not moved", topic, partition, k, ts,
                    (ts - (mark or wall_ms)) / 1000)

    async def flag() -> None:
        pool = await ctx.db_pool()
        async with pool.connection() as conn:
            await flag_clock_skew(conn, topic, skewed)

    await retry_db(flag, what="flag clock skew", log=log)


async def process_partitioned(
    model: type[M], topic: str, batch: Batch, states: PartitionStates[S], *,
    persist: Callable[[list[M]], Awaitable[None]],
    stages: Sequence[Callable[[S, list[M]], Awaitable[None]]],
    key: Callable[[M], str],
    write_behind: bool = False,
) -> asyncio.Future[float]:
    """Decode, persist, then the stages per partition; returns the write, whose result is
    the wall time (ms) the batch was stored at.

    By default the stages run after the write, and the write is done on return. With
    ``write_behind`` (for stages that never read what ``persist`` writes) the write runs
    while the stages do and may still be running on return: the consumer goes on with its
    next batch meanwhile and commits this batch's offsets only once the write is done
    (:class:`streams.partitioned.PartitionedConsumer`), so they stay at least once."""
    wall = now_ms()
    decoded = {part: await decode_or_dead_letter(model, topic, [r.value() for r in records])
               for part, records in batch.items()}
    writing = asyncio.ensure_future(
        _stored_at(guarded(persist, [m for ms in decoded.values() for m in ms], topic)))
    if write_behind:
        await asyncio.sleep(0)  # the write goes out first; the stages' CPU work follows
    else:
        await writing
    await _run_stages(topic, decoded, states, stages, key=key, wall_ms=wall)
    return writing


async def _stored_at(write: Awaitable[None]) -> float:
    await write
    return time.time() * 1000


async def _run_stages(topic: str, decoded: dict[int, list[M]], states: PartitionStates[S],
                      stages: Sequence[Callable[[S, list[M]], Awaitable[None]]], *,
                      key: Callable[[M], str], wall_ms: int) -> None:
    for part, items in decoded.items():
        if not items or part not in states.owned:
            continue
        state = states.get(part)
        await observe_times(topic, part, state.watermark, items, key=key, wall_ms=wall_ms)
        for stage in stages:
            await guarded(partial(stage, state), items, topic)


async def each_partition(states: PartitionStates[S], what: str,
                         sweep: Callable[[S, int], Awaitable[None]]) -> None:
    """A timer step over every owned partition: its watermark advances if it is idle
    (:meth:`Watermark.tick`), then ``sweep`` runs on it; one failing never stops the others."""
    wall = now_ms()
    reference = ctx.flowing_time(wall)
    for part, state in states.items():
        now = state.watermark.tick(wall, reference)
        if now is None:
            continue
        try:
            await sweep(state, now)
        except Exception:
            log.exception("%s on partition %d failed; it runs again at the next tick", what,
                          part)
