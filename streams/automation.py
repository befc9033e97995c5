"""Agent ``open_work_orders``: alerts become work orders, dispatched automatically.

An opened ``rule`` or ``prediction`` alert creates at most one work order per (asset,
fault type) while an earlier one is open (idempotency key in PostgreSQL, so a restart
or a redelivered alert never makes a second order), with priority from severity, the
SLA due time from the one SLA rule (``services.sla``: tier x priority) and skills from
the asset model; then the best engineer (``services.dispatching``) is assigned and the
phone gets the order on its MQTT inbox (through the outbox). A timer escalates orders
not accepted in time and retries unassigned ones.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

import faust
import psycopg

from models.codec import DecodeError, decode
from models.messages import AlertEvent, AlertState, Severity
from models.timeutil import to_datetime
from models.workorder import Priority
from services.dispatch_round import Job, dispatch_round, waiting_jobs
from services.dispatching import auto_assign
from services.outbox import Outbox
from services.workorders import NewOrder, create_order
from stack.settings import get_settings
from store import fieldevents as q
from store.db import retry_db
from store.sql import fetch_all
from streams.app import app, topic
from streams.context import ctx, db_pool
from streams.deadletter import dead_letter

log = logging.getLogger("fieldflow.streams.automation")
_s = get_settings()
ORDER_KINDS = frozenset({"rule", "prediction"})
PRIORITY = {Severity.CRITICAL: Priority.P1, Severity.MAJOR: Priority.P2,
            Severity.WARNING: Priority.P3, Severity.INFO: Priority.P4}
SLOW_ROUND_S = 5.0  # a retry round should take well under the timer's 10 s


def order_for_alert(alert: AlertEvent, device: dict[str, Any]) -> NewOrder:
    """The order an alert asks for (pure)."""
    what = "Predicted failure" if alert.kind == "prediction" else alert.fault_type.replace("_", " ")
    description = alert.message
    if alert.kind == "prediction" and "rul" in alert.details:
        description += f" Predicted time left: {alert.details['rul']}"
        if "rul_interval" in alert.details:  # how sure: "(90% interval 30-55 cycles)"
            description += (f" ({alert.details.get('rul_interval_coverage', '')} interval "
                            f"{alert.details['rul_interval']})")
        description += "."
    return NewOrder(
        title=f"{what.capitalize()} on {device['asset_id']}",
        priority=PRIORITY[alert.severity],
        description=description.strip(),
        site_id=device["site_id"], asset_id=device["asset_id"],
        customer_id=device["customer_id"],
        required_skills=tuple(device["required_skills"] or ()),
        fault_type=alert.fault_type,
        idempotency_key=f"alert:{alert.dedup_key}",
    )


async def handle_alert(alert: AlertEvent) -> None:
    if alert.state != AlertState.OPENED or alert.kind not in ORDER_KINDS:
        return
    pool = await db_pool()
    async with pool.connection() as conn:
        device = await q.device_entry(conn, alert.device_id)
        if device is None:
            log.warning("alert for unknown device %s: no work order", alert.device_id)
            return
        existing = await q.open_order_for(conn, device["asset_id"], alert.fault_type)
        if existing:
            await q.link_alert(conn, alert.device_id, alert.fault_type, existing)
            log.info("alert %s joins open order %s", alert.dedup_key, existing)
            return
        # The due time is the one SLA rule's (services.sla), counted from the alert.
        order, created = await create_order(order_for_alert(alert, device), conn=conn,
                                            publisher=Outbox(conn), actor="automation",
                                            ts_ms=alert.ts)
        await q.link_alert(conn, alert.device_id, alert.fault_type, order["id"])
        if created:
            log.info("alert %s -> work order %s (%s)", alert.dedup_key, order["id"],
                     order["priority"])
        if order["status"] == "new":
            await dispatch(order["id"], conn=conn)


async def dispatch(order_id: str, *, conn: Any, exclude: frozenset[str] = frozenset(),
                   event_key: str | None = None, why: str = "auto-dispatch") -> None:
    """Assign the best engineer; one order that cannot be planned never stops the rest."""
    try:
        best = await auto_assign(order_id, conn=conn, publisher=Outbox(conn),
                                 now_ms=ctx.now(), actor="dispatch", exclude=exclude,
                                 event_key=event_key, why=why)
    except (psycopg.OperationalError, psycopg.errors.AdminShutdown):
        raise  # retry_db waits the outage out
    except Exception:
        log.exception("order %s: dispatch failed; will retry", order_id)
        return
    if best is None:
        log.warning("order %s: no engineer can take it now; will retry", order_id)
    else:
        log.info("order %s -> engineer %s (%s)", order_id, best.engineer_id, best.reasons[0])


@app.agent(topic("events.alerts"))
async def open_work_orders(stream: faust.StreamT[bytes]) -> None:
    async for value in stream:
        try:
            alert = decode(AlertEvent, value)
        except DecodeError as exc:
            await dead_letter("events.alerts", value, str(exc))
            continue
        try:
            await retry_db(lambda a=alert: handle_alert(a), what="open work order", log=log)
        except Exception as exc:
            log.exception("alert %s: no work order", alert.dedup_key)
            await dead_letter("events.alerts", value, f"internal: {type(exc).__name__}: {exc}")


async def escalate() -> None:
    """Re-dispatch orders not accepted in time (event time) and retry unassigned ones.

    One round: the stale and the waiting orders are ranked against one picture of the
    engineers (services.dispatch_round), most urgent first.
    """
    now = ctx.now()
    pool = await db_pool()
    async with pool.connection() as conn:
        stale = await fetch_all(
            conn,
            "SELECT id, priority, engineer_id, assigned_at FROM work_orders"
            " WHERE status = 'assigned' AND assigned_at IS NOT NULL",
        )
        jobs: list[Job] = []
        for row in stale:
            limit = _s.accept_within_s.get(row["priority"], 1800)
            if row["assigned_at"] + timedelta(seconds=limit) > to_datetime(now):
                continue
            # The re-assignment is the escalation event (reason says so); one per timeout.
            key = f"escalate:{row['id']}:{int(row['assigned_at'].timestamp())}"
            jobs.append(Job(row["id"], exclude=frozenset({row["engineer_id"]}), event_key=key,
                            why=f"escalated: not accepted within {limit}s"))
        jobs += await waiting_jobs(conn)
        if jobs:
            started = time.monotonic()
            report = await dispatch_round(jobs, conn=conn, publisher=Outbox(conn),
                                          now_ms=now, actor="dispatch")
            took = time.monotonic() - started
            level = (logging.WARNING if report.failed or took > SLOW_ROUND_S
                     else logging.INFO if report.assigned or report.preempted else logging.DEBUG)
            log.log(level, "dispatch round: %d orders in %.2fs: %d assigned, %d pre-empted,"
                        " %d nobody fits, %d changed meanwhile, %d failed", len(jobs),
                    took, len(report.assigned), len(report.preempted),
                    len(report.unassignable), len(report.skipped), len(report.failed))
            for oid, why in report.unassignable.items():
                log.debug("order %s: nobody fits now (%s); will retry", oid, why)
        orphans = await fetch_all(
            conn,
            "SELECT * FROM alerts WHERE state <> 'cleared' AND work_order_id IS NULL"
            " AND kind = ANY(%s) AND updated_at < %s",
            (list(ORDER_KINDS), to_datetime(now - 5000)),
        )
    # An alert stored just before a crash may never have reached events.alerts: the
    # database is the truth, so open alerts without an order get one here (idempotent).
    for row in orphans:
        log.warning("alert %s has no work order yet; opening it now", row["dedup_key"])
        await handle_alert(AlertEvent(
            device_id=row["device_id"], asset_id=row["asset_id"], fault_type=row["fault_type"],
            kind=row["kind"], severity=Severity(row["severity"]), dedup_key=row["dedup_key"],
            state=AlertState.OPENED, ts=int(row["opened_at"].timestamp() * 1000),
            message=row["message"], value=row["value"], details=row["details"]))


@app.timer(interval=10.0)
async def escalate_and_retry() -> None:
    await retry_db(escalate, what="escalate", log=log)
