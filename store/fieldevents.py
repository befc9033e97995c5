"""Queries the stream agents need: fences, check-ins, presence, ETAs, alerts, assets."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from psycopg.types.json import Jsonb

from models.messages import AlertEvent, AlertState, EtaUpdate, GeofenceEvent
from models.timeutil import to_datetime
from store.sql import Conn, fetch_all, fetch_one


async def load_fences(conn: Conn) -> list[dict[str, Any]]:
    return await fetch_all(conn, "SELECT id, lat, lon, fence_radius_m, fence_polygon FROM sites")


async def insert_geofence_event(conn: Conn, ev: GeofenceEvent) -> bool:
    """Store one check-in/out; False when it was already stored (redelivery)."""
    key = f"{ev.engineer_id}:{ev.site_id}:{ev.kind.value}:{ev.ts}"
    cur = await conn.execute(
        "INSERT INTO geofence_events (event_key, engineer_id, site_id, work_order_id, kind, ts,"
        " dwell_s, lat, lon) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING",
        (
            key,
            ev.engineer_id,
            ev.site_id,
            ev.work_order_id,
            ev.kind.value,
            to_datetime(ev.ts),
            ev.dwell_s,
            ev.lat,
            ev.lon,
        ),
    )
    return cur.rowcount == 1


async def order_at_site(
    conn: Conn, engineer_id: str, site_id: str, statuses: tuple[str, ...]
) -> str | None:
    found = await fetch_all(
        conn,
        "SELECT id FROM work_orders WHERE engineer_id = %s AND site_id = %s AND status = ANY(%s)"
        " ORDER BY updated_at DESC LIMIT 1",
        (engineer_id, site_id, list(statuses)),
    )
    return found[0]["id"] if found else None


async def set_checkout(conn: Conn, work_order_id: str, ts_ms: int) -> None:
    await conn.execute(
        "UPDATE work_orders SET checkout_at = %s WHERE id = %s AND checkout_at IS NULL",
        (to_datetime(ts_ms), work_order_id),
    )


async def mark_missed_sla(
    conn: Conn, now_ms: int, not_on_site: Sequence[str]
) -> list[dict[str, Any]]:
    """Orders not on site by their due time (``now_ms``: stream time): ``sla_breached``.

    Once each. A check-in dated in time decides again (``services.workorders``)."""
    return await fetch_all(
        conn,
        "UPDATE work_orders SET sla_breached = true WHERE NOT sla_breached AND sla_due < %s"
        " AND checkin_at IS NULL AND status = ANY(%s) RETURNING id, sla_due, status",
        (to_datetime(now_ms), [str(s) for s in not_on_site]),
    )


async def clear_sla_risks(
    conn: Conn, now_ms: int, not_on_site: Sequence[str]
) -> list[dict[str, Any]]:
    """Clear the open ``sla_risk`` alerts of orders no longer on their way (on site or
    later, or cancelled); returns the alerts this call cleared."""
    return await fetch_all(
        conn,
        "UPDATE alerts a SET state = 'cleared', cleared_at = greatest(a.updated_at, %s),"
        " updated_at = greatest(a.updated_at, %s) FROM work_orders o"
        " WHERE a.kind = 'sla_risk' AND a.state <> 'cleared' AND o.id = a.device_id"
        " AND NOT (o.status = ANY(%s))"
        " RETURNING a.device_id, a.dedup_key, a.severity, o.status",
        (to_datetime(now_ms), to_datetime(now_ms), [str(s) for s in not_on_site]),
    )


async def set_presence(conn: Conn, engineer_id: str, online: bool, last_seen_ms: int) -> None:
    await conn.execute(
        "UPDATE engineers SET status = %s, last_seen = greatest(last_seen, %s) WHERE id = %s",
        ("online" if online else "offline", to_datetime(last_seen_ms), engineer_id),
    )


async def active_orders(conn: Conn) -> list[dict[str, Any]]:
    """Orders an ETA is kept for: assigned, accepted or en route, with their site."""
    return await fetch_all(
        conn,
        "SELECT o.id, o.engineer_id, o.status, o.sla_due, o.en_route_at, s.lat, s.lon"
        " FROM work_orders o"
        " JOIN sites s ON s.id = o.site_id WHERE o.engineer_id IS NOT NULL"
        " AND o.status IN ('assigned', 'accepted', 'en_route')",
    )


async def upsert_eta(conn: Conn, eta: EtaUpdate) -> None:
    await conn.execute(
        """
        INSERT INTO eta_latest (work_order_id, engineer_id, ts, eta, remaining_m, speed_mps,
            confidence, late_by_s) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)
        ON CONFLICT (work_order_id) DO UPDATE SET engineer_id = EXCLUDED.engineer_id,
            ts = EXCLUDED.ts, eta = EXCLUDED.eta, remaining_m = EXCLUDED.remaining_m,
            speed_mps = EXCLUDED.speed_mps, confidence = EXCLUDED.confidence,
            late_by_s = EXCLUDED.late_by_s
        WHERE eta_latest.ts <= EXCLUDED.ts
        """,
        (
            eta.work_order_id,
            eta.engineer_id,
            to_datetime(eta.ts),
            to_datetime(eta.eta_ts),
            eta.remaining_m,
            eta.speed_mps,
            eta.confidence,
            eta.late_by_s,
        ),
    )


_DEVICES = """
    SELECT a.device_id, a.id AS asset_id, a.site_id, m.id AS model_id, m.rules, m.fault_model,
           m.required_skills, m.reading_timeout_s, s.customer_id, c.sla_tier
    FROM assets a JOIN asset_models m ON m.id = a.model_id
    JOIN sites s ON s.id = a.site_id JOIN customers c ON c.id = s.customer_id
    WHERE a.device_id IS NOT NULL"""


async def device_registry(conn: Conn) -> list[dict[str, Any]]:
    """Every device with its asset, model rules, timeout, site and customer tier."""
    return await fetch_all(conn, _DEVICES)


async def device_entry(conn: Conn, device_id: str) -> dict[str, Any] | None:
    """One device's :func:`device_registry` row (None when no asset carries it)."""
    return await fetch_one(conn, _DEVICES + " AND a.device_id = %s", (device_id,))


