"""Batch writes of telemetry with COPY (idempotent: redelivered records are ignored)."""

from __future__ import annotations

from collections.abc import Sequence

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from models.messages import Position, Reading
from models.timeutil import to_datetime

_POS_COLS = (
    "engineer_id, ts, lat, lon, accuracy_m, speed_mps, heading, battery, source, received_at"
)
_READ_COLS = "device_id, ts, metrics, source, received_at"


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


async def copy_readings(conn: AsyncConnection, readings: Sequence[Reading]) -> int:
    if not readings:
        return 0
    async with conn.transaction():
        await conn.execute(
            "CREATE TEMP TABLE IF NOT EXISTS readings_stage "
            "(LIKE readings INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        async with conn.cursor() as cur:
            async with cur.copy(f"COPY readings_stage ({_READ_COLS}) FROM STDIN") as copy:
                for r in readings:
                    await copy.write_row(
                        (
                            r.device_id,
                            to_datetime(r.ts),
                            Jsonb(r.metrics),
                            r.source.value,
                            _maybe_dt(r.received_at),
                        )
                    )
            await cur.execute(
                "INSERT INTO readings (device_id, ts, metrics, source, received_at)"
                " SELECT device_id, ts, metrics, source, received_at FROM readings_stage"
                " "
                "ON CONFLICT DO NOTHING"
            )
            return max(cur.rowcount, 0)
