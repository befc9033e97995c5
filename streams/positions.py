"""Agent ``process_positions``: every GPS fix decoded once, then

- persisted (COPY batches, idempotent; last known position per engineer),
- through geofence check-in/out and presence (:mod:`streams.checkins`),
- through the live ETAs (:mod:`streams.etas`).

One agent per telemetry topic: faust's per-event cost is paid once, not per consumer.
"""

from __future__ import annotations

import logging

import faust

from models.messages import Position
from stack.settings import get_settings
from store.db import retry_db
from store.telemetry import copy_positions
from streams.app import app, topic
from streams.checkins import detect_checkins
from streams.context import db_pool
from streams.deadletter import decode_or_dead_letter, guarded
from streams.etas import track_etas

log = logging.getLogger("fieldflow.streams.positions")
positions_topic = topic("telemetry.positions")
_s = get_settings()


async def persist_positions(batch: list[Position]) -> None:
    pool = await db_pool()

    async def write() -> int:
        async with pool.connection() as conn:
            return await copy_positions(conn, batch)

    await retry_db(write, what="persist_positions", log=log)


@app.agent(positions_topic)
async def process_positions(stream: faust.StreamT[bytes]) -> None:
    async for values in stream.take(_s.worker_batch_size, within=_s.worker_batch_seconds):
        batch = await decode_or_dead_letter(Position, "telemetry.positions", values)
        # ETAs first: a batch that checks an engineer in still updates the ETA up to arrival.
        for stage in (persist_positions, track_etas, detect_checkins):
            await guarded(stage, batch, "telemetry.positions")
