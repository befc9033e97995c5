"""Reads of a work order's sub-resources (parts used, latest ETA) and the tracking
token row; the use cases around them are in ``services``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

Conn = AsyncConnection[Any]

# The listings' base queries (the API adds its WHERE, ORDER BY and paging).
ORDERS = "SELECT * FROM work_orders"
ORDER_EVENTS = "SELECT * FROM work_order_events"


async def parts_used(conn: Conn, work_order_id: str) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM work_order_parts WHERE work_order_id = %s ORDER BY id",
                          (work_order_id,))
        return await cur.fetchall()


async def latest_eta(conn: Conn, work_order_id: str) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM eta_latest WHERE work_order_id = %s", (work_order_id,))
        return await cur.fetchone()


async def insert_tracking_token(conn: Conn, token_hash: str, work_order_id: str,
                                expires_at: datetime) -> None:
    await conn.execute(
        "INSERT INTO api_tokens (token_hash, role, work_order_id, expires_at)"
        " VALUES (%s, 'customer', %s, %s)", (token_hash, work_order_id, expires_at))
