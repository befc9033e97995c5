"""Shared dependencies: a pooled connection per request and the audit log writer."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from api.auth import Principal
from services.outbox import Outbox
from services.publisher import Audit, Publisher

Conn = AsyncConnection[Any]


async def get_conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[Conn, Depends(get_conn)]


def get_publisher(conn: ConnDep) -> Publisher:
    """The outbox of the request's connection: side effects are rows of the use case's
    transaction, sent by the relay after the commit (``api/relay.py``)."""
    return Outbox(conn)


PublisherDep = Annotated[Publisher, Depends(get_publisher)]


def audit_of(principal: Principal, action: str, entity: str, entity_id: str,
             details: dict[str, Any] | None = None) -> Audit:
    """The audit entry a use case writes with its change."""
    return Audit(principal.actor, action, entity, entity_id,
                 {"role": principal.role, **(details or {})})


async def fetch_all(conn: Conn, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


async def fetch_one(conn: Conn, sql: str, params: Any = ()) -> dict[str, Any] | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


def found(row: dict[str, Any] | None, what: str, ident: object) -> dict[str, Any]:
    """``row``, or a 404 that names what was not found."""
    if row is None:
        raise HTTPException(404, f"{what} {ident!r} not found")
    return row


async def fetch_by_id(conn: Conn, table: str, ident: str, what: str) -> dict[str, Any]:
    """``SELECT * FROM table WHERE id = ident``, or a 404 naming ``what``."""
    row = await fetch_one(conn, f"SELECT * FROM {table} WHERE id = %s", (ident,))  # noqa: S608 - table is one of ours
    return found(row, what, ident)


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
