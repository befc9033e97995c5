"""Webhooks: subscribe a URL to event types; deliveries are signed and logged."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, HTTPException, Path
from pydantic import AnyHttpUrl, BaseModel, Field, StringConstraints

from api.auth import Admin
from api.deps import ConnDep, audit, fetch_one
from api.listing import Page, PagingDep, Where, fetch_page
from api.schemas import Body

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
async def create_webhook(body: WebhookIn, conn: ConnDep, p: Admin) -> dict[str, Any]:
    secret = body.secret or secrets.token_urlsafe(32)
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO webhooks (url, event_types, secret) VALUES (%s, %s, %s) RETURNING *",
            (str(body.url), body.event_types, secret),
        )
        assert row is not None
        await audit(conn, p, "create", "webhook", str(row["id"]),
                    {"url": str(body.url), "event_types": body.event_types})
    return row


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(conn: ConnDep, _p: Admin, page: PagingDep) -> dict[str, Any]:
    return await fetch_page(
        conn, "SELECT id, url, event_types, active, created_at FROM webhooks",
        Where().add("active"), "id", page,
    )


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(conn: ConnDep, p: Admin, webhook_id: int = HookId) -> None:
    """Deactivates the webhook (its delivery log is kept)."""
    async with conn.transaction():
        cur = await conn.execute(
            "UPDATE webhooks SET active = false WHERE id = %s AND active", (webhook_id,)
        )
        if cur.rowcount == 0:
            raise HTTPException(404, f"webhook {webhook_id} not found")
        await audit(conn, p, "delete", "webhook", str(webhook_id))


@router.get("/{webhook_id}/deliveries", response_model=Page[DeliveryOut])
async def list_deliveries(
    conn: ConnDep,
    _p: Admin,
    page: PagingDep,
    webhook_id: int = HookId,
    delivered: bool | None = None,
) -> dict[str, Any]:
    if await fetch_one(conn, "SELECT 1 AS x FROM webhooks WHERE id = %s", (webhook_id,)) is None:
        raise HTTPException(404, f"webhook {webhook_id} not found")
    where = Where().eq("webhook_id", webhook_id).eq("delivered", delivered)
    return await fetch_page(conn, "SELECT * FROM webhook_deliveries", where, "id DESC", page)
