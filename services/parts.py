"""Parts used on a job: taken from the engineer's van stock in the same transaction.

Dropping below the part's ``low_stock_threshold`` opens a ``low_stock`` alert (one open
alert per van and part) and publishes it on ``events.alerts``.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from models.messages import AlertEvent, AlertState, Severity
from models.timeutil import now_ms, to_datetime
from models.workorder import DomainError
from services.publisher import Publisher

ALERTS_TOPIC = "events.alerts"


class OutOfStock(DomainError):
    status_code = 409


class NoEngineer(DomainError):
    status_code = 409


async def use_part(
    order: dict[str, Any],
    part_id: str,
    qty: int,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    engineer_id: str | None = None,
) -> dict[str, Any]:
    """Record ``qty`` of ``part_id`` used on ``order``; returns the usage row + stock left."""
    engineer = engineer_id or order["engineer_id"]
    if not engineer:
        raise NoEngineer("the order has no engineer whose van stock could be used")
    ts = to_datetime(now_ms())
    alert: AlertEvent | None = None
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT v.qty, p.low_stock_threshold, p.name FROM van_stock v"
            " JOIN parts p ON p.id = v.part_id WHERE v.engineer_id = %s AND v.part_id = %s"
            " FOR UPDATE OF v",
            (engineer, part_id),
        )
        stock = await cur.fetchone()
        if stock is None or stock["qty"] < qty:
            have = stock["qty"] if stock else 0
            raise OutOfStock(f"van of {engineer} holds {have} of {part_id!r}, {qty} needed")
        left = stock["qty"] - qty
        await cur.execute(
            "UPDATE van_stock SET qty = %s WHERE engineer_id = %s AND part_id = %s",
            (left, engineer, part_id),
        )
        await cur.execute(
            "INSERT INTO work_order_parts (work_order_id, part_id, qty, engineer_id, used_at)"
            " VALUES (%s, %s, %s, %s, %s) RETURNING *",
            (order["id"], part_id, qty, engineer, ts),
        )
        usage = await cur.fetchone()
        assert usage is not None
        if left < stock["low_stock_threshold"]:
            alert = AlertEvent(
                device_id=f"van:{engineer}",
                fault_type=f"low_stock:{part_id}",
                kind="low_stock",
                severity=Severity.WARNING,
                dedup_key=f"van:{engineer}:low_stock:{part_id}:{int(ts.timestamp() * 1000)}",
                state=AlertState.OPENED,
                ts=int(ts.timestamp() * 1000),
                message=f"{stock['name']} low in {engineer}'s van: {left} left",
                value=float(left),
                details={"engineer_id": engineer, "part_id": part_id,
                         "threshold": stock["low_stock_threshold"]},
            )
            await cur.execute(
                "INSERT INTO alerts (dedup_key, device_id, fault_type, kind, severity, state,"
                " opened_at, updated_at, message, value, details)"
                " VALUES (%s, %s, %s, 'low_stock', 'warning', 'open', %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                (alert.dedup_key, alert.device_id, alert.fault_type, ts, ts, alert.message,
                 alert.value, Jsonb(alert.details)),
            )
            if cur.rowcount != 1:  # already open for this van and part
                alert = None
    if alert is not None:
        await publisher.event(ALERTS_TOPIC, alert.device_id, alert)
    return {**usage, "stock_left": left, "low_stock_alert": alert is not None}
