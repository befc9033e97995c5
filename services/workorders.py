"""Work-order use-cases shared by the API and the streams (DESIGN.md §2 services/).

Each function takes its store connection and publisher as keyword arguments. All
writes are idempotent where a message may be redelivered: creation by
``idempotency_key``, transitions by ``event_key``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from models.messages import WorkOrderEvent
from models.timeutil import now_ms, to_datetime
from models.workorder import DomainError, Priority, Status, transition
from services.parts import collect_pickup
from services.picture import store_route
from services.publisher import Publisher
from store.sql import fetch_one as _fetch

TOPIC = "events.workorders"

# The timestamp column each status stamps on the order.
_STAMP = {
    Status.ASSIGNED: "assigned_at",
    Status.ACCEPTED: "accepted_at",
    Status.EN_ROUTE: "en_route_at",
    Status.ON_SITE: "checkin_at",
    Status.COMPLETED: "completed_at",
    Status.SIGNED_OFF: "signed_off_at",
    Status.CLOSED: "closed_at",
}


# Moves after which a booked depot pickup no longer holds (an assignment may book anew).
RELEASES_PICKUP = frozenset({Status.ASSIGNED, Status.REJECTED, Status.CANCELLED})


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Pickup(BaseModel):
    """Parts to collect at a depot on the way to the order."""

    depot_id: str
    name: str
    lat: float
    lon: float
    parts: dict[str, int]


class Assignment(BaseModel):
    """What an engineer's phone receives on its inbox."""

    type: str = "assignment"
    work_order_id: str
    title: str
    priority: str
    site_id: str | None
    lat: float | None
    lon: float | None
    sla_due: datetime | None
    description: str = ""
    pickup: Pickup | None = None


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
    sla_due_ms: int | None = None
    window_start: datetime | None = None  # the appointment window (service start)
    window_end: datetime | None = None
    idempotency_key: str | None = None


_SELECT = "SELECT * FROM work_orders WHERE id = %s"
_SELECT_FOR_UPDATE = "SELECT * FROM work_orders WHERE id = %s FOR UPDATE"


def arrived_late(sla_due: datetime | None, arrived: datetime) -> bool:
    """The SLA breach recorded at check-in: the due time is the response target (arrival).

    It is decided again at the arrival: a provisional mark from the stream's
    ``not on site by the due time`` timer is undone by a check-in dated in time (a geofence
    check-in is confirmed a couple of minutes after the crossing it is dated to).
    """
    return sla_due is not None and arrived > sla_due


def new_order_id() -> str:
    return f"WO-{secrets.token_hex(5).upper()}"


async def get_order(
    conn: AsyncConnection[Any], work_order_id: str, *, lock: bool = False
) -> dict[str, Any]:
    row = await _fetch(
        conn,
        _SELECT_FOR_UPDATE if lock else _SELECT,
        (work_order_id,),
    )
    if row is None:
        raise NotFound(f"work order {work_order_id!r} not found")
    return row


