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
from stack.settings import get_settings
from store import fieldevents as q
from store.db import retry_db
from streams.context import db_pool, publisher
from streams.eta import ActiveOrder, EtaEstimator

log = logging.getLogger("fieldflow.streams.etas")
_s = get_settings()
estimator = EtaEstimator()
_late: set[str] = set()
_tracked: set[str] = set()
_loaded_at = 0.0


async def refresh_orders() -> None:
    global _loaded_at
    if time.monotonic() - _loaded_at < _s.refresh_s:
        return
    pool = await db_pool()
    async with pool.connection() as conn:
        active = await q.active_orders(conn)
    current = {r["id"] for r in active}
    for r in active:
        en_route = r["en_route_at"] if r["status"] == "en_route" else None
        estimator.track(ActiveOrder(
            work_order_id=r["id"], engineer_id=r["engineer_id"], site_lat=r["lat"],
            site_lon=r["lon"],
            sla_due_ms=int(r["sla_due"].timestamp() * 1000) if r["sla_due"] else None,
            en_route_ms=int(en_route.timestamp() * 1000) if en_route else None))
    for gone in _tracked - current:
        estimator.untrack(gone)
        _late.discard(gone)
    _tracked.clear()
    _tracked.update(current)
    _loaded_at = time.monotonic()


async def publish_eta(update: EtaUpdate) -> None:
    pool = await db_pool()
    pub = await publisher()
    async with pool.connection() as conn:
        await q.upsert_eta(conn, update)
        late = (update.late_by_s or 0) > 0
        if late and update.work_order_id not in _late:
            _late.add(update.work_order_id)
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


async def track_etas(batch: list[Position]) -> None:
    """One batch of fixes through the ETA estimator; publish the updates worth it."""
    await retry_db(refresh_orders, what="load active orders", log=log)
    updates: list[EtaUpdate] = []
    for pos in batch:
        updates += estimator.on_position(pos)
    for update in updates:
        await retry_db(lambda u=update: publish_eta(u), what="publish eta", log=log)
