"""Sites: address, coordinates and the geofence (radius or polygon)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import AfterValidator, BaseModel, Field

from api.auth import Staff
from api.deps import ConnDep, found
from api.listing import Page, PagingDep
from api.schemas import Body, Ident, Lat, Lon, Name, Text
from models.geo import polygon_problem
from services import catalog
from store import sites

router = APIRouter(prefix="/api/v1/sites", tags=["sites"])


def _outline(value: list[tuple[float, float]]) -> list[tuple[float, float]]:
    problem = polygon_problem(value)
    if problem:
        raise ValueError(problem)
    return value


FencePolygon = Annotated[list[tuple[Lat, Lon]], AfterValidator(_outline)]


class SiteIn(Body):
    id: Ident
    customer_id: Ident
    name: Name
    address: Text = ""
    lat: Lat
    lon: Lon
    fence_radius_m: float = Field(default=100, gt=0, le=100_000)
    fence_polygon: FencePolygon | None = Field(default=None, min_length=3, max_length=500)


class SitePatch(Body):
    name: Name | None = None
    address: Text | None = None
    lat: Lat | None = None
    lon: Lon | None = None
    fence_radius_m: float | None = Field(default=None, gt=0, le=100_000)
    fence_polygon: FencePolygon | None = Field(default=None, min_length=3, max_length=500)


class SiteOut(BaseModel):
    id: str
    customer_id: str
    name: str
    address: str
    lat: float
    lon: float
    fence_radius_m: float
    fence_polygon: list[list[float]] | None
    created_at: datetime


@router.get("", response_model=Page[SiteOut])
async def list_sites(
    conn: ConnDep, _p: Staff, page: PagingDep, customer_id: Ident | None = None
) -> dict[str, Any]:
    return await sites.page(conn, page, customer_id=customer_id)


@router.post("", response_model=SiteOut, status_code=201)
async def create_site(body: SiteIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    return await catalog.create_site(conn, p, body.model_dump())


@router.get("/{site_id}", response_model=SiteOut)
async def get_site(site_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return found(await sites.get(conn, site_id), "site", site_id)


@router.patch("/{site_id}", response_model=SiteOut)
async def update_site(site_id: str, body: SitePatch, conn: ConnDep, p: Staff) -> dict[str, Any]:
    row = await catalog.update_site(conn, p, site_id, body.model_dump(exclude_none=True))
    return found(row, "site", site_id)
