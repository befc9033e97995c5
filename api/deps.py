"""Shared dependencies: a pooled connection per request and the audit log writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api.auth import Principal
from services.publisher import Publisher

Conn = AsyncConnection[Any]


async def get_conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.pool.connection() as conn:
        yield conn


def get_publisher(request: Request) -> Publisher:
    publisher: Publisher = request.app.state.publisher
    return publisher


ConnDep = Annotated[Conn, Depends(get_conn)]
PublisherDep = Annotated[Publisher, Depends(get_publisher)]


async def fetch_all(conn: Conn, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def fetch_one(conn: Conn, sql: str, params: Any = ()) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def audit(  # noqa: PLR0917
    conn: Conn,
    principal: Principal,
    action: str,
    entity: str,
    entity_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record who changed what (every mutating route calls this)."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, details)"
        " VALUES (%s, %s, %s, %s, %s)",
        (
            principal.actor,
            action,
            entity,
            entity_id,
            Jsonb({"role": principal.role, **(details or {})}),
        ),
    )
