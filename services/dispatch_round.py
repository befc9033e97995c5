"""The escalation timer's retry round: many waiting orders against one picture.

:func:`dispatch_round` loads the live picture once, ranks each order against it (highest
priority, then oldest first) and reloads it only after an assignment changed a route, so
a round over hundreds of orders nobody can take costs one load, not one per order. It
keeps the rules of :mod:`services.dispatching`: engineers who rejected an order are never
auto-assigned it, a pre-empted P4 goes back to ``new`` (and is re-dispatched in the same
round), and an order that changed meanwhile is skipped. One failing order never stops
the others; a database outage propagates to the caller's retry.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import AsyncConnection

from dispatch.types import Candidate
from models.travel import TravelModel, TravelTimes
from services.dispatching import (
    Changed,
    assign_candidate,
    pool_for,
    rank_in,
    why_nobody,
)
from services.picture import load_picture, order_rows, rejected_by_many, visit_of
from services.publisher import Publisher
from store.sql import fetch_all

log = logging.getLogger("fieldflow.dispatching")


@dataclass
class CachedTravel:
    """``TravelTimes`` remembering each pair's seconds, so one round (many orders against
    one picture) computes every engineer-to-stop leg once instead of once per order."""

    inner: TravelTimes
    cache: dict[tuple[tuple[float, float], tuple[float, float]], float] = field(
        default_factory=dict)
    max_pairs: int = 200_000

    def seconds(self, a: tuple[float, float], b: tuple[float, float],
                at_ms: int | None = None) -> float:
        if at_ms is not None:  # time-of-day speeds: not cached
            return self.inner.seconds(a, b, at_ms)
        key = (a, b)
        got = self.cache.get(key)
        if got is None:
            if len(self.cache) >= self.max_pairs:
                self.cache.clear()
            got = self.cache[key] = self.inner.seconds(a, b)
        return got

    def metres(self, a: tuple[float, float], b: tuple[float, float]) -> float:
        return self.inner.metres(a, b)


def round_key(row: Mapping[str, Any]) -> tuple[str, Any, str]:
    """Retry-round order: highest priority first (P1 < P4), then oldest, then id."""
    return (str(row["priority"]), row["created_at"], str(row["id"]))


@dataclass(frozen=True)
class Job:
    """One order for a retry round, with engineers to pass over and the event key."""

    order_id: str
    exclude: frozenset[str] = frozenset()
    event_key: str | None = None
    why: str = "auto-dispatch"


@dataclass
class RoundReport:
    assigned: dict[str, str] = field(default_factory=dict)  # order -> engineer
    preempted: dict[str, str] = field(default_factory=dict)  # P4 order -> P1 order
    unassignable: dict[str, str] = field(default_factory=dict)  # order -> why
    skipped: dict[str, str] = field(default_factory=dict)  # changed meanwhile
    failed: dict[str, str] = field(default_factory=dict)  # order -> error
    reloads: int = 0


async def waiting_jobs(conn: AsyncConnection[Any]) -> list[Job]:
    """Every ``new`` order with a site: what a retry round tries to dispatch."""
    rows = await fetch_all(conn, "SELECT id FROM work_orders WHERE status = 'new'"
                             " AND site_id IS NOT NULL")
    return [Job(r["id"]) for r in rows]


async def dispatch_round(
    jobs: Sequence[Job],
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    now_ms: int,
    actor: str,
    travel: TravelTimes | None = None,
    on_assigned: Callable[[str, Candidate], None] | None = None,
) -> RoundReport:
    """Dispatch ``jobs`` against one picture, most urgent first; reload the picture only
    after an assignment changed a route. One failing order never stops the others;
    database outages propagate (the caller's retry waits them out)."""
    tm = CachedTravel(travel or TravelModel())
    report = RoundReport()
    picture = await load_picture(conn, now_ms)
    by_id = {j.order_id: j for j in jobs}
    rows = await order_rows(conn, list(by_id))
    rejecters = await rejected_by_many(conn, list(rows))
    queue = [by_id[oid] for oid in sorted(rows, key=lambda oid: round_key(rows[oid]))]
    for job in queue:  # pre-empted orders are appended while iterating
        row = rows[job.order_id]
        touched = False
        try:
            visit = visit_of(row, picture.day_start_ms)
            skip = job.exclude | rejecters.get(job.order_id, frozenset())
            candidates = await rank_in(picture, visit, tm, skip)
            if not candidates:
                report.unassignable[job.order_id] = why_nobody(
                    visit, pool_for(visit.id, picture.engineers), picture.now_s, skip,
                    picture.depots_for(visit.id))
                continue
            best = candidates[0]
            touched = True
            await assign_candidate(row, best, conn=conn, publisher=publisher, now_ms=now_ms,
                                    actor=actor, why=job.why, event_key=job.event_key)
            report.assigned[job.order_id] = best.engineer_id
            if on_assigned is not None:
                on_assigned(job.order_id, best)
            log.info("order %s -> engineer %s (%s)", job.order_id, best.engineer_id,
                     best.reasons[0])
            if best.preempts is not None:
                report.preempted[best.preempts] = job.order_id
                again = await order_rows(conn, [best.preempts])
                if best.preempts in again and best.preempts not in by_id:
                    rows[best.preempts] = again[best.preempts]
                    rejecters |= await rejected_by_many(conn, [best.preempts])
                    by_id[best.preempts] = Job(best.preempts, why="re-dispatch after pre-emption")
                    queue.append(by_id[best.preempts])
        except (psycopg.OperationalError, psycopg.errors.AdminShutdown):
            raise
        except Changed as exc:
            report.skipped[job.order_id] = str(exc)
        except Exception as exc:
            log.exception("order %s: dispatch failed; will retry", job.order_id)
            report.failed[job.order_id] = f"{type(exc).__name__}: {exc}"
        if touched:
            picture = await load_picture(conn, now_ms)
            report.reloads += 1
    return report
