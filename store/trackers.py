"""Which engineer a phone app's tracker id (Traccar Client's device identifier) belongs to."""

from __future__ import annotations

from store.sql import Conn, fetch_one


async def engineer_for_tracker(conn: Conn, tracker_id: str) -> str | None:
    row = await fetch_one(conn, "SELECT id FROM engineers WHERE tracker_id = %s", (tracker_id,))
    return None if row is None else str(row["id"])
