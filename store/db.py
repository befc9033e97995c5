"""psycopg 3 connection pools (async for the API and the workers)."""

from __future__ import annotations

import asyncio
import time

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool


async def open_pool(
    database_url: str, *, min_size: int = 1, max_size: int = 8
) -> AsyncConnectionPool:
    pool = AsyncConnectionPool(
        database_url,
        min_size=min_size,
        max_size=max_size,
        kwargs={"row_factory": dict_row, "autocommit": True},
        open=False,
    )
    await pool.open(wait=True, timeout=30)
    return pool


def wait_until_ready(database_url: str, timeout_s: float = 30.0) -> None:
    """Block until a connection succeeds (used by the supervisor and tests)."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with psycopg.connect(database_url, connect_timeout=2) as conn:
                conn.execute("SELECT 1")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


async def retry_db(coro_factory, *, what: str, log, max_delay_s: float = 5.0):  # type: ignore[no-untyped-def]
    """Run ``coro_factory()`` until the database answers, backing off between tries.

    Workers wrap each batch write in this so a PostgreSQL outage pauses them (keeping
    their Kafka offsets) instead of losing or skipping records.
    """
    delay = 0.1
    while True:
        try:
            return await coro_factory()
        except (psycopg.OperationalError, psycopg.errors.AdminShutdown) as exc:
            log.warning(
                "%s: database unavailable (%s); retrying in %.1fs",
                what,
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                delay,
            )
            await asyncio.sleep(delay)
            delay = min(max_delay_s, delay * 2)
