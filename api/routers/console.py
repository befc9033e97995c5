"""``GET /api/v1/console/config``: what the dispatcher console needs from the settings."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from api.auth import CurrentPrincipal

router = APIRouter(prefix="/api/v1/console", tags=["console"])


class TilesOut(BaseModel):
    url: str = Field(description="XYZ template, {z}/{x}/{y} (and optionally {s})")
    attribution: str
    max_zoom: int


class ConsoleConfigOut(BaseModel):
    tiles: TilesOut | None = Field(
        description="the street layer; null when tiles are set to `none` (vector map only)")


@router.get("/config", response_model=ConsoleConfigOut)
async def config(request: Request, p: CurrentPrincipal) -> dict[str, object]:
    s = request.app.state.settings
    url = s.map_tile_url.strip()
    tiles = (None if url.lower() in {"", "none"} else
             {"url": url, "attribution": s.map_tile_attribution, "max_zoom": s.map_tile_max_zoom})
    return {"tiles": tiles}
