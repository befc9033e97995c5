"""Enrolment codes and the engineer tokens they are exchanged for (hashes only)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from store.sql import Conn
from store.sql import fetch_one as _one


async def engineer_name(conn: Conn, engineer_id: str) -> str | None:
    row = await _one(conn, "SELECT name FROM engineers WHERE id = %s", (engineer_id,))
    return None if row is None else str(row["name"])


async def insert_code(
    conn: Conn, code_hash: str, engineer_id: str, *, created_by: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO enrolment_codes (code_hash, engineer_id, created_by, expires_at)"
        " VALUES (%s, %s, %s, %s)",
        (code_hash, engineer_id, created_by, expires_at),
    )


async def lock_code(conn: Conn, code_hash: str) -> dict[str, Any] | None:
    """The code's row, locked until the transaction ends (two phones cannot both win)."""
    return await _one(
        conn,
        "SELECT engineer_id, expires_at, redeemed_at, expires_at <= now() AS expired"
        " FROM enrolment_codes WHERE code_hash = %s FOR UPDATE",
        (code_hash,),
    )


async def mark_redeemed(conn: Conn, code_hash: str, token_hash: str) -> None:
    await conn.execute(
        "UPDATE enrolment_codes SET redeemed_at = now(), token_hash = %s WHERE code_hash = %s",
        (token_hash, code_hash),
    )


async def engineer_user(conn: Conn, engineer_id: str, name: str) -> str:
    """The id of the engineer's user (role engineer), created when there is none yet."""
    row = await _one(
        conn,
        "SELECT id FROM users WHERE role = 'engineer' AND engineer_id = %s ORDER BY id LIMIT 1",
        (engineer_id,),
    )
    if row is not None:
        return str(row["id"])
    user_id = f"engineer:{engineer_id}"
    await conn.execute(
        "INSERT INTO users (id, name, role, engineer_id) VALUES (%s, %s, 'engineer', %s)"
        " ON CONFLICT (id) DO NOTHING",
        (user_id, name, engineer_id),
    )
    return user_id


async def insert_token(
    conn: Conn, token_hash: str, *, user_id: str, role: str, expires_at: datetime
) -> None:
    await conn.execute(
        "INSERT INTO api_tokens (token_hash, user_id, role, expires_at) VALUES (%s, %s, %s, %s)",
        (token_hash, user_id, role, expires_at),
    )