async def create_order(
    order: NewOrder,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    actor: str,
    ts_ms: int | None = None,
) -> tuple[dict[str, Any], bool]:
    """Create an order (status ``new``); returns ``(row, created)``.

    With an ``idempotency_key`` a second call returns the first order, unchanged.
    """
    ts = to_datetime(ts_ms or now_ms())
    async with conn.transaction():
        if order.idempotency_key:
            existing = await _fetch(
                conn,
                "SELECT * FROM work_orders WHERE idempotency_key = %s",
                (order.idempotency_key,),
            )
            if existing:
                return existing, False
        customer_id = order.customer_id
        if customer_id is None and order.site_id:
            site = await _fetch(
                conn, "SELECT customer_id FROM sites WHERE id = %s", (order.site_id,)
            )
            customer_id = site["customer_id"] if site else None
        row = await _fetch(
            conn,
            """
            INSERT INTO work_orders (id, order_type, status, priority, title, description,
                customer_id, site_id, asset_id, required_skills, required_parts, fault_type,
                alert_id, sla_due, window_start, window_end, idempotency_key, created_at,
                updated_at)
            VALUES (%s, %s, 'new', %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s,
                    %s, %s)
            ON CONFLICT (idempotency_key) DO NOTHING
            RETURNING *
            """,
            (
                new_order_id(),
                order.order_type,
                order.priority.value,
                order.title,
                order.description,
                customer_id,
                order.site_id,
                order.asset_id,
                list(order.required_skills),
                Jsonb(order.required_parts or {}),
                order.fault_type,
                order.alert_id,
                to_datetime(order.sla_due_ms) if order.sla_due_ms else None,
                order.window_start,
                order.window_end,
                order.idempotency_key,
                ts,
                ts,
            ),
        )
        if row is None:  # a concurrent creator won the race on the idempotency key
            existing = await _fetch(
                conn,
                "SELECT * FROM work_orders WHERE idempotency_key = %s",
                (order.idempotency_key,),
            )
            assert existing is not None
            return existing, False
        await conn.execute(
            "INSERT INTO work_order_events (work_order_id, from_status, to_status, ts, actor,"
            " reason,"
            " event_key) VALUES (%s, NULL, 'new', %s, %s, %s, %s)",
            (row["id"], ts, actor, "created", f"{row['id']}:created"),
        )
    await publisher.event(
        TOPIC,
        row["id"],
        WorkOrderEvent(
            work_order_id=row["id"],
            from_status=None,
            to_status="new",
            ts=int(ts.timestamp() * 1000),
            actor=actor,
            reason="created",
            details={
                "priority": row["priority"],
                "site_id": row["site_id"],
                "asset_id": row["asset_id"],
                "title": row["title"],
            },
        ),
    )
    return row, True


# The fields a dispatcher may change on an order still being worked on.
EDITABLE_FIELDS = ("title", "description", "priority", "required_skills", "required_parts",
                   "sla_due", "window_start", "window_end")
EDITABLE_STATUSES = frozenset({Status.NEW, Status.ASSIGNED, Status.ACCEPTED, Status.EN_ROUTE,
                               Status.ON_SITE, Status.IN_PROGRESS, Status.WAITING_PARTS})


class InvalidChange(DomainError):
    status_code = 422


