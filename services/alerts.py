"""A dispatcher acknowledges or clears an alert: the state rule, the audit row, the event.

Only an open alert can be acknowledged; any alert not yet cleared can be cleared. The
change, its audit row and its ``events.alerts`` event (state UPDATED or CLEARED,
``details.by``/``details.action``; an outbox row) are one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from models.messages import AlertEvent, AlertState, Severity
from services.audited import audited
from services.publisher import Publisher
from services.workorders import Conflict, NotFound
from store import alerts
from store.audit import Actor
from store.sql import Conn

ALERTS_TOPIC = "events.alerts"
Action = Literal["acknowledge", "clear"]


async def change_alert(
    conn: Conn, who: Actor, alert_id: int, action: Action, *, publisher: Publisher
) -> dict[str, Any]:
    """The alert's row after ``action``; NotFound (404) or Conflict (409, its state)."""
    now = datetime.now(UTC)

    async def write() -> dict[str, Any] | None:
        if action == "acknowledge":
            return await alerts.acknowledge(conn, alert_id, by=who.actor, now=now)
        return await alerts.clear(conn, alert_id, now=now)

    async with conn.transaction():
        row = await audited(conn, who, action, "alert", str(alert_id), None, write)
        if row is None:
            state = await alerts.state_of(conn, alert_id)
            if state is None:
                raise NotFound(f"alert {alert_id} not found")
            raise Conflict(f"cannot {action} an alert that is {state}")
        # the event is an outbox row of the same transaction (services.outbox)
        await publisher.event(ALERTS_TOPIC, row["device_id"], _event(row, who, action, now))
    return row


def _event(row: dict[str, Any], who: Actor, action: Action, now: datetime) -> AlertEvent:
    try:
        severity = Severity(row["severity"])
    except ValueError:
        severity = Severity.WARNING
    return AlertEvent.model_construct(
        device_id=row["device_id"],
        asset_id=row["asset_id"],
        fault_type=row["fault_type"],
        kind=row["kind"],
        severity=severity,
        dedup_key=row["dedup_key"],
        state=AlertState.CLEARED if action == "clear" else AlertState.UPDATED,
        ts=int(now.timestamp() * 1000),
        message=row["message"],
        value=row["value"],
        details={**row["details"], "by": who.actor, "action": action},
    )
