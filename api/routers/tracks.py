"""``GET /api/v1/engineers/{id}/track``: an engineer's fixes of a time range, simplified."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from pydantic import BaseModel, Field

from api.auth import StaffOrEngineer, ensure_engineer_access
from api.deps import ConnDep
from services.tracks import MAX_FIXES, engineer_track

router = APIRouter(prefix="/api/v1/engineers", tags=["engineers"])
MAX_RANGE = timedelta(days=7)
DEFAULT_RANGE = timedelta(hours=1)


class TrackPointOut(BaseModel):
    ts: datetime
    lat: float
    lon: float
    accuracy_m: float | None
    speed_mps: float | None
    heading: float | None


class TrackFenceOut(BaseModel):
    kind: Literal["enter", "exit"]
    site_id: str
    site_name: str | None
    work_order_id: str | None
    ts: datetime
    dwell_s: float | None
    lat: float | None
    lon: float | None


class TrackOut(BaseModel):
    engineer_id: str
    start: datetime = Field(serialization_alias="from")
    end: datetime = Field(serialization_alias="to")
    tolerance_m: float
    fixes: int = Field(description="stored fixes in the range, before simplification")
    truncated: bool = Field(description=f"more than {MAX_FIXES} fixes: the earliest were used")
    points: list[TrackPointOut]
    geofence: list[TrackFenceOut]


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


@router.get("/{engineer_id}/track", response_model=TrackOut, response_model_by_alias=True)
async def track(  # noqa: PLR0917
    engineer_id: str,
    conn: ConnDep,
    p: StaffOrEngineer,
    start: Annotated[datetime | None, Query(alias="from",
                                            description="default: `to` minus one hour")] = None,
    end: Annotated[datetime | None, Query(alias="to", description="default: now")] = None,
    tolerance_m: Annotated[float, Query(ge=0, le=10_000,
                                        description="Douglas-Peucker tolerance")] = 10.0,
) -> dict[str, Any]:
    """Stored fixes of ``[from, to]`` (ISO-8601; at most 7 days) simplified so no dropped
    fix lies farther than ``tolerance_m`` from the line drawn (first and last kept),
    and the geofence enters and exits of the range. An engineer may read only their own."""
    ensure_engineer_access(p, engineer_id)
    end = _aware(end) or datetime.now(UTC)
    start = _aware(start) or end - DEFAULT_RANGE
    if start > end:
        raise HTTPException(422, "`from` must not be after `to`")
    if end - start > MAX_RANGE:
        raise HTTPException(422, "a track covers at most 7 days")
    t = await engineer_track(conn, engineer_id, start=start, end=end, tolerance_m=tolerance_m)
    return {"engineer_id": t.engineer_id, "start": t.start, "end": t.end,
            "tolerance_m": t.tolerance_m, "fixes": t.fixes, "truncated": t.truncated,
            "points": t.points, "geofence": t.geofence}
