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
from store.telemetry import copy_positions
from streams.app import app, topic
from streams.checkins import detect_checkins
from streams.context import write_batch
from streams.deadletter import run_stages
from streams.etas import track_etas

log = logging.getLogger("fieldflow.streams.positions")
positions_topic = topic("telemetry.positions")
_s = get_settings()


async def persist_positions(batch: list[Position]) -> None:
    await write_batch(copy_positions, batch, what="persist_positions", log=log)


@app.agent(positions_topic)
async def process_positions(stream: faust.StreamT[bytes]) -> None:
    async for values in stream.take(_s.worker_batch_size, within=_s.worker_batch_seconds):
        # ETAs first: a batch that checks an engineer in still updates the ETA up to arrival.
        await run_stages(Position, "telemetry.positions", values,
                         (persist_positions, track_etas, detect_checkins))
