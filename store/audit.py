"""The audit log: who changed what, written in the transaction of the change."""

from __future__ import annotations

from typing import Any, Protocol

from psycopg.types.json import Jsonb

from store.listing import Paging, TimeRange, Where, fetch_page
from store.sql import Conn


class Actor(Protocol):
    """Who acts: an API principal, or anything else with a name and a role."""

    @property
    def actor(self) -> str: ...

    @property
    def role(self) -> str: ...


async def record(  # noqa: PLR0917
    conn: Conn,
    who: Actor,
    action: str,
    entity: str,
    entity_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    """One audit row (call it inside the transaction of the change it records)."""
    await conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, details)"
        " VALUES (%s, %s, %s, %s, %s)",
        (who.actor, action, entity, entity_id, Jsonb({"role": who.role, **(details or {})})),
    )


async def page(
    conn: Conn,
    paging: Paging,
    rng: TimeRange,
    *,
    actor: str | None = None,
    entity: str | None = None,
    entity_id: str | None = None,
    action: str | None = None,
) -> dict[str, Any]:
    where = (
        Where()
        .eq("actor", actor)
        .eq("entity", entity)
        .eq("entity_id", entity_id)
        .eq("action", action)
        .within("ts", rng)
    )
    return await fetch_page(conn, "SELECT * FROM audit_log", where, "id DESC", paging)
