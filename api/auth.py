"""Bearer-token authentication and role checks.

Roles: admin, dispatcher, engineer (own orders and own position only), customer (one
order, through its tracking token, or its own customer's orders), device (no REST: devices
publish over MQTT). Tokens are looked up by SHA-256 hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from psycopg_pool import AsyncConnectionPool

from store.tokens import hash_token

_bearer = HTTPBearer(auto_error=False)

STAFF = ("admin", "dispatcher")
ROLES = ("admin", "dispatcher", "engineer", "customer", "device")


@dataclass(frozen=True)
class Principal:
    user_id: str | None
    role: str
    engineer_id: str | None = None
    customer_id: str | None = None
    work_order_id: str | None = None

    @property
    def is_staff(self) -> bool:
        return self.role in STAFF

    @property
    def actor(self) -> str:
        """How this principal appears in events and the audit log."""
        if self.user_id:
            return self.user_id
        if self.work_order_id:
            return f"tracking:{self.work_order_id}"
        return f"{self.role}-token"


async def lookup_token(pool: AsyncConnectionPool, token: str) -> Principal | None:
    """The principal of a valid, unrevoked, unexpired token; None otherwise."""
    if not token or "\x00" in token or len(token) > 512:
        return None
    async with pool.connection() as conn:
        cur = await conn.execute(
            """
            SELECT t.role, t.user_id, t.work_order_id, u.engineer_id, u.customer_id
            FROM api_tokens t LEFT JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = %s AND NOT t.revoked
              AND (t.expires_at IS NULL OR t.expires_at > now())
            """,
            (hash_token(token),),
        )
        row: dict[str, Any] | None = await cur.fetchone()  # type: ignore[assignment]
    if row is None:
        return None
    return Principal(
        user_id=row["user_id"],
        role=row["role"],
        engineer_id=row["engineer_id"],
        customer_id=row["customer_id"],
        work_order_id=row["work_order_id"],
    )


async def current_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    principal = await lookup_token(request.app.state.pool, creds.credentials)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid or expired token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: str) -> Any:
    async def check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in roles:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"role {principal.role!r} may not do this (needs {', '.join(roles)})",
            )
        return principal

    return Depends(check)


# Dependency aliases used by the routers.
Admin = Annotated[Principal, require_roles("admin")]
Staff = Annotated[Principal, require_roles(*STAFF)]
StaffOrEngineer = Annotated[Principal, require_roles(*STAFF, "engineer")]
Reader = Annotated[Principal, require_roles(*STAFF, "engineer", "customer")]
Requester = Annotated[Principal, require_roles(*STAFF, "customer")]


def ensure_engineer_access(principal: Principal, engineer_id: str) -> None:
    """Staff see everyone; an engineer sees only themself."""
    if principal.is_staff:
        return
    if principal.role == "engineer" and principal.engineer_id == engineer_id:
        return
    raise HTTPException(status.HTTP_403_FORBIDDEN, "you may only see your own data")
