"""``raise_alerts`` (run by the readings agent): threshold rules -> deduplicated alerts.

It wires the pure :class:`~streams.alerts.AlertProcessor` (threshold rules
per asset model, one open alert per (device, fault type), clear after normal for a
while, offline devices): every alert event is stored (idempotent: a partial unique
index allows one open alert per device and fault) and published on ``events.alerts``.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from models.messages import AlertEvent, AlertState, Reading, Severity
from services.outbox import Outbox
from stack.settings import get_settings
from store import fieldevents as q
from store.db import retry_db
from streams.alerts import AlertProcessor, BadRule, RuleBook
from streams.app import app
from streams.clock import clock
from streams.context import db_pool
from streams.timers import keep_running

log = logging.getLogger("fieldflow.streams.alerting")
_s = get_settings()
alerts = AlertProcessor(RuleBook())
registry: dict[str, dict[str, Any]] = {}  # device id -> asset, model, rules, fault model
_registry_at = 0.0
_adopted = False
_bad_rules: set[BadRule] = set()  # logged once each, until fixed


async def refresh_registry(force: bool = False) -> None:
    """Reload asset models' rules and the device -> asset map (new assets appear live)."""
    global _registry_at, _adopted
    if not force and time.monotonic() - _registry_at < _s.refresh_s:
        return
    pool = await db_pool()
    async with pool.connection() as conn:
        devices = await q.device_registry(conn)
        stored = await q.open_alerts(conn) if not _adopted else []
    spec: dict[str, list[object]] = {}
    for d in devices:
        rules = d["rules"] if d["rules"] is not None else []
        spec[d["model_id"]] = list(rules) if isinstance(rules, list) else [rules]
    alerts.rulebook, bad = RuleBook.parse_each(spec)  # one bad rule never disables the rest
    for rule in set(bad) - _bad_rules:
        log.error("asset model %s: rule skipped: %s", rule.model, rule.error)
    _bad_rules.clear()
    _bad_rules.update(bad)
    registry.clear()
    registry.update({d["device_id"]: d for d in devices})
    for d in devices:
        alerts.register_device(d["device_id"], d["model_id"], d["asset_id"],
                               float(d["reading_timeout_s"]))
    for row in stored:  # after a restart: open alerts are updated, never opened twice
        alerts.adopt(AlertEvent(
            device_id=row["device_id"], asset_id=row["asset_id"], fault_type=row["fault_type"],
            kind=row["kind"], severity=Severity(row["severity"]), dedup_key=row["dedup_key"],
            state=AlertState.OPENED, ts=int(row["updated_at"].timestamp() * 1000)))
    _adopted = True
    _registry_at = time.monotonic()


async def apply_alert(ev: AlertEvent) -> None:
    pool = await db_pool()
    async with pool.connection() as conn, conn.transaction():
        opened = await q.store_alert(conn, ev)
        if ev.state != AlertState.OPENED or opened:  # the event commits with the alert
            await Outbox(conn).event("events.alerts", ev.device_id, ev)
    if ev.state != AlertState.OPENED or opened:
        log.info("alert %s %s/%s (%s)", ev.state.value, ev.device_id, ev.fault_type, ev.message)


async def apply_alerts(events: list[AlertEvent]) -> None:
    for ev in events:
        await retry_db(lambda e=ev: apply_alert(e), what="store alert", log=log)


async def raise_alerts(batch: list[Reading]) -> None:
    """One batch of readings through the rules, in event-time order."""
    await retry_db(refresh_registry, what="load devices", log=log)
    events: list[AlertEvent] = []
    for reading in sorted(batch, key=lambda r: r.ts):
        clock.observe(reading.ts)
        events += alerts.process(reading)
    await apply_alerts(events)


@app.timer(interval=5.0)
@keep_running
async def sweep_offline_devices() -> None:
    if _adopted:
        await apply_alerts(alerts.sweep(clock.now()))
