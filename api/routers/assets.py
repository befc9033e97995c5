"""Assets (model, serial, install date, site, device) and their full history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import Staff
from api.deps import ConnDep, audit, fetch_all, fetch_by_id, fetch_one, found
from api.listing import Page, PagingDep, TimeRangeDep, Where, fetch_page
from api.schemas import Body, Ident, Text

router = APIRouter(prefix="/api/v1/assets", tags=["assets"])


class AssetIn(Body):
    id: Ident
    site_id: Ident
    model_id: Ident
    serial: Text = ""
    installed_on: date | None = None
    device_id: Ident | None = None


class AssetPatch(Body):
    site_id: Ident | None = None
    model_id: Ident | None = None
    serial: Text | None = None
    installed_on: date | None = None
    device_id: Ident | None = None


class AssetOut(BaseModel):
    id: str
    site_id: str
    model_id: str
    serial: str
    installed_on: date | None
    device_id: str | None
    created_at: datetime


class AssetHistory(BaseModel):
    asset: AssetOut
    alerts: list[dict[str, Any]]
    orders: list[dict[str, Any]]
    parts_replaced: list[dict[str, Any]]
    readings: dict[str, Any]


@router.get("", response_model=Page[AssetOut])
async def list_assets(
    conn: ConnDep,
    _p: Staff,
    page: PagingDep,
    site_id: Ident | None = None,
    model_id: Ident | None = None,
    device_id: Ident | None = None,
) -> dict[str, Any]:
    where = Where().eq("site_id", site_id).eq("model_id", model_id).eq("device_id", device_id)
    return await fetch_page(conn, "SELECT * FROM assets", where, "id", page)


@router.post("", response_model=AssetOut, status_code=201)
async def create_asset(body: AssetIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO assets (id, site_id, model_id, serial, installed_on, device_id)"
            " VALUES (%s, %s, %s, %s, %s, %s) RETURNING *",
            (body.id, body.site_id, body.model_id, body.serial, body.installed_on, body.device_id),
        )
        await audit(conn, p, "create", "asset", body.id, body.model_dump(mode="json"))
    assert row is not None
    return row


async def _asset(conn: ConnDep, asset_id: str) -> dict[str, Any]:
    return await fetch_by_id(conn, "assets", asset_id, "asset")


@router.get("/{asset_id}", response_model=AssetOut)
async def get_asset(asset_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return await _asset(conn, asset_id)


@router.patch("/{asset_id}", response_model=AssetOut)
async def update_asset(asset_id: str, body: AssetPatch, conn: ConnDep, p: Staff) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True, mode="json")
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "UPDATE assets SET site_id = coalesce(%s, site_id), model_id = coalesce(%s, model_id),"
            " serial = coalesce(%s, serial), installed_on = coalesce(%s, installed_on),"
            " device_id = coalesce(%s, device_id) WHERE id = %s RETURNING *",
            (body.site_id, body.model_id, body.serial, body.installed_on, body.device_id, asset_id),
        )
        row = found(row, "asset", asset_id)
        await audit(conn, p, "update", "asset", asset_id, changes)
    return row


@router.get("/{asset_id}/history", response_model=AssetHistory)
async def asset_history(
    asset_id: str, conn: ConnDep, _p: Staff, rng: TimeRangeDep
) -> dict[str, Any]:
    """Alerts, orders, parts replaced and a readings summary (default: the last 7 days)."""
    asset = await _asset(conn, asset_id)
    device = asset["device_id"]
    alerts = await fetch_all(
        conn,
        "SELECT * FROM alerts WHERE asset_id = %s OR device_id = %s"
        " ORDER BY opened_at DESC LIMIT 200",
        (asset_id, device or ""),
    )
    orders = await fetch_all(
        conn,
        "SELECT id, status, priority, title, engineer_id, fault_type, created_at, completed_at"
        " FROM work_orders WHERE asset_id = %s ORDER BY created_at DESC LIMIT 200",
        (asset_id,),
    )
    parts = await fetch_all(
        conn,
        "SELECT p.work_order_id, p.part_id, pt.name, p.qty, p.engineer_id, p.used_at"
        " FROM work_order_parts p JOIN work_orders o ON o.id = p.work_order_id"
        " JOIN parts pt ON pt.id = p.part_id WHERE o.asset_id = %s ORDER BY p.used_at DESC",
        (asset_id,),
    )
    end = rng.end or datetime.now(UTC) + timedelta(days=1)
    start = rng.start or end - timedelta(days=8)
    metrics: list[dict[str, Any]] = []
    summary: dict[str, Any] = {"from": start, "to": end, "count": 0, "metrics": metrics}
    if device:
        head = await fetch_one(
            conn,
            "SELECT count(*) AS count, min(ts) AS first_ts, max(ts) AS last_ts FROM readings"
            " WHERE device_id = %s AND ts >= %s AND ts < %s",
            (device, start, end),
        )
        summary.update(head or {})
        metrics.extend(
            await fetch_all(
                conn,
                "SELECT m.key AS metric, count(*) AS n, min(m.value::float) AS min,"
                " avg(m.value::float) AS avg, max(m.value::float) AS max"
                " FROM readings r, jsonb_each_text(r.metrics) m"
                " WHERE r.device_id = %s AND r.ts >= %s AND r.ts < %s GROUP BY m.key"
                " ORDER BY m.key",
                (device, start, end),
            )
        )
    return {
        "asset": asset,
        "alerts": alerts,
        "orders": orders,
        "parts_replaced": parts,
        "readings": summary,
    }
