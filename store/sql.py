"""The one connection type and the one dict-row fetch helper every query module uses."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row

Conn = AsyncConnection[Any]


async def fetch_all(conn: Conn, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    """Every row of ``sql`` as a dict (whatever row factory ``conn`` was opened with)."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def fetch_one(conn: Conn, sql: str, params: Any = ()) -> dict[str, Any] | None:
    """The first row of ``sql`` as a dict, or None."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def by_id(conn: Conn, table: str, ident: object) -> dict[str, Any] | None:
    """``SELECT * FROM table WHERE id = ident`` (``table`` is one of ours, never input)."""
    return await fetch_one(conn, f"SELECT * FROM {table} WHERE id = %s", (ident,))  # noqa: S608  # nosec B608 - table is ours
