"""Work-order use-cases shared by the API and the streams: create and change an order.

Each use case runs in one unit of work: ``conn`` in its transaction and ``publisher``
(the outbox bound to that connection, ``services.outbox``) for its side effects. All
writes are idempotent where a message may be redelivered: creation by
``idempotency_key``, transitions by ``event_key``. Moves are ``services.transitions``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from models.timeutil import now_ms, to_datetime
from models.workorder import DomainError, Priority, Status
from services.order_events import Conflict, NotFound, get_order, record_event
from services.publisher import Audit, Publisher
from services.sla import sla_due_ms
from store.sql import fetch_one

__all__ = ["Conflict", "InvalidChange", "NewOrder", "NotFound", "create_order", "get_order",
           "update_order"]


class InvalidChange(DomainError):
    status_code = 422


@dataclass(frozen=True)
class NewOrder:
    title: str
    priority: Priority = Priority.P3
    order_type: str = "repair"
    description: str = ""
    customer_id: str | None = None
    site_id: str | None = None
    asset_id: str | None = None
    required_skills: tuple[str, ...] = ()
    required_parts: dict[str, int] | None = None
    fault_type: str | None = None
    alert_id: int | None = None
    sla_due_ms: int | None = None  # None: the SLA rule (services.sla) from creation time
    window_start: datetime | None = None  # the appointment window (service start)
    window_end: datetime | None = None
    idempotency_key: str | None = None


def new_order_id() -> str:
    return f"WO-{secrets.token_hex(5).upper()}"


_BY_KEY = "SELECT * FROM work_orders WHERE idempotency_key = %s"
_INSERT = """
    INSERT INTO work_orders (id, order_type, status, priority, title, description,
        customer_id, site_id, asset_id, required_skills, required_parts, fault_type,
        alert_id, sla_due, window_start, window_end, idempotency_key, created_at,
        updated_at)
    VALUES (%s, %s, 'new', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
    ON CONFLICT (idempotency_key) DO NOTHING
    RETURNING *
"""


async def create_order(
    order: NewOrder,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    actor: str,
    ts_ms: int | None = None,
    audit: Audit | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create an order (status ``new``); returns ``(row, created)``.

    With an ``idempotency_key`` a second call returns the first order, unchanged. A site
    of another customer is refused (422). Without ``sla_due_ms`` the due time is the SLA
    rule's (``services.sla``) counted from ``ts_ms``.
    """
    created_ms = ts_ms or now_ms()
    ts = to_datetime(created_ms)
    async with conn.transaction():
        if order.idempotency_key:
            existing = await fetch_one(conn, _BY_KEY, (order.idempotency_key,))
            if existing:
                return existing, False
        customer_id = order.customer_id
        if order.site_id:
            site = await fetch_one(conn, "SELECT customer_id FROM sites WHERE id = %s",
                                   (order.site_id,))
            site_customer = site["customer_id"] if site else None
            if customer_id is None:
                customer_id = site_customer
            elif site_customer is not None and site_customer != customer_id:
                raise InvalidChange("the site belongs to another customer")
        due = order.sla_due_ms or await sla_due_ms(
            conn, created_ms=created_ms, priority=order.priority.value, customer_id=customer_id)
        row = await fetch_one(conn, _INSERT, (
            new_order_id(), order.order_type, order.priority.value, order.title,
            order.description, customer_id, order.site_id, order.asset_id,
            list(order.required_skills), Jsonb(order.required_parts or {}), order.fault_type,
            order.alert_id, to_datetime(due), order.window_start, order.window_end,
            order.idempotency_key, ts, ts))
        if row is None:  # a concurrent creator won the race on the idempotency key
            existing = await fetch_one(conn, _BY_KEY, (order.idempotency_key,))
            assert existing is not None
            return existing, False
        await record_event(
            conn, publisher, work_order_id=row["id"], from_status=None, to_status="new",
            ts=ts, actor=actor, reason="created", event_key=f"{row['id']}:created",
            details={"priority": row["priority"], "site_id": row["site_id"],
                     "asset_id": row["asset_id"], "title": row["title"]},
            stored_details={},
            audit=None if audit is None else replace(audit, entity_id=row["id"]))
    return row, True


# The fields a dispatcher may change on an order still being worked on.
EDITABLE_FIELDS = ("title", "description", "priority", "required_skills", "required_parts",
                   "sla_due", "window_start", "window_end")
EDITABLE_STATUSES = frozenset({Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.EN_ROUTE,
                               Status.ON_SITE, Status.IN_PROGRESS, Status.WAITING_PARTS})


async def update_order(
    work_order_id: str,
    changes: dict[str, Any],
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    actor: str,
    audit: Audit | None = None,
) -> dict[str, Any]:
    """Change an order's ``EDITABLE_FIELDS`` (None clears a window end or the SLA due).

    409 once the order is completed (or closed, cancelled); 422 when the resulting window
    does not end after it starts. The change is an event in the order's history (status
    unchanged, ``details.changed`` holding the old and new values), published like a move
    (webhook type ``workorder.updated``).
    Re-dispatching an assigned order after a change is the dispatcher's call (``assign``).
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise InvalidChange(f"cannot change {', '.join(sorted(unknown))}")
    ts = to_datetime(now_ms())
    async with conn.transaction():
        order = await get_order(conn, work_order_id, lock=True)
        status = Status(order["status"])
        if status not in EDITABLE_STATUSES:
            raise Conflict(f"work order {work_order_id} is {status.value}: it can no longer be"
                           " changed")
        changed = {k: v for k, v in changes.items() if order[k] != v}
        if not changed:
            return order
        start = changed.get("window_start", order["window_start"])
        end = changed.get("window_end", order["window_end"])
        if start is not None and end is not None and end <= start:
            raise InvalidChange("window_end must be after window_start")
        values = [Jsonb(v) if k == "required_parts" else v for k, v in changed.items()]
        row = await fetch_one(
            conn,
            f"UPDATE work_orders SET {', '.join(f'{k} = %s' for k in changed)},"  # noqa: S608  # nosec B608 - keys checked against EDITABLE_FIELDS
            " updated_at = %s WHERE id = %s RETURNING *",
            (*values, ts, work_order_id),
        )
        assert row is not None
        details = {"changed": {k: {"from": _jsonable(order[k]), "to": _jsonable(v)}
                               for k, v in changed.items()}}
        await record_event(
            conn, publisher, work_order_id=work_order_id, from_status=status.value,
            to_status=status.value, ts=ts, actor=actor, reason="changed " + ", ".join(changed),
            engineer_id=row["engineer_id"], details=details, audit=audit)
    return row


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value
