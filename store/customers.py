"""Customers: SLA tier and contacts."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_one


async def page(
    conn: Conn, paging: Paging, *, sla_tier: str | None = None, q: str | None = None
) -> dict[str, Any]:
    """Customers by id; ``q``: the name contains it (case-insensitive)."""
    where = Where().eq("sla_tier", sla_tier)
    if q:
        where.add("name ILIKE %s", f"%{q}%")
    return await fetch_page(conn, "SELECT * FROM customers", where, "id", paging)


async def get(conn: Conn, customer_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "customers", customer_id)


async def insert(
    conn: Conn, *, id: str, name: str, sla_tier: str, contacts: list[dict[str, Any]]
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO customers (id, name, sla_tier, contacts) VALUES (%s, %s, %s, %s)"
        " RETURNING *",
        (id, name, sla_tier, Jsonb(contacts)),
    )
    assert row is not None
    return row


async def update(
    conn: Conn,
    customer_id: str,
    *,
    name: str | None = None,
    sla_tier: str | None = None,
    contacts: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    """Set the fields given (None: keep); None when there is no such customer."""
    return await fetch_one(
        conn,
        "UPDATE customers SET name = coalesce(%s, name), sla_tier = coalesce(%s, sla_tier),"
        " contacts = coalesce(%s, contacts) WHERE id = %s RETURNING *",
        (name, sla_tier, Jsonb(contacts) if contacts is not None else None, customer_id),
    )
