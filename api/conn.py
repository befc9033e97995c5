"""The request's one pooled connection.

FastAPI caches a dependency per request, so the principal's lookup (api/auth.py) and the
route share this one connection: a request never holds one connection while waiting for
a second, which let a few dozen requests with made-up tokens starve the pool.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request

from store.sql import Conn


async def get_conn(request: Request) -> AsyncIterator[Conn]:
    async with request.app.state.pool.connection() as conn:
        yield conn


ConnDep = Annotated[Conn, Depends(get_conn)]
