"""The dispatcher dashboard (``/``) and the customer tracking page (``/track/{token}``)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel

from api.auth import resolve
from api.deps import ConnDep
from store.live import tracking

STATIC = Path(__file__).resolve().parent.parent / "static"
router = APIRouter(tags=["pages"])
# The engineer's position is shared with the customer only while driving to them.
SHOW_POSITION = frozenset({"en_route"})


class TrackingOut(BaseModel):
    work_order_id: str
    status: str
    title: str
    site_name: str | None
    engineer_name: str | None
    eta: datetime | None
    remaining_m: float | None
    late_by_s: float | None
    engineer_position: dict[str, Any] | None
    site_position: dict[str, float] | None
    updated_at: datetime


@router.get("/", include_in_schema=False)
async def dashboard() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/track/{token}", include_in_schema=False)
async def track_page(token: str) -> FileResponse:
    return FileResponse(STATIC / "track.html")


@router.get("/track/{token}/status", response_model=TrackingOut)
async def track_status(token: str, request: Request, conn: ConnDep) -> dict[str, Any]:
    """The one order a tracking token may see (404 for any other token). The token is
    read on this request's connection; an address that keeps guessing gets 429."""
    principal = await resolve(request, conn, token)
    if principal is None or principal.role != "customer" or not principal.work_order_id:
        raise HTTPException(404, "unknown or expired tracking link")
    row = await tracking(conn, principal.work_order_id)
    if row is None:
        raise HTTPException(404, "unknown or expired tracking link")
    driving = row["status"] in SHOW_POSITION and row["engineer_lat"] is not None
    active = row["status"] in ("assigned", "accepted", "en_route")
    return {
        "work_order_id": row["id"],
        "status": row["status"],
        "title": row["title"],
        "site_name": row["site_name"],
        "engineer_name": row["engineer_name"],
        "eta": row["eta"] if active else None,
        "remaining_m": row["remaining_m"] if active else None,
        "late_by_s": row["late_by_s"] if active else None,
        "engineer_position": (
            {"lat": row["engineer_lat"], "lon": row["engineer_lon"], "ts": row["position_ts"]}
            if driving
            else None
        ),
        "site_position": (
            {"lat": row["site_lat"], "lon": row["site_lon"]}
            if row["site_lat"] is not None
            else None
        ),
        "updated_at": row["updated_at"],
    }
