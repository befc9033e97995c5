"""API tokens: stored as SHA-256 hashes, never in the clear."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import psycopg

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def ensure_token(
    conn: psycopg.Connection,
    token: str,
    *,
    role: str,
    user_id: str,
    name: str,
    engineer_id: str | None = None,
    customer_id: str | None = None,
) -> None:
    """Create the user if missing and register ``token`` for it (idempotent)."""
    conn.execute(
        "INSERT INTO users (id, name, role, engineer_id, customer_id) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (id) DO NOTHING",
        (user_id, name, role, engineer_id, customer_id),
    )
    conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, role) VALUES (%s, %s, %s) "
        "ON CONFLICT (token_hash) DO NOTHING",
        (hash_token(token), user_id, role),
    )


BOOTSTRAP = "bootstrap"


def rotate_bootstrap_token(conn: psycopg.Connection, token: str) -> int:
    """Make ``token`` the one bootstrap admin token: earlier ones are revoked (tokens of
    the ``admin`` user without a name are bootstrap tokens of older versions)."""
    token_hash = hash_token(token)
    conn.execute("UPDATE api_tokens SET name = %s WHERE token_hash = %s", (BOOTSTRAP, token_hash))
    cur = conn.execute(
        "UPDATE api_tokens SET revoked = true, revoked_at = now()"
        " WHERE user_id = 'admin' AND (name = %s OR name IS NULL) AND token_hash <> %s"
        " AND NOT revoked",
        (BOOTSTRAP, token_hash),
    )
    return cur.rowcount


# A tracking link stops working this long after its order closed or was cancelled.
TERMINAL = ("closed", "cancelled")


async def principal_row(
    conn: psycopg.AsyncConnection[Any], token: str, *, tracking_ttl_s: float
) -> dict[str, Any] | None:
    """The token's role and ids when it is valid: not revoked, not expired, its user
    not disabled, and (a tracking token) its order not closed more than
    ``tracking_ttl_s`` ago. One indexed query on the caller's connection."""
    cur = await conn.execute(
        """
        SELECT t.role, t.user_id, t.work_order_id, u.engineer_id, u.customer_id
        FROM api_tokens t
        LEFT JOIN users u ON u.id = t.user_id
        LEFT JOIN work_orders w ON w.id = t.work_order_id
        WHERE t.token_hash = %s AND NOT t.revoked
          AND (t.expires_at IS NULL OR t.expires_at > now())
          AND u.disabled_at IS NULL
          AND (w.id IS NULL OR w.status <> ALL(%s)
               OR COALESCE(w.closed_at, w.updated_at) > now() - make_interval(secs => %s))
        """,
        (hash_token(token), list(TERMINAL), tracking_ttl_s),
    )
    row: dict[str, Any] | None = await cur.fetchone()  # dict_row
    return row


async def user_tokens(conn: psycopg.AsyncConnection[Any], user_id: str) -> list[dict[str, Any]]:
    """A user's tokens, newest first (never the token or its hash)."""
    cur = await conn.execute(
        "SELECT id, user_id, role, name, created_at, expires_at, revoked, revoked_at"
        " FROM api_tokens WHERE user_id = %s ORDER BY id DESC",
        (user_id,),
    )
    rows: list[dict[str, Any]] = await cur.fetchall()  # dict_row
    return rows


async def revoke_token(conn: psycopg.AsyncConnection[Any], token_id: int) -> dict[str, Any] | None:
    """Revoke a token by its id (idempotent); None when there is no such user token."""
    cur = await conn.execute(
        "UPDATE api_tokens SET revoked = true, revoked_at = COALESCE(revoked_at, now())"
        " WHERE id = %s AND user_id IS NOT NULL RETURNING id, user_id, role, name,"
        " created_at, expires_at, revoked, revoked_at",
        (token_id,),
    )
    row: dict[str, Any] | None = await cur.fetchone()
    return row


async def set_user_disabled(
    conn: psycopg.AsyncConnection[Any], user_id: str, *, disabled: bool
) -> dict[str, Any] | None:
    """Disable (every token of the user stops at once) or enable a user."""
    cur = await conn.execute(
        "UPDATE users SET disabled_at = CASE WHEN %s THEN COALESCE(disabled_at, now()) END"
        " WHERE id = %s RETURNING *",
        (disabled, user_id),
    )
    row: dict[str, Any] | None = await cur.fetchone()
    return row
