"""Auto-dispatch use-cases: rank engineers for an order (dispatch/) and assign the best.

Shared by the streams (every new alert order; the escalation timer's retry round) and the
API (``POST /api/v1/work-orders/{id}/assign``, ``GET /api/v1/work-orders/{id}/candidates``).
Ranks orders against the live picture (``services.picture``: engineers, lunch breaks, van
stock, last positions, open orders as routes, depots and their stock) and transitions
them to ``assigned`` through ``services.workorders.transition_order``; an auto-assignment
stores the chosen candidate's route as the engineer's route order (``route_seq``). Day
plans and routes are in ``services.planning``.

Engineers who rejected an order are never auto-assigned it again (a dispatcher still can,
by hand). When the chosen candidate pre-empts a P4 order (dispatch/assign.py: a P1 that
fits nobody's route may bump a P4 not yet en_route), that P4 goes back to ``new`` with
the reason, so it is dispatched again. The timer's retry round over many orders is
``services.dispatch_round``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from psycopg import AsyncConnection
from pydantic import BaseModel

from dispatch.assign import fmt_clock, missing_parts, rank_candidates, supplying_depots
from dispatch.types import DAY_S, PICKUP, Candidate, Depot, Engineer, Visit
from models.travel import TravelModel, TravelTimes
from models.workorder import DomainError, Priority, Status
from services.picture import (
    DAY_MS,
    Picture,
    later_day,
    load_picture,
    order_rows,
    rejected_by,
    store_route,
    visit_of,
)
from services.publisher import Publisher
from services.workorders import Conflict, get_order, transition_order
from store.sql import fetch_all as fetch_rows

PREEMPTABLE = frozenset({Status.ASSIGNED, Status.ACCEPTED})
ASSIGNABLE = frozenset({Status.NEW, Status.ASSIGNED})  # the lifecycle allows -> assigned


class NoEngineer(Conflict):
    """Nobody can take the order now (409); the message says why."""


class NoSite(Conflict):
    """The order has no site, so there is nowhere to send anyone (409)."""


class Changed(Conflict):
    """The order (or the one to pre-empt) changed since the picture was loaded (409)."""


class Withdrawn(BaseModel):
    """What an engineer's phone receives when an order is taken off their route."""

    type: str = "withdrawn"
    work_order_id: str
    reason: str


def ensure_assignable(order: Mapping[str, Any]) -> None:
    """Raise ``Conflict`` (409) unless the lifecycle lets the order be (re)assigned."""
    if Status(order["status"]) not in ASSIGNABLE:
        raise Conflict(f"work order {order['id']} is {order['status']}: only new or assigned"
                       " orders can be (re)assigned")


# --- pure helpers -------------------------------------------------------------------


def pool_for(order_id: str, engineers: Iterable[Engineer],
             exclude: frozenset[str] = frozenset()) -> list[Engineer]:
    """The engineers to rank ``order_id`` against: minus ``exclude``, and with the order
    itself (and its booked pickup) taken off any route (re-dispatching an order that is
    already assigned)."""
    gone = {order_id, PICKUP + order_id}
    return [replace(e, route=tuple(i for i in e.route if i not in gone))
            if order_id in e.route else e for e in engineers if e.id not in exclude]


def window_missed(order: Visit, now_s: int, day: str | None = None) -> str | None:
    """Why nobody can meet the order's appointment window today (or on ``day``, a date
    from ``now_s`` on), when that is so."""
    if later_day(order):
        return (f"its appointment window starts after {day}" if day else
                "its appointment window starts on a later day (it is dispatched on that day,"
                " or plan that day)")
    if order.window_end_s <= 0:
        return (f"its appointment window ends before {day}" if day else
                "its appointment window ended before today")
    if order.window_end_s < now_s:
        return f"its appointment window ended at {fmt_clock(order.window_end_s)} UTC"
    return None


def why_nobody(order: Visit, engineers: Sequence[Engineer], now_s: int,
               exclude: frozenset[str] = frozenset(), depots: Sequence[Depot] = ()) -> str:
    """A dispatcher-readable reason why no engineer can take ``order`` now."""
    skilled = [e for e in engineers if order.skills <= e.skills]
    excluded = [e for e in skilled if e.id in exclude]
    skills = ", ".join(sorted(order.skills)) or "no special skills"
    note = f" ({len(excluded)} excluded: rejected it or not accepted in time)" if excluded else ""
    missed = window_missed(order, now_s)
    if missed is not None:
        return missed + note
    skilled = [e for e in skilled if e.id not in exclude]
    if not skilled:
        return f"no engineer has the skills it needs ({skills}){note}"
    online = [e for e in skilled if e.online]
    if not online:
        return f"{len(skilled)} engineer(s) have the skills ({skills}) but none is online{note}"
    on_shift = [e for e in online if e.shift_start_s <= now_s < e.shift_end_s]
    if not on_shift:
        return f"{len(online)} skilled engineer(s) online but none is on shift now{note}"
    stocked = [e for e in on_shift
               if not missing_parts(order.parts, e.van_stock)
               or supplying_depots(e, order, depots)]
    if not stocked:
        return (f"none of the {len(on_shift)} skilled engineer(s) on shift carries the parts "
                f"{dict(order.parts)} and no depot can supply them{note}")
    window = ("its time window" if (order.window_start_s, order.window_end_s) == (0, DAY_S)
              else f"its appointment window ({fmt_clock(order.window_start_s)}-"
              f"{fmt_clock(order.window_end_s)} UTC)")
    return (f"{len(stocked)} qualified engineer(s) on shift, but none can fit it into their "
            f"route within {window} and before their shift ends{note}")


