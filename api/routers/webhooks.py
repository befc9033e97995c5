"""Webhooks: subscribe a URL to event types; deliveries are signed and logged."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path, Request
from pydantic import AnyHttpUrl, BaseModel, Field, StringConstraints

from api.auth import Admin
from api.deps import ConnDep
from api.egress import check_destination
from api.listing import Page, PagingDep
from api.schemas import Body
from services import accounts
from store import webhooks

router = APIRouter(prefix="/api/v1/webhooks", tags=["webhooks"])
HookId = Path(ge=1, le=2**62)
EventType = Annotated[
    str,
    StringConstraints(pattern=r"^(\*|workorder|alert|workorder\.[a-z_]{1,32}|alert\.[a-z_]{1,32})$"),
]

Secret = Annotated[str, StringConstraints(min_length=16, max_length=200, pattern=r"^[^\x00]*$")]


class WebhookIn(Body):
    url: AnyHttpUrl
    event_types: list[EventType] = Field(
        min_length=1,
        max_length=30,
        description="'*', 'workorder', 'alert', or one event such as 'workorder.completed'",
    )
    secret: Secret | None = Field(
        default=None, description="HMAC key; generated (and shown once) when omitted"
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    event_types: list[str]
    active: bool
    created_at: datetime
    secret: str | None = Field(default=None, description="only in the answer to the POST")


class DeliveryOut(BaseModel):
    """One row per (webhook, event), written with the event (the outbox)."""

    id: int
    webhook_id: int
    event_id: UUID | None = Field(default=None, description="also the X-FieldFlow-Event-Id")
    event_type: str
    payload: dict[str, Any]
    attempt: int = Field(description="attempts made so far")
    status_code: int | None = Field(description="of the last attempt")
    error: str | None = Field(description="of the last attempt")
    delivered: bool
    state: str = Field(default="pending", description="pending | delivered | dead")
    next_attempt_at: datetime | None = Field(default=None, description="while pending")
    delivered_at: datetime | None = None
    ts: datetime = Field(description="the last attempt (or the row's creation)")


@router.post("", response_model=WebhookOut, status_code=201)
async def create_webhook(
    body: WebhookIn, conn: ConnDep, p: Admin, request: Request
) -> dict[str, Any]:
    """422 for a URL whose host is loopback, private or link-local (see api/egress.py)."""
    await check_destination(str(body.url), request.app.state.egress_allowed)
    return await accounts.create_webhook(
        conn, p, url=str(body.url), event_types=body.event_types, secret=body.secret
    )


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(conn: ConnDep, _p: Admin, page: PagingDep) -> dict[str, Any]:
    return await webhooks.page(conn, page)


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(conn: ConnDep, p: Admin, webhook_id: int = HookId) -> None:
    """Deactivates the webhook (its delivery log is kept)."""
    if not await accounts.delete_webhook(conn, p, webhook_id):
        raise HTTPException(404, f"webhook {webhook_id} not found")


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    conn: ConnDep,
    _p: Admin,
    page: PagingDep,
    webhook_id: int = HookId,
    delivered: bool | None = None,
) -> dict[str, Any]:
    if not await webhooks.exists(conn, webhook_id):
        raise HTTPException(404, f"webhook {webhook_id} not found")
    return await webhooks.deliveries(conn, page, webhook_id, delivered=delivered)
