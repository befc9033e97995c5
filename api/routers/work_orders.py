"""Work orders: create, list, read, move through the lifecycle, event history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from api.access import order_for, order_scope
from api.auth import Reader, Requester, Staff, StaffOrEngineer
from api.deps import ConnDep, PublisherDep, audit_of
from api.listing import Page, PagingDep, TimeRangeDep
from api.schemas import Body, Ident, Name, Skill, Text, client_event_time
from api.scopes import arrival, check_customer_scope, check_requester
from models.workorder import Priority, Status
from services.transitions import transition_order
from services.workorders import NewOrder, create_order, update_order
from store.orders import page_events, page_orders
from store.scopes import flag_unverified_arrival

router = APIRouter(prefix="/api/v1/work-orders", tags=["work-orders"])

# What an engineer may do to their own order; staff may do everything.
ENGINEER_TARGETS = frozenset(
    {
        Status.ACCEPTED,
        Status.REJECTED,
        Status.EN_ROUTE,
        Status.ON_SITE,
        Status.IN_PROGRESS,
        Status.WAITING_PARTS,
        Status.COMPLETED,
    }
)


class WorkOrderIn(Body):
    title: Name
    description: Text = ""
    priority: Priority = Priority.P3
    order_type: Ident = "repair"
    customer_id: Ident | None = None
    site_id: Ident | None = None
    asset_id: Ident | None = None
    required_skills: list[Skill] = Field(default_factory=list, max_length=20)
    required_parts: dict[Ident, int] = Field(default_factory=dict, max_length=50)
    sla_due: datetime | None = Field(
        default=None, description="default: now + the SLA target of the customer's tier and"
        " the order's priority (services.sla)")
    window_start: AwareDatetime | None = Field(
        default=None, description="appointment window: service starts no earlier than this")
    window_end: AwareDatetime | None = Field(
        default=None, description="appointment window: service starts no later than this")
    source: Literal["manual", "customer_request"] = "manual"
    idempotency_key: Text | None = None

    @model_validator(mode="after")
    def _window(self) -> WorkOrderIn:
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self


class WorkOrderPatch(Body):
    """Fields left out stay as they are; ``null`` clears a window end or the SLA due."""

    title: Name | None = None
    description: Text | None = None
    priority: Priority | None = None
    required_skills: list[Skill] | None = Field(default=None, max_length=20)
    required_parts: dict[Ident, int] | None = Field(default=None, max_length=50)
    sla_due: AwareDatetime | None = None
    window_start: AwareDatetime | None = None
    window_end: AwareDatetime | None = None

    @model_validator(mode="after")
    def _not_null(self) -> WorkOrderPatch:
        nulled = [f for f in ("title", "description", "priority", "required_skills",
                              "required_parts") if f in self.model_fields_set
                  and getattr(self, f) is None]
        if nulled:
            raise ValueError(f"{', '.join(nulled)} cannot be null")
        if self.window_start and self.window_end and self.window_end <= self.window_start:
            raise ValueError("window_end must be after window_start")
        return self




class TransitionIn(Body):
    to: Status
    reason: Text = ""
    engineer_id: Ident | None = None
    ts: int | str | None = Field(
        default=None,
        description="event time of the move on the phone (epoch ms or ISO-8601), for moves "
        "made offline and synced later; default: now. At most 7 days back, 1 day ahead.",
    )
    idempotency_key: Ident | None = Field(
        default=None, description="the client's key for this move: a repeat (an offline "
        "outbox replaying) returns the order without moving it again")

    @field_validator("ts")
    @classmethod
    def _event_time(cls, value: int | str | None) -> int | None:
        return client_event_time(value)


class WorkOrderOut(BaseModel):
    id: str
    order_type: str
    status: str
    priority: str
    title: str
    description: str
    customer_id: str | None
    site_id: str | None
    asset_id: str | None
    engineer_id: str | None
    required_skills: list[str]
    required_parts: dict[str, Any]
    fault_type: str | None
    alert_id: int | None
    sla_due: datetime | None
    sla_breached: bool
    window_start: datetime | None
    window_end: datetime | None
    route_seq: int | None = Field(description="position in the engineer's route, set when "
                                  "the order is assigned")
    pickup_depot_id: str | None = Field(
        default=None, description="the depot dispatch booked for the parts the van lacks")
    pickup_parts: dict[str, int] | None = Field(
        default=None, description="the parts reserved there; cleared when collected at check-in")
    created_at: datetime
    updated_at: datetime
    assigned_at: datetime | None
    accepted_at: datetime | None
    en_route_at: datetime | None
    checkin_at: datetime | None
    completed_at: datetime | None
    signed_off_at: datetime | None
    closed_at: datetime | None
    signed_by: str | None
    rating: int | None
    feedback: str | None
    arrival_unverified: bool = Field(
        default=False, description="an engineer reported the arrival and the geofence did not "
        "see them enter the site near that time: the receive time counted for the SLA")


class EventOut(BaseModel):
    id: int
    work_order_id: str
    from_status: str | None
    to_status: str
    ts: datetime
    actor: str
    reason: str
    details: dict[str, Any]


@router.get("", response_model=Page[WorkOrderOut])
async def list_orders(  # noqa: PLR0917
    conn: ConnDep,
    p: Reader,
    page: PagingDep,
    rng: TimeRangeDep,
    status: Status | None = None,
    open_only: bool = False,
    priority: Priority | None = None,
    engineer_id: Ident | None = None,
    site_id: Ident | None = None,
    customer_id: Ident | None = None,
    asset_id: Ident | None = None,
) -> dict[str, Any]:
    """Filter by status, priority, engineer, site, customer, asset and created time."""
    return await page_orders(
        conn, page, rng, scope=order_scope(p), status=status, open_only=open_only,
        priority=priority, engineer_id=engineer_id, site_id=site_id, customer_id=customer_id,
        asset_id=asset_id)


@router.post("", response_model=WorkOrderOut, status_code=201)
async def create_work_order(
    body: WorkOrderIn,
    conn: ConnDep,
    publisher: PublisherDep,
    p: Requester,
    request: Request,
) -> dict[str, Any]:
    """Create an order by hand (dispatcher) or from a customer request (customer user:
    own sites and assets only, no priority or SLA of its choosing, a limited number
    open at once). ``idempotency_key`` is per requester."""
    body = check_requester(p, body)
    await check_customer_scope(conn, p, body,
                               request.app.state.settings.customer_open_requests_max)
    sla_due = body.sla_due  # None: the SLA rule (services.sla), tier x priority
    row, _created = await create_order(
        NewOrder(
            title=body.title,
            priority=body.priority,
            order_type=body.order_type,
            description=body.description,
            customer_id=body.customer_id,
            site_id=body.site_id,
            asset_id=body.asset_id,
            required_skills=tuple(body.required_skills),
            required_parts=body.required_parts,
            sla_due_ms=int(sla_due.timestamp() * 1000) if sla_due else None,
            window_start=body.window_start,
            window_end=body.window_end,
            idempotency_key=body.idempotency_key,
        ),
        conn=conn,
        publisher=publisher,
        actor=p.actor,
        audit=audit_of(p, "create", "work_order", "", body.model_dump(mode="json")),
    )
    return row


@router.get("/{work_order_id}", response_model=WorkOrderOut)
async def get_work_order(work_order_id: str, conn: ConnDep, p: Reader) -> dict[str, Any]:
    return await order_for(conn, p, work_order_id)


@router.patch("/{work_order_id}", response_model=WorkOrderOut)
async def update_work_order(
    work_order_id: str, body: WorkOrderPatch, conn: ConnDep, publisher: PublisherDep, p: Staff
) -> dict[str, Any]:
    """Change what the order asks for (409 once completed; 422 for an empty window).
    An assigned order keeps its engineer: ``POST .../assign`` re-dispatches it."""
    changes = body.model_dump(exclude_unset=True)
    return await update_order(
        work_order_id, changes, conn=conn, publisher=publisher, actor=p.actor,
        audit=audit_of(p, "update", "work_order", work_order_id,
                       body.model_dump(exclude_unset=True, mode="json")))


@router.post("/{work_order_id}/transitions", response_model=WorkOrderOut)
async def transition(  # noqa: PLR0917
    work_order_id: str,
    body: TransitionIn,
    conn: ConnDep,
    publisher: PublisherDep,
    p: StaffOrEngineer,
    request: Request,
) -> dict[str, Any]:
    """Move the order (409 when the lifecycle does not allow it). An engineer's reported
    arrival (``on_site``, maybe with a past ``ts``) counts for the SLA only when the
    geofence saw them enter the site near that time; otherwise the receive time counts
    and the order is flagged ``arrival_unverified``; a time before the assignment is 422."""
    await order_for(conn, p, work_order_id)
    unverified = False
    ts = body.ts if isinstance(body.ts, int) else None
    if not p.is_staff:
        if body.to not in ENGINEER_TARGETS:
            raise HTTPException(403, f"an engineer may not move an order to {body.to.value!r}")
        if body.engineer_id not in (None, p.engineer_id):
            raise HTTPException(403, "an engineer may not hand an order to someone else")
        if body.to == Status.ON_SITE and p.engineer_id:
            ts, unverified = await arrival(conn, request, work_order_id, p.engineer_id, ts)
    row = await transition_order(
        work_order_id,
        body.to,
        conn=conn,
        publisher=publisher,
        actor=p.actor,
        reason=body.reason,
        engineer_id=body.engineer_id,
        manual_on_site=True,
        ts_ms=ts,
        event_key=f"client:{work_order_id}:{body.idempotency_key}" if body.idempotency_key
        else None,
        audit=audit_of(p, "transition", "work_order", work_order_id,
                       {**body.model_dump(mode="json"), "arrival_unverified": unverified}),
    )
    if unverified:
        await flag_unverified_arrival(conn, work_order_id)
        row = {**row, "arrival_unverified": True}
    return row


@router.get("/{work_order_id}/events", response_model=Page[EventOut])
async def list_events(
    work_order_id: str, conn: ConnDep, p: Reader, page: PagingDep
) -> dict[str, Any]:
    await order_for(conn, p, work_order_id)
    return await page_events(conn, page, work_order_id)
