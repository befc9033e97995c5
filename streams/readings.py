"""Agent ``process_readings``: every device reading decoded once, then

- persisted (COPY batches, idempotent),
- through the threshold rules and alert dedup (:mod:`streams.alerting`),
- through the fault model (:mod:`streams.predictions`).

One agent per telemetry topic: faust's per-event cost is paid once, not per consumer.
"""

from __future__ import annotations

import logging

import faust

from models.messages import Reading
from stack.settings import get_settings
from store.db import retry_db
from store.telemetry import copy_readings
from streams.alerting import raise_alerts
from streams.app import app, topic
from streams.context import db_pool
from streams.deadletter import decode_or_dead_letter, guarded
from streams.predictions import has_pending, predict_failures, predictor
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.readings")
readings_topic = topic("telemetry.readings")
_s = get_settings()


async def persist_readings(batch: list[Reading]) -> None:
    pool = await db_pool()

    async def write() -> int:
        async with pool.connection() as conn:
            return await copy_readings(conn, batch)

    await retry_db(write, what="persist_readings", log=log)


@app.agent(readings_topic)
async def process_readings(stream: faust.StreamT[bytes]) -> None:
    async for values in stream.take(_s.worker_batch_size, within=_s.worker_batch_seconds):
        batch = await decode_or_dead_letter(Reading, "telemetry.readings", values)
        for stage in (persist_readings, raise_alerts, predict_failures):
            await guarded(stage, batch, "telemetry.readings")


@app.timer(interval=2.0)
@keep_running
async def flush_early_readings() -> None:
    """Start loading the fault model as soon as its file appears, and predict the readings
    that came before it once it is loaded, even if no reading follows them."""
    if predictor() is not None and has_pending():
        await predict_failures([])
