"""Users and their API tokens (stored by SHA-256 hash only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.listing import Paging, Where, fetch_page
from store.sql import Conn, by_id, fetch_one


async def insert(
    conn: Conn,
    *,
    id: str,
    name: str,
    role: str,
    engineer_id: str | None,
    customer_id: str | None,
) -> dict[str, Any]:
    row = await fetch_one(
        conn,
        "INSERT INTO users (id, name, role, engineer_id, customer_id)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING *",
        (id, name, role, engineer_id, customer_id),
    )
    assert row is not None
    return row


async def page(conn: Conn, paging: Paging, *, role: str | None = None) -> dict[str, Any]:
    return await fetch_page(conn, "SELECT * FROM users", Where().eq("role", role), "id", paging)


async def get(conn: Conn, user_id: str) -> dict[str, Any] | None:
    return await by_id(conn, "users", user_id)


async def insert_token(
    conn: Conn, *, token_hash: str, user_id: str, role: str, expires_at: datetime | None,
    name: str | None = None,
) -> int:
    """Store a token's hash; returns the token's public id."""
    row = await fetch_one(
        conn,
        "INSERT INTO api_tokens (token_hash, user_id, role, expires_at, name)"
        " VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (token_hash, user_id, role, expires_at, name),
    )
    assert row is not None
    return int(row["id"])
