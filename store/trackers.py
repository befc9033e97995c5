"""Which engineer a phone app's tracker id (Traccar Client's device identifier) belongs to."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection


async def engineer_for_tracker(conn: AsyncConnection[Any], tracker_id: str) -> str | None:
    cur = await conn.execute("SELECT id FROM engineers WHERE tracker_id = %s", (tracker_id,))
    row = await cur.fetchone()
    if row is None:
        return None
    return str(row["id"] if isinstance(row, dict) else row[0])
