"""Dispatch: assign an order (auto or by hand), rank candidates, plan a day, an
engineer's route. The logic lives in ``services.dispatching`` / ``services.planning``."""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Staff, StaffOrEngineer, ensure_engineer_access
from api.deps import ConnDep, PublisherDep, audit_of
from api.routers.work_orders import WorkOrderOut
from api.schemas import Body, Ident, Text
from dispatch.types import pickup_for
from models.timeutil import now_ms
from services.dispatching import assign_best, assign_by_hand, candidates_for
from services.picture import DAY_MS
from services.planning import PlanResult, engineer_route, plan_day

router = APIRouter(tags=["dispatch"])

ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "no or invalid bearer token"},
    403: {"description": "role not allowed"},
    404: {"description": "unknown id"},
    409: {"description": "conflict (see message)"},
    422: {"description": "invalid body"},
}


def _at(day_start_ms: int, day_s: int) -> datetime:
    return datetime.fromtimestamp((day_start_ms + day_s * 1000) / 1000, UTC)


class AssignIn(Body):
    engineer_id: Ident | None = Field(
        default=None, description="assign this engineer; omit to auto-assign the best one")
    reason: Text = ""


class AssignOut(BaseModel):
    work_order: WorkOrderOut
    engineer_id: str
    mode: Literal["auto", "manual"]
    score: float | None = None
    eta: datetime | None = None
    reasons: list[str]
    preempted_work_order_id: str | None = None


class CandidateOut(BaseModel):
    engineer_id: str
    score: float
    eta: datetime
    travel_s: int
    insertion_cost_s: int
    reasons: list[str]
    route: list[str]
    preempts: str | None
    depot_id: str | None
    rejected_before: bool


class CandidatesOut(BaseModel):
    work_order_id: str
    candidates: list[CandidateOut]
    note: str | None = Field(default=None, description="why nobody fits, when nobody does")


@router.post("/api/v1/work-orders/{work_order_id}/assign", response_model=AssignOut,
             tags=["work-orders"], responses=ERRORS)
async def assign(
    work_order_id: str,
    conn: ConnDep,
    publisher: PublisherDep,
    p: Staff,
    body: AssignIn | None = None,
) -> dict[str, Any]:
    """Assign the order: to ``engineer_id`` (must have the skills; a dispatcher may
    override availability and rejections, with warnings), or else to the best-ranked
    engineer (409 saying why when nobody fits; pre-empts a P4 if that is what it takes)."""
    body = body or AssignIn()
    now = now_ms()
    if body.engineer_id is None:
        why = "auto-assigned by dispatcher" + (f" ({body.reason})" if body.reason else "")
        best, row = await assign_best(work_order_id, conn=conn, publisher=publisher,
                                      now_ms=now, actor=p.actor, why=why,
                                      audit=audit_of(p, "assign", "work_order", work_order_id,
                                                     {"mode": "auto"}))
        out: dict[str, Any] = {
            "work_order": row, "engineer_id": best.engineer_id, "mode": "auto",
            "score": best.score, "eta": _at(now - now % DAY_MS, best.eta_s),
            "reasons": list(best.reasons), "preempted_work_order_id": best.preempts}
    else:
        done = await assign_by_hand(work_order_id, body.engineer_id, conn=conn,
                                    publisher=publisher, now_ms=now, actor=p.actor,
                                    note=body.reason,
                                    audit=audit_of(p, "assign", "work_order", work_order_id,
                                                   {"mode": "manual"}))
        fit = done.candidate
        out = {"work_order": done.order, "engineer_id": body.engineer_id, "mode": "manual",
               "score": fit.score if fit else None,
               "eta": _at(done.day_start_ms, fit.eta_s) if fit else None,
               "reasons": done.reasons, "preempted_work_order_id": None}
    return out


@router.get("/api/v1/work-orders/{work_order_id}/candidates", response_model=CandidatesOut,
            tags=["work-orders"], responses=ERRORS)
async def candidates(work_order_id: str, conn: ConnDep, p: Staff) -> dict[str, Any]:
    """Engineers who could take the order now, best first, with the reasons for each
    score. Engineers who rejected it are listed (flagged) but never auto-assigned it."""
    view = await candidates_for(work_order_id, conn=conn, now_ms=now_ms())
    return {"work_order_id": work_order_id, "note": view.note, "candidates": [
        {"engineer_id": c.engineer_id, "score": c.score,
         "eta": _at(view.day_start_ms, c.eta_s), "travel_s": c.travel_s,
         "insertion_cost_s": c.insertion_cost_s, "reasons": list(c.reasons),
         "route": list(c.route), "preempts": c.preempts, "depot_id": c.depot_id,
         "rejected_before": c.engineer_id in view.rejected} for c in view.candidates]}


# --- day plan -----------------------------------------------------------------------


class PlanIn(Body):
    date: dt.date | None = Field(default=None, description="planning day (UTC); default today")
    work_order_ids: list[Ident] | None = Field(
        default=None, min_length=1, max_length=300,
        description="orders to plan; default: the open unassigned orders (up to 300)")
    time_limit_s: float = Field(default=2.0, gt=0, le=30, description="solver time limit")
    apply: bool = Field(default=False, description="assign the planned orders in route order")


class PlanStopOut(BaseModel):
    kind: Literal["visit", "pickup"] = Field(
        default="visit", description="a work-order visit, or collecting its parts at a depot")
    work_order_id: str = Field(description="the order visited (a pickup: the order it serves)")
    depot_id: str | None = None
    arrival: datetime
    start: datetime
    departure: datetime
    priority: str
    status: str
    held: bool = Field(description="already on this engineer's route before the plan")


