"""The ``notifications`` table (migration 013): written in the event's transaction
(``services/outbox.py``), sent and settled by the relay's email loop (``api/mailer.py``)."""

from __future__ import annotations

import uuid
from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, fetch_all


async def enqueue(conn: Conn, event_id: uuid.UUID, rows: list[dict[str, Any]]) -> None:
    """One row per recipient (``kind, recipient, subject, body, link, work_order_id``)."""
    for r in rows:
        await conn.execute(
            "INSERT INTO notifications (event_id, kind, recipient, subject, body, link,"
            " work_order_id) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING",
            (event_id, r["kind"], r["recipient"], r["subject"], r["body"], r["link"],
             r["work_order_id"]),
        )


async def due(conn: Conn, limit: int) -> list[dict[str, Any]]:
    return await fetch_all(
        conn,
        "SELECT * FROM notifications WHERE state = 'pending' AND next_attempt_at <= now()"
        " ORDER BY next_attempt_at, id LIMIT %s",
        (limit,),
    )


async def settle(
    conn: Conn, notification_id: int, state: str, error: str | None, retry_in_s: float
) -> None:
    """Record one attempt: ``delivered`` (the SMTP server accepted it; never sent again),
    ``dead`` (out of attempts) or ``pending`` again after ``retry_in_s``."""
    await conn.execute(
        "UPDATE notifications SET attempts = attempts + 1, state = %s, last_error = %s,"
        " delivered_at = CASE WHEN %s THEN now() END,"
        " next_attempt_at = now() + make_interval(secs => %s)"
        " WHERE id = %s AND state = 'pending'",
        (state, error, state == "delivered", retry_in_s, notification_id),
    )


async def page(
    conn: Conn, paging: Paging, *, state: str | None = None, kind: str | None = None,
    work_order_id: str | None = None,
) -> dict[str, Any]:
    where = Where().eq("state", state).eq("kind", kind).eq("work_order_id", work_order_id)
    return await fetch_page(conn, "SELECT * FROM notifications", where, "id DESC", paging)
