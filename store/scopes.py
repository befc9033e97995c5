"""Queries behind the role scopes of work orders (issue #22): whose asset, how many open
customer requests, and whether the geofence saw an engineer arrive."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection

Conn = AsyncConnection[Any]
OPEN = ("new", "assigned", "accepted", "en_route", "on_site", "in_progress", "waiting_parts")


async def _one(conn: Conn, sql: str, params: tuple[Any, ...]) -> Any:
    cur = await conn.execute(sql, params)
    return await cur.fetchone()


async def asset_customer(conn: Conn, asset_id: str) -> tuple[bool, str | None, str | None]:
    """(exists, its site's customer, its site) of an asset."""
    row = await _one(conn, "SELECT s.customer_id, s.id AS site_id FROM assets a"
                     " JOIN sites s ON s.id = a.site_id WHERE a.id = %s", (asset_id,))
    if row is None:
        return False, None, None
    return True, row["customer_id"], row["site_id"]


async def open_customer_requests(conn: Conn, customer_id: str) -> int:
    """Open orders of ``customer_id`` that a customer user raised (their creation event's
    actor is a customer user)."""
    row = await _one(
        conn,
        """
        SELECT count(*) AS n FROM work_orders o
        WHERE o.customer_id = %s AND o.status = ANY(%s)
          AND EXISTS (SELECT 1 FROM work_order_events e JOIN users u ON u.id = e.actor
                      WHERE e.work_order_id = o.id AND e.from_status IS NULL
                        AND u.role = 'customer')
        """,
        (customer_id, list(OPEN)),
    )
    return int(row["n"])


async def arrival_facts(
    conn: Conn, work_order_id: str, engineer_id: str, at: datetime, tolerance_s: float
) -> tuple[datetime | None, bool]:
    """(the order's assigned_at, whether a geofence check-in of ``engineer_id`` at the
    order's site lies within ``tolerance_s`` of ``at``)."""
    row = await _one(
        conn,
        """
        SELECT o.assigned_at, EXISTS (
            SELECT 1 FROM geofence_events g
            WHERE g.engineer_id = %s AND g.site_id = o.site_id AND g.kind = 'enter'
              AND g.ts BETWEEN %s AND %s) AS seen
        FROM work_orders o WHERE o.id = %s
        """,
        (engineer_id, at - timedelta(seconds=tolerance_s), at + timedelta(seconds=tolerance_s),
         work_order_id),
    )
    if row is None:
        return None, False
    return row["assigned_at"], bool(row["seen"])


async def flag_unverified_arrival(conn: Conn, work_order_id: str) -> None:
    await conn.execute("UPDATE work_orders SET arrival_unverified = true WHERE id = %s",
                       (work_order_id,))


async def key_used(conn: Conn, idempotency_key: str) -> bool:
    """True when an order was already created with this (requester-scoped) key."""
    row = await _one(conn, "SELECT 1 AS x FROM work_orders WHERE idempotency_key = %s",
                     (idempotency_key,))
    return row is not None
