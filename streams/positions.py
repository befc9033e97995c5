"""Consumer ``telemetry.positions``: every GPS fix decoded once, then

- persisted (COPY batches, idempotent; last known position per engineer),
- checked against its partition's watermark (too far ahead: flagged, time not moved),
- through the live ETAs (:mod:`streams.etas`),
- through geofence check-in/out and presence (:mod:`streams.checkins`),

each on the state of the fix's partition (:mod:`streams.partitioned`): a librdkafka
consumer in group ``fieldflow-positions``, shared by every worker.
"""

from __future__ import annotations

import asyncio
import logging

from models.messages import Position
from store.telemetry import copy_positions
from streams.app import app
from streams.checkins import detect_checkins, sweep_partition
from streams.context import ctx, write_batch
from streams.etas import track_etas
from streams.partitioned import Batch, PartitionedConsumer
from streams.telemetry import each_partition, process_partitioned

log = logging.getLogger("fieldflow.streams.positions")
TOPIC = "telemetry.positions"
GROUP = "fieldflow-positions"


async def persist_positions(batch: list[Position]) -> None:
    await write_batch(copy_positions, batch, what="persist_positions", log=log)


async def process_positions(batch: Batch) -> asyncio.Future[float]:
    # ETAs first: a batch that checks an engineer in still updates the ETA up to arrival.
    return await process_partitioned(Position, TOPIC, batch, ctx.positions,
                                     persist=persist_positions,
                                     stages=(track_etas, detect_checkins),
                                     key=lambda p: p.engineer_id)


async def tick_positions() -> None:
    await each_partition(ctx.positions, "geofence/presence sweep", sweep_partition)


consumer = PartitionedConsumer(
    settings=ctx.settings, topic=TOPIC, group=GROUP, worker=ctx.name, states=ctx.positions,
    process=process_positions, tick=tick_positions, on_assignment=ctx.report_assignment)


@app.task
async def consume_positions() -> None:
    await consumer.run()
