"""Agent ``persist_positions``: engineers' GPS fixes into PostgreSQL in COPY batches."""

from __future__ import annotations

import logging

import faust

from models.codec import DecodeError, decode
from models.messages import Position
from stack.settings import get_settings
from store.db import retry_db
from store.telemetry import copy_positions
from streams.app import app, topic
from streams.context import db_pool
from streams.deadletter import dead_letter

log = logging.getLogger("fieldflow.streams.positions")
positions_topic = topic("telemetry.positions")
_settings = get_settings()


def decode_batch(values: list[bytes]) -> tuple[list[Position], list[tuple[bytes, str]]]:
    good: list[Position] = []
    bad: list[tuple[bytes, str]] = []
    for value in values:
        try:
            good.append(decode(Position, value))
        except DecodeError as exc:
            bad.append((value, str(exc)))
    return good, bad


@app.agent(positions_topic)
async def persist_positions(stream: faust.StreamT[bytes]) -> None:
    pool = await db_pool()
    async for values in stream.take(
        _settings.worker_batch_size,
        within=_settings.worker_batch_seconds,
    ):
        good, bad = decode_batch(values)
        for value, reason in bad:
            await dead_letter("telemetry.positions", value, reason)

        async def write(batch: list[Position] = good) -> int:
            async with pool.connection() as conn:
                return await copy_positions(conn, batch)

        await retry_db(write, what="persist_positions", log=log)
