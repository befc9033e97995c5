"""``raise_alerts`` (run by the readings agent): threshold rules -> deduplicated alerts.

It wires the pure :class:`~streams.alerts.AlertProcessor` (threshold rules
per asset model, one open alert per (device, fault type), clear after normal for a
while, offline devices): every alert event is stored (idempotent: a partial unique
index allows one open alert per device and fault) and published on ``events.alerts``.
"""

from __future__ import annotations

import logging
import time

from models.messages import AlertEvent, AlertState, Reading, Severity
from services.outbox import Outbox
from store import fieldevents as q
from store.db import retry_db
from streams.alerts import RuleBook
from streams.context import ctx
from streams.state import ReadingsState, partition_of

log = logging.getLogger("fieldflow.streams.alerting")


async def refresh_registry(force: bool = False) -> None:
    """Reload asset models' rules and the device -> asset map (new assets appear live);
    shared by every partition. The open alerts are read once, for fresh partitions."""
    c = ctx.caches
    if (not force and c.registry
            and time.monotonic() - c.registry_checked_at < ctx.settings.refresh_s):
        return
    pool = await ctx.db_pool()
    async with pool.connection() as conn:
        devices = await q.device_registry(conn)
        if c.open_alerts is None:
            c.open_alerts = await q.open_alerts(conn)
    c.registry_checked_at = time.monotonic()
    if len(devices) == len(c.registry) and all(
            c.registry.get(d["device_id"]) == d for d in devices):
        return  # unchanged: every partition keeps its devices (no re-registering)
    spec: dict[str, list[object]] = {}
    for d in devices:
        rules = d["rules"] if d["rules"] is not None else []
        spec[d["model_id"]] = list(rules) if isinstance(rules, list) else [rules]
    c.rulebook, bad = RuleBook.parse_each(spec)  # one bad rule never disables the rest
    for rule in set(bad) - c.bad_rules:
        log.error("asset model %s: rule skipped: %s", rule.model, rule.error)
    c.bad_rules = set(bad)
    c.registry = {d["device_id"]: d for d in devices}
    c.registry_at = time.monotonic()


async def prepare(state: ReadingsState) -> None:
    """Put the shared rules and devices into the partition's processor; a partition that
    starts without a snapshot takes over its devices' open alerts from the database, so
    they are updated, never opened twice."""
    await retry_db(refresh_registry, what="load devices", log=log)
    c = ctx.caches
    state.alerts.rulebook = c.rulebook
    parts = ctx.settings.partitions_for("telemetry.readings")
    if state.registry_seen_at != c.registry_at:
        for d in c.registry.values():
            if partition_of(d["device_id"], parts) == state.partition:
                state.alerts.register_device(d["device_id"], d["model_id"], d["asset_id"],
                                             float(d["reading_timeout_s"]))
        state.registry_seen_at = c.registry_at
    if not state.adopted:
        for row in c.open_alerts or []:
            if partition_of(row["device_id"], parts) != state.partition:
                continue
            state.alerts.adopt(AlertEvent(
                device_id=row["device_id"], asset_id=row["asset_id"],
                fault_type=row["fault_type"], kind=row["kind"],
                severity=Severity(row["severity"]), dedup_key=row["dedup_key"],
                state=AlertState.OPENED, ts=int(row["updated_at"].timestamp() * 1000)))
        state.adopted = True


async def apply_alert(ev: AlertEvent) -> None:
    pool = await ctx.db_pool()
    async with pool.connection() as conn, conn.transaction():
        opened = await q.store_alert(conn, ev)
        if ev.state != AlertState.OPENED or opened:  # the event commits with the alert
            await Outbox(conn).event("events.alerts", ev.device_id, ev)
    if ev.state != AlertState.OPENED or opened:
        log.info("alert %s %s/%s (%s)", ev.state.value, ev.device_id, ev.fault_type, ev.message)


async def apply_alerts(events: list[AlertEvent]) -> None:
    for ev in events:
        await retry_db(lambda e=ev: apply_alert(e), what="store alert", log=log)


async def raise_alerts(state: ReadingsState, batch: list[Reading]) -> None:
    """One partition's batch of readings through the rules, in event-time order."""
    await prepare(state)
    events: list[AlertEvent] = []
    for reading in sorted(batch, key=lambda r: r.ts):
        events += state.alerts.process(reading)
    await apply_alerts(events)


async def sweep_offline_devices(state: ReadingsState, now_ms: int) -> None:
    """Devices silent past their timeout on the partition's watermark."""
    await prepare(state)
    await apply_alerts(state.alerts.sweep(now_ms))
