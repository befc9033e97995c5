"""Assets (model, serial, install date, site, device) and their full history."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from api.auth import Staff
from api.deps import ConnDep, found
from api.listing import Page, PagingDep, TimeRangeDep
from api.schemas import Body, Ident, Text
from services import catalog
from store import assets

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
    return await assets.page(conn, page, site_id=site_id, model_id=model_id, device_id=device_id)


@router.post("", response_model=AssetOut, status_code=201)
async def create_asset(body: AssetIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    return await catalog.create_asset(conn, p, body.model_dump())


async def _asset(conn: ConnDep, asset_id: str) -> dict[str, Any]:
    return found(await assets.get(conn, asset_id), "asset", asset_id)


@router.get("/{asset_id}", response_model=AssetOut)
async def get_asset(asset_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return await _asset(conn, asset_id)


@router.patch("/{asset_id}", response_model=AssetOut)
async def update_asset(asset_id: str, body: AssetPatch, conn: ConnDep, p: Staff) -> dict[str, Any]:
    row = await catalog.update_asset(conn, p, asset_id, body.model_dump(exclude_none=True))
    return found(row, "asset", asset_id)


@router.get("/{asset_id}/history", response_model=AssetHistory)
async def asset_history(
    asset_id: str, conn: ConnDep, _p: Staff, rng: TimeRangeDep
) -> dict[str, Any]:
    """Alerts, orders, parts replaced and a readings summary (default: the last 7 days)."""
    asset = await _asset(conn, asset_id)
    end = rng.end or datetime.now(UTC) + timedelta(days=1)
    start = rng.start or end - timedelta(days=8)
    return await assets.history(conn, asset, start, end)
