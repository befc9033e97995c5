"""Queries for an engineer's track: stored fixes and geofence events of a time range."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.sql import Conn
from store.sql import fetch_all as _rows


async def engineer_exists(conn: Conn, engineer_id: str) -> bool:
    """Registered, or known only by the fixes it sent (as the live map shows it)."""
    found = await _rows(
        conn,
        "SELECT 1 FROM engineers WHERE id = %(id)s UNION ALL"
        " SELECT 1 FROM engineer_last_position WHERE engineer_id = %(id)s LIMIT 1",
        {"id": engineer_id},
    )
    return bool(found)


async def fixes(
    conn: Conn, engineer_id: str, start: datetime, end: datetime, limit: int
) -> list[dict[str, Any]]:
    """Fixes with ``start <= ts <= end``, oldest first, at most ``limit`` (the earliest)."""
    return await _rows(
        conn,
        "SELECT ts, lat, lon, accuracy_m, speed_mps, heading FROM positions"
        " WHERE engineer_id = %s AND ts >= %s AND ts <= %s ORDER BY ts LIMIT %s",
        (engineer_id, start, end, limit),
    )


async def geofence_events(
    conn: Conn, engineer_id: str, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT g.kind, g.site_id, s.name AS site_name, g.work_order_id, g.ts, g.dwell_s,"
        " coalesce(g.lat, s.lat) AS lat, coalesce(g.lon, s.lon) AS lon"
        " FROM geofence_events g LEFT JOIN sites s ON s.id = g.site_id"
        " WHERE g.engineer_id = %s AND g.ts >= %s AND g.ts <= %s ORDER BY g.ts, g.id",
        (engineer_id, start, end),
    )
