"""Assets (model, serial, install date, site, device) and what happened to them."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_all, fetch_one


async def page(
    conn: Conn,
    paging: Paging,
    *,
    site_id: str | None = None,
    model_id: str | None = None,
    device_id: str | None = None,
) -> dict[str, Any]:
    where = Where().eq("site_id", site_id).eq("model_id", model_id).eq("device_id", device_id)
    return await fetch_page(conn, "SELECT * FROM assets", where, "id", paging)


async def get(conn: Conn, asset_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "assets", asset_id)


async def insert(
    conn: Conn,
    *,
    id: str,
    site_id: str,
    model_id: str,
    serial: str,
    installed_on: date | None,
    device_id: str | None,
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO assets (id, site_id, model_id, serial, installed_on, device_id)"
        " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
        (id, site_id, model_id, serial, installed_on, device_id),
    )
    assert row is not None
    return row


async def update(
    conn: Conn,
    asset_id: str,
    *,
    site_id: str | None = None,
    model_id: str | None = None,
    serial: str | None = None,
    installed_on: date | None = None,
    device_id: str | None = None,
) -> dict[str, Any] | None:
    """Set the fields given (None: keep); None when there is no such asset."""
    return await fetch_one(
        conn,
        "UPDATE assets SET site_id = coalesce(%s, site_id), model_id = coalesce(%s, model_id),"
        " serial = coalesce(%s, serial), installed_on = coalesce(%s, installed_on),"
        " device_id = coalesce(%s, device_id) WHERE id = %s RETURNING *",
        (site_id, model_id, serial, installed_on, device_id, asset_id),
    )


async def alerts_of(conn: Conn, asset_id: str, device_id: str | None) -> list[dict[str, Any]]:
    """The asset's (or its device's) latest 200 alerts."""
    return await fetch_all(
        conn,
        "SELECT * FROM alerts WHERE asset_id = %s OR device_id = %s"
        " ORDER BY opened_at DESC LIMIT 200",
        (asset_id, device_id or ""),
    )


async def orders_of(conn: Conn, asset_id: str) -> list[dict[str, Any]]:
    """The asset's latest 200 work orders."""
    return await fetch_all(
        conn,
        "SELECT id, status, priority, title, engineer_id, fault_type, created_at, completed_at"
        " FROM work_orders WHERE asset_id = %s ORDER BY created_at DESC LIMIT 200",
        (asset_id,),
    )


async def parts_replaced(conn: Conn, asset_id: str) -> list[dict[str, Any]]:
    """Parts used on the asset's work orders, newest first."""
    return await fetch_all(
        conn,
        "SELECT p.work_order_id, p.part_id, pt.name, p.qty, p.engineer_id, p.used_at"
        " FROM work_order_parts p JOIN work_orders o ON o.id = p.work_order_id"
        " JOIN parts pt ON pt.id = p.part_id WHERE o.asset_id = %s ORDER BY p.used_at DESC",
        (asset_id,),
    )


async def readings_summary(
    conn: Conn, device_id: str, start: datetime, end: datetime
) -> dict[str, Any]:
    """``count``, ``first_ts``, ``last_ts`` of the device's readings in [start, end) and
    per metric ``{metric, n, min, avg, max}`` (in ``metrics``)."""
    head = await fetch_one(
        conn,
        "SELECT count(*) AS count, min(ts) AS first_ts, max(ts) AS last_ts FROM readings"
        " WHERE device_id = %s AND ts >= %s AND ts < %s",
        (device_id, start, end),
    )
    metrics = await fetch_all(
        conn,
        "SELECT m.key AS metric, count(*) AS n, min(m.value::float) AS min,"
        " avg(m.value::float) AS avg, max(m.value::float) AS max"
        " FROM readings r, jsonb_each_text(r.metrics) m"
        " WHERE r.device_id = %s AND r.ts >= %s AND r.ts < %s GROUP BY m.key"
        " ORDER BY m.key",
        (device_id, start, end),
    )
    return {**(head or {}), "metrics": metrics}


async def history(
    conn: Conn, asset: dict[str, Any], start: datetime, end: datetime
) -> dict[str, Any]:
    """The asset, its alerts, orders and parts replaced, and its device's readings in
    [start, end) summarised."""
    device = asset["device_id"]
    summary: dict[str, Any] = {"from": start, "to": end, "count": 0, "metrics": []}
    if device:
        summary.update(await readings_summary(conn, device, start, end))
    return {
        "asset": asset,
        "alerts": await alerts_of(conn, asset["id"], device),
        "orders": await orders_of(conn, asset["id"]),
        "parts_replaced": await parts_replaced(conn, asset["id"]),
        "readings": summary,
    }
