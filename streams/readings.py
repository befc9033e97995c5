"""Task ``consume_readings``: every device reading decoded once, then

- persisted (COPY batches, idempotent),
- through the threshold rules and alert dedup (:mod:`streams.alerting`),
- through the fault model (:mod:`streams.predictions`).

Readings are the platform's largest stream, so they skip faust's per-event machinery
(its stream iteration, events and acks cost most of the worker's CPU in py-spy): a
librdkafka consumer in the worker's own group ``fieldflow-readings`` takes batches of up
to ``worker_batch_size`` records, the stages run on the faust event loop as before, and
the offsets are committed after the last stage (at least once; every stage is
idempotent). Several workers share the partitions through that group.
"""

from __future__ import annotations

import asyncio
import logging

from confluent_kafka import Consumer, KafkaException

from models.messages import Reading
from stack.settings import get_settings
from store.telemetry import copy_readings
from streams.alerting import raise_alerts
from streams.app import MAX_POLL_INTERVAL_S, app
from streams.context import write_batch
from streams.deadletter import run_stages
from streams.predictions import has_pending, predict_failures, predictor
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.readings")
TOPIC = "telemetry.readings"
GROUP = "fieldflow-readings"
_s = get_settings()


async def persist_readings(batch: list[Reading]) -> None:
    await write_batch(copy_readings, batch, what="persist_readings", log=log)


async def process_readings(values: list[bytes | None]) -> None:
    """One batch of raw records through every stage (bad records are dead-lettered)."""
    await run_stages(Reading, TOPIC, values, (persist_readings, raise_alerts, predict_failures))


def _consumer() -> Consumer:
    consumer = Consumer({
        "bootstrap.servers": _s.resolved_kafka_bootstrap,
        "group.id": GROUP,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10_000,  # a dead worker's partitions move on in seconds
        "max.poll.interval.ms": MAX_POLL_INTERVAL_S * 1000,  # as faust's
    })
    consumer.subscribe([TOPIC])
    return consumer


@app.task
async def consume_readings() -> None:
    while True:  # an unexpected error restarts the consumer from the committed offsets
        consumer = await asyncio.to_thread(_consumer)
        log.info("readings: batch consumer in group %s on %s", GROUP, TOPIC)
        try:
            await _consume(consumer)
        except Exception:
            log.exception("readings: batch consumer failed; restarting it in 1 s")
            await asyncio.sleep(1)
        finally:
            await asyncio.to_thread(consumer.close)


async def _consume(consumer: Consumer) -> None:
    while True:
        records = await asyncio.to_thread(
            consumer.consume, _s.worker_batch_size, _s.worker_batch_seconds)
        values: list[bytes | None] = []
        for record in records:
            error = record.error()
            if error is not None:
                log.warning("readings: consumer error %s", error)
                continue
            values.append(record.value())
        if values:
            await process_readings(values)
        if records:
            try:
                await asyncio.to_thread(consumer.commit, asynchronous=False)
            except KafkaException as exc:  # e.g. a rebalance: redelivered, not lost
                log.warning("readings: offsets not committed (%s)", exc)


@app.timer(interval=2.0)
@keep_running
async def flush_early_readings() -> None:
    """Start loading the fault model as soon as its file appears, and predict the readings
    that came before it once it is loaded, even if no reading follows them."""
    if predictor() is not None and has_pending():
        await predict_failures([])
