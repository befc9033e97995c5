"""Depots: parts stores an engineer can detour through (see docs/dispatch.md)."""

from __future__ import annotations

from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_one


async def page(conn: Conn, paging: Paging) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM depots", Where(), "id", paging)


async def get(conn: Conn, depot_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "depots", depot_id)


async def lock(conn: Conn, depot_id: str) -> bool:
    """Lock the depot's row for the transaction; False when there is none."""
    row = await fetch_one(conn, "SELECT id FROM depots WHERE id = %s FOR UPDATE", (depot_id,))
    return row is not None


async def upsert(conn: Conn, depot_id: str, *, name: str, lat: float, lon: float) -> dict[str, Any]:
    """Create the depot, or replace its name and position."""
    row = await fetch_one(
        conn,
        "INSERT INTO depots (id, name, lat, lon) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, lat = EXCLUDED.lat,"
        " lon = EXCLUDED.lon RETURNING *",
        (depot_id, name, lat, lon),
    )
    assert row is not None
    return row
