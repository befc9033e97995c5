"""What the engineer's app reads: my jobs for today and one job with its asset's history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.access import order_for
from api.auth import StaffOrEngineer, ensure_engineer_access
from api.deps import ConnDep
from store.jobs import asset_history, engineer_jobs, job, part_names

router = APIRouter(tags=["app"])


class JobOut(BaseModel):
    id: str
    order_type: str
    status: str
    priority: str
    title: str
    description: str
    engineer_id: str | None
    sla_due: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    route_seq: int | None
    required_parts: dict[str, Any]
    pickup_depot_id: str | None
    pickup_parts: dict[str, int] | None
    checkin_at: datetime | None
    updated_at: datetime
    customer_id: str | None
    customer_name: str | None
    site_id: str | None
    site_name: str | None
    site_address: str | None
    site_lat: float | None
    site_lon: float | None
    fence_radius_m: float | None
    asset_id: str | None
    asset_serial: str | None
    asset_model: str | None
    eta: datetime | None = Field(description="the live ETA from the streams, when driving")
    remaining_m: float | None


class PartNeeded(BaseModel):
    part_id: str
    name: str | None
    qty: int


class JobDetail(BaseModel):
    job: JobOut
    parts_needed: list[PartNeeded]
    asset_history: dict[str, list[dict[str, Any]]] | None = Field(
        description="earlier orders on the asset, parts replaced, recent alerts")


@router.get("/api/v1/engineers/{engineer_id}/jobs", response_model=list[JobOut])
async def my_jobs(engineer_id: str, conn: ConnDep, p: StaffOrEngineer) -> list[dict[str, Any]]:
    """The engineer's active orders (assigned up to completed, not yet signed off) in
    route order, with customer, site, asset and live ETA. Engineers: their own only."""
    ensure_engineer_access(p, engineer_id)
    return await engineer_jobs(conn, engineer_id)


@router.get("/api/v1/work-orders/{work_order_id}/job", response_model=JobDetail)
async def job_detail(work_order_id: str, conn: ConnDep, p: StaffOrEngineer) -> dict[str, Any]:
    """One order as the app shows it: the job, the parts it needs, the asset's history."""
    await order_for(conn, p, work_order_id)
    row = await job(conn, work_order_id)
    assert row is not None  # order_for found it
    needed = {str(k): int(v) for k, v in (row["required_parts"] or {}).items()}
    names = await part_names(conn, list(needed)) if needed else {}
    history = await asset_history(conn, row["asset_id"]) if row["asset_id"] else None
    return {
        "job": row,
        "parts_needed": [{"part_id": k, "name": names.get(k), "qty": q} for k, q in needed.items()],
        "asset_history": history,
    }
