"""The parts catalogue (stock held by vans and depots: ``store.stock``)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_one


async def page(conn: Conn, paging: Paging) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM parts", Where(), "id", paging)


async def get(conn: Conn, part_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "parts", part_id)


async def insert(
    conn: Conn, *, id: str, name: str, unit_cost: Decimal, low_stock_threshold: int
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO parts (id, name, unit_cost, low_stock_threshold) VALUES (%s, %s, %s, %s)"
        " RETURNING *",
        (id, name, unit_cost, low_stock_threshold),
    )
    assert row is not None
    return row


async def update(
    conn: Conn,
    part_id: str,
    *,
    name: str | None = None,
    unit_cost: Decimal | None = None,
    low_stock_threshold: int | None = None,
) -> dict[str, Any] | None:
    """Set the fields given (None: keep); None when there is no such part."""
    return await fetch_one(
        conn,
        "UPDATE parts SET name = coalesce(%s, name), unit_cost = coalesce(%s, unit_cost),"
        " low_stock_threshold = coalesce(%s, low_stock_threshold) WHERE id = %s RETURNING *",
        (name, unit_cost, low_stock_threshold, part_id),
    )