def manual_warnings(order: Visit, e: Engineer | None, now_s: int) -> list[str]:
    """What a dispatcher should know when assigning ``order`` to ``e`` by hand."""
    missed = window_missed(order, now_s)
    out = [] if missed is None else [missed]
    if e is None:
        return [*out, "engineer has no home base or position: no ETA"]
    if not e.online:
        out.append("engineer is offline")
    if not e.shift_start_s <= now_s < e.shift_end_s:
        out.append("engineer is off shift now")
    missing = {p: q for p, q in order.parts.items() if e.van_stock.get(p, 0) < q}
    if missing:
        out.append(f"van lacks parts {missing}")
    return out


# --- ranking and assigning ----------------------------------------------------------


async def rank_in(picture: Picture, order: Visit, travel: TravelTimes,
                  exclude: frozenset[str] = frozenset()) -> list[Candidate]:
    """Rank ``order`` against ``picture`` (in a thread: OR-Tools must not block the loop);
    nobody when its appointment window cannot be met today."""
    if window_missed(order, picture.now_s) is not None:
        return []
    pool = pool_for(order.id, picture.engineers, exclude)
    return await asyncio.to_thread(
        rank_candidates, order, pool, picture.visits, travel, now_s=picture.now_s,
        depots=picture.depots_for(order.id))


async def rank_for_order(
    work_order_id: str,
    *,
    conn: AsyncConnection[Any],
    now_ms: int,
    travel: TravelTimes | None = None,
    exclude: frozenset[str] = frozenset(),
) -> list[Candidate]:
    """Ranked candidates for one order ([] when it has no site or nobody fits)."""
    row = (await order_rows(conn, [work_order_id])).get(work_order_id)
    if row is None:
        return []
    picture = await load_picture(conn, now_ms)
    return await rank_in(picture, visit_of(row, picture.day_start_ms),
                         travel or TravelModel(), exclude)


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
) -> dict[str, Any]:
    """Assign the order to ``engineer_id`` unless its status or engineer changed since
    ``snapshot`` was read (raises :class:`Changed`). With ``preempts``, that order (a P4
    on the same engineer's route, not yet en route) first goes back to ``new``. With
    ``route`` (the engineer's new sequence), that becomes their stored route order;
    without, the order goes to the end of their route. With ``depot_id``, the parts the
    van lacks are booked for pickup there (:func:`book_pickup`)."""
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
            work_order_id=preempts, reason=f"pre-empted by {snapshot['priority']} order {oid}"))
    return row


async def assign_candidate(
    row: Mapping[str, Any], best: Candidate, *, conn: AsyncConnection[Any],
    publisher: Publisher, now_ms: int, actor: str, why: str, event_key: str | None,
) -> dict[str, Any]:
    return await assign_if_unchanged(
        row, best.engineer_id, conn=conn, publisher=publisher, now_ms=now_ms, actor=actor,
        reason=f"{why}: " + "; ".join(best.reasons), event_key=event_key,
        details={"score": round(best.score, 1), "eta_s": best.eta_s,
                 **({"depot_id": best.depot_id} if best.depot_id else {})},
        preempts=best.preempts, route=best.route, depot_id=best.depot_id)


async def assign_best(
    work_order_id: str,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    now_ms: int,
    actor: str,
    travel: TravelTimes | None = None,
    exclude: frozenset[str] = frozenset(),
    event_key: str | None = None,
    why: str = "auto-dispatch",
) -> tuple[Candidate, dict[str, Any]]:
    """Assign the best-ranked engineer (never one who rejected the order); returns the
    candidate and the updated order. Raises :class:`NoEngineer` (409) saying why nobody
    fits, ``NotFound`` (404) for an unknown order, ``Conflict`` when it has no site."""
    order = await get_order(conn, work_order_id)
    ensure_assignable(order)
    row = (await order_rows(conn, [work_order_id])).get(work_order_id)
    if row is None:
        raise NoSite(f"work order {work_order_id} has no site: nowhere to send anyone")
    picture = await load_picture(conn, now_ms)
    skip = exclude | await rejected_by(conn, work_order_id)
    visit = visit_of(row, picture.day_start_ms)
    candidates = await rank_in(picture, visit, travel or TravelModel(), skip)
    if not candidates:
        raise NoEngineer(f"no engineer can take work order {work_order_id} now: "
                         + why_nobody(visit, pool_for(visit.id, picture.engineers),
                                      picture.now_s, skip, picture.depots_for(visit.id)))
    best = candidates[0]
    updated = await assign_candidate(order, best, conn=conn, publisher=publisher,
                                      now_ms=now_ms, actor=actor, why=why, event_key=event_key)
    return best, updated


