"""Reads of work orders for the API: the order list and an order's history (paged),
parts used, latest ETA; and the tracking token row. The use cases are in ``services``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from store.listing import Paging, TimeRange, Where, fetch_page

Conn = AsyncConnection[Any]

OPEN_ONLY = "status NOT IN ('completed', 'signed_off', 'closed', 'cancelled')"


async def page_orders(
    conn: Conn, paging: Paging, rng: TimeRange, *, scope: Where, status: str | None = None,
    open_only: bool = False, priority: str | None = None, engineer_id: str | None = None,
    site_id: str | None = None, customer_id: str | None = None, asset_id: str | None = None,
) -> dict[str, Any]:
    """One page of orders, newest first, within ``scope`` (who may see what)."""
    where = (scope.eq("status", status).eq("priority", priority)
             .eq("engineer_id", engineer_id).eq("site_id", site_id)
             .eq("customer_id", customer_id).eq("asset_id", asset_id)
             .within("created_at", rng))
    if open_only:
        where.add(OPEN_ONLY)
    return await fetch_page(conn, "SELECT * FROM work_orders", where, "created_at DESC, id",
                            paging)


async def page_events(conn: Conn, paging: Paging, work_order_id: str) -> dict[str, Any]:
    """One page of an order's history, oldest first."""
    return await fetch_page(conn, "SELECT * FROM work_order_events",
                            Where().eq("work_order_id", work_order_id), "id", paging)


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
