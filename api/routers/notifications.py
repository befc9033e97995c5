"""Notifications to people (email to the dispatchers on duty) with their delivery state."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Staff
from api.deps import ConnDep
from api.listing import Page, PagingDep
from api.schemas import Ident
from store import notifications

router = APIRouter(prefix="/api/v1/notifications", tags=["notifications"])


class NotificationOut(BaseModel):
    """One row per (recipient, event), written in the event's transaction (the outbox)."""

    id: int
    event_id: UUID = Field(description="the event that caused it")
    kind: str = Field(description="sla_risk | escalation")
    channel: str = Field(description="email")
    recipient: str
    subject: str
    body: str
    link: str = Field(description="the order in the dispatcher's console")
    work_order_id: str | None
    state: str = Field(description="pending | delivered | dead")
    attempts: int = Field(description="attempts made so far")
    last_error: str | None = Field(description="of the last failed attempt")
    created_at: datetime
    next_attempt_at: datetime = Field(description="while pending")
    delivered_at: datetime | None = Field(description="when the SMTP server accepted it")


@router.get("", response_model=Page[NotificationOut])
async def list_notifications(
    conn: ConnDep,
    _p: Staff,
    page: PagingDep,
    state: Literal["pending", "delivered", "dead"] | None = None,
    kind: Literal["sla_risk", "escalation"] | None = None,
    work_order_id: Ident | None = None,
) -> dict[str, Any]:
    return await notifications.page(conn, page, state=state, kind=kind,
                                    work_order_id=work_order_id)
