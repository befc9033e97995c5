"""Webhook subscriptions and their delivery log (delivery itself: services/webhooks.py)."""

from __future__ import annotations

from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, fetch_one


async def insert(conn: Conn, *, url: str, event_types: list[str], secret: str) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO webhooks (url, event_types, secret) VALUES (%s, %s, %s) RETURNING *",
        (url, event_types, secret),
    )
    assert row is not None
    return row


async def page(conn: Conn, paging: Paging) -> dict[str, Any]:
    """Active webhooks (without their secrets)."""
    return await fetch_page(
        conn, "SELECT id, url, event_types, active, created_at FROM webhooks",
        Where().add("active"), "id", paging,
    )


async def deactivate(conn: Conn, webhook_id: int) -> bool:
    """False when there is no active webhook ``webhook_id``."""
    cur = await conn.execute(
        "UPDATE webhooks SET active = false WHERE id = %s AND active", (webhook_id,)
    )
    return cur.rowcount > 0


async def exists(conn: Conn, webhook_id: int) -> bool:
    return await fetch_one(conn, "SELECT 1 AS x FROM webhooks WHERE id = %s", (webhook_id,)) \
        is not None


async def deliveries(
    conn: Conn, paging: Paging, webhook_id: int, *, delivered: bool | None = None
) -> dict[str, Any]:
    where = Where().eq("webhook_id", webhook_id).eq("delivered", delivered)
    return await fetch_page(conn, "SELECT * FROM webhook_deliveries", where, "id DESC", paging)
