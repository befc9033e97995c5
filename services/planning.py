"""Day planning and engineers' routes for the API (``POST /api/v1/dispatch/plan``,
``GET /api/v1/engineers/{id}/route``), on top of ``dispatch.plan`` and the live picture
loaded by :mod:`services.dispatching`.

A plan for *today* starts from now: online engineers from their live position, with the
orders they already hold pinned to them (en_route/on_site ones frozen at the head of the
route). A plan for a later day starts every engineer at home at shift start with an
empty route. A plan changes nothing unless applied: then each planned order is assigned
in route order through ``transition_order``, unless it changed meanwhile, and each
engineer's route order (``route_seq``) becomes the plan's: for today the whole route,
for a later day after the orders they already hold.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from typing import Any

from psycopg import AsyncConnection

from dispatch.plan import PlanOptions, plan_routes
from dispatch.routecost import Leg, schedule
from dispatch.types import Engineer, Plan, Visit, is_order
from models.travel import TravelModel, TravelTimes
from models.workorder import DomainError, Status
from services.dispatching import Changed, assign_if_unchanged, window_missed
from services.order_events import Conflict, NotFound
from services.picture import (
    DAY_MS,
    load_depots,
    load_engineers,
    order_rows,
    rejected_by_many,
    route_ids,
    store_route,
    visit_of,
)
from services.publisher import Audit, Publisher
from store.sql import fetch_all as fetch_rows

PLANNABLE = frozenset({Status.NEW, Status.ASSIGNED})
MAX_PLAN_ORDERS = 300


class InvalidPlan(DomainError):
    status_code = 422


@dataclass(frozen=True)
class TimedStop:
    """One stop of a timed route (seconds of the planning day)."""

    visit_id: str
    arrival_s: int
    start_s: int
    departure_s: int
    late: bool


def timed_route(e: Engineer, stops: Sequence[Visit], now_s: int,
                travel: TravelTimes) -> tuple[list[TimedStop], int]:
    """Arrival, service start and departure of each stop when ``e`` drives ``stops`` in
    order from where they are now; and when they are back home (pure)."""
    leg = Leg(travel)
    sched = schedule(e, stops, now_s, leg)
    here, free = e.position or e.home, max(now_s, e.shift_start_s, e.available_s or 0)
    out: list[TimedStop] = []
    for v in stops:
        start = sched.starts[v.id]
        arrival = min(start, free + leg(here, v.point))
        out.append(TimedStop(v.id, arrival, start, start + v.service_s, v.id in sched.late))
        here, free = v.point, start + v.service_s
    return out, sched.home_s


def sunk_sla_cleared(visits: Sequence[Visit], start_s: int) -> list[Visit]:
    """SLA due times before the plan starts moved up to its start: lateness already
    incurred is a constant that must not outweigh a drop penalty (a P4 overdue by hours
    would otherwise be dropped although engineers are free), while serving it sooner
    still costs less."""
    return [replace(v, sla_due_s=start_s) if v.sla_due_s is not None and v.sla_due_s < start_s
            else v for v in visits]


def relevant(fleet: Sequence[Engineer], visits: Sequence[Visit]) -> list[Engineer]:
    """Engineers who may matter to the plan: holding one of the visits, or sharing a
    skill with one (every engineer, if a visit needs none). The others would only get
    empty routes, and leaving them out keeps the model small on a big roster without
    changing any reason given for an unassigned visit."""
    needs = [v.skills for v in visits]
    holders = {v.engineer_id for v in visits}
    if any(not n for n in needs):
        return list(fleet)
    return [e for e in fleet if e.id in holders or any(n & e.skills for n in needs)]


@dataclass
class PlanResult:
    day: date
    day_start_ms: int
    plan: Plan
    targets: tuple[str, ...]
    orders: Mapping[str, Mapping[str, Any]]
    assigned: dict[str, str] = field(default_factory=dict)
    apply_errors: dict[str, str] = field(default_factory=dict)

    def at(self, day_s: int) -> datetime:
        return datetime.fromtimestamp((self.day_start_ms + day_s * 1000) / 1000, UTC)


async def _targets(conn: AsyncConnection[Any],
                   ids: Sequence[str] | None) -> dict[str, dict[str, Any]]:
    if ids is None:
        found = await fetch_rows(
            conn, "SELECT id FROM work_orders WHERE status = 'new' AND site_id IS NOT NULL"
            " ORDER BY priority, created_at, id LIMIT %s", (MAX_PLAN_ORDERS,))
        return await order_rows(conn, [r["id"] for r in found])
    ids = list(dict.fromkeys(ids))
    known = {r["id"]: r for r in await fetch_rows(
        conn, "SELECT id, status, site_id FROM work_orders WHERE id = ANY(%s)", (ids,))}
    missing = [i for i in ids if i not in known]
    if missing:
        raise NotFound(f"unknown work order(s): {', '.join(missing)}")
    bad = [f"{i} ({known[i]['status']})" for i in ids
           if Status(known[i]["status"]) not in PLANNABLE]
    if bad:
        raise Conflict("only new or assigned orders can be planned: " + ", ".join(bad))
    nosite = [i for i in ids if known[i]["site_id"] is None]
    if nosite:
        raise Conflict(f"work order(s) without a site cannot be planned: {', '.join(nosite)}")
    return await order_rows(conn, ids)


async def plan_day(
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    day: date,
    now_ms: int,
    order_ids: Sequence[str] | None,
    time_limit_s: float,
    apply: bool,
    actor: str,
    travel: TravelTimes | None = None,
    audit: Audit | None = None,
) -> PlanResult:
    """Plan ``order_ids`` (default: the open unassigned orders) for ``day``. Applying it
    is one unit of work per order (each assignment commits with its side effects), then
    ``audit`` records the plan with what it assigned."""
    today = datetime.fromtimestamp(now_ms / 1000, UTC).date()
    if day < today:
        raise InvalidPlan(f"cannot plan {day.isoformat()}: it is in the past")
    day_start = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp() * 1000)
    rows = await _targets(conn, order_ids)
    targets = [visit_of(r, day_start) for r in rows.values()]
    free = [replace(v, engineer_id=None, status=Status.NEW) for v in targets]
    now_s = (now_ms - day_start) // 1000 if day == today else None
    engineers, route_visits = await load_engineers(conn, day_start, now_s=now_s)
    target_ids = {v.id for v in targets}
    if day == today:
        fleet = [replace(e, route=tuple(i for i in e.route if i not in target_ids))
                 for e in engineers if e.online]
        held = [route_visits[i] for e in fleet for i in e.route]
    else:  # a later day: everyone at home at shift start, nothing held yet
        fleet = [replace(e, online=True, position=None, route=()) for e in engineers]
        held = []
    opt = PlanOptions(time_limit_s=time_limit_s, now_s=now_s, day_start_ms=day_start)
    later = None if day == today else day.isoformat()
    missed = {v.id: why for v in free
              if (why := window_missed(v, now_s or 0, later)) is not None}
    visits = sunk_sla_cleared([*held, *(v for v in free if v.id not in missed)], now_s or 0)
    depots, _ = await load_depots(conn)
    plan = await asyncio.to_thread(plan_routes, relevant(fleet, visits), visits,
                                   travel or TravelModel(), opt, depots)
    plan = replace(plan, unassigned={**plan.unassigned, **missed})
    held_rows = await order_rows(conn, [v.id for v in held])
    result = PlanResult(day, day_start, plan, tuple(sorted(target_ids, key=lambda i: (
        rows[i]["priority"], rows[i]["created_at"], i))), {**held_rows, **rows})
    if apply:
        await _apply(result, rows, conn=conn, publisher=publisher, now_ms=now_ms, actor=actor)
        if audit is not None:
            async with conn.transaction():
                await publisher.audit(replace(audit, details={
                    **audit.details, "orders": len(target_ids), "assigned": result.assigned}))
    return result


async def _apply(result: PlanResult, rows: Mapping[str, Mapping[str, Any]], *,
                 conn: AsyncConnection[Any], publisher: Publisher, now_ms: int,
                 actor: str) -> None:
    rejecters = await rejected_by_many(conn, list(rows))
    today = result.day == datetime.fromtimestamp(now_ms / 1000, UTC).date()
    for eid in sorted(result.plan.routes):
        stops = result.plan.routes[eid].stops
        orders = [s for s in stops if is_order(s.visit_id)]
        for k, stop in enumerate(orders, 1):
            row = rows.get(stop.visit_id)
            if row is None or row["engineer_id"] == eid:
                continue
            if eid in rejecters.get(stop.visit_id, frozenset()):
                result.apply_errors[stop.visit_id] = (
                    f"not assigned: engineer {eid} rejected it before (assign by hand to insist)")
                continue
            depot = result.plan.pickups.get(stop.visit_id)
            try:
                await assign_if_unchanged(
                    row, eid, conn=conn, publisher=publisher, now_ms=now_ms, actor=actor,
                    reason=f"day plan {result.day.isoformat()}: stop {k} of {len(orders)},"
                    f" service at {result.at(stop.start_s):%H:%M} UTC"
                    + (f", collecting parts at {depot} first" if depot else ""),
                    details={"plan": result.day.isoformat(), "stop": k,
                             **({"depot_id": depot} if depot else {})}, depot_id=depot)
            except (Changed, DomainError) as exc:
                result.apply_errors[stop.visit_id] = str(exc)
            else:
                result.assigned[stop.visit_id] = eid
        if orders:  # today: the plan is the whole route; a later day: after what they hold
            await store_route(conn, eid, [s.visit_id for s in orders], first=today)


@dataclass(frozen=True)
class EngineerRoute:
    """``sequence``: today's route (orders and booked depot pickups ``pickup:<order>``),
    then the orders held for a later day; ``stops`` times today's route; ``orders`` are
    the order rows by id (with the booked pickup's depot)."""

    engineer_id: str
    now_ms: int
    online: bool
    start: tuple[float, float] | None
    start_from: str | None
    sequence: Sequence[str]
    orders: Mapping[str, Mapping[str, Any]]
    stops: Mapping[str, TimedStop]
    home_s: int | None

    @property
    def day_start_ms(self) -> int:
        return self.now_ms - self.now_ms % DAY_MS


async def engineer_route(conn: AsyncConnection[Any], engineer_id: str, *, now_ms: int,
                         travel: TravelTimes | None = None) -> EngineerRoute:
    """The engineer's open orders in route order, today's timed from their position now
    (orders held for a later day follow, untimed)."""
    found = await fetch_rows(conn, "SELECT id, status FROM engineers WHERE id = %s",
                             (engineer_id,))
    if not found:
        raise NotFound(f"engineer {engineer_id!r} not found")
    day_start = now_ms - now_ms % DAY_MS
    engineers, visits = await load_engineers(conn, day_start, only=[engineer_id],
                                             pickups=True, now_s=(now_ms - day_start) // 1000)
    if not engineers:  # no home base and no fix yet: the orders, without times
        held = await route_ids(conn, engineer_id)
        rows = await order_rows(conn, held)
        return EngineerRoute(engineer_id, now_ms, found[0]["status"] == "online", None, None,
                             [i for i in held if i in rows], rows, {}, None)
    e = engineers[0]
    timed, home_s = timed_route(e, [visits[i] for i in e.route], (now_ms - day_start) // 1000,
                                travel or TravelModel())
    ids = [*e.route, *(i for i in visits if i not in e.route)]
    rows = await order_rows(conn, [i for i in ids if is_order(i)])
    return EngineerRoute(engineer_id, now_ms, e.online, e.position or e.home,
                         "position" if e.position else "home", ids, rows,
                         {t.visit_id: t for t in timed}, home_s)
