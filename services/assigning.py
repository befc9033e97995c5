"""Assigning an order in one unit of work: the checks against the snapshot the ranking
used, a pre-empted P4 sent back to dispatch, the depot pickup booking, the assignment,
the stored route, the phones' messages, the events and the audit row all commit
together or not at all (``Changed`` rolls every one of them back)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from dispatch.assign import missing_parts
from models.workorder import Priority, Status
from services.order_events import Conflict, get_order
from services.picture import store_route
from services.publisher import Audit, Publisher
from services.transitions import transition_order
from store.sql import fetch_all as fetch_rows

PREEMPTABLE = frozenset({Status.ASSIGNED, Status.ACCEPTED})


class Changed(Conflict):
    """The order (or the one to pre-empt) changed since the picture was loaded (409)."""


class Withdrawn(BaseModel):
    """What an engineer's phone receives when an order is taken off their route."""

    type: str = "withdrawn"
    work_order_id: str
    reason: str
    event_id: str | None = None


async def book_pickup(conn: AsyncConnection[Any], order: Mapping[str, Any], engineer_id: str,
                      depot_id: str) -> tuple[str, dict[str, int]] | None:
    """The pickup at ``depot_id`` of the parts ``order`` needs that ``engineer_id``'s van
    lacks, checked against what the depot has free (bookings of other orders counted out);
    raises :class:`Changed` when it no longer has them. Locks the depot's stock rows until
    the caller's transaction ends, so two orders cannot both count on the last unit; the
    assignment (``transition_order(pickup=...)``) stores the booking. None when the van
    has everything."""
    parts = {k: int(v) for k, v in (order["required_parts"] or {}).items()}
    van = {r["part_id"]: int(r["qty"]) for r in await fetch_rows(
        conn, "SELECT part_id, qty FROM van_stock WHERE engineer_id = %s AND part_id = ANY(%s)",
        (engineer_id, list(parts)))}
    need = missing_parts(parts, van)
    if not need:
        return None
    free = {r["part_id"]: int(r["qty"]) for r in await fetch_rows(
        conn, "SELECT part_id, qty FROM depot_stock WHERE depot_id = %s AND part_id = ANY(%s)"
        " ORDER BY part_id FOR UPDATE", (depot_id, list(need)))}
    own = (order["pickup_parts"] or {}) if order["pickup_depot_id"] == depot_id else {}
    for r in await fetch_rows(conn, "SELECT part_id, qty FROM depot_reserved"
                              " WHERE depot_id = %s AND part_id = ANY(%s)",
                              (depot_id, list(need))):
        free[r["part_id"]] = free.get(r["part_id"], 0) - int(r["qty"]) + own.get(
            r["part_id"], 0)
    short = {p: q for p, q in need.items() if free.get(p, 0) < q}
    if short:
        raise Changed(f"depot {depot_id} no longer has {short} free for work order "
                      f"{order['id']} (reserved meanwhile)")
    return depot_id, need


async def assign_if_unchanged(
    snapshot: Mapping[str, Any],
    engineer_id: str,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    now_ms: int,
    actor: str,
    reason: str,
    details: dict[str, Any] | None = None,
    event_key: str | None = None,
    preempts: str | None = None,
    route: Sequence[str] = (),
    depot_id: str | None = None,
    audit: Audit | None = None,
) -> dict[str, Any]:
    """Assign the order to ``engineer_id`` unless its status or engineer changed since
    ``snapshot`` was read (raises :class:`Changed`). With ``preempts``, that order (a P4
    on the same engineer's route, not yet en route) first goes back to ``new``. With
    ``route`` (the engineer's new sequence), that becomes their stored route order;
    without, the order goes to the end of their route. With ``depot_id``, the parts the
    van lacks are booked for pickup there (:func:`book_pickup`). ``audit`` is written
    with the change, with the engineer and the pre-empted order added to its details."""
    oid = str(snapshot["id"])
    async with conn.transaction():
        now = await get_order(conn, oid, lock=True)
        if (now["status"], now["engineer_id"]) != (snapshot["status"], snapshot["engineer_id"]):
            raise Changed(f"work order {oid} changed meanwhile (now {now['status']})")
        if preempts is not None:
            victim = await get_order(conn, preempts, lock=True)
            if (victim["engineer_id"] != engineer_id or victim["priority"] != Priority.P4.value
                    or Status(victim["status"]) not in PREEMPTABLE):
                raise Changed(f"work order {preempts} can no longer be pre-empted")
            await transition_order(
                preempts, Status.REJECTED, conn=conn, publisher=publisher, actor=actor,
                ts_ms=now_ms, reason=f"pre-empted by {snapshot['priority']} order {oid}; "
                "back to dispatch", details={"preempted_by": oid})
        pickup = None if depot_id is None else await book_pickup(conn, now, engineer_id,
                                                                 depot_id)
        row = await transition_order(
            oid, Status.ASSIGNED, conn=conn, publisher=publisher, actor=actor,
            engineer_id=engineer_id, ts_ms=now_ms, event_key=event_key, reason=reason,
            details={"previous_engineer": snapshot["engineer_id"], **(details or {}),
                     **({"preempted": preempts} if preempts else {})}, pickup=pickup)
        if route:
            row["route_seq"] = (await store_route(conn, engineer_id, route)).get(oid)
        if preempts is not None:
            await publisher.to_engineer(engineer_id, Withdrawn(
                work_order_id=preempts,
                reason=f"pre-empted by {snapshot['priority']} order {oid}"))
        if audit is not None:
            await publisher.audit(replace(audit, entity_id=oid, details={
                **audit.details, "engineer_id": engineer_id, "preempted": preempts}))
    return row


