"""Per-order sub-resources: checklist, parts used, sign-off, rating, ETA, tracking token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field, field_validator

from api.access import order_for
from api.auth import Reader, Staff, StaffOrEngineer
from api.deps import ConnDep, PublisherDep, audit_of
from api.routers.work_orders import WorkOrderOut
from api.schemas import Body, Ident, Name, Text, client_event_time
from services.checklists import checklist, save_answers
from services.order_events import Conflict
from services.order_items import issue_tracking_token
from services.parts import use_part
from services.transitions import checklist_complete, rate_order
from services.transitions import sign_off as sign_off_order
from store.orders import latest_eta, parts_used

router = APIRouter(prefix="/api/v1/work-orders", tags=["work-orders"])


class ChecklistOut(BaseModel):
    work_order_id: str
    order_type: str
    complete: bool
    items: list[dict[str, Any]]


class ChecklistIn(Body):
    answers: dict[Ident, Any] = Field(
        max_length=100,
        description="item id -> value: bool (checkbox), number (within min/max), or"
        " an attachment id of this order and kind (photo, signature)",
    )


class PartUseIn(Body):
    part_id: Ident
    qty: int = Field(default=1, ge=1, le=10_000)
    engineer_id: Ident | None = Field(default=None, description="default: the order's engineer")
    ts: int | str | None = Field(
        default=None, description="when it was used, on the phone (epoch ms or ISO-8601; "
        "default: now). A repeat with the same part, qty and ts (an offline outbox "
        "replaying) returns the first use instead of taking the parts again.")

    @field_validator("ts")
    @classmethod
    def _event_time(cls, value: int | str | None) -> int | None:
        return client_event_time(value)


class PartUseOut(BaseModel):
    id: int
    work_order_id: str
    part_id: str
    qty: int
    engineer_id: str | None
    used_at: datetime
    stock_left: int | None = None
    low_stock_alert: bool = False


class SignOffIn(Body):
    signed_by: Name
    reason: Text = ""


class RatingIn(Body):
    rating: int = Field(ge=1, le=5)
    feedback: Text = ""


class EtaOut(BaseModel):
    work_order_id: str
    engineer_id: str
    ts: datetime
    eta: datetime
    remaining_m: float
    speed_mps: float
    confidence: float
    late_by_s: float | None


class TrackingTokenIn(Body):
    expires_in_hours: int = Field(default=72, ge=1, le=24 * 90)


class TrackingTokenOut(BaseModel):
    token: str
    url: str
    expires_at: datetime


async def _checklist(conn: ConnDep, order: dict[str, Any]) -> dict[str, Any]:
    return {
        "work_order_id": order["id"],
        "order_type": order["order_type"],
        "complete": await checklist_complete(conn, order),
        "items": await checklist(conn, order),
    }


@router.get("/{work_order_id}/checklist", response_model=ChecklistOut)
async def get_checklist(
    work_order_id: str, conn: ConnDep, p: StaffOrEngineer
) -> dict[str, Any]:
    return await _checklist(conn, await order_for(conn, p, work_order_id))


@router.put("/{work_order_id}/checklist", response_model=ChecklistOut)
async def put_checklist(
    work_order_id: str, body: ChecklistIn, conn: ConnDep, publisher: PublisherDep,
    p: StaffOrEngineer,
) -> dict[str, Any]:
    """Answer items (merged with earlier answers); required items gate completion."""
    order = await order_for(conn, p, work_order_id)
    await save_answers(conn, order, body.answers, actor=p.actor, at=datetime.now(UTC),
                       publisher=publisher, audit=audit_of(
                           p, "checklist", "work_order", work_order_id,
                           {"items": list(body.answers)}))
    return await _checklist(conn, order)


@router.get("/{work_order_id}/parts", response_model=list[PartUseOut])
async def list_parts_used(
    work_order_id: str, conn: ConnDep, p: StaffOrEngineer
) -> list[dict[str, Any]]:
    await order_for(conn, p, work_order_id)
    return await parts_used(conn, work_order_id)


@router.post("/{work_order_id}/parts", response_model=PartUseOut, status_code=201)
async def use_parts(
    work_order_id: str,
    body: PartUseIn,
    conn: ConnDep,
    publisher: PublisherDep,
    p: StaffOrEngineer,
) -> dict[str, Any]:
    """Take parts from the engineer's van stock (409 when the van does not hold enough)."""
    order = await order_for(conn, p, work_order_id)
    if order["status"] in ("closed", "cancelled", "signed_off"):
        raise Conflict(f"parts cannot be added to a {order['status']} order")
    if not p.is_staff and body.engineer_id not in (None, p.engineer_id):
        raise HTTPException(403, "an engineer uses parts from their own van only")
    return await use_part(
        order, body.part_id, body.qty, conn=conn, publisher=publisher,
        engineer_id=body.engineer_id, ts_ms=body.ts if isinstance(body.ts, int) else None,
        audit=audit_of(p, "use_part", "work_order", work_order_id, body.model_dump()))


@router.post("/{work_order_id}/sign-off", response_model=WorkOrderOut)
async def sign_off(
    work_order_id: str,
    body: SignOffIn,
    conn: ConnDep,
    publisher: PublisherDep,
    p: StaffOrEngineer,
) -> dict[str, Any]:
    """The customer signs the completed job (recorded with the signer's name)."""
    await order_for(conn, p, work_order_id)
    return await sign_off_order(
        work_order_id, body.signed_by, conn=conn, publisher=publisher, actor=p.actor,
        reason=body.reason,
        audit=audit_of(p, "sign_off", "work_order", work_order_id, body.model_dump()))


@router.post("/{work_order_id}/rating", response_model=WorkOrderOut)
async def rate(
    work_order_id: str, body: RatingIn, conn: ConnDep, publisher: PublisherDep, p: Reader
) -> dict[str, Any]:
    """The customer's rating (1-5) and feedback, once the job is completed."""
    await order_for(conn, p, work_order_id)
    if p.role == "engineer":
        raise HTTPException(403, "engineers may not rate their own work")
    return await rate_order(
        work_order_id, body.rating, body.feedback, conn=conn, publisher=publisher,
        audit=audit_of(p, "rate", "work_order", work_order_id, body.model_dump()))


@router.get("/{work_order_id}/eta", response_model=EtaOut)
async def get_eta(work_order_id: str, conn: ConnDep, p: Reader) -> dict[str, Any]:
    await order_for(conn, p, work_order_id)
    row = await latest_eta(conn, work_order_id)
    if row is None:
        raise HTTPException(
            404,
            f"no ETA for work order {work_order_id!r} yet: ETAs start once an engineer is"
            " assigned and has sent a position",
        )
    return row


@router.post("/{work_order_id}/tracking-token", response_model=TrackingTokenOut, status_code=201)
async def tracking_token(
    work_order_id: str, conn: ConnDep, publisher: PublisherDep, p: Staff,
    body: TrackingTokenIn | None = None,
) -> dict[str, Any]:
    """A customer token that sees this one order (shown once; stored hashed)."""
    await order_for(conn, p, work_order_id)
    expires = datetime.now(UTC) + timedelta(hours=(body or TrackingTokenIn()).expires_in_hours)
    token = await issue_tracking_token(
        work_order_id, expires, conn=conn, publisher=publisher,
        audit=audit_of(p, "tracking_token", "work_order", work_order_id,
                       {"expires_at": str(expires)}))
    return {"token": token, "url": f"/track/{token}", "expires_at": expires}
