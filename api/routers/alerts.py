"""Alerts (list, acknowledge, clear) and geofence events (list)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Path
from pydantic import BaseModel

from api.access import scope_orders
from api.auth import Principal, Staff, StaffOrEngineer
from api.deps import ConnDep, PublisherDep, audit, fetch_one
from api.listing import Page, PagingDep, TimeRangeDep, Where, fetch_page
from api.schemas import Ident
from models.messages import AlertEvent, AlertState, Severity

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
    return await fetch_page(conn, "SELECT * FROM alerts", where, "opened_at DESC, id DESC", page)


async def _change(
    conn: ConnDep, publisher: PublisherDep, p: Principal, alert_id: int, action: str
) -> dict[str, Any]:
    now = datetime.now(UTC)
    if action == "acknowledge":
        sql = (
            "UPDATE alerts SET state = 'acknowledged', acknowledged_by = %s, updated_at = %s"
            " WHERE id = %s AND state = 'open' RETURNING *"
        )
        params: tuple[Any, ...] = (p.actor, now, alert_id)
    else:
        sql = (
            "UPDATE alerts SET state = 'cleared', cleared_at = %s, updated_at = %s"
            " WHERE id = %s AND state <> 'cleared' RETURNING *"
        )
        params = (now, now, alert_id)
    async with conn.transaction():
        row = await fetch_one(conn, sql, params)
        if row is None:
            current = await fetch_one(conn, "SELECT state FROM alerts WHERE id = %s", (alert_id,))
            if current is None:
                raise HTTPException(404, f"alert {alert_id} not found")
            raise HTTPException(409, f"cannot {action} an alert that is {current['state']}")
        await audit(conn, p, action, "alert", str(alert_id))
        try:
            severity = Severity(row["severity"])
        except ValueError:
            severity = Severity.WARNING
        await publisher.event(
            "events.alerts",
            row["device_id"],
            AlertEvent.model_construct(
                device_id=row["device_id"],
                asset_id=row["asset_id"],
                fault_type=row["fault_type"],
                kind=row["kind"],
                severity=severity,
                dedup_key=row["dedup_key"],
                state=AlertState.CLEARED if action == "clear" else AlertState.UPDATED,
                ts=int(now.timestamp() * 1000),
                message=row["message"],
                value=row["value"],
                details={**row["details"], "by": p.actor, "action": action},
            ),
        )
    return row


@router.post("/alerts/{alert_id}/acknowledge", response_model=AlertOut)
async def acknowledge(
    conn: ConnDep, publisher: PublisherDep, p: Staff, alert_id: int = AlertId
) -> dict[str, Any]:
    return await _change(conn, publisher, p, alert_id, "acknowledge")


@router.post("/alerts/{alert_id}/clear", response_model=AlertOut)
async def clear(
    conn: ConnDep, publisher: PublisherDep, p: Staff, alert_id: int = AlertId
) -> dict[str, Any]:
    return await _change(conn, publisher, p, alert_id, "clear")


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
    where = (
        Where()
        .eq("engineer_id", engineer_id)
        .eq("site_id", site_id)
        .eq("work_order_id", work_order_id)
        .eq("kind", kind)
        .within("ts", rng)
    )
    if not p.is_staff:
        scope_orders(p, where)  # an engineer sees their own check-ins only
    return await fetch_page(conn, "SELECT * FROM geofence_events", where, "ts DESC, id DESC", page)
