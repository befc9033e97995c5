"""Per-worker resources the agents share (a database pool, a publisher), opened lazily."""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool

from stack.settings import get_settings
from store.db import open_pool
from streams.publish import StreamPublisher

_pool: AsyncConnectionPool | None = None
_publisher: StreamPublisher | None = None
_lock = asyncio.Lock()


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
        _publisher = StreamPublisher(get_settings())
    return _publisher