class PlanRouteOut(BaseModel):
    engineer_id: str
    start: datetime
    end: datetime
    travel_s: int
    stops: list[PlanStopOut]


class UnassignedOut(BaseModel):
    work_order_id: str
    reason: str


class AppliedOut(BaseModel):
    work_order_id: str
    engineer_id: str | None = None
    message: str | None = None


class PlanOut(BaseModel):
    date: dt.date
    planned: list[str] = Field(description="the orders this plan was asked to place")
    routes: list[PlanRouteOut]
    unassigned: list[UnassignedOut]
    applied: bool
    assigned: list[AppliedOut]
    apply_errors: list[AppliedOut]


def _plan_stop(res: PlanResult, visit_id: str, targets: set[str]) -> dict[str, Any]:
    served = pickup_for(visit_id)
    order = res.orders[served or visit_id]
    return {"work_order_id": order["id"], "priority": order["priority"],
            "status": order["status"], "held": order["id"] not in targets,
            **({"kind": "pickup", "depot_id": res.plan.pickups[order["id"]]} if served else {})}


@router.post("/api/v1/dispatch/plan", response_model=PlanOut, responses=ERRORS)
async def plan(body: PlanIn, conn: ConnDep, publisher: PublisherDep, p: Staff) -> dict[str, Any]:
    """Plan a set of orders for a day (VRPTW: skills, parts, windows, shifts, priorities;
    orders engineers already hold stay theirs). Changes nothing unless ``apply``."""
    now = now_ms()
    day = body.date or datetime.fromtimestamp(now / 1000, UTC).date()
    res = await plan_day(conn=conn, publisher=publisher, day=day, now_ms=now,
                         order_ids=body.work_order_ids, time_limit_s=body.time_limit_s,
                         apply=body.apply, actor=p.actor,
                         audit=audit_of(p, "plan", "dispatch", day.isoformat()))
    targets = set(res.targets)
    routes = [
        {"engineer_id": eid, "start": res.at(r.start_s), "end": res.at(r.end_s),
         "travel_s": r.travel_s, "stops": [
             _plan_stop(res, s.visit_id, targets) | {
                 "arrival": res.at(s.arrival_s), "start": res.at(s.start_s),
                 "departure": res.at(s.departure_s)} for s in r.stops]}
        for eid, r in sorted(res.plan.routes.items()) if r.stops]
    return {"date": day, "planned": list(res.targets), "routes": routes,
            "unassigned": [{"work_order_id": k, "reason": v}
                           for k, v in sorted(res.plan.unassigned.items())],
            "applied": body.apply,
            "assigned": [{"work_order_id": k, "engineer_id": v} for k, v in res.assigned.items()],
            "apply_errors": [{"work_order_id": k, "message": v}
                             for k, v in res.apply_errors.items()]}


# --- an engineer's route ------------------------------------------------------------


class RouteStopOut(BaseModel):
    sequence: int
    kind: Literal["visit", "pickup"] = Field(
        default="visit", description="a work-order visit, or a depot pickup booked for it")
    work_order_id: str = Field(description="the order visited (a pickup: the order it serves)")
    depot_id: str | None = None
    parts: dict[str, int] | None = Field(default=None, description="a pickup's parts")
    title: str
    status: str
    priority: str
    site_id: str | None
    lat: float
    lon: float
    sla_due: datetime | None
    arrival: datetime | None
    eta: datetime | None = Field(description="service start (after any wait for the window)")
    departure: datetime | None
    late: bool


class EngineerRouteOut(BaseModel):
    engineer_id: str
    generated_at: datetime
    online: bool
    start_from: str | None = Field(description="position (last fix), home, or none known")
    start_lat: float | None
    start_lon: float | None
    back_home: datetime | None
    stops: list[RouteStopOut]


@router.get("/api/v1/engineers/{engineer_id}/route", response_model=EngineerRouteOut,
            tags=["engineers"], responses=ERRORS)
async def route(engineer_id: str, conn: ConnDep, p: StaffOrEngineer) -> dict[str, Any]:
    """The engineer's open orders in route order (frozen ones first, then the order
    dispatch chose, then as assigned) with ETAs from where they are now; orders booked for
    a later day come last, without times. An engineer may read only their own route."""
    ensure_engineer_access(p, engineer_id)
    r = await engineer_route(conn, engineer_id, now_ms=now_ms())
    stops = []
    for k, vid in enumerate(r.sequence, 1):
        served = pickup_for(vid)
        o = r.orders[served or vid]
        t = r.stops.get(vid)
        where = ({"kind": "pickup", "depot_id": o["pickup_depot"], "parts": o["pickup_parts"],
                  "title": f"collect parts at depot {o['pickup_depot']} for: {o['title']}",
                  "site_id": None, "lat": o["pickup_lat"], "lon": o["pickup_lon"],
                  "sla_due": None}
                 if served else {"title": o["title"], "site_id": o["site_id"], "lat": o["lat"],
                                 "lon": o["lon"], "sla_due": o["sla_due"]})
        stops.append({
            "sequence": k, "work_order_id": o["id"], "status": o["status"],
            "priority": o["priority"], **where,
            "arrival": _at(r.day_start_ms, t.arrival_s) if t else None,
            "eta": _at(r.day_start_ms, t.start_s) if t else None,
            "departure": _at(r.day_start_ms, t.departure_s) if t else None,
            "late": bool(t and t.late)})
    return {"engineer_id": engineer_id,
            "generated_at": datetime.fromtimestamp(r.now_ms / 1000, UTC),
            "online": r.online, "start_from": r.start_from,
            "start_lat": r.start[0] if r.start else None,
            "start_lon": r.start[1] if r.start else None,
            "back_home": _at(r.day_start_ms, r.home_s) if r.home_s is not None else None,
            "stops": stops}
