"""Users and their API tokens (admin only); the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from api.auth import Admin
from api.deps import ConnDep, found
from api.listing import Page, PagingDep, TimeRangeDep
from api.schemas import Body, Ident, Name
from services import accounts
from store import audit, users
from store.tokens import user_tokens

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
    return await accounts.create_user(conn, p, body.model_dump())


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    conn: ConnDep, _p: Admin, page: PagingDep, role: Role | None = None
) -> dict[str, Any]:
    return await users.page(conn, page, role=role)


@router.post("/users/{user_id}/tokens", response_model=TokenOut, status_code=201)
async def create_token(
    user_id: str, conn: ConnDep, p: Admin, request: Request, body: TokenIn | None = None
) -> dict[str, Any]:
    """A token for the user; it expires after ``expires_in_days`` (default from settings).
    409 for a disabled user."""
    user = found(await users.get(conn, user_id), "user", user_id)
    body = body or TokenIn()
    return await accounts.create_token(
        conn, p, user,
        expires_in_days=body.expires_in_days
        or request.app.state.settings.token_default_expiry_days,
        name=body.name or "api",
    )


@router.get("/users/{user_id}/tokens", response_model=list[TokenInfo])
async def list_tokens(user_id: str, conn: ConnDep, _p: Admin) -> list[dict[str, Any]]:
    """The user's tokens, newest first (ids and dates; the tokens themselves are never kept)."""
    found(await users.get(conn, user_id), "user", user_id)
    return await user_tokens(conn, user_id)


@router.delete("/tokens/{token_id}", response_model=TokenInfo)
async def delete_token(token_id: int, conn: ConnDep, p: Admin) -> dict[str, Any]:
    """Revoke a token: its next request gets 401 and its live feed is closed."""
    return found(await accounts.revoke_token(conn, p, token_id), "token", token_id)


@router.post("/users/{user_id}/disable", response_model=UserOut)
async def disable_user(user_id: str, conn: ConnDep, p: Admin) -> dict[str, Any]:
    """Every token of the user stops at once (and stays stopped until ``enable``)."""
    if user_id == p.user_id:
        raise HTTPException(409, "you cannot disable yourself")
    return found(await accounts.set_disabled(conn, p, user_id, disabled=True), "user", user_id)


@router.post("/users/{user_id}/enable", response_model=UserOut)
async def enable_user(user_id: str, conn: ConnDep, p: Admin) -> dict[str, Any]:
    """Tokens of the user that are neither revoked nor expired work again."""
    return found(await accounts.set_disabled(conn, p, user_id, disabled=False), "user",
                 user_id)


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
    return await audit.page(
        conn, page, rng, actor=actor, entity=entity, entity_id=entity_id, action=action
    )
