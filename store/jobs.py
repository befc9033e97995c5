"""Queries for the engineer's app: my open jobs with the names an engineer needs on the
road (customer, site, address, asset), and one job's asset with its history."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

Conn = AsyncConnection[Any]
# What an engineer still works on (completed stays until the customer signs off).
ACTIVE = ("assigned", "accepted", "en_route", "on_site", "in_progress", "waiting_parts",
          "completed")

_JOB = """
    SELECT o.id, o.order_type, o.status, o.priority, o.title, o.description, o.engineer_id,
           o.sla_due, o.window_start, o.window_end, o.route_seq, o.required_parts,
           o.pickup_depot_id, o.pickup_parts, o.checkin_at, o.updated_at,
           o.customer_id, c.name AS customer_name,
           o.site_id, s.name AS site_name, s.address AS site_address,
           s.lat AS site_lat, s.lon AS site_lon, s.fence_radius_m,
           o.asset_id, a.serial AS asset_serial, m.name AS asset_model,
           e.eta, e.remaining_m
    FROM work_orders o
    LEFT JOIN sites s ON s.id = o.site_id
    LEFT JOIN customers c ON c.id = coalesce(o.customer_id, s.customer_id)
    LEFT JOIN assets a ON a.id = o.asset_id
    LEFT JOIN asset_models m ON m.id = a.model_id
    LEFT JOIN eta_latest e ON e.work_order_id = o.id
"""


async def _rows(conn: Conn, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def engineer_jobs(conn: Conn, engineer_id: str) -> list[dict[str, Any]]:
    """The engineer's active orders, in route order (then SLA due, then age)."""
    return await _rows(
        conn,
        _JOB + " WHERE o.engineer_id = %s AND o.status = ANY(%s)"
        " ORDER BY o.route_seq NULLS LAST, o.sla_due NULLS LAST, o.created_at, o.id LIMIT 500",
        (engineer_id, list(ACTIVE)),
    )


async def job(conn: Conn, work_order_id: str) -> dict[str, Any] | None:
    rows = await _rows(conn, _JOB + " WHERE o.id = %s", (work_order_id,))
    return rows[0] if rows else None


async def asset_history(conn: Conn, asset_id: str, *, limit: int = 20) -> dict[str, Any]:
    """Earlier orders on the asset, the parts replaced on them and its recent alerts."""
    orders = await _rows(
        conn,
        "SELECT id, status, title, fault_type, engineer_id, created_at, completed_at"
        " FROM work_orders WHERE asset_id = %s ORDER BY created_at DESC LIMIT %s",
        (asset_id, limit),
    )
    parts = await _rows(
        conn,
        "SELECT p.work_order_id, p.part_id, pt.name, p.qty, p.used_at"
        " FROM work_order_parts p JOIN work_orders o ON o.id = p.work_order_id"
        " JOIN parts pt ON pt.id = p.part_id WHERE o.asset_id = %s"
        " ORDER BY p.used_at DESC LIMIT %s",
        (asset_id, limit),
    )
    alerts = await _rows(
        conn,
        "SELECT id, kind, fault_type, severity, state, opened_at, message FROM alerts"
        " WHERE asset_id = %s OR device_id = (SELECT device_id FROM assets WHERE id = %s)"
        " ORDER BY opened_at DESC LIMIT %s",
        (asset_id, asset_id, limit),
    )
    return {"orders": orders, "parts_replaced": parts, "alerts": alerts}


async def part_names(conn: Conn, part_ids: list[str]) -> dict[str, str]:
    rows = await _rows(conn, "SELECT id, name FROM parts WHERE id = ANY(%s)", (part_ids,))
    return {r["id"]: r["name"] for r in rows}
