"""Depots and the parts stock of vans and depots: each change with its audit row."""

from __future__ import annotations

from typing import Any

from services.audited import audited
from store import depots, stock
from store.audit import Actor
from store.sql import Conn
from store.stock import Store

Row = dict[str, Any]


async def put_depot(conn: Conn, who: Actor, depot_id: str, fields: Row) -> Row:
    """Create the depot, or replace its name and position (audited as create or update)."""
    async with conn.transaction():
        existed = await depots.lock(conn, depot_id)
        return await audited(conn, who, "update" if existed else "create", "depot", depot_id,
                             fields, lambda: depots.upsert(conn, depot_id, **fields))


async def set_stock(  # noqa: PLR0917
    conn: Conn, who: Actor, store: Store, holder_id: str, part_id: str, qty: int
) -> list[Row]:
    """Restock (or count) one part; returns the holder's stock lines."""
    await audited(conn, who, "set_stock", store, f"{holder_id}/{part_id}", {"qty": qty},
                  lambda: _set(conn, store, holder_id, part_id, qty))
    return await stock.lines(conn, store, holder_id)


async def _set(conn: Conn, store: Store, holder_id: str, part_id: str, qty: int) -> bool:
    await stock.set_qty(conn, store, holder_id, part_id, qty)
    return True
