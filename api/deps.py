"""Shared dependencies: a pooled connection per request and the audit log writer."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException

from api.auth import Principal
from api.conn import ConnDep, get_conn  # one connection per request, shared with api/auth.py
from services.outbox import Outbox
from services.publisher import Audit, Publisher
from store import audit as audit_log
from store.sql import Conn, by_id, fetch_all, fetch_one

__all__ = [
    "Conn", "ConnDep", "PublisherDep", "audit", "fetch_all", "fetch_by_id", "fetch_one", "found",
    "get_conn", "get_publisher",
]


def get_publisher(conn: ConnDep) -> Publisher:
    """The outbox of the request's connection: side effects are rows of the use case's
    transaction, sent by the relay after the commit (``api/relay.py``)."""
    return Outbox(conn)


PublisherDep = Annotated[Publisher, Depends(get_publisher)]


def audit_of(principal: Principal, action: str, entity: str, entity_id: str,
             details: dict[str, Any] | None = None) -> Audit:
    """The audit entry a use case writes with its change."""
    return Audit(principal.actor, action, entity, entity_id, details or {}, principal.role)


def found(row: dict[str, Any] | None, what: str, ident: object) -> dict[str, Any]:
    """``row``, or a 404 that names what was not found."""
    if row is None:
        raise HTTPException(404, f"{what} {ident!r} not found")
    return row


async def fetch_by_id(conn: Conn, table: str, ident: str, what: str) -> dict[str, Any]:
    """``SELECT * FROM table WHERE id = ident``, or a 404 naming ``what``."""
    return found(await by_id(conn, table, ident), what, ident)


async def audit(  # noqa: PLR0917
    conn: Conn,
    principal: Principal,
    action: str,
    entity: str,
    entity_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Record who changed what (``store.audit.record``, in the caller's transaction)."""
    await audit_log.record(conn, principal, action, entity, entity_id, details)
