"""Moving a work order through its lifecycle (the state machine is ``models.workorder``).

One unit of work per move: the order row, its history event, its ``events.workorders``
event and webhook deliveries, the assignment message to the engineer's phone and the
audit row are all written in one transaction (``services.outbox``).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb
from pydantic import BaseModel

from models.timeutil import now_ms, to_datetime
from models.workorder import Status, transition
from services.order_events import Conflict, get_order, record_event
from services.parts import collect_pickup
from services.picture import store_route
from services.publisher import Audit, Publisher
from store.sql import fetch_one

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
    event_id: str | None = None


def arrived_late(sla_due: datetime | None, arrived: datetime) -> bool:
    """The SLA breach recorded at check-in: the due time is the response target (arrival).

    It is decided again at the arrival: a provisional mark from the stream's
    ``not on site by the due time`` timer is undone by a check-in dated in time (a geofence
    check-in is confirmed a couple of minutes after the crossing it is dated to).
    """
    return sla_due is not None and arrived > sla_due


async def checklist_complete(conn: AsyncConnection[Any], order: dict[str, Any]) -> bool:
    """Every required item of the order type's template has an answer."""
    row = await fetch_one(
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


def _sets_for(target: Status, new_status: Status, engineer: str | None, ts: datetime,
              pickup: tuple[str, Mapping[str, int]] | None) -> tuple[list[str], list[Any]]:
    sets = ["status = %s", "updated_at = %s"]
    params: list[Any] = [new_status.value, ts]
    if target == Status.ASSIGNED:
        sets.append("engineer_id = %s")
        params.append(engineer)
    if target == Status.REJECTED:
        sets += ["engineer_id = NULL", "route_seq = NULL"]
    if target in RELEASES_PICKUP:  # a booked depot pickup is released (or re-booked)
        booked = pickup if target == Status.ASSIGNED else None
        sets += ["pickup_depot_id = %s", "pickup_parts = %s"]
        params += [booked[0], Jsonb(dict(booked[1]))] if booked else [None, None]
    stamp = _STAMP.get(target)
    if stamp:
        sets.append(f"{stamp} = %s")
        params.append(ts)
    return sets, params


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
    audit: Audit | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Move an order through the state machine; store the event; queue its side effects.

    ``event_key`` makes the call idempotent: the same key twice changes nothing.
    ``pickup`` (depot, parts) books a depot pickup with an assignment; an assignment
    without one, a rejection or a cancellation releases any booked before. ``extra``
    sets more columns of the order with the move (``signed_by``).
    Raises ``IllegalTransition`` (409) for a move the lifecycle does not allow.
    """
    ts = to_datetime(ts_ms or now_ms())
    async with conn.transaction():
        order = await get_order(conn, work_order_id, lock=True)
        if event_key and await fetch_one(
            conn, "SELECT 1 AS x FROM work_order_events WHERE event_key = %s", (event_key,)
        ):
            return order
        current = Status(order["status"])
        engineer = engineer_id or order["engineer_id"]
        complete = target != Status.COMPLETED or await checklist_complete(conn, order)
        new_status = transition(current, target, engineer_id=engineer, reason=reason,
                                checklist_complete=complete, manual_on_site=manual_on_site)
        sets, params = _sets_for(target, new_status, engineer, ts, pickup)
        if target == Status.ON_SITE:  # every check-in path: geofence, API, phone
            sets.append("sla_breached = %s")
            params.append(arrived_late(order["sla_due"], ts))
            if engineer:  # on the way here: the parts are in the van
                collected = await collect_pickup(conn, order, engineer)
                if collected is not None:
                    details = {**(details or {}), "collected": collected}
        for column, value in (extra or {}).items():
            sets.append(f"{column} = %s")
            params.append(value)
        row = await fetch_one(
            conn,
            f"UPDATE work_orders SET {', '.join(sets)} WHERE id = %s RETURNING *",  # noqa: S608  # nosec B608 - column names are ours
            (*params, work_order_id),
        )
        assert row is not None
        if target == Status.ASSIGNED and engineer and (
                order["engineer_id"] != engineer or order["route_seq"] is None):
            seqs = await store_route(conn, engineer, [work_order_id], first=False)  # last
            row["route_seq"] = seqs.get(work_order_id)
        await record_event(
            conn, publisher, work_order_id=work_order_id, from_status=current.value,
            to_status=target.value, ts=ts, actor=actor, reason=reason,
            engineer_id=row["engineer_id"] or engineer, details=details or {},
            stored_details={"engineer_id": engineer, **(details or {})}, event_key=event_key,
            audit=audit)
        if target == Status.ASSIGNED and engineer:
            await notify_assignment(row, conn=conn, publisher=publisher)
    return row


async def notify_assignment(
    order: dict[str, Any], *, conn: AsyncConnection[Any], publisher: Publisher
) -> None:
    """Queue the assignment for the engineer's phone (in the caller's transaction)."""
    site = None
    if order["site_id"]:
        site = await fetch_one(conn, "SELECT lat, lon FROM sites WHERE id = %s",
                               (order["site_id"],))
    pickup = None
    if order.get("pickup_parts"):
        depot = await fetch_one(conn, "SELECT id AS depot_id, name, lat, lon FROM depots"
                                " WHERE id = %s", (order["pickup_depot_id"],))
        pickup = Pickup(**depot, parts=order["pickup_parts"]) if depot else None
    await publisher.to_engineer(order["engineer_id"], Assignment(
        work_order_id=order["id"], title=order["title"], priority=order["priority"],
        site_id=order["site_id"], lat=site["lat"] if site else None,
        lon=site["lon"] if site else None, sla_due=order["sla_due"],
        description=order["description"], pickup=pickup))


async def sign_off(work_order_id: str, signed_by: str, *, conn: AsyncConnection[Any],
                   publisher: Publisher, actor: str, reason: str = "",
                   audit: Audit | None = None) -> dict[str, Any]:
    """The customer signs the completed job: the move and the signer's name together."""
    return await transition_order(
        work_order_id, Status.SIGNED_OFF, conn=conn, publisher=publisher, actor=actor,
        reason=reason or f"signed by {signed_by}", details={"signed_by": signed_by},
        extra={"signed_by": signed_by}, audit=audit)


async def rate_order(work_order_id: str, rating: int, feedback: str, *,
                     conn: AsyncConnection[Any], publisher: Publisher,
                     audit: Audit | None = None) -> dict[str, Any]:
    """The customer's rating, once the job is completed (409 before)."""
    async with conn.transaction():
        order = await get_order(conn, work_order_id, lock=True)
        if order["status"] not in ("completed", "signed_off", "closed"):
            raise Conflict(f"a {order['status']} order cannot be rated yet")
        row = await fetch_one(
            conn, "UPDATE work_orders SET rating = %s, feedback = %s WHERE id = %s RETURNING *",
            (rating, feedback, work_order_id))
        if audit is not None:
            await publisher.audit(audit)
    assert row is not None
    return row
