"""Consumer ``telemetry.readings``: every device reading decoded once, then

- persisted (COPY batches, idempotent),
- checked against its partition's watermark (too far ahead: flagged, time not moved),
- through the threshold rules and alert dedup (:mod:`streams.alerting`),
- through the fault model (:mod:`streams.predictions`),

each on the state of the reading's partition (:mod:`streams.partitioned`). Readings are
the platform's largest stream, so they never went through faust's per-event machinery: a
librdkafka consumer in group ``fieldflow-readings`` takes batches of up to
``worker_batch_size`` records and commits after the last stage and the write (at least
once; every stage is idempotent). The write runs behind: the stages never read what it
writes, so the next batch is taken and run while it finishes. Several workers share the
partitions through that group.
"""

from __future__ import annotations

import asyncio
import logging

from models.messages import Reading
from store.telemetry import copy_readings
from streams.alerting import raise_alerts, sweep_offline_devices
from streams.app import app
from streams.context import ctx, write_batch
from streams.partitioned import Batch, PartitionedConsumer
from streams.predictions import predict_failures, predictor
from streams.state import ReadingsState
from streams.telemetry import each_partition, process_partitioned

log = logging.getLogger("fieldflow.streams.readings")
TOPIC = "telemetry.readings"
GROUP = "fieldflow-readings"


async def persist_readings(batch: list[Reading]) -> None:
    await write_batch(copy_readings, batch, what="persist_readings", log=log)


async def process_readings(batch: Batch) -> asyncio.Future[float]:
    return await process_partitioned(Reading, TOPIC, batch, ctx.readings,
                                     persist=persist_readings,
                                     stages=(raise_alerts, predict_failures),
                                     key=lambda r: r.device_id, write_behind=True)


async def sweep_readings(state: ReadingsState, now: int) -> None:
    """Offline devices on the partition's watermark ``now``; readings that came before the
    fault model was loaded are predicted once it is, even if no reading follows them."""
    await sweep_offline_devices(state, now)
    if state.pending and predictor() is not None:
        await predict_failures(state, [])


async def tick_readings() -> None:
    await each_partition(ctx.readings, "device sweep", sweep_readings)


consumer = PartitionedConsumer(
    settings=ctx.settings, topic=TOPIC, group=GROUP, worker=ctx.name, states=ctx.readings,
    process=process_readings, tick=tick_readings, on_assignment=ctx.report_assignment)


@app.task
async def consume_readings() -> None:
    await consumer.run()
