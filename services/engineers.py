"""Engineers: create and change one, with its audit row in the same transaction."""

from __future__ import annotations

from typing import Any

from services.audited import audited
from store import engineers
from store.audit import Actor
from store.engineers import Lunch
from store.sql import Conn

Row = dict[str, Any]
LUNCH = ("lunch_earliest", "lunch_latest", "lunch_minutes")


async def create_engineer(conn: Conn, who: Actor, fields: Row) -> Row:
    """``fields``: the engineer's columns (the lunch break as its three columns)."""
    await audited(conn, who, "create", "engineer", fields["id"], fields,
                  lambda: _insert(conn, fields))
    row = await engineers.get(conn, fields["id"])
    assert row is not None
    return row


async def _insert(conn: Conn, fields: Row) -> bool:
    await engineers.insert(conn, **fields)
    return True


async def update_engineer(
    conn: Conn, who: Actor, engineer_id: str, changes: Row, *, lunch: Lunch | None = None
) -> Row | None:
    """Set ``changes`` (None keeps a value) and, when given, the lunch break (three
    Nones remove it); None when there is no such engineer."""
    details = {**changes, **(dict(zip(LUNCH, lunch, strict=True)) if lunch else {})}
    found = await audited(
        conn, who, "update", "engineer", engineer_id, details,
        lambda: engineers.update(conn, engineer_id, lunch=lunch, **changes),
    )
    return await engineers.get(conn, engineer_id) if found else None
