"""Sites: address, coordinates and the geofence (radius or polygon)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from psycopg.types.json import Jsonb
from pydantic import AfterValidator, BaseModel, Field

from api.auth import Staff
from api.deps import ConnDep, audit, fetch_by_id, fetch_one, found
from api.listing import Page, PagingDep, Where, fetch_page
from api.schemas import Body, Ident, Lat, Lon, Name, Text
from models.geo import polygon_problem

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
    where = Where().eq("customer_id", customer_id)
    return await fetch_page(conn, "SELECT * FROM sites", where, "id", page)


@router.post("", response_model=SiteOut, status_code=201)
async def create_site(body: SiteIn, conn: ConnDep, p: Staff) -> dict[str, Any]:
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO sites (id, customer_id, name, address, lat, lon, fence_radius_m,"
            " fence_polygon) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
            (
                body.id,
                body.customer_id,
                body.name,
                body.address,
                body.lat,
                body.lon,
                body.fence_radius_m,
                Jsonb(body.fence_polygon) if body.fence_polygon else None,
            ),
        )
        await audit(conn, p, "create", "site", body.id, body.model_dump())
    assert row is not None
    return row


@router.get("/{site_id}", response_model=SiteOut)
async def get_site(site_id: str, conn: ConnDep, _p: Staff) -> dict[str, Any]:
    return await fetch_by_id(conn, "sites", site_id, "site")


@router.patch("/{site_id}", response_model=SiteOut)
async def update_site(site_id: str, body: SitePatch, conn: ConnDep, p: Staff) -> dict[str, Any]:
    changes = body.model_dump(exclude_none=True)
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "UPDATE sites SET name = coalesce(%s, name), address = coalesce(%s, address),"
            " lat = coalesce(%s, lat), lon = coalesce(%s, lon),"
            " fence_radius_m = coalesce(%s, fence_radius_m),"
            " fence_polygon = coalesce(%s, fence_polygon) WHERE id = %s RETURNING *",
            (
                body.name,
                body.address,
                body.lat,
                body.lon,
                body.fence_radius_m,
                Jsonb(body.fence_polygon) if body.fence_polygon else None,
                site_id,
            ),
        )
        row = found(row, "site", site_id)
        await audit(conn, p, "update", "site", site_id, changes)
    return row
