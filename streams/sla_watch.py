"""``watch_sla`` timer: SLA breaches and the end of ``sla_risk`` alerts, on the worker's time.

Every 5 s (wall clock), deciding against the worker's time (``ctx.now()``: the newest of its
partitions' watermarks, never behind the wall clock):

- an order past its ``sla_due`` with no check-in yet (``new``, ``assigned``, ``accepted``
  or ``en_route``) gets ``sla_breached`` (once);
- an open ``sla_risk`` alert whose order is no longer on its way (on site or later, or
  cancelled) is cleared, and the ``cleared`` event goes on ``events.alerts``.

A late check-in sets ``sla_breached`` itself (``services.workorders.transition_order``).
Both are SQL over ``work_orders``, so they hold for every path (geofence, API, phone) and
after a restart. The statements are idempotent, so several workers may run them.
"""

from __future__ import annotations

import logging

from models.messages import Severity
from services.outbox import Outbox
from store import fieldevents as q
from store.db import retry_db
from streams.app import app
from streams.context import ctx, db_pool
from streams.sla import NOT_ON_SITE, sla_risk_cleared
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.sla")


async def check_sla(now_ms: int) -> None:
    pool = await db_pool()
    async with pool.connection() as conn, conn.transaction():
        breached = await q.mark_missed_sla(conn, now_ms, NOT_ON_SITE)
        cleared = await q.clear_sla_risks(conn, now_ms, NOT_ON_SITE)
        outbox = Outbox(conn)  # the cleared alerts' events commit with the clearing
        events = [sla_risk_cleared(row["device_id"], row["dedup_key"], row["status"], now_ms,
                                   Severity(row["severity"])) for row in cleared]
        for ev in events:
            await outbox.event("events.alerts", ev.device_id, ev)
    for row in breached:
        log.info("order %s (%s): SLA breached, not on site by %s", row["id"], row["status"],
                 row["sla_due"].isoformat())
    for ev in events:
        log.info("alert cleared %s/sla_risk (%s)", ev.device_id, ev.message)


@app.timer(interval=5.0)
@keep_running
async def watch_sla() -> None:
    now = ctx.now()
    await retry_db(lambda: check_sla(now), what="sla", log=log)
