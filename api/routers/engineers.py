"""Engineers: live state (last known position)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel

from api.auth import CurrentPrincipal, ensure_engineer_access

router = APIRouter(prefix="/api/v1/engineers", tags=["engineers"])


class PositionOut(BaseModel):
    engineer_id: str
    ts: datetime
    lat: float
    lon: float
    accuracy_m: float | None = None
    speed_mps: float | None = None
    heading: float | None = None
    battery: float | None = None
    source: str
    received_at: datetime | None = None


@router.get("/{engineer_id}/position", response_model=PositionOut)
async def get_position(
    engineer_id: str, request: Request, principal: CurrentPrincipal
) -> PositionOut:
    ensure_engineer_access(principal, engineer_id)
    async with request.app.state.pool.connection() as conn:
        cur = await conn.execute(
            "SELECT * FROM engineer_last_position WHERE engineer_id = %s", (engineer_id,)
        )
        row = await cur.fetchone()
    if row is None:
        raise HTTPException(404, f"no position known for engineer {engineer_id!r}")
    return PositionOut(**row)
