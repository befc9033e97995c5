"""Users and their API tokens (admin only); the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.auth import Admin
from api.deps import ConnDep, audit, fetch_by_id, fetch_one
from api.listing import Page, PagingDep, TimeRangeDep, Where, fetch_page
from api.schemas import Body, Ident, Name
from store.tokens import create_user_token, revoke_token, set_user_disabled, user_tokens

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
    disabled_at: datetime | None = None


class TokenIn(Body):
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650,
        description="default: FIELDFLOW_TOKEN_DEFAULT_EXPIRY_DAYS (90)",
    )
    name: Name | None = Field(default=None, description="what the token is for")


class TokenOut(BaseModel):
    id: int = Field(description="the token's public id (list, revoke)")
    token: str = Field(description="shown once; only its SHA-256 hash is stored")
    user_id: str
    role: str
    expires_at: datetime | None


class TokenInfo(BaseModel):
    id: int
    user_id: str | None
    role: str
    name: str | None
    created_at: datetime
    expires_at: datetime | None
    revoked: bool
    revoked_at: datetime | None


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
    user_id: str, conn: ConnDep, p: Admin, request: Request, body: TokenIn | None = None
) -> dict[str, Any]:
    """A token for the user; it expires after ``expires_in_days`` (default from settings)."""
    user = await fetch_by_id(conn, "users", user_id, "user")
    if user.get("disabled_at") is not None:
        raise HTTPException(409, f"user {user_id!r} is disabled; enable it first")
    body = body or TokenIn()
    days = body.expires_in_days or request.app.state.settings.token_default_expiry_days
    expires = datetime.now(UTC) + timedelta(days=days) if days else None
    async with conn.transaction():
        token, token_id = await create_user_token(
            conn, user_id, user["role"], expires_at=expires, name=body.name or "api"
        )
        await audit(conn, p, "create_token", "user", user_id,
                    {"token_id": token_id, "expires_at": str(expires)})
    return {"id": token_id, "token": token, "user_id": user_id, "role": user["role"],
            "expires_at": expires}


@router.get("/users/{user_id}/tokens", response_model=list[TokenInfo])
async def list_tokens(user_id: str, conn: ConnDep, _p: Admin) -> list[dict[str, Any]]:
    """The user's tokens, newest first (ids and dates; the tokens themselves are never kept)."""
    await fetch_by_id(conn, "users", user_id, "user")
    return await user_tokens(conn, user_id)


@router.delete("/tokens/{token_id}", response_model=TokenInfo)
async def delete_token(token_id: int, conn: ConnDep, p: Admin) -> dict[str, Any]:
    """Revoke a token: its next request gets 401 and its live feed is closed."""
    async with conn.transaction():
        row = await revoke_token(conn, token_id)
        if row is None:
            raise HTTPException(404, f"token {token_id} not found")
        await audit(conn, p, "revoke_token", "user", str(row["user_id"]), {"token_id": token_id})
    return row


async def _set_disabled(conn: ConnDep, p: Admin, user_id: str, *, disabled: bool
                        ) -> dict[str, Any]:
    if disabled and user_id == p.user_id:
        raise HTTPException(409, "you cannot disable yourself")
    async with conn.transaction():
        row = await set_user_disabled(conn, user_id, disabled=disabled)
        if row is None:
            raise HTTPException(404, f"user {user_id!r} not found")
        await audit(conn, p, "disable" if disabled else "enable", "user", user_id)
    return row


@router.post("/users/{user_id}/disable", response_model=UserOut)
async def disable_user(user_id: str, conn: ConnDep, p: Admin) -> dict[str, Any]:
    """Every token of the user stops at once (and stays stopped until ``enable``)."""
    return await _set_disabled(conn, p, user_id, disabled=True)


@router.post("/users/{user_id}/enable", response_model=UserOut)
async def enable_user(user_id: str, conn: ConnDep, p: Admin) -> dict[str, Any]:
    """Tokens of the user that are neither revoked nor expired work again."""
    return await _set_disabled(conn, p, user_id, disabled=False)


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
