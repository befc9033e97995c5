"""Parts used on a job: taken from the engineer's van stock in the same transaction.

A depot pickup booked by dispatch (``work_orders.pickup_parts``) is collected at check-in:
the parts move from the depot's stock to the engineer's van.

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
from services.publisher import Audit, Publisher

ALERTS_TOPIC = "events.alerts"


class OutOfStock(DomainError):
    status_code = 409


class NoEngineer(DomainError):
    status_code = 409


async def collect_pickup(conn: AsyncConnection[Any], order: dict[str, Any],
                         engineer_id: str) -> dict[str, Any] | None:
    """Move a booked pickup's parts from its depot to ``engineer_id``'s van (inside the
    caller's transaction) and clear the booking; returns what moved, None if nothing was
    booked. A depot counted down meanwhile gives what it has."""
    parts: dict[str, int] = order.get("pickup_parts") or {}
    depot = order.get("pickup_depot_id")
    if not parts or depot is None:
        return None
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT part_id, qty FROM depot_stock WHERE depot_id = %s"
                          " AND part_id = ANY(%s) FOR UPDATE", (depot, list(parts)))
        held = {r["part_id"]: int(r["qty"]) for r in await cur.fetchall()}
    moved = {p: min(int(q), held.get(p, 0)) for p, q in parts.items()}
    await conn.execute(
        "UPDATE depot_stock s SET qty = s.qty - m.value::integer"
        " FROM jsonb_each_text(%s) AS m WHERE s.depot_id = %s AND s.part_id = m.key",
        (Jsonb(moved), depot),
    )
    await conn.execute(
        "INSERT INTO van_stock (engineer_id, part_id, qty)"
        " SELECT %s, key, value::integer FROM jsonb_each_text(%s) WHERE value::integer > 0"
        " ON CONFLICT (engineer_id, part_id) DO UPDATE SET qty = van_stock.qty + EXCLUDED.qty",
        (engineer_id, Jsonb(moved)),
    )
    await conn.execute("UPDATE work_orders SET pickup_parts = NULL WHERE id = %s",
                       (order["id"],))
    return {"depot_id": depot, "parts": moved}


async def use_part(
    order: dict[str, Any],
    part_id: str,
    qty: int,
    *,
    conn: AsyncConnection[Any],
    publisher: Publisher,
    engineer_id: str | None = None,
    ts_ms: int | None = None,
    audit: Audit | None = None,
) -> dict[str, Any]:
    """Record ``qty`` of ``part_id`` used on ``order``; returns the usage row + stock left.

    ``ts_ms`` is when the engineer used it (a phone syncing later); a repeat of the same
    use (order, part, qty, engineer and ``ts_ms``) returns the first one, taking nothing."""
    engineer = engineer_id or order["engineer_id"]
    if not engineer:
        raise NoEngineer("the order has no engineer whose van stock could be used")
    ts = to_datetime(ts_ms or now_ms())
    alert: AlertEvent | None = None
    async with conn.transaction(), conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT v.qty, p.low_stock_threshold, p.name FROM van_stock v"
            " JOIN parts p ON p.id = v.part_id WHERE v.engineer_id = %s AND v.part_id = %s"
            " FOR UPDATE OF v",
            (engineer, part_id),
        )
        stock = await cur.fetchone()
        if ts_ms is not None:  # under the van row's lock: a repeat cannot race the first
            await cur.execute(
                "SELECT * FROM work_order_parts WHERE work_order_id = %s AND part_id = %s"
                " AND qty = %s AND engineer_id = %s AND used_at = %s ORDER BY id LIMIT 1",
                (order["id"], part_id, qty, engineer, ts),
            )
            repeat = await cur.fetchone()
            if repeat is not None:
                return {**repeat, "stock_left": stock["qty"] if stock else 0,
                        "low_stock_alert": False}
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
        if audit is not None:
            await publisher.audit(audit)
    return {**usage, "stock_left": left, "low_stock_alert": alert is not None}
