"""The outbox tables (migration 007): rows written inside a use case's transaction, read
and settled by the relay after the commit (``api/relay.py``, ``api/webhooks.py``)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

Conn = AsyncConnection[Any]
CHANNEL = "fieldflow_outbox"  # NOTIFY channel (trigger outbox_notify)


async def _rows(conn: Conn, sql: str, params: Any = ()) -> list[dict[str, Any]]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        return await cur.fetchall()


# --- written in the use case's transaction ---------------------------------------------


async def enqueue(  # noqa: PLR0917
    conn: Conn, event_id: uuid.UUID, channel: str, destination: str, key: str, payload: bytes
) -> None:
    await conn.execute(
        "INSERT INTO outbox (event_id, channel, destination, key, payload)"
        " VALUES (%s, %s, %s, %s, %s)",
        (event_id, channel, destination, key, payload),
    )


async def enqueue_webhooks(
    conn: Conn, event_id: uuid.UUID, etype: str, data: dict[str, Any]
) -> None:
    """One delivery row per active subscription matching ``etype`` (``*``, the family
    such as ``workorder``, or the exact type)."""
    family = etype.split(".", 1)[0]
    await conn.execute(
        "INSERT INTO webhook_deliveries (webhook_id, event_id, event_type, payload)"
        " SELECT id, %s, %s, %s FROM webhooks WHERE active AND event_types && %s"
        " ON CONFLICT DO NOTHING",
        (event_id, etype, Jsonb(data), ["*", family, etype]),
    )


# --- the relay (after the commit) -------------------------------------------------------


async def due_rows(conn: Conn, channel: str, limit: int) -> list[dict[str, Any]]:
    """Pending rows of ``channel`` that may be sent now, in id order: due, and with no
    earlier pending row of the same (destination, key) waiting for its retry (order per
    key)."""
    return await _rows(
        conn,
        "SELECT o.id, o.event_id, o.channel, o.destination, o.key, o.payload, o.attempts"
        " FROM outbox o WHERE o.sent_at IS NULL AND o.channel = %s"
        " AND o.next_attempt_at <= now()"
        " AND NOT EXISTS (SELECT 1 FROM outbox b WHERE b.sent_at IS NULL"
        "   AND b.destination = o.destination AND b.key = o.key AND b.id < o.id"
        "   AND b.next_attempt_at > now())"
        " ORDER BY o.id LIMIT %s",
        (channel, limit),
    )


async def mark_sent(conn: Conn, ids: list[int], at: datetime) -> None:
    if ids:
        await conn.execute("UPDATE outbox SET sent_at = %s WHERE id = ANY(%s)", (at, ids))


async def mark_failed(conn: Conn, failures: dict[int, tuple[str, float]]) -> None:
    """``{id: (error, retry in seconds)}``: one more attempt, retried after the delay."""
    for row_id, (error, delay_s) in failures.items():
        await conn.execute(
            "UPDATE outbox SET attempts = attempts + 1, last_error = %s,"
            " next_attempt_at = now() + make_interval(secs => %s) WHERE id = %s",
            (error[:500], delay_s, row_id),
        )


async def next_due_in_s(conn: Conn) -> float | None:
    """Seconds until the next retry of a pending row (outbox, webhook, notification) is due;
    None if none waits for one (rows due now were just tried, or are held back behind a
    row of their key that waits)."""
    found = await _rows(
        conn,
        "SELECT extract(epoch FROM least("
        " (SELECT min(next_attempt_at) FROM outbox"
        "   WHERE sent_at IS NULL AND next_attempt_at > now()),"
        " (SELECT min(next_attempt_at) FROM webhook_deliveries"
        "   WHERE state = 'pending' AND next_attempt_at > now()),"
        " (SELECT min(next_attempt_at) FROM notifications"
        "   WHERE state = 'pending' AND next_attempt_at > now()))"
        " - now()) AS s",
    )
    s = found[0]["s"] if found else None
    return None if s is None else max(0.0, float(s))


async def purge_sent(conn: Conn, keep_s: float) -> int:
    """Drop rows sent more than ``keep_s`` ago (kept that long to look into)."""
    cur = await conn.execute("DELETE FROM outbox WHERE sent_at < now() - make_interval("
                             "secs => %s)", (keep_s,))
    return cur.rowcount


async def pending_count(conn: Conn) -> int:
    found = await _rows(conn, "SELECT count(*) AS n FROM outbox WHERE sent_at IS NULL")
    return int(found[0]["n"])


# --- webhook deliveries -----------------------------------------------------------------


async def due_deliveries(conn: Conn, limit: int) -> list[dict[str, Any]]:
    return await _rows(
        conn,
        "SELECT d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.attempt,"
        " w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id"
        " WHERE d.state = 'pending' AND d.next_attempt_at <= now()"
        " ORDER BY d.next_attempt_at, d.id LIMIT %s",
        (limit,),
    )


async def settle_delivery(  # noqa: PLR0917
    conn: Conn,
    delivery_id: int,
    state: str,
    status: int | None,
    error: str | None,
    retry_in_s: float,
) -> None:
    """Record one attempt: ``delivered`` (2xx), ``dead`` (out of attempts) or ``pending``
    again after ``retry_in_s``."""
    await conn.execute(
        "UPDATE webhook_deliveries SET attempt = attempt + 1, state = %s, status_code = %s,"
        " error = %s, delivered = %s, ts = now(),"
        " delivered_at = CASE WHEN %s THEN now() END,"
        " next_attempt_at = now() + make_interval(secs => %s)"
        " WHERE id = %s AND state = 'pending'",
        (state, status, error, state == "delivered", state == "delivered", retry_in_s,
         delivery_id),
    )
