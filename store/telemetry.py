"""Batch writes of telemetry with COPY (idempotent: redelivered records are ignored)."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from psycopg import AsyncConnection

from models.messages import Position, Reading
from models.timeutil import to_datetime

_POS_COLS = (
    "engineer_id, ts, lat, lon, accuracy_m, speed_mps, heading, battery, source, received_at"
)


def _maybe_dt(ms: int | None):  # type: ignore[no-untyped-def]
    return None if ms is None else to_datetime(ms)


async def copy_positions(conn: AsyncConnection, positions: Sequence[Position]) -> int:
    """COPY into a staging table, then insert with ON CONFLICT DO NOTHING.

    Also refreshes ``engineer_last_position`` (newest event time wins, so late fixes
    never move an engineer backwards) and marks the engineers online.
    Returns the number of new rows.
    """
    if not positions:
        return 0
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS positions_stage "
            "(LIKE positions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        async with conn.cursor() as cur:
            async with cur.copy(f"COPY positions_stage ({_POS_COLS}) FROM STDIN") as copy:
                for p in positions:
                    await copy.write_row(
                        (
                            p.engineer_id,
                            to_datetime(p.ts),
                            p.lat,
                            p.lon,
                            p.accuracy_m,
                            p.speed_mps,
                            p.heading,
                            p.battery,
                            p.source.value,
                            _maybe_dt(p.received_at),
                        )
                    )
            await cur.execute(
                "INSERT INTO positions (engineer_id, ts, lat, lon, accuracy_m, speed_mps,"
                " heading, battery, source, received_at)"
                " SELECT engineer_id, ts, lat, lon, accuracy_m, speed_mps, heading, battery,"
                " source, received_at FROM positions_stage"
                " "
                "ON CONFLICT DO NOTHING"
            )
            inserted = cur.rowcount
            await cur.execute(
                """
                INSERT INTO engineer_last_position (engineer_id, ts, lat, lon, accuracy_m,
                    speed_mps, heading, battery, source, received_at)
                SELECT DISTINCT ON (engineer_id) engineer_id, ts, lat, lon, accuracy_m,
                    speed_mps, heading, battery, source, received_at
                FROM positions_stage
                ORDER BY engineer_id, ts DESC
                ON CONFLICT (engineer_id) DO UPDATE SET
                    ts = EXCLUDED.ts, lat = EXCLUDED.lat, lon = EXCLUDED.lon,
                    accuracy_m = EXCLUDED.accuracy_m, speed_mps = EXCLUDED.speed_mps,
                    heading = EXCLUDED.heading, battery = EXCLUDED.battery,
                    source = EXCLUDED.source, received_at = EXCLUDED.received_at
                WHERE engineer_last_position.ts < EXCLUDED.ts
                """
            )
    return max(inserted, 0)


def readings_copy_text(readings: Sequence[Reading]) -> bytes:
    """The rows of ``readings`` in COPY text format for ``readings_stage_ms``: event times
    as epoch ms (PostgreSQL turns them into timestamptz), metrics as orjson. Ids and
    metric names cannot hold tabs, newlines or backslashes (models.messages patterns), and
    JSON escapes control characters, so only backslashes in the JSON need doubling."""
    lines = []
    for r in readings:
        metrics = orjson.dumps(r.metrics).decode()
        if "\\" in metrics:
            metrics = metrics.replace("\\", "\\\\")
        received = "\\N" if r.received_at is None else str(r.received_at)
        lines.append(f"{r.device_id}\t{r.ts}\t{metrics}\t{r.source.value}\t{received}\n")
    return "".join(lines).encode()


async def copy_readings(conn: AsyncConnection, readings: Sequence[Reading]) -> int:
    """COPY a batch (one write of text rows) into a staging table, then insert with
    ON CONFLICT DO NOTHING; returns the number of new rows."""
    if not readings:
        return 0
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_stage_ms (device_id text, ts_ms bigint,"
            " metrics jsonb, source text, received_ms bigint) ON COMMIT DELETE ROWS"
        )
        async with conn.cursor() as cur:
            async with cur.copy("COPY readings_stage_ms FROM STDIN") as copy:
                await copy.write(readings_copy_text(readings))
            await cur.execute(
                "INSERT INTO readings (device_id, ts, metrics, source, received_at)"
                " SELECT device_id, timestamptz 'epoch' + ts_ms * interval '1 millisecond',"
                " metrics, source,"
                " timestamptz 'epoch' + received_ms * interval '1 millisecond'"
                " FROM readings_stage_ms ON CONFLICT DO NOTHING"
            )
            return max(cur.rowcount, 0)
