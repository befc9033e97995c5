"""Users and their API tokens (admin only); the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Admin
from api.deps import ConnDep, found
from api.listing import Page, PagingDep, TimeRangeDep
from api.schemas import Body, Ident, Name
from services import accounts
from store import audit, users

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
    return await accounts.create_user(conn, p, body.model_dump())


@router.get("/users", response_model=Page[UserOut])
async def list_users(
    conn: ConnDep, _p: Admin, page: PagingDep, role: Role | None = None
) -> dict[str, Any]:
    return await users.page(conn, page, role=role)


@router.post("/users/{user_id}/tokens", response_model=TokenOut, status_code=201)
async def create_token(
    user_id: str, conn: ConnDep, p: Admin, body: TokenIn | None = None
) -> dict[str, Any]:
    user = found(await users.get(conn, user_id), "user", user_id)
    return await accounts.create_token(
        conn, p, user, expires_in_days=body.expires_in_days if body else None
    )


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