async def auto_assign(
    work_order_id: str,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    now_ms: int,
    actor: str,
    travel: TravelTimes | None = None,
    exclude: frozenset[str] = frozenset(),
    event_key: str | None = None,
    why: str = "auto-dispatch",
) -> Candidate | None:
    """Assign the best-ranked engineer; None (order stays as it is) when nobody fits.

    Engineers who rejected this order are never auto-assigned it again (a dispatcher
    still can, by hand), so a rejection cannot bounce back to the same phone.
    """
    try:
        best, _ = await assign_best(work_order_id, conn=conn, publisher=publisher,
                                    now_ms=now_ms, actor=actor, travel=travel,
                                    exclude=exclude, event_key=event_key, why=why)
    except (NoEngineer, NoSite):
        return None
    return best


# --- for the dispatcher: by hand, and the candidates ---------------------------------


class UnknownEngineer(DomainError):
    status_code = 422


class LacksSkills(Conflict):
    """The engineer lacks a skill the order requires (409)."""


@dataclass(frozen=True)
class ManualAssignment:
    order: dict[str, Any]
    reasons: list[str]
    candidate: Candidate | None  # how the order fits the engineer's route, if it does
    day_start_ms: int


async def assign_by_hand(
    work_order_id: str,
    engineer_id: str,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    now_ms: int,
    actor: str,
    note: str = "",
    travel: TravelTimes | None = None,
) -> ManualAssignment:
    """A dispatcher's choice: the engineer must exist (422) and have the skills (409);
    being offline, off shift, short of parts, a past rejecter or without room is allowed
    and listed in the reasons. Assigning the engineer who already has it changes nothing."""
    order = await get_order(conn, work_order_id)
    ensure_assignable(order)
    found = await fetch_rows(conn, "SELECT skills FROM engineers WHERE id = %s", (engineer_id,))
    if not found:
        raise UnknownEngineer(f"unknown engineer {engineer_id!r}")
    missing = sorted(set(order["required_skills"] or ()) - set(found[0]["skills"] or ()))
    if missing:
        raise LacksSkills(f"engineer {engineer_id} lacks the skill(s) {', '.join(missing)}"
                          f" that work order {work_order_id} requires")
    reasons = ["assigned by hand" + (f": {note}" if note else "")]
    fit: Candidate | None = None
    day_start = now_ms - now_ms % DAY_MS
    row = (await order_rows(conn, [work_order_id])).get(work_order_id)
    if row is not None:  # with a site: say what the assignment means for the route
        picture = await load_picture(conn, now_ms)
        visit = visit_of(row, picture.day_start_ms)
        e = next((x for x in picture.engineers if x.id == engineer_id), None)
        reasons += manual_warnings(visit, e, picture.now_s)
        if engineer_id in await rejected_by(conn, work_order_id):
            reasons.append("engineer rejected this order before")
        others = frozenset(x.id for x in picture.engineers if x.id != engineer_id)
        ranked = (await rank_in(picture, visit, travel or TravelModel(), others)
                  if e is not None and e.online else [])
        if ranked and ranked[0].preempts is None:  # by hand, nothing is pre-empted
            fit = ranked[0]
            reasons += list(fit.reasons)
        elif e is not None:
            reasons.append("does not fit the engineer's route within windows and shift end")
    if order["status"] == Status.ASSIGNED.value and order["engineer_id"] == engineer_id:
        return ManualAssignment(order, reasons, fit, day_start)  # already theirs
    updated = await assign_if_unchanged(
        order, engineer_id, conn=conn, publisher=publisher, now_ms=now_ms, actor=actor,
        reason="; ".join(reasons), details={"manual": True})
    return ManualAssignment(updated, reasons, fit, day_start)


RANKABLE = frozenset({Status.NEW, Status.ASSIGNED, Status.ACCEPTED})


@dataclass(frozen=True)
class CandidatesView:
    candidates: list[Candidate]
    rejected: frozenset[str]
    note: str | None  # why nobody fits, when nobody does
    day_start_ms: int


async def candidates_for(work_order_id: str, *, conn: AsyncConnection[Any], now_ms: int,
                         travel: TravelTimes | None = None) -> CandidatesView:
    """Everyone who could take the order now, best first (past rejecters included: the
    view flags them; auto-assignment skips them)."""
    order = await get_order(conn, work_order_id)
    if Status(order["status"]) not in RANKABLE:
        raise Conflict(f"work order {work_order_id} is {order['status']}: no longer dispatchable")
    row = (await order_rows(conn, [work_order_id])).get(work_order_id)
    if row is None:
        raise NoSite(f"work order {work_order_id} has no site: nowhere to send anyone")
    picture = await load_picture(conn, now_ms)
    visit = visit_of(row, picture.day_start_ms)
    ranked = await rank_in(picture, visit, travel or TravelModel())
    note = None if ranked else why_nobody(visit, pool_for(visit.id, picture.engineers),
                                          picture.now_s, depots=picture.depots_for(visit.id))
    return CandidatesView(ranked, await rejected_by(conn, work_order_id), note,
                          picture.day_start_ms)
