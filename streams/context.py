"""Per-worker resources the agents share (a database pool), opened lazily in the loop."""

from __future__ import annotations

import asyncio

from psycopg_pool import AsyncConnectionPool

from stack.settings import get_settings
from store.db import open_pool

_pool: AsyncConnectionPool | None = None
_lock = asyncio.Lock()


async def db_pool() -> AsyncConnectionPool:
    global _pool
    async with _lock:
        if _pool is None:
            s = get_settings()
            _pool = await open_pool(s.resolved_database_url, min_size=1, max_size=s.db_pool_size)
    return _pool
