"""Parts stock held by an engineer's van or a depot: the same lines, the same upsert."""

from __future__ import annotations

from typing import Any, Literal

from store.sql import Conn, fetch_all

# Stock table -> the column naming its holder (code, never input).
Store = Literal["van_stock", "depot_stock"]
HOLDER: dict[Store, str] = {"van_stock": "engineer_id", "depot_stock": "depot_id"}


async def lines(conn: Conn, store: Store, holder_id: str) -> list[dict[str, Any]]:
    """Every part ``holder_id`` holds, with its name, whether it is below threshold, and
    (a depot) how many units are booked for pickups."""
    reserved = (", coalesce(r.qty, 0) AS reserved", " LEFT JOIN depot_reserved r"
                " ON r.depot_id = s.depot_id AND r.part_id = s.part_id"
                ) if store == "depot_stock" else ("", "")
    return await fetch_all(
        conn,
        "SELECT s.part_id, p.name, s.qty, p.low_stock_threshold,"  # noqa: S608  # nosec B608 - fixed names
        f" s.qty < p.low_stock_threshold AS low{reserved[0]}"
        f" FROM {store} s JOIN parts p ON p.id = s.part_id{reserved[1]}"
        f" WHERE s.{HOLDER[store]} = %s ORDER BY s.part_id",
        (holder_id,),
    )


async def set_qty(conn: Conn, store: Store, holder_id: str, part_id: str, qty: int) -> None:
    """Restock (or count) one part: the holder now holds ``qty`` of it."""
    holder = HOLDER[store]
    await conn.execute(
        f"INSERT INTO {store} ({holder}, part_id, qty) VALUES (%s, %s, %s)"  # noqa: S608  # nosec B608 - table and column from HOLDER
        f" ON CONFLICT ({holder}, part_id) DO UPDATE SET qty = EXCLUDED.qty",
        (holder_id, part_id, qty),
    )
