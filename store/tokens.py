"""API tokens: stored as SHA-256 hashes, never in the clear."""

from __future__ import annotations

import hashlib
import secrets

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
