"""Per-worker resources the agents share (a database pool, the ETA publisher), opened lazily."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from stack.settings import get_settings
from store.db import open_pool, retry_db
from streams.publish import StreamPublisher

_pool: AsyncConnectionPool | None = None
_publisher: StreamPublisher | None = None
_lock = asyncio.Lock()
T = TypeVar("T")


async def db_pool() -> AsyncConnectionPool:
    global _pool
    async with _lock:
        if _pool is None:
            s = get_settings()
            _pool = await open_pool(s.resolved_database_url, min_size=1, max_size=s.db_pool_size)
    return _pool


async def publisher() -> StreamPublisher:
    global _publisher
    if _publisher is None:
        _publisher = StreamPublisher()
    return _publisher


async def write_batch(
    copy: Callable[[AsyncConnection[Any], Sequence[T]], Awaitable[int]],
    batch: Sequence[T],
    *,
    what: str,
    log: logging.Logger,
) -> None:
    """Write ``batch`` with ``copy`` on a pooled connection, waiting out database outages."""
    pool = await db_pool()

    async def write() -> int:
        async with pool.connection() as conn:
            return await copy(conn, batch)

    await retry_db(write, what=what, log=log)
