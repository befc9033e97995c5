"""A change and its audit row, in one transaction (every mutating use case goes through
here, so no change is stored without the row that says who made it)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from pydantic_core import to_jsonable_python

from store import audit
from store.audit import Actor
from store.sql import Conn

T = TypeVar("T")


async def audited(  # noqa: PLR0917
    conn: Conn,
    who: Actor,
    action: str,
    entity: str,
    entity_id: str | Callable[[T], str],
    details: dict[str, Any] | None,
    write: Callable[[], Awaitable[T]],
) -> T:
    """Run ``write()`` and record ``action`` on ``entity`` in the audit log, in one
    transaction. When ``write()`` finds nothing to change (None or False) nothing is
    recorded. ``entity_id`` may be a function of the result (an id the database gives)."""
    async with conn.transaction():
        result = await write()
        if result is None or result is False:
            return result
        ident = entity_id(result) if callable(entity_id) else entity_id
        await audit.record(conn, who, action, entity, ident, to_jsonable_python(details))
    return result
