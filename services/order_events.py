"""One place that records a work-order event: its history row and its Kafka event (with
the webhook deliveries it asks for), both in the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from models.messages import WorkOrderEvent
from models.workorder import DomainError
from services.outbox import Outbox, OutsideTransaction
from services.publisher import Audit, Publisher
from store.sql import fetch_one

TOPIC = "events.workorders"
_SELECT = "SELECT * FROM work_orders WHERE id = %s"
_SELECT_FOR_UPDATE = "SELECT * FROM work_orders WHERE id = %s FOR UPDATE"


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


async def get_order(
    conn: AsyncConnection[Any], work_order_id: str, *, lock: bool = False
) -> dict[str, Any]:
    row = await fetch_one(conn, _SELECT_FOR_UPDATE if lock else _SELECT, (work_order_id,))
    if row is None:
        raise NotFound(f"work order {work_order_id!r} not found")
    return row


async def record_event(
    conn: AsyncConnection[Any],
    publisher: Publisher,
    *,
    work_order_id: str,
    from_status: str | None,
    to_status: str,
    ts: datetime,
    actor: str,
    reason: str,
    engineer_id: str | None = None,
    details: dict[str, Any] | None = None,
    stored_details: dict[str, Any] | None = None,
    event_key: str | None = None,
    audit: Audit | None = None,
) -> None:
    """Store the event row, queue its ``events.workorders`` event and the audit row.

    ``stored_details`` (default ``details``) is what the history row keeps. An outbox
    bound to another connection than ``conn`` is refused: its rows would not be part of
    this transaction (one unit of work is one connection and its outbox)."""
    if isinstance(publisher, Outbox) and publisher.conn is not conn:
        raise OutsideTransaction("the outbox is bound to another connection than the change")
    await conn.execute(
        "INSERT INTO work_order_events (work_order_id, from_status, to_status, ts, actor,"
        " reason, details, event_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (work_order_id, from_status, to_status, ts, actor, reason,
         Jsonb(stored_details if stored_details is not None else details or {}), event_key),
    )
    await publisher.event(TOPIC, work_order_id, WorkOrderEvent(
        work_order_id=work_order_id, from_status=from_status, to_status=to_status,
        ts=int(ts.timestamp() * 1000), actor=actor, reason=reason, engineer_id=engineer_id,
        details=details or {}))
    if audit is not None:
        await publisher.audit(audit)
