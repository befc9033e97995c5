"""``track_etas`` (run by the positions agent): live ETAs for assigned/accepted/en-route orders.

Wiring around the pure :class:`~streams.eta.EtaEstimator`: recomputed on every fix,
published on ``events.eta`` (and stored in ``eta_latest``) only when it moves enough or
a minute has passed; an ETA past the SLA due time raises one ``sla_risk`` alert.
"""

from __future__ import annotations

import logging
import time

from models.messages import AlertEvent, AlertState, EtaUpdate, Position, Severity
from services.outbox import Outbox
from store import fieldevents as q
from store.db import retry_db
from streams.context import ctx
from streams.eta import ActiveOrder
from streams.state import PositionsState

log = logging.getLogger("fieldflow.streams.etas")


async def refresh_orders() -> list[dict]:  # type: ignore[type-arg]
    """Active orders, reloaded every ``refresh_s`` (shared by every partition)."""
    c = ctx.caches
    if time.monotonic() - c.orders_at < ctx.settings.refresh_s:
        return c.active_orders
    pool = await ctx.db_pool()
    async with pool.connection() as conn:
        c.active_orders = await q.active_orders(conn)
    c.orders_at = time.monotonic()
    return c.active_orders


def track(state: PositionsState, active: list[dict]) -> None:  # type: ignore[type-arg]
    """Bring the partition's estimator in line with the active orders."""
    current = set()
    for r in active:
        current.add(r["id"])
        en_route = r["en_route_at"] if r["status"] == "en_route" else None
        state.eta.track(ActiveOrder(
            work_order_id=r["id"], engineer_id=r["engineer_id"], site_lat=r["lat"],
            site_lon=r["lon"],
            sla_due_ms=int(r["sla_due"].timestamp() * 1000) if r["sla_due"] else None,
            en_route_ms=int(en_route.timestamp() * 1000) if en_route else None))
    for gone in state.eta.tracked() - current:
        state.eta.untrack(gone)
        state.late.discard(gone)


async def publish_eta(state: PositionsState, update: EtaUpdate) -> None:
    pool = await ctx.db_pool()
    pub = await ctx.publisher()
    async with pool.connection() as conn:
        await q.upsert_eta(conn, update)
        late = (update.late_by_s or 0) > 0
        if late and update.work_order_id not in state.late:
            state.late.add(update.work_order_id)
            alert = AlertEvent(
                device_id=update.work_order_id, fault_type="sla_risk", kind="sla_risk",
                severity=Severity.MAJOR, dedup_key=f"sla:{update.work_order_id}",
                state=AlertState.OPENED, ts=update.ts, value=update.late_by_s,
                message=f"ETA misses the SLA by {update.late_by_s:.0f}s",
                details={"work_order_id": update.work_order_id, "engineer_id": update.engineer_id})
            async with conn.transaction():  # the alert's event commits with the alert
                if await q.store_alert(conn, alert):
                    await Outbox(conn).event("events.alerts", alert.device_id, alert)
    await pub.event("events.eta", update.work_order_id, update)


async def track_etas(state: PositionsState, batch: list[Position]) -> None:
    """One partition's batch of fixes through its ETA estimator; publish those worth it."""
    active = await retry_db(refresh_orders, what="load active orders", log=log)
    if state.orders_seen_at != ctx.caches.orders_at:  # once per reload, not per batch
        track(state, active)
        state.orders_seen_at = ctx.caches.orders_at
    updates: list[EtaUpdate] = []
    for pos in batch:
        updates += state.eta.on_position(pos)
    for update in updates:
        await retry_db(lambda u=update: publish_eta(state, u), what="publish eta", log=log)
