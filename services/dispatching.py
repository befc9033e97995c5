"""Auto-dispatch use-cases: rank engineers for an order (dispatch/) and assign the best.

Shared by the streams (every new alert order; the escalation timer's retry round) and the
API (``POST /api/v1/work-orders/{id}/assign``, ``GET /api/v1/work-orders/{id}/candidates``).
Ranks orders against the live picture (``services.picture``: engineers, lunch breaks, van
stock, last positions, open orders as routes, depots and their stock) and transitions
them to ``assigned`` through ``services.assigning.assign_if_unchanged``; an auto-assignment
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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection

from dispatch.assign import rank_candidates
from dispatch.types import Candidate, Visit
from models.travel import TravelModel, TravelTimes
from models.workorder import DomainError, Status
from services.assigning import Changed, Withdrawn, assign_if_unchanged
from services.dispatch_rules import manual_warnings, pool_for, why_nobody, window_missed
from services.order_events import Conflict, get_order
from services.picture import (
    DAY_MS,
    Picture,
    load_picture,
    order_rows,
    rejected_by,
    visit_of,
)
from services.publisher import Audit, Publisher
from store.sql import fetch_all as fetch_rows

__all__ = ["Changed", "NoEngineer", "NoSite", "Withdrawn", "assign_best", "assign_by_hand",
           "assign_candidate", "assign_if_unchanged", "auto_assign", "candidates_for",
           "manual_warnings", "pool_for", "rank_for_order", "rank_in", "why_nobody",
           "window_missed"]
ASSIGNABLE = frozenset({Status.NEW, Status.ASSIGNED})  # the lifecycle allows -> assigned


class NoEngineer(Conflict):
    """Nobody can take the order now (409); the message says why."""


class NoSite(Conflict):
    """The order has no site, so there is nowhere to send anyone (409)."""


def ensure_assignable(order: Mapping[str, Any]) -> None:
    """Raise ``Conflict`` (409) unless the lifecycle lets the order be (re)assigned."""
    if Status(order["status"]) not in ASSIGNABLE:
        raise Conflict(f"work order {order['id']} is {order['status']}: only new or assigned"
                       " orders can be (re)assigned")


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


async def assign_candidate(
    row: Mapping[str, Any], best: Candidate, *, conn: AsyncConnection[Any],
    publisher: Publisher, now_ms: int, actor: str, why: str, event_key: str | None,
    audit: Audit | None = None,
) -> dict[str, Any]:
    return await assign_if_unchanged(
        row, best.engineer_id, conn=conn, publisher=publisher, now_ms=now_ms, actor=actor,
        reason=f"{why}: " + "; ".join(best.reasons), event_key=event_key,
        details={"score": round(best.score, 1), "eta_s": best.eta_s,
                 **({"depot_id": best.depot_id} if best.depot_id else {})},
        preempts=best.preempts, route=best.route, depot_id=best.depot_id, audit=audit)


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
    audit: Audit | None = None,
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
                                      now_ms=now_ms, actor=actor, why=why, event_key=event_key,
                                      audit=audit)
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
    audit: Audit | None = None,
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
        reason="; ".join(reasons), details={"manual": True}, audit=audit)
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
