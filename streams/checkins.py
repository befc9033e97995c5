"""``detect_checkins`` (run by the positions agent): geofence check-in/out, presence.

Wiring around the pure :class:`~streams.geofence.GeofenceProcessor` and
:class:`~streams.presence.OfflineTracker`: an ``enter`` at the site of the engineer's
``en_route`` order moves it to ``on_site`` (check-in time = the event's time) and feeds
the finished trip to the ETA learner, an ``exit`` after the work stores the check-out,
a ``pass_through`` (drive-through) touches no order; all go to ``events.geofence`` and
the ``geofence_events`` table (idempotent by event key).
"""

from __future__ import annotations

import logging
import time

from models.messages import GeofenceEvent, GeofenceKind, Position
from models.workorder import IllegalTransition, Status
from services.outbox import Outbox
from services.transitions import transition_order
from stack.settings import get_settings
from store import fieldevents as q
from store.db import retry_db
from store.sql import fetch_all
from streams import etas
from streams.app import app
from streams.clock import clock
from streams.context import db_pool
from streams.fences import Fence, FenceIndex
from streams.geofence import GeofenceConfig, GeofenceProcessor
from streams.presence import OfflineTracker, PresenceChange
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.checkins")
_s = get_settings()
CHECKOUT_STATUSES = ("on_site", "in_progress", "waiting_parts", "completed", "signed_off", "closed")

processor = GeofenceProcessor(
    FenceIndex([], margin_m=_s.geofence_exit_margin_m),
    GeofenceConfig(exit_margin_m=_s.geofence_exit_margin_m, dwell_enter_s=_s.geofence_dwell_s,
                   lateness_s=_s.geofence_lateness_s, max_accuracy_m=_s.geofence_max_accuracy_m),
)
presence = OfflineTracker(default_timeout_s=_s.engineer_offline_after_s)
_fences_loaded_at = 0.0


async def refresh_fences(force: bool = False) -> None:
    global _fences_loaded_at
    if not force and time.monotonic() - _fences_loaded_at < _s.refresh_s:
        return
    pool = await db_pool()
    async with pool.connection() as conn:
        sites = await q.load_fences(conn)
    fences = []
    for r in sites:
        try:
            fences.append(
                Fence.of_polygon(r["id"], [tuple(p) for p in r["fence_polygon"]])
                if r["fence_polygon"] else Fence(r["id"], r["lat"], r["lon"], r["fence_radius_m"]))
        except (ValueError, TypeError) as exc:  # the API refuses these; older rows may not
            log.warning("site %s skipped for check-ins: %s", r["id"], exc)
    processor.index = FenceIndex(fences, margin_m=_s.geofence_exit_margin_m)
    if not _fences_loaded_at:
        await restore_presence()
    _fences_loaded_at = time.monotonic()


async def restore_presence() -> None:
    """After a (re)start, engineers the database shows online are tracked from their last
    fix, so one who never reports again is marked offline after the timeout."""
    pool = await db_pool()
    async with pool.connection() as conn:
        online = await fetch_all(conn, "SELECT id, last_seen, offline_timeout_s FROM engineers"
                                    " WHERE status = 'online' AND last_seen IS NOT NULL")
    for row in online:
        presence.set_timeout(row["id"], float(row["offline_timeout_s"]))
        presence.observe(row["id"], int(row["last_seen"].timestamp() * 1000))


async def handle_geofence(ev: GeofenceEvent) -> None:
    """Attach the order, move it, store and publish the event (idempotent)."""
    pool = await db_pool()
    async with pool.connection() as conn:
        outbox = Outbox(conn)
        order_id = None  # a pass-through (drive-through) touches no order
        if ev.kind == GeofenceKind.ENTER:
            order_id = await q.order_at_site(conn, ev.engineer_id, ev.site_id, ("en_route",))
            if order_id:
                try:
                    # transition_order records the SLA breach when the arrival is late.
                    row = await transition_order(
                        order_id, Status.ON_SITE, conn=conn, publisher=outbox, actor="geofence",
                        reason=f"checked in at {ev.site_id} (dwell {ev.dwell_s or 0:.0f}s)",
                        ts_ms=ev.ts, event_key=f"checkin:{ev.engineer_id}:{ev.site_id}:{ev.ts}")
                    # The trip from where the order went en route ends here: learn from it.
                    en_route = row["en_route_at"]
                    if etas.estimator.on_arrival(
                            order_id, ev.ts,
                            int(en_route.timestamp() * 1000) if en_route else None) is not None:
                        log.debug("order %s: trip learned by the travel model", order_id)
                except IllegalTransition as exc:
                    log.warning("check-in of %s at %s: %s", ev.engineer_id, ev.site_id, exc)
        elif ev.kind == GeofenceKind.EXIT:
            order_id = await q.order_at_site(conn, ev.engineer_id, ev.site_id, CHECKOUT_STATUSES)
            if order_id:
                await q.set_checkout(conn, order_id, ev.ts)
        ev = ev.model_copy(update={"work_order_id": order_id})
        async with conn.transaction():  # the event commits with its row
            stored = await q.insert_geofence_event(conn, ev)
            if stored:
                await outbox.event("events.geofence", ev.engineer_id, ev)
        if stored:
            log.info("%s %s site %s (order %s)", ev.engineer_id, ev.kind.value, ev.site_id,
                     order_id or "-")


async def handle_presence(change: PresenceChange) -> None:
    pool = await db_pool()
    async with pool.connection() as conn:
        await q.set_presence(conn, change.engineer_id, change.online, change.last_seen_ts)
    log.info("engineer %s is %s", change.engineer_id, "online" if change.online else "offline")


async def _apply(events: list[GeofenceEvent], changes: list[PresenceChange]) -> None:
    for change in changes:
        await retry_db(lambda c=change: handle_presence(c), what="presence", log=log)
    for ev in events:
        await retry_db(lambda e=ev: handle_geofence(e), what="geofence", log=log)


async def detect_checkins(batch: list[Position]) -> None:
    """One batch of fixes through the geofence processor and the presence tracker."""
    await retry_db(refresh_fences, what="load fences", log=log)
    events: list[GeofenceEvent] = []
    changes: list[PresenceChange] = []
    for pos in batch:
        clock.observe(pos.ts)
        events += processor.process(pos)
        change = presence.observe(pos.engineer_id, pos.ts)
        if change:
            changes.append(change)
    events += processor.advance(clock.now())
    await _apply(events + _pass_throughs(), changes)


def _pass_throughs() -> list[GeofenceEvent]:
    """Drain the drive-throughs the processor found (its list would grow forever)."""
    return [crossing.event() for crossing in processor.take_crossings()]


@app.timer(interval=2.0)
@keep_running
async def release_quiet_engineers() -> None:
    """Dwell and lateness windows close on stream time even when an engineer goes quiet."""
    now = clock.now()
    events = processor.advance(now)
    await _apply(events + _pass_throughs(), presence.sweep(now))
