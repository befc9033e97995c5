"""Bucketed readings of an asset and the KPI rollups (store/rollups.py: TimescaleDB's
continuous aggregates, or the same numbers from plain SQL)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from api.auth import Staff
from api.deps import ConnDep, found
from api.listing import TimeRangeDep
from api.schemas import Ident
from models.buckets import parse_width
from store import rollups

router = APIRouter(tags=["telemetry"])


class ReadingBucket(BaseModel):
    ts: datetime
    min: float
    max: float
    avg: float
    count: int


class Readings(BaseModel):
    asset_id: str
    device_id: str | None
    metric: str
    bucket: str
    start: datetime
    end: datetime
    flavour: str
    items: list[ReadingBucket]


class KpiBucket(BaseModel):
    bucket: datetime
    group: str | None
    orders: int
    arrived: int
    mean_time_to_arrive_s: float | None
    sla_attainment: float | None
    completed: int
    first_time_fix_rate: float | None


class KpiRollup(BaseModel):
    group_by: str
    bucket: str
    start: datetime
    end: datetime
    flavour: str
    items: list[KpiBucket]


@router.get("/api/v1/assets/{asset_id}/readings", response_model=Readings)
async def asset_readings(
    asset_id: str,
    conn: ConnDep,
    _p: Staff,
    rng: TimeRangeDep,
    metric: Annotated[Ident, Query(description="metric name, e.g. temperature")],
    bucket: Annotated[str, Query(description="width: 60s, 5m, 1h, 1d ...")] = "60s",
) -> dict[str, Any]:
    """Min, max, mean and count of one metric per bucket (default: the last hour)."""
    width = parse_width(bucket)
    end = rng.end or datetime.now(UTC)
    start = rng.start or end - timedelta(hours=1)
    exists, device = await rollups.device_of_asset(conn, asset_id)
    found({} if exists else None, "asset", asset_id)
    kind = await rollups.flavour(conn)
    items = [] if device is None else await rollups.reading_buckets(
        conn, device_id=device, metric=metric, start=start, end=end, width=width, kind=kind)
    return {"asset_id": asset_id, "device_id": device, "metric": metric, "bucket": bucket,
            "start": start, "end": end, "flavour": kind, "items": items}


@router.get("/api/v1/kpis/rollup", response_model=KpiRollup)
async def kpi_rollup(
    conn: ConnDep,
    _p: Staff,
    rng: TimeRangeDep,
    group_by: rollups.KpiGroup = "none",
    bucket: Annotated[str, Query(description="whole hours: 1h, 24h, 1d ...")] = "1h",
) -> dict[str, Any]:
    """Orders per bucket, mean time to arrive, SLA attainment and first-time-fix rate,
    each counted in the bucket where it happened (default: the last 7 days)."""
    width = parse_width(bucket)
    end = rng.end or datetime.now(UTC)
    start = rng.start or end - timedelta(days=7)
    kind = await rollups.flavour(conn)
    items = await rollups.kpi_buckets(conn, start=start, end=end, width=width,
                                      group_by=group_by, kind=kind)
    return {"group_by": group_by, "bucket": bucket, "start": start, "end": end,
            "flavour": kind, "items": items}