async def update_order(
    work_order_id: str,
    changes: dict[str, Any],
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    actor: str,
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
        row = await _fetch(
            conn,
            f"UPDATE work_orders SET {', '.join(f'{k} = %s' for k in changed)},"  # noqa: S608 - keys checked against EDITABLE_FIELDS
            " updated_at = %s WHERE id = %s RETURNING *",
            (*values, ts, work_order_id),
        )
        assert row is not None
        details = {"changed": {k: {"from": _jsonable(order[k]), "to": _jsonable(v)}
                               for k, v in changed.items()}}
        reason = "changed " + ", ".join(changed)
        await conn.execute(
            "INSERT INTO work_order_events (work_order_id, from_status, to_status, ts, actor,"
            " reason, details) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            (work_order_id, status.value, status.value, ts, actor, reason, Jsonb(details)),
        )
    await publisher.event(TOPIC, work_order_id, WorkOrderEvent(
        work_order_id=work_order_id, from_status=status.value, to_status=status.value,
        ts=int(ts.timestamp() * 1000), actor=actor, reason=reason,
        engineer_id=row["engineer_id"], details=details))
    return row


def _jsonable(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def checklist_complete(conn: AsyncConnection[Any], order: dict[str, Any]) -> bool:
    """Every required item of the order type's template has an answer."""
    row = await _fetch(
        conn,
        """
        SELECT count(*) FILTER (
            WHERE (item ->> 'required')::boolean AND a.item_id IS NULL) AS missing
        FROM checklist_templates t, jsonb_array_elements(t.items) AS item
        LEFT JOIN checklist_answers a ON a.work_order_id = %s AND a.item_id = item ->> 'id'
        WHERE t.order_type = %s
        """,
        (order["id"], order["order_type"]),
    )
    return row is None or int(row["missing"] or 0) == 0


async def transition_order(
    work_order_id: str,
    target: Status,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    actor: str,
    reason: str = "",
    engineer_id: str | None = None,
    ts_ms: int | None = None,
    event_key: str | None = None,
    manual_on_site: bool = False,
    details: dict[str, Any] | None = None,
    pickup: tuple[str, Mapping[str, int]] | None = None,
) -> dict[str, Any]:
    """Move an order through the state machine; store the event; publish it.

    ``event_key`` makes the call idempotent: the same key twice changes nothing.
    ``pickup`` (depot, parts) books a depot pickup with an assignment; an assignment
    without one, a rejection or a cancellation releases any booked before.
    Raises ``IllegalTransition`` (409) for a move the lifecycle does not allow.
    """
    ts = to_datetime(ts_ms or now_ms())
    async with conn.transaction():
        order = await get_order(conn, work_order_id, lock=True)
        if event_key and await _fetch(
            conn, "SELECT 1 AS x FROM work_order_events WHERE event_key = %s", (event_key,)
        ):
            return order
        current = Status(order["status"])
        engineer = engineer_id or order["engineer_id"]
        complete = target != Status.COMPLETED or await checklist_complete(conn, order)
        new_status = transition(
            current,
            target,
            engineer_id=engineer,
            reason=reason,
            checklist_complete=complete,
            manual_on_site=manual_on_site,
        )
        sets = ["status = %s", "updated_at = %s"]
        params: list[Any] = [new_status.value, ts]
        if target == Status.ASSIGNED:
            sets.append("engineer_id = %s")
            params.append(engineer)
        if target == Status.REJECTED:
            sets.append("engineer_id = NULL")
            sets.append("route_seq = NULL")
        if target in RELEASES_PICKUP:  # a booked depot pickup is released (or re-booked)
            booked = pickup if target == Status.ASSIGNED else None
            sets += ["pickup_depot_id = %s", "pickup_parts = %s"]
            params += [booked[0], Jsonb(dict(booked[1]))] if booked else [None, None]
        collected = None
        if target == Status.ON_SITE and engineer:  # on the way here: the parts are in the van
            collected = await collect_pickup(conn, order, engineer)
            if collected is not None:
                details = {**(details or {}), "collected": collected}
        stamp = _STAMP.get(target)
        if stamp:
            sets.append(f"{stamp} = %s")
            params.append(ts)
        if target == Status.ON_SITE:  # every check-in path: geofence, API, phone
            sets.append("sla_breached = %s")
            params.append(arrived_late(order["sla_due"], ts))
        row = await _fetch(
            conn,
            f"UPDATE work_orders SET {', '.join(sets)} WHERE id = %s RETURNING *",  # noqa: S608 - column names from _STAMP
            (*params, work_order_id),
        )
        assert row is not None
        if target == Status.ASSIGNED and engineer and (
                order["engineer_id"] != engineer or order["route_seq"] is None):
            seqs = await store_route(conn, engineer, [work_order_id], first=False)  # last
            row["route_seq"] = seqs.get(work_order_id)
        await conn.execute(
            "INSERT INTO work_order_events (work_order_id, from_status, to_status, ts, actor,"
            " reason,"
            " details, event_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            (
                work_order_id,
                current.value,
                target.value,
                ts,
                actor,
                reason,
                Jsonb({"engineer_id": engineer, **(details or {})}),
                event_key,
            ),
        )
    await publisher.event(
        TOPIC,
        work_order_id,
        WorkOrderEvent(
            work_order_id=work_order_id,
            from_status=current.value,
            to_status=target.value,
            ts=int(ts.timestamp() * 1000),
            actor=actor,
            reason=reason,
            engineer_id=row["engineer_id"] or engineer,
            details=details or {},
        ),
    )
    if target == Status.ASSIGNED and engineer:
        await notify_assignment(row, conn=conn, publisher=publisher)
    return row


async def notify_assignment(
    order: dict[str, Any], *, conn: AsyncConnection[Any], publisher: Publisher
) -> None:
    site = None
    if order["site_id"]:
        site = await _fetch(conn, "SELECT lat, lon FROM sites WHERE id = %s", (order["site_id"],))
    pickup = None
    if order.get("pickup_parts"):
        depot = await _fetch(conn, "SELECT id AS depot_id, name, lat, lon FROM depots"
                             " WHERE id = %s", (order["pickup_depot_id"],))
        pickup = Pickup(**depot, parts=order["pickup_parts"]) if depot else None
    await publisher.to_engineer(
        order["engineer_id"],
        Assignment(
            work_order_id=order["id"],
            title=order["title"],
            priority=order["priority"],
            site_id=order["site_id"],
            lat=site["lat"] if site else None,
            lon=site["lon"] if site else None,
            sla_due=order["sla_due"],
            description=order["description"],
            pickup=pickup,
        ),
    )
