"""Sites: address, coordinates and the geofence (radius or polygon)."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_one

Polygon = list[tuple[float, float]]


async def page(conn: Conn, paging: Paging, *, customer_id: str | None = None) -> dict[str, Any]:
    where = Where().eq("customer_id", customer_id)
    return await fetch_page(conn, "SELECT * FROM sites", where, "id", paging)


async def get(conn: Conn, site_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "sites", site_id)


async def insert(
    conn: Conn,
    *,
    id: str,
    customer_id: str,
    name: str,
    address: str,
    lat: float,
    lon: float,
    fence_radius_m: float,
    fence_polygon: Polygon | None,
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO sites (id, customer_id, name, address, lat, lon, fence_radius_m,"
        " fence_polygon) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING *",
        (
            id,
            customer_id,
            name,
            address,
            lat,
            lon,
            fence_radius_m,
            Jsonb(fence_polygon) if fence_polygon else None,
        ),
    )
    assert row is not None
    return row


async def update(
    conn: Conn,
    site_id: str,
    *,
    name: str | None = None,
    address: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    fence_radius_m: float | None = None,
    fence_polygon: Polygon | None = None,
) -> dict[str, Any] | None:
    """Set the fields given (None: keep); None when there is no such site."""
    return await fetch_one(
        conn,
        "UPDATE sites SET name = coalesce(%s, name), address = coalesce(%s, address),"
        " lat = coalesce(%s, lat), lon = coalesce(%s, lon),"
        " fence_radius_m = coalesce(%s, fence_radius_m),"
        " fence_polygon = coalesce(%s, fence_polygon) WHERE id = %s RETURNING *",
        (
            name,
            address,
            lat,
            lon,
            fence_radius_m,
            Jsonb(fence_polygon) if fence_polygon else None,
            site_id,
        ),
    )
