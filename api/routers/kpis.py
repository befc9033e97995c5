"""KPIs per engineer, site or customer and day or hour (services/kpis.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel

from api.auth import Staff
from api.deps import ConnDep
from api.listing import PagingDep, TimeRangeDep
from services.kpis import Bucket, GroupBy, kpis

router = APIRouter(prefix="/api/v1/kpis", tags=["kpis"])


class KpiRow(BaseModel):
    group: str | None
    bucket: datetime
    orders: int
    completed: int
    first_response_s: float | None
    time_to_arrive_s: float | None
    time_to_resolve_s: float | None
    first_time_fix_rate: float | None
    sla_compliance: float | None
    on_site_s: float
    engineers: int
    utilisation: float | None


class KpiPage(BaseModel):
    group_by: str
    bucket: str
    start: datetime
    end: datetime
    items: list[KpiRow]
    total: int
    limit: int
    offset: int


@router.get("", response_model=KpiPage)
async def get_kpis(
    conn: ConnDep,
    _p: Staff,
    page: PagingDep,
    rng: TimeRangeDep,
    group_by: GroupBy = "engineer",
    bucket: Bucket = "day",
) -> dict[str, Any]:
    """Default range: the last 7 days (by order creation time)."""
    end = rng.end or datetime.now(UTC) + timedelta(minutes=1)
    start = rng.start or end - timedelta(days=7)
    if start >= end:
        raise HTTPException(422, "'from' must be before 'to'")
    if (end - start) > timedelta(days=366):
        raise HTTPException(422, "at most one year per query")
    rows = await kpis(conn, group_by=group_by, bucket=bucket, start=start, end=end)
    return {
        "group_by": group_by,
        "bucket": bucket,
        "start": start,
        "end": end,
        "items": rows[page.offset : page.offset + page.limit],
        "total": len(rows),
        "limit": page.limit,
        "offset": page.offset,
    }
