"""Queries for the live feed's snapshot and the customer tracking page."""

from __future__ import annotations

from typing import Any

from store.sql import Conn
from store.sql import fetch_all as _rows

OPEN = ("new", "assigned", "accepted", "en_route", "on_site", "in_progress", "waiting_parts")


async def snapshot(conn: Conn) -> dict[str, Any]:
    """Engineers (with last position and activity), sites, open orders, open alerts, ETAs."""
    engineers = await _rows(
        conn,
        """
        SELECT e.id, e.name, e.status, e.skills, e.home_lat, e.home_lon,
               p.lat, p.lon, p.ts AS position_ts, p.speed_mps, p.heading, p.battery,
               coalesce((SELECT o.status FROM work_orders o WHERE o.engineer_id = e.id
                   AND o.status = ANY(%s) ORDER BY array_position(ARRAY['on_site',
                   'in_progress', 'waiting_parts', 'en_route', 'accepted', 'assigned'],
                   o.status) LIMIT 1),
                   CASE WHEN e.status = 'online' THEN 'idle' ELSE 'offline' END) AS activity
        FROM engineers e LEFT JOIN engineer_last_position p ON p.engineer_id = e.id
        UNION ALL
        SELECT p.engineer_id, p.engineer_id, 'online', '{}', NULL, NULL, p.lat, p.lon, p.ts,
               p.speed_mps, p.heading, p.battery, 'idle'
        FROM engineer_last_position p WHERE NOT EXISTS
            (SELECT 1 FROM engineers e WHERE e.id = p.engineer_id)
        ORDER BY 1 LIMIT 5000
        """,
        (list(OPEN),),
    )
    sites = await _rows(
        conn, "SELECT id, name, customer_id, lat, lon, fence_radius_m FROM sites LIMIT 5000"
    )
    orders = await _rows(
        conn,
        "SELECT o.id, o.status, o.priority, o.title, o.engineer_id, o.site_id, o.sla_due,"
        " o.created_at, o.updated_at, s.lat, s.lon FROM work_orders o"
        " LEFT JOIN sites s ON s.id = o.site_id WHERE o.status = ANY(%s)"
        " ORDER BY o.priority, o.created_at LIMIT 2000",
        (list(OPEN),),
    )
    alerts = await _rows(
        conn,
        "SELECT a.id, a.dedup_key, a.device_id, a.asset_id, a.fault_type, a.kind, a.severity,"
        " a.state, a.opened_at, a.updated_at, a.message, a.work_order_id, t.site_id"
        " FROM alerts a LEFT JOIN assets t ON t.id = a.asset_id WHERE a.state <> 'cleared'"
        " ORDER BY a.opened_at DESC LIMIT 500",
    )
    etas = await _rows(
        conn,
        "SELECT t.* FROM eta_latest t JOIN work_orders o ON o.id = t.work_order_id"
        " WHERE o.status = ANY(%s)",
        (list(OPEN),),
    )
    hourly = await _rows(
        conn,
        "SELECT date_trunc('hour', created_at) AS hour, count(*) AS orders FROM work_orders"
        " WHERE created_at > now() - interval '24 hours' GROUP BY 1 ORDER BY 1",
    )
    return {
        "engineers": engineers,
        "sites": sites,
        "orders": orders,
        "alerts": alerts,
        "etas": etas,
        "orders_per_hour": hourly,
    }


async def tracking(conn: Conn, work_order_id: str) -> dict[str, Any] | None:
    """What a customer's tracking page shows for one order."""
    found = await _rows(
        conn,
        """
        SELECT o.id, o.status, o.title, o.priority, o.sla_due, o.created_at, o.updated_at,
               o.engineer_id, e.name AS engineer_name, s.name AS site_name, s.address,
               s.lat AS site_lat, s.lon AS site_lon,
               t.eta, t.remaining_m, t.late_by_s, t.ts AS eta_ts,
               p.lat AS engineer_lat, p.lon AS engineer_lon, p.ts AS position_ts
        FROM work_orders o
        LEFT JOIN engineers e ON e.id = o.engineer_id
        LEFT JOIN sites s ON s.id = o.site_id
        LEFT JOIN eta_latest t ON t.work_order_id = o.id AND t.engineer_id = o.engineer_id
        LEFT JOIN engineer_last_position p ON p.engineer_id = o.engineer_id
        WHERE o.id = %s
        """,
        (work_order_id,),
    )
    return found[0] if found else None
