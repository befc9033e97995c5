"""Use cases on a work order's sub-resources that the API offers: a customer tracking
token (one unit of work with its audit row)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection

from services.publisher import Audit, Publisher
from store.orders import insert_tracking_token
from store.tokens import hash_token, new_token


async def issue_tracking_token(work_order_id: str, expires_at: datetime, *,
                               conn: AsyncConnection[Any], publisher: Publisher,
                               audit: Audit | None = None) -> str:
    """A customer token that sees this one order (returned once; stored hashed)."""
    token = new_token()
    async with conn.transaction():
        await insert_tracking_token(conn, hash_token(token), work_order_id, expires_at)
        if audit is not None:
            await publisher.audit(audit)
    return token
