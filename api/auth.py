"""Bearer-token authentication and role checks.

Roles: admin, dispatcher, engineer (own orders and own position only), customer (its own
customer's orders), device (no REST: devices publish over MQTT). A tracking token (a
customer token bound to one order) opens only the tracking page, never the REST API.
Tokens are looked up by SHA-256 hash on the request's own connection (api/conn.py), and
an address whose lookups keep failing is refused before it costs a query (api/throttle.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.conn import ConnDep
from api.throttle import FailureThrottle
from store.sql import Conn
from store.tokens import principal_row

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


def usable(token: str) -> bool:
    """Tokens that could be ours (anything else fails without a query)."""
    return bool(token) and len(token) <= 512 and "\x00" not in token


async def lookup_token(conn: Conn, token: str, *, tracking_ttl_s: float) -> Principal | None:
    """The principal of a valid token; None otherwise (no second connection taken)."""
    if not usable(token):
        return None
    row = await principal_row(conn, token, tracking_ttl_s=tracking_ttl_s)
    if row is None:
        return None
    return Principal(
        user_id=row["user_id"],
        role=row["role"],
        engineer_id=row["engineer_id"],
        customer_id=row["customer_id"],
        work_order_id=row["work_order_id"],
    )


def client_address(request: Any) -> str:
    client = getattr(request, "client", None)
    return client.host if client is not None else "unknown"


def check_throttle(request: Any) -> None:
    """429 when this address failed too many lookups lately (before any query)."""
    throttle: FailureThrottle = request.app.state.auth_throttle
    wait = throttle.blocked(client_address(request), time.monotonic())
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            "too many failed authentication attempts from this address; try again later",
            headers={"Retry-After": str(max(1, round(wait)))},
        )


def note_failure(request: Any) -> None:
    request.app.state.auth_throttle.failed(client_address(request), time.monotonic())


async def resolve(request: Any, conn: Conn, token: str) -> Principal | None:
    """Throttle check, lookup on ``conn``, failure counted: the one way to read a token."""
    check_throttle(request)
    principal = await lookup_token(
        conn, token, tracking_ttl_s=request.app.state.settings.tracking_ttl_after_close_s
    )
    if principal is None:
        note_failure(request)
    return principal


async def principal_from_pool(holder: Any, token: str) -> Principal | None:
    """:func:`resolve` for callers without a request connection (websockets, Basic auth):
    one pooled connection, held only for the lookup. 429 (HTTPException) when throttled."""
    async with holder.app.state.pool.connection() as conn:
        return await resolve(holder, conn, token)


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, message, headers={"WWW-Authenticate": "Bearer"}
    )


async def _gate(request: Request) -> None:
    check_throttle(request)


async def current_principal(
    request: Request,
    creds: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    _throttled: Annotated[None, Depends(_gate)],
    conn: ConnDep,
) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer" or not creds.credentials:
        raise _unauthorised("missing bearer token")
    principal = await resolve(request, conn, creds.credentials)
    if principal is None:
        raise _unauthorised("invalid, expired or revoked token")
    if principal.work_order_id:
        raise _unauthorised("a tracking link opens only its tracking page (/track/...)")
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
