"""Users and their API tokens (admin only); the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from api.auth import Admin
from api.deps import ConnDep, audit, fetch_by_id, fetch_one
from api.listing import Page, PagingDep, TimeRangeDep, Where, fetch_page
from api.schemas import Body, Ident, Name
from store.tokens import hash_token, new_token

router = APIRouter(prefix="/api/v1", tags=["users"])
Role = Literal["admin", "dispatcher", "engineer", "customer", "device"]


class UserIn(Body):
    id: Ident
    name: Name
    role: Role
    engineer_id: Ident | None = Field(default=None, description="required for role engineer")
    customer_id: Ident | None = Field(default=None, description="required for role customer")


class UserOut(BaseModel):
    id: str
    name: str
    role: str
    engineer_id: str | None
    customer_id: str | None
    created_at: datetime


class TokenIn(Body):
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenOut(BaseModel):
    token: str = Field(description="shown once; only its SHA-256 hash is stored")
    user_id: str
    role: str
    expires_at: datetime | None


class AuditOut(BaseModel):
    id: int
    ts: datetime
    actor: str
    action: str
    entity: str
    entity_id: str
    details: dict[str, Any]


@router.post("/users", response_model=UserOut, status_code=201)
async def create_user(body: UserIn, conn: ConnDep, p: Admin) -> dict[str, Any]:
    if body.role == "engineer" and not body.engineer_id:
        raise HTTPException(422, "an engineer user needs engineer_id")
    if body.role == "customer" and not body.customer_id:
        raise HTTPException(422, "a customer user needs customer_id")
    async with conn.transaction():
        row = await fetch_one(
            conn,
            "INSERT INTO users (id, name, role, engineer_id, customer_id)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (body.id, body.name, body.role, body.engineer_id, body.customer_id),
        )
        await audit(conn, p, "create", "user", body.id, body.model_dump())
    assert row is not None
    return row


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    conn: ConnDep, _p: Admin, page: PagingDep, role: Role | None = None
) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM users", Where().eq("role", role), "id", page)


@router.post("/users/{user_id}/tokens", response_model=TokenOut, status_code=201)
async def create_token(
    user_id: str, conn: ConnDep, p: Admin, body: TokenIn | None = None
) -> dict[str, Any]:
    user = await fetch_by_id(conn, "users", user_id, "user")
    days = body.expires_in_days if body else None
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    token = new_token()
    async with conn.transaction():
        await conn.execute(
            "INSERT INTO api_tokens (token_hash, user_id, role, expires_at)"
            " VALUES (%s, %s, %s, %s)",
            (hash_token(token), user_id, user["role"], expires),
        )
        await audit(conn, p, "create_token", "user", user_id, {"expires_at": str(expires)})
    return {"token": token, "user_id": user_id, "role": user["role"], "expires_at": expires}


@router.get("/audit", response_model=Page[AuditOut], tags=["audit"])
async def list_audit(  # noqa: PLR0917
    conn: ConnDep,
    _p: Admin,
    page: PagingDep,
    rng: TimeRangeDep,
    actor: Ident | None = None,
    entity: Ident | None = None,
    entity_id: str | None = None,
    action: Ident | None = None,
) -> dict[str, Any]:
    where = (
        Where()
        .eq("actor", actor)
        .eq("entity", entity)
        .eq("entity_id", entity_id)
        .eq("action", action)
        .within("ts", rng)
    )
    return await fetch_page(conn, "SELECT * FROM audit_log", where, "id DESC", page)