async def open_alerts(conn: Conn) -> list[dict[str, Any]]:
    return await fetch_all(conn, "SELECT * FROM alerts WHERE state <> 'cleared'")


async def store_alert(conn: Conn, ev: AlertEvent) -> bool:
    """Apply an alert event; True when it opened a new alert row.

    One open alert per (device, fault type) is enforced by a partial unique index: an
    OPENED that meets an open alert (a redelivery, or a restart) updates it instead.
    """
    ts = to_datetime(ev.ts)
    if ev.state == AlertState.OPENED:
        cur = await conn.execute(
            """
            INSERT INTO alerts (dedup_key, device_id, asset_id, fault_type, kind, severity, state,
                opened_at, updated_at, message, value, details)
            VALUES (%s, %s, %s, %s, %s, %s, 'open', %s, %s, %s, %s, %s)
            ON CONFLICT DO NOTHING
            """,
            (
                ev.dedup_key,
                ev.device_id,
                ev.asset_id,
                ev.fault_type,
                ev.kind,
                ev.severity.value,
                ts,
                ts,
                ev.message,
                ev.value,
                Jsonb(ev.details),
            ),
        )
        if cur.rowcount == 1:
            return True
    if ev.state == AlertState.CLEARED:
        await conn.execute(
            "UPDATE alerts SET state = 'cleared', cleared_at = %s, updated_at = %s"
            " WHERE device_id = %s AND fault_type = %s AND state <> 'cleared'",
            (ts, ts, ev.device_id, ev.fault_type),
        )
        return False
    await conn.execute(
        "UPDATE alerts SET updated_at = greatest(updated_at, %s), value = %s, message = %s"
        " WHERE device_id = %s AND fault_type = %s AND state <> 'cleared'",
        (ts, ev.value, ev.message, ev.device_id, ev.fault_type),
    )
    return False


async def link_alert(conn: Conn, device_id: str, fault_type: str, work_order_id: str) -> None:
    """Link the open alert of (device, fault type) and the order, both ways in one
    statement: the alert gets ``work_order_id``; the order, when it has no alert yet,
    gets ``alert_id``."""
    await conn.execute(
        "WITH a AS (UPDATE alerts SET work_order_id = %(wo)s WHERE device_id = %(dev)s"
        " AND fault_type = %(fault)s AND state <> 'cleared' AND work_order_id IS NULL"
        " RETURNING id)"
        " UPDATE work_orders SET alert_id = (SELECT min(id) FROM a)"
        " WHERE id = %(wo)s AND alert_id IS NULL AND EXISTS (SELECT 1 FROM a)",
        {"wo": work_order_id, "dev": device_id, "fault": fault_type},
    )


async def open_order_for(conn: Conn, asset_id: str, fault_type: str) -> str | None:
    found = await fetch_all(
        conn,
        "SELECT id FROM work_orders WHERE asset_id = %s AND fault_type = %s"
        " AND status NOT IN ('completed', 'signed_off', 'closed', 'cancelled') LIMIT 1",
        (asset_id, fault_type),
    )
    return found[0]["id"] if found else None
