"""Alerts (list, acknowledge, clear) and geofence events (list)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Path
from pydantic import BaseModel

from api.auth import Staff, StaffOrEngineer
from api.deps import ConnDep, PublisherDep
from api.listing import Page, PagingDep, TimeRangeDep
from api.schemas import Ident
from models.messages import Severity
from services.alerts import change_alert
from store import alerts

router = APIRouter(prefix="/api/v1", tags=["alerts"])
AlertId = Path(ge=1, le=2**62)


class AlertOut(BaseModel):
    id: int
    dedup_key: str
    device_id: str
    asset_id: str | None
    fault_type: str
    kind: str
    severity: str
    state: str
    opened_at: datetime
    updated_at: datetime
    cleared_at: datetime | None
    message: str
    value: float | None
    details: dict[str, Any]
    work_order_id: str | None
    acknowledged_by: str | None


class GeofenceEventOut(BaseModel):
    id: int
    engineer_id: str
    site_id: str
    work_order_id: str | None
    kind: str
    ts: datetime
    dwell_s: float | None
    lat: float | None
    lon: float | None


@router.get("/alerts", response_model=Page[AlertOut])
async def list_alerts(  # noqa: PLR0917
    conn: ConnDep,
    _p: Staff,
    page: PagingDep,
    rng: TimeRangeDep,
    state: Literal["open", "acknowledged", "cleared"] | None = None,
    open_only: bool = False,
    severity: Severity | None = None,
    kind: Ident | None = None,
    device_id: Ident | None = None,
    asset_id: Ident | None = None,
    site_id: Ident | None = None,
    work_order_id: Ident | None = None,
) -> dict[str, Any]:
    return await alerts.page(
        conn, page, rng, state=state, open_only=open_only, severity=severity, kind=kind,
        device_id=device_id, asset_id=asset_id, site_id=site_id, work_order_id=work_order_id,
    )


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge(
    conn: ConnDep, publisher: PublisherDep, p: Staff, alert_id: int = AlertId
) -> dict[str, Any]:
    return await change_alert(conn, p, alert_id, "acknowledge", publisher=publisher)


@router.post("/alerts/{alert_id}/clear", response_model=AlertOut)
async def clear(
    conn: ConnDep, publisher: PublisherDep, p: Staff, alert_id: int = AlertId
) -> dict[str, Any]:
    return await change_alert(conn, p, alert_id, "clear", publisher=publisher)


@router.get("/geofence-events", response_model=Page[GeofenceEventOut], tags=["geofence"])
async def list_geofence_events(  # noqa: PLR0917
    conn: ConnDep,
    p: StaffOrEngineer,
    page: PagingDep,
    rng: TimeRangeDep,
    engineer_id: Ident | None = None,
    site_id: Ident | None = None,
    work_order_id: Ident | None = None,
    kind: Literal["enter", "exit", "pass_through"] | None = None,
) -> dict[str, Any]:
    return await alerts.geofence_page(
        conn, page, rng, engineer_id=engineer_id, site_id=site_id,
        work_order_id=work_order_id, kind=kind,
        only_engineer=None if p.is_staff else (p.engineer_id or ""),  # own check-ins only
    )
