"""Alerts as the API lists and changes them, and the geofence events list.

(The stream workers' own alert writes are in ``store.fieldevents``.)"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.listing import Paging, TimeRange, Where, fetch_page
from store.sql import Conn, fetch_one


async def page(
    conn: Conn,
    paging: Paging,
    rng: TimeRange,
    *,
    state: str | None = None,
    open_only: bool = False,
    severity: str | None = None,
    kind: str | None = None,
    device_id: str | None = None,
    asset_id: str | None = None,
    site_id: str | None = None,
    work_order_id: str | None = None,
) -> dict[str, Any]:
    """Alerts newest first; ``open_only``: not cleared; ``site_id``: of the site's assets."""
    where = (
        Where()
        .eq("state", state)
        .eq("severity", severity)
        .eq("kind", kind)
        .eq("device_id", device_id)
        .eq("asset_id", asset_id)
        .eq("work_order_id", work_order_id)
        .within("opened_at", rng)
    )
    if open_only:
        where.add("state <> 'cleared'")
    if site_id:
        where.add("asset_id IN (SELECT id FROM assets WHERE site_id = %s)", site_id)
    return await fetch_page(conn, "SELECT * FROM alerts", where, "opened_at DESC, id DESC", paging)


async def acknowledge(
    conn: Conn, alert_id: int, *, by: str, now: datetime
) -> dict[str, Any] | None:
    """An open alert becomes acknowledged; None when it is not open (or not there)."""
    return await fetch_one(
        conn,
        "UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s, updated_at = %s"
        " WHERE id = %s AND state = 'open' RETURNING *",
        (by, now, alert_id),
    )


async def clear(conn: Conn, alert_id: int, *, now: datetime) -> dict[str, Any] | None:
    """An alert not yet cleared becomes cleared; None when it is cleared (or not there)."""
    return await fetch_one(
        conn,
        "UPDATE alerts SET state = 'cleared', cleared_at = %s, updated_at = %s"
        " WHERE id = %s AND state <> 'cleared' RETURNING *",
        (now, now, alert_id),
    )


async def state_of(conn: Conn, alert_id: int) -> str | None:
    row = await fetch_one(conn, "SELECT state FROM alerts WHERE id = %s", (alert_id,))
    return None if row is None else str(row["state"])


async def geofence_page(
    conn: Conn,
    paging: Paging,
    rng: TimeRange,
    *,
    engineer_id: str | None = None,
    site_id: str | None = None,
    work_order_id: str | None = None,
    kind: str | None = None,
    only_engineer: str | None = None,
) -> dict[str, Any]:
    """Check-ins and check-outs, newest first; ``only_engineer``: that engineer's only."""
    where = (
        Where()
        .eq("engineer_id", engineer_id)
        .eq("site_id", site_id)
        .eq("work_order_id", work_order_id)
        .eq("kind", kind)
        .within("ts", rng)
    )
    if only_engineer is not None:
        where.add("engineer_id = %s", only_engineer)
    return await fetch_page(
        conn, "SELECT * FROM geofence_events", where, "ts DESC, id DESC", paging
    )
