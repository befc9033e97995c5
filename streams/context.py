"""The worker's context: shared resources and the state of the partitions it owns.

One :class:`WorkerContext` per worker process (``ctx``), created at import like the faust
app. It owns the database pool and the ETA publisher (opened lazily; stored changes go
through the outbox), the caches rebuilt from
the database (fences, device registry, active orders, the fault model), and per telemetry
topic the :class:`~streams.watermark.PartitionStates` of the partitions assigned to this
worker. Nothing in ``streams/`` keeps working state in a module global.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from models.timeutil import now_ms
from stack.settings import Settings, get_settings
from store.db import open_pool, retry_db
from streams.alerts import BadRule, RuleBook
from streams.fences import FenceIndex
from streams.model_loader import ModelLoader
from streams.publish import StreamPublisher
from streams.state import PositionsState, ReadingsState
from streams.watermark import PartitionStates, flowing_time

T = TypeVar("T")
log = logging.getLogger("fieldflow.streams.context")


@dataclass
class Caches:
    """Rebuilt from the database every ``refresh_s`` (monotonic times of the last load)."""

    fences: FenceIndex | None = None
    fences_at: float = 0.0
    presence_restored: bool = False
    rulebook: RuleBook = field(default_factory=RuleBook)
    registry: dict[str, dict[str, Any]] = field(default_factory=dict)
    bad_rules: set[BadRule] = field(default_factory=set)
    open_alerts: list[dict[str, Any]] | None = None
    registry_at: float = 0.0  # when the registry last changed (partitions re-register then)
    registry_checked_at: float = 0.0  # when it was last read
    active_orders: list[dict[str, Any]] = field(default_factory=list)
    orders_at: float = 0.0
    fault_model: ModelLoader | None = None


@dataclass
class WorkerContext:
    settings: Settings
    name: str
    positions: PartitionStates[PositionsState]
    readings: PartitionStates[ReadingsState]
    caches: Caches = field(default_factory=Caches)
    unassigned_since: float | None = None
    _pool: AsyncConnectionPool | None = None
    _publisher: StreamPublisher | None = None
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _report_lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def create(cls, s: Settings) -> WorkerContext:
        return cls(settings=s, name=s.worker_name or f"{socket.gethostname()}-{os.getpid()}",
                   caches=Caches(fault_model=ModelLoader(s.resolved_fault_model_path)),
                   positions=PartitionStates(lambda p: PositionsState.new(s, p)),
                   readings=PartitionStates(lambda p: ReadingsState.new(s, p)))

    async def db_pool(self) -> AsyncConnectionPool:
        async with self._lock:
            if self._pool is None:
                s = self.settings
                self._pool = await open_pool(s.resolved_database_url, min_size=1,
                                             max_size=s.db_pool_size)
        return self._pool

    async def publisher(self) -> StreamPublisher:
        if self._publisher is None:
            self._publisher = StreamPublisher()
        return self._publisher

    def now(self) -> int:
        """The worker's time for timers not owned by a partition (SLA, escalation,
        dispatch): the newest watermark of its partitions, never behind the wall clock.
        Each watermark is proof against one device's clock, so their maximum is too."""
        marks = [st.watermark.value for st in self.positions.owned.copy().values()]
        marks += [st.watermark.value for st in self.readings.owned.copy().values()]
        return max([now_ms(), *(m for m in marks if m is not None)])

    def flowing_time(self, wall_ms: int) -> int | None:
        """The newest watermark of this worker's partitions where records still flow at
        the front: the time idle partitions follow."""
        marks = [st.watermark for st in self.positions.owned.copy().values()]
        marks += [st.watermark for st in self.readings.owned.copy().values()]
        return flowing_time(marks, wall_ms)

    def report_assignment(self) -> None:
        """Write this worker's pid and partitions where ``fieldflow status`` reads them.

        Called from both consumers' assignment callbacks (two threads): one at a time, and
        a failure to write is logged, never raised into the consumer."""
        with self._report_lock:
            d = self.settings.run_dir / "workers"
            info = {"name": self.name, "pid": os.getpid(),
                    "partitions": {"telemetry.positions": self.positions.partitions(),
                                   "telemetry.readings": self.readings.partitions()}}
            try:
                d.mkdir(parents=True, exist_ok=True)
                tmp = d / f".{self.name}.{threading.get_ident()}.json.tmp"
                tmp.write_text(json.dumps(info))
                tmp.replace(d / f"{self.name}.json")
            except OSError as exc:
                log.warning("could not report this worker's partitions: %s", exc)


ctx = WorkerContext.create(get_settings())


async def db_pool() -> AsyncConnectionPool:
    return await ctx.db_pool()


async def publisher() -> StreamPublisher:
    return await ctx.publisher()


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
